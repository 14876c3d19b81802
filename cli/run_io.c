/* Result wait loop for `isol8 run` (contract in run_io.h).
 *
 * Signals are blocked except inside ppoll(), so a SIGINT can never slip in between "check the
 * flag" and "sleep" (the classic self-pipe race, solved by ppoll's atomic mask swap). */
#include "config.h"
#include "cli/run_io.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/proto.h"
#include "cli/broker_conn.h"

static volatile sig_atomic_t sig_count;
static volatile sig_atomic_t sig_last;

static void on_signal(int signo)
{
	sig_last = signo;
	sig_count++;
}

void run_io_init(struct run_io *io)
{
	memset(io, 0, sizeof *io);
	io->sock = io->out_pipe = io->err_pipe = io->out_file = io->stdin_src = io->stdin_w = -1;
}

void run_io_free(struct run_io *io)
{
	io->out_pipe = xclose(io->out_pipe);
	io->err_pipe = xclose(io->err_pipe);
	io->stdin_w = xclose(io->stdin_w);
	isol8_buf_free(&io->out);
	isol8_buf_free(&io->err);
}

int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void keep(struct run_io *io, struct isol8_buf *b, const char *data, size_t n)
{
	if (b->len + n > RUN_IO_MAX_COLLECT) {
		io->collect_truncated = true;
		n = RUN_IO_MAX_COLLECT - b->len;
	}
	isol8_buf_append(b, data, n);
}

/* Read what is available from one pipe. Returns 0, or -1 with err. Closes the pipe at EOF. */
static int pump(struct run_io *io, int *pfd, bool is_stdout, struct isol8_err *err)
{
	char buf[65536];

	for (;;) {
		ssize_t n = read(*pfd, buf, sizeof buf);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0)
			return isol8_err_set(err, ISOL8_E_IO, errno, "reading program output");
		if (n == 0) {
			*pfd = xclose(*pfd);
			return 0;
		}
		if (is_stdout && io->out_file >= 0 && write_all(io->out_file, buf, (size_t)n) < 0)
			return isol8_err_set(err, ISOL8_E_IO, errno, "writing --out file");
		if (is_stdout && io->tee_stdout)
			write_all(STDOUT_FILENO, buf, (size_t)n); /* a closed terminal is not our failure */
		if (io->collect)
			keep(io, is_stdout ? &io->out : &io->err, buf, (size_t)n);
	}
}

/* Live stdin: one read when the pipe has taken everything read before, then as much of it as
 * the pipe takes now. The program not reading (a full pipe) stops us reading, so a fast writer
 * is held back by the program's pace and nothing piles up here. A program that closed its
 * stdin (EPIPE) ends the copying; neither is an error of the run. */
