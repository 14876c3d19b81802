/* libFuzzer harness for the agent protocol as the worker parses it (worker/agent.c): everything
 * the in-sandbox agent sends is as untrusted as the code it runs. Build: configure
 * --enable-fuzzing CC=clang; run: tests/fuzz/fuzz_agent corpus/
 * Byte 0 picks the worker's side of the conversation (handshake, reset, run, run in a standby);
 * the rest is what the "agent" says, frame by frame: [u8 type][u8 flags][u16 len LE][len bytes].
 * flags bit 0 attaches three pipe ends of the kinds A_HANDOFF carries (stdin write end, stdout
 * and stderr read ends), bit 1 one pipe read end, bit 2 sends the bytes as a raw packet (the
 * header fuzzed too). The frames are queued on a socketpair before the worker reads, then the
 * agent's side is shut for writing, so every conversation ends; a thread plays the agent's
 * reading side (receives A_RUN and its fds and closes them). */
#include "config.h"
#include "common/clock.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/agent_proto.h"
#include "common/cleanup.h"
#include "common/ipc.h"
#include "worker/agent.h"

#define MAX_FRAMES 64

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int devnull = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	signal(SIGPIPE, SIG_IGN); /* the worker writes a program's stdin into pipes we closed */
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	return 0;
}

/* The agent's reading side: take whatever the worker sends (A_RUN with its fds, A_KILL) and
 * close the fds, so the program's pipes see EOF as they would when the program exits. */
static void *agent_reader(void *arg)
{
	int fd = *(int *)arg;
	for (;;) {
		struct isol8_msg m = {0};
		struct isol8_err e = ISOL8_ERR_INIT;
		int r = isol8_ipc_recv(fd, &m, &e);
		isol8_msg_free(&m);
		if (r == 0 || (r < 0 && e.code != ISOL8_E_PROTO))
			return NULL;
	}
}

static void queue_frames(int peer, const uint8_t *p, size_t n)
{
	for (unsigned k = 0; k < MAX_FRAMES && n >= 4; k++) {
		uint8_t type = p[0], flags = p[1];
		size_t len = (size_t)p[2] | (size_t)p[3] << 8;
		struct isol8_err e = ISOL8_ERR_INIT;
		int fds[3] = {-1, -1, -1}, in[2] = {-1, -1}, out[2] = {-1, -1}, er[2] = {-1, -1};
		unsigned nfds = 0;

		p += 4;
		n -= 4;
		if (len > n)
			len = n;
		if (flags & 4) {
			if (len)
				send(peer, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		} else {
			if ((flags & 1) && pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0 &&
			    pipe2(er, O_CLOEXEC) == 0) {
				fds[0] = in[1];
				fds[1] = out[0];
				fds[2] = er[0];
				nfds = 3;
			} else if ((flags & 2) && pipe2(out, O_CLOEXEC) == 0) {
				fds[0] = out[0];
				nfds = 1;
			}
			isol8_ipc_send(peer, type, 0, p, len, nfds ? fds : NULL, nfds, &e);
		}
		/* Only the copies in flight stay open: the worker sees EOF and EPIPE at once. */
		for (int i = 0; i < 2; i++) {
			xclose(in[i]);
			xclose(out[i]);
			xclose(er[i]);
		}
		p += len;
		n -= len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const argv[] = {"python3", "-c", "print(1)", NULL};
	static const char *const env[] = {"PATH=/usr/bin", NULL};
	static const char *const secrets[] = {"s3cr3t", NULL};
	struct isol8_err err = ISOL8_ERR_INIT;
	struct agent_outcome x;
	struct pump_out o;
	pthread_t th;
	int sv[2];
	uint8_t op;

	if (size < 1 || isol8_ipc_socketpair(sv, &err) < 0)
		return 0;
	op = data[0];
	queue_frames(sv[1], data + 1, size - 1);
	shutdown(sv[1], SHUT_WR);
	if (pthread_create(&th, NULL, agent_reader, &sv[1]) != 0) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	switch (op % 4) {
	case 0:
		agent_handshake(sv[0], &err);
		break;
	case 1:
		agent_reset(sv[0], &err);
		break;
	case 2:
		pump_out_init(&o, devnull, devnull, secrets, 1u << 16);
		agent_exec(sv[0], argv, env, "/sandbox", "stdin data", (op & 4) ? 10 : 0, -1, 5000,
			   clock_mono_ms() + 5000, -1, &o, &x, &err);
		pump_out_finish(&o);
		pump_out_free(&o);
		break;
	default:
		pump_out_init(&o, devnull, devnull, secrets, 1u << 16);
		agent_exec_warm(sv[0], "job", 3, "in", (op & 4) ? 2 : 0, 5000, clock_mono_ms() + 5000, -1, &o, &x,
				&err);
		pump_out_finish(&o);
		pump_out_free(&o);
		break;
	}
	close(sv[0]);
	pthread_join(th, NULL);
	close(sv[1]);
	return 0;
}
