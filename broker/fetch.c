/* Remote code (V_FETCH): one isol8-fetch process per fetch. A fresh exec, as root with an empty
 * environment (no proxy variables, no SSLKEYLOGFILE: nothing of the broker's environment steers
 * libcurl) and a stream socket on fd 3; it locks itself down before reading the job (fetch/fetch.h).
 * The broker writes the job, shuts its end for writing and hands that end to the worker, which only
 * reads the answer: the broker never touches the network or the fetched bytes, the worker never
 * talks to the fetcher. The supervisor (supervise.c) reaps the child, which frees its slot. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/supervise.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "fetch/fetch.h"

static pthread_mutex_t fetch_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t fetch_pids[BROKER_MAX_FETCHES];

/* supervise_ops.reaped: the slot is free again. */
static bool fetch_reaped(void *ctx, unsigned slot, pid_t pid, int status, uint64_t now)
{
	(void)ctx;
	(void)pid;
	(void)status;
	(void)now;
	pthread_mutex_lock(&fetch_lock);
	fetch_pids[slot] = 0;
	pthread_mutex_unlock(&fetch_lock);
	return true;
}

/* One-shot: a fetch that died is the worker's to report, never restarted. */
const struct supervise_ops broker_fetch_ops = {
	.name = "isol8-fetch",
	.respawn = false,
	.reaped = fetch_reaped,
};

/* A free slot, marked reserved (-1) until the child's pid or a failure fills it; -1 if none. */
static int reserve_slot(void)
{
	int slot = -1;

	pthread_mutex_lock(&fetch_lock);
	for (int i = 0; i < BROKER_MAX_FETCHES && slot < 0; i++)
		if (fetch_pids[i] == 0) {
			slot = i;
			fetch_pids[i] = -1; /* reserved */
		}
	pthread_mutex_unlock(&fetch_lock);
	return slot;
}

static void set_slot(int slot, pid_t pid)
{
	pthread_mutex_lock(&fetch_lock);
	fetch_pids[slot] = pid;
	pthread_mutex_unlock(&fetch_lock);
}

/* The job fits the socket's buffer (FETCH_MAX_JOB is far below it): written into sv[0] before
 * the fork, it never blocks a broker thread on the child. On failure both ends are closed. */
static int job_socket(const struct fetch_job *job, int sv[2], struct isol8_err *err)
{
	struct isol8_buf j = ISOL8_BUF_INIT;
	size_t off = 0;
	int sz = 1 << 20;

	fetch_job_put(&j, job);
	if (j.len > FETCH_MAX_JOB) {
		isol8_buf_free(&j);
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "remote-code job too large");
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		isol8_buf_free(&j);
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "fetch socket");
	}
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	while (off < j.len) {
		ssize_t w = send(sv[0], j.data + off, j.len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	if (off < j.len || shutdown(sv[0], SHUT_WR) < 0) {
		isol8_buf_free(&j);
		close(sv[0]);
		close(sv[1]);
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "write the fetch job");
	}
	isol8_buf_free(&j);
	return 0;
}

/* The forked child: fd 3 is the job's socket, the environment is empty. Only async-signal-safe
 * calls from here to exec. */
static void __attribute__((noreturn)) exec_fetch(const char *path, char **argv, int fd)
{
	char *envp[] = {NULL};
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (fd != 3) {
		if (dup2(fd, 3) < 0)
			_exit(127);
	} else {
		fcntl(3, F_SETFD, 0);
	}
	execve(path, argv, envp);
	_exit(127);
}

int broker_fetch_start(struct broker *b, const struct fetch_job *job, const char *ca_file, int *sock,
		       struct isol8_err *err)
{
	char uidbuf[16], gidbuf[16], lvl[8];
	char *argv[] = {"isol8-fetch", "--fd", "3",  "--uid", uidbuf, "--gid", gidbuf,
			"--log-level", lvl,    NULL, NULL,    NULL,   NULL,    NULL};
	int sv[2] = {-1, -1}, slot, a = 9;
	pid_t pid;

	slot = reserve_slot();
	if (slot < 0)
		return isol8_err_set(err, ISOL8_E_LIMIT, 0, "too many remote-code fetches at once (%d); retry later",
				     BROKER_MAX_FETCHES);
	snprintf(uidbuf, sizeof uidbuf, "%u", (unsigned)b->worker_uid);
	snprintf(gidbuf, sizeof gidbuf, "%u", (unsigned)b->worker_gid);
	snprintf(lvl, sizeof lvl, "%d", isol8_log_get_level());
	if (ca_file) {
		argv[a++] = "--ca-file";
		argv[a++] = (char *)ca_file;
	}
	if (b->o.fetch_hosts) {
		argv[a++] = "--hosts";
		argv[a++] = (char *)b->o.fetch_hosts;
	}
	if (job_socket(job, sv, err) < 0) {
		set_slot(slot, 0);
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		set_slot(slot, 0);
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "fork isol8-fetch");
	}
	if (pid == 0)
		exec_fetch(b->o.fetch_path, argv, sv[1]);
	close(sv[1]);
	/* Recorded before the supervisor watches it: only the supervisor's reap frees the slot. */
	set_slot(slot, pid);
	supervise_add(SV_FETCH, (unsigned)slot, pid);
	*sock = sv[0];
	return 0;
}