static void stdin_pump(struct run_io *io, bool readable)
{
	if (readable && io->stdin_len == 0 && io->stdin_src >= 0) {
		ssize_t n = read(io->stdin_src, io->stdin_buf, sizeof io->stdin_buf);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		if (n <= 0) {
			/* EOF (or an unreadable stdin): the program's stdin ends here too. */
			io->stdin_src = -1;
			io->stdin_w = xclose(io->stdin_w);
			return;
		}
		io->stdin_off = 0;
		io->stdin_len = (size_t)n;
	}
	while (io->stdin_len > 0 && io->stdin_w >= 0) {
		ssize_t w = write(io->stdin_w, io->stdin_buf + io->stdin_off, io->stdin_len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return;
		if (w < 0) {
			io->stdin_src = -1;
			io->stdin_len = 0;
			io->stdin_w = xclose(io->stdin_w);
			return;
		}
		io->stdin_off += (size_t)w;
		io->stdin_len -= (size_t)w;
	}
}

static int send_signal(int sock, int signo, struct isol8_err *err)
{
	uint8_t s = (uint8_t)signo;

	return isol8_ipc_send(sock, FE_SIGNAL, 0, &s, 1, NULL, 0, err);
}

static int loop(struct run_io *io, const sigset_t *waitmask, struct isol8_msg *result, struct isol8_err *err)
{
	sig_atomic_t handled = 0;
	bool forwarded = false;

	for (;;) {
		struct pollfd p[4];
		nfds_t n = 0, in_idx = 0;
		int r;

		if (sig_count != handled) {
			handled = sig_count;
			if (forwarded) {
				io->exit_now = 128 + sig_last;
				return -2;
			}
			forwarded = true;
			if (send_signal(io->sock, sig_last, err) < 0)
				return -1;
		}
		p[n++] = (struct pollfd){.fd = io->sock, .events = POLLIN};
		if (io->out_pipe >= 0)
			p[n++] = (struct pollfd){.fd = io->out_pipe, .events = POLLIN};
		if (io->err_pipe >= 0)
			p[n++] = (struct pollfd){.fd = io->err_pipe, .events = POLLIN};
		if (io->stdin_w >= 0) {
			in_idx = n;
			p[n++] = io->stdin_len ? (struct pollfd){.fd = io->stdin_w, .events = POLLOUT}
					       : (struct pollfd){.fd = io->stdin_src, .events = POLLIN};
		}
		r = ppoll(p, n, NULL, waitmask);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return isol8_err_set(err, ISOL8_E_IO, errno, "poll");
		/* Pipes first: output written before the result must be shown before it. */
		if (io->out_pipe >= 0 && pump(io, &io->out_pipe, true, err) < 0)
			return -1;
		if (io->err_pipe >= 0 && pump(io, &io->err_pipe, false, err) < 0)
			return -1;
		if (in_idx && p[in_idx].revents)
			stdin_pump(io, p[in_idx].fd == io->stdin_src);
		if (p[0].revents) {
			struct isol8_msg m;
			if (broker_expect_result(io->sock, &m, err) < 0)
				return -1;
			*result = m;
			return 0;
		}
	}
}

int run_io_wait(struct run_io *io, struct isol8_msg *result, struct isol8_err *err)
{
	struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term, old_pipe;
	bool old_pipe_set = io->stdin_w >= 0;
	sigset_t block, orig, waitmask;
	int r;

	/* Non-blocking pipes let the final drain stop at "nothing more queued" instead of waiting
	 * for an EOF that a worker holding a stray copy of the write end would never deliver. */
	if (io->out_pipe >= 0)
		fcntl(io->out_pipe, F_SETFL, O_NONBLOCK);
	if (io->err_pipe >= 0)
		fcntl(io->err_pipe, F_SETFL, O_NONBLOCK);
	/* Only our end of our own pipe: the CLI's stdin stays as the caller made it (it may be shared
	 * with the shell that started us), so it is read only once poll says it is readable. */
	if (io->stdin_w >= 0)
		fcntl(io->stdin_w, F_SETFL, O_NONBLOCK);

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &orig);
	waitmask = orig;
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGTERM);
	sigemptyset(&sa.sa_mask);
	sig_count = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	/* A program that stops reading its stdin closes the pipe under our write: EPIPE, not death. */
	if (old_pipe_set)
		sigaction(SIGPIPE, &(struct sigaction){.sa_handler = SIG_IGN}, &old_pipe);

	r = loop(io, &waitmask, result, err);
	if (r == 0) {
		if (io->out_pipe >= 0 && pump(io, &io->out_pipe, true, err) < 0)
			r = -1;
		if (r == 0 && io->err_pipe >= 0 && pump(io, &io->err_pipe, false, err) < 0)
			r = -1;
		if (r < 0)
			isol8_msg_free(result);
	}

	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (old_pipe_set)
		sigaction(SIGPIPE, &old_pipe, NULL);
	/* The run is over: the program's stdin ends whatever is left unread on ours. */
	io->stdin_w = xclose(io->stdin_w);
	io->stdin_src = -1;
	sigprocmask(SIG_SETMASK, &orig, NULL);
	return r;
}
