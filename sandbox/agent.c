/* isol8-agent: the sandbox's PID 1 (its init), as the sandbox user 100:101.
 *
 * Connects to the worker's socket, then runs one program at a time with the pipes the worker
 * passes, reaps the orphans the kernel gives it, and empties the sandbox on request. The contract
 * is common/agent_proto.h. Built inside the image (gcc -O2 -static, libc only) from this file and
 * the isol8 framing (common/ipc.c) with the protocol table (common/proto.c), which checks every
 * message from the worker as the worker checks ours.
 *
 * Choices the protocol header leaves open:
 * - timeout_ms 0 means no deadline.
 * - A run ends when its main process ends: the rest of its process group is then SIGKILLed, so
 *   strays cannot keep the pipes open. Processes that left the group (setsid) live until A_RESET.
 * - A_RUN, A_RUN_WARM, A_WARM or A_RESET while a program runs gets A_ERROR "busy"; A_KILL when idle gets A_ERROR.
 * - env entries must contain '='; cwd is "/sandbox" or below it, with no ".." component.
 * - The agent is PID 1 and not dumpable, so a program (same uid) can neither signal it (the
 *   kernel drops signals to a namespace's init that it has no handler for, SIGKILL and SIGSTOP
 *   included) nor ptrace it or write its memory through /proc/1/mem. Under an init of the image
 *   (tini, which is dumpable) a program could rewrite that init and outlive every reset, so the
 *   broker starts the agent as the container's entrypoint and the worker trusts no other.
 * - What a program can still change in the agent is what it passes on: limits (prlimit), nice
 *   value (setpriority), CPU affinity, scheduling attributes and I/O priority (all allowed for
 *   the same uid). They are recorded at start, and A_RESET refuses (A_ERROR) when any differs or
 *   when a process outlived the kill: the worker then discards the sandbox. A lowered hard limit
 *   cannot be raised again, so the agent does not try to repair.
 * - A_RESET does not descend more than MAX_DEPTH directories, nor into other filesystems; what it
 *   cannot remove is counted in A_DONE, and the worker should then discard the container.
 * - A program's environment is the container's (the agent's own, as docker exec would give it)
 *   with the request's entries replacing those of the same name; a later entry wins.
 * - The standby (A_WARM) is started after the reply to A_WARM and again after every A_RESET, so
 *   it never shares the sandbox with code of an earlier run; A_RUN kills an idle standby first so
 *   that the program has the sandbox's memory and pids to itself.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/agent_proto.h"
#include "common/ipc.h"
#include "common/proto.h"

#define MAX_ARGC 64u
#define MAX_ARG (32u * 1024)
#define MAX_ENVC 256u
#define MAX_DEPTH 128
#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

extern char **environ;

static int sock = -1;
/* SIGCHLD (blocked) as a readable fd: as PID 1 the agent reaps every orphan of the sandbox. */
static int sigfd = -1;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A failed send shows up as EOF on the next receive. */
static void send_msg_fds(uint8_t type, uint32_t req, const struct isol8_buf *p, const int *fds, unsigned nfds)
{
	struct isol8_err err = ISOL8_ERR_INIT;

	(void)isol8_ipc_send_buf(sock, type, req, p, fds, nfds, &err);
}

static void send_u32(uint8_t type, uint32_t req, uint32_t v)
{
	struct isol8_buf p = ISOL8_BUF_INIT;

	isol8_put_u32(&p, v);
	send_msg_fds(type, req, &p, NULL, 0);
	isol8_buf_free(&p);
}

static void send_error(uint32_t req, const char *text)
{
	struct isol8_buf p = ISOL8_BUF_INIT;
	char msg[257];

	snprintf(msg, sizeof(msg), "%s", text);
	isol8_put_str(&p, msg);
	send_msg_fds(A_ERROR, req, &p, NULL, 0);
	isol8_buf_free(&p);
}

/* 1 message, checked against the protocol table; 0 EOF; -1 refused (answered with A_ERROR, fds
 * closed); -2 socket error (errno set). */
static int recv_msg(struct isol8_msg *m)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	int r = isol8_ipc_recv(sock, m, &err);

	if (r == 0)
		return 0;
	if (r < 0 && err.code != ISOL8_E_PROTO) {
		errno = err.errnum;
		return -2;
	}
	if (r > 0 && isol8_proto_check(PEER_AGENT, PEER_WORKER, m, NULL, &err) == 0)
		return 1;
	send_error(m->request_id, err.msg);
	isol8_msg_free(m);
	return -1;
}

static int cwd_ok(const char *c)
{
	if (strcmp(c, "/sandbox") != 0 && strncmp(c, "/sandbox/", 9) != 0)
		return 0;
	for (const char *s = c; (s = strstr(s, "/..")); s += 3)
		if (s[3] == '/' || s[3] == '\0')
			return 0;
	return 1;
}

/* In the child: execve through PATH like execvp, without the shell fallback. */
static void exec_path(char **argv, char **env)
{
	const char *path = DEFAULT_PATH;
	int saw_eacces = 0;

	if (strchr(argv[0], '/')) {
		execve(argv[0], argv, env);
		return;
	}
	for (char **e = env; *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			path = *e + 5;
	for (const char *d = path;; d++) {
		const char *end = strchrnul(d, ':');
		char buf[4096];
		int n = snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(end - d), d, end > d ? "/" : "", argv[0]);
		if (n > 0 && (size_t)n < sizeof(buf)) {
			execve(buf, argv, env);
			if (errno == EACCES)
				saw_eacces = 1;
			else if (errno != ENOENT && errno != ENOTDIR)
				return;
		}
		d = end;
		if (!*d)
			break;
	}
	errno = saw_eacces ? EACCES : ENOENT;
}

static void child_fail(const char *what, int code)
{
	char b[1024];
	int n = snprintf(b, sizeof(b), "isol8: %s: %s\n", what, strerror(errno));

	if (n > 0)
		(void)!write(2, b, (size_t)n < sizeof(b) ? (size_t)n : sizeof(b) - 1);
	_exit(code);
}

/* The container's environment (as docker exec gives it) with the request's entries replacing
 * those of the same name; among the request's, a later entry wins. The array points into
 * environ and req; the caller frees the array only. */
static char **merge_env(char **req)
{
	size_t n0 = 0, n1 = 0, k = 0;
	char **out;

	while (environ && environ[n0])
		n0++;
	while (req[n1])
		n1++;
	if (!(out = calloc(n0 + n1 + 1, sizeof(*out))))
		abort();
	for (size_t i = 0; i < n0 + n1; i++) {
		char *e = i < n0 ? environ[i] : req[i - n0];
		size_t len = strcspn(e, "=");
		int replaced = 0;
		for (size_t j = (i < n0 ? 0 : i - n0 + 1); j < n1 && !replaced; j++)
			replaced = strncmp(req[j], e, len) == 0 && req[j][len] == '=';
		if (!replaced)
			out[k++] = e;
	}
	return out;
}

/* In the child: stdio from fds, ctl (when >= 0) as fd 3, nothing else open. */
static void child(int fds[3], int ctl, char **argv, char **env, const char *cwd)
{
	sigset_t all;
	int c = -1;

	setsid();
	/* Park ctl above every fd in use first, so no dup2 below can overwrite it. */
	if (ctl >= 0 && (c = fcntl(ctl, F_DUPFD_CLOEXEC, 64)) < 0)
		_exit(126);
	for (int i = 0; i < 3; i++)
		if (dup2(fds[i], i) < 0)
			_exit(126);
	if (c >= 0 && dup2(c, 3) < 0)
		_exit(126);
	if (syscall(SYS_close_range, c >= 0 ? 4u : 3u, ~0u, 0u) < 0)
		for (int fd = c >= 0 ? 4 : 3; fd < 65536; fd++)
			close(fd);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	/* Only now: what was sent meanwhile is delivered with the default action. */
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	if (chdir(cwd) < 0)
		child_fail(cwd, 126);
	exec_path(argv, env);
	child_fail(argv[0], 127);
}

/* fork() with every signal blocked until child() has reset their dispositions: the child starts
 * with ours (SIGINT, SIGTERM... ignored), and a signal sent to it in between (A_KILL right after
 * A_STARTED or A_HANDOFF) would be lost instead of pending. */
static pid_t fork_child(void)
{
	sigset_t all, old;
	pid_t pid;

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid != 0)
		sigprocmask(SIG_SETMASK, &old, NULL);
	return pid;
}

static void kill_group(pid_t pid, int sig)
{
	if (kill(-pid, sig) < 0)
		kill(pid, sig);
}

static void standby_reaped(pid_t pid);

/* Reap every child that has ended (our own and the orphans the kernel gives PID 1). Returns 1
 * when one of them was target (> 0), with its status and usage in *st and *ru. */
static int reap(pid_t target, int *st, struct rusage *ru)
{
	struct signalfd_siginfo si;
	int found = 0;

	while (sigfd >= 0 && read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		;
	for (;;) {
		struct rusage r = {0};
		int s = 0;
		pid_t p = wait4(-1, &s, WNOHANG, &r);
		if (p < 0 && errno == EINTR)
			continue;
		if (p <= 0)
			return found;
		if (target > 0 && p == target) {
			*st = s;
			*ru = r;
			found = 1;
		}
		standby_reaped(p);
	}
}

/* A message while a program runs. Returns 0 to go on, 1 when the worker is gone. */
static int busy_msg(pid_t pid)
{
	struct isol8_msg m;
	int r = recv_msg(&m);

	if (r == 0 || r == -2)
		return 1;
	if (r < 0)
		return 0;
	if (m.type == A_KILL && (m.payload[0] == SIGINT || m.payload[0] == SIGTERM || m.payload[0] == SIGKILL))
		kill_group(pid, m.payload[0]);
	else if (m.type == A_RUN || m.type == A_RESET || m.type == A_WARM || m.type == A_RUN_WARM)
		send_error(m.request_id, "busy");
	else
		send_error(m.request_id, "bad request");
	isol8_msg_free(&m);
	return 0;
}

/* argc, argv[argc], envc, env[envc]: 1 when well formed (argv and env then hold malloc'd strings
 * the caller frees, NULL-terminated). */
static int parse_cmd(struct isol8_msg *m, char **argv, char **env)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	uint32_t argc, envc;

	if (isol8_get_u32(m, &argc, &err) < 0 || argc < 1 || argc > MAX_ARGC)
		return 0;
	for (uint32_t i = 0; i < argc; i++)
		if (isol8_get_str(m, &argv[i], MAX_ARG, &err) < 0)
			return 0;
	if (isol8_get_u32(m, &envc, &err) < 0 || envc > MAX_ENVC)
		return 0;
	for (uint32_t i = 0; i < envc; i++)
		if (isol8_get_str(m, &env[i], MAX_ARG, &err) < 0 || !strchr(env[i], '='))
			return 0;
	return 1;
}

static void free_cmd(char **argv, char **env)
{
	for (uint32_t i = 0; i <= MAX_ARGC; i++) {
		free(argv[i]);
		argv[i] = NULL;
	}
	for (uint32_t i = 0; i <= MAX_ENVC; i++) {
		free(env[i]);
		env[i] = NULL;
	}
}

/* Wait for the program (our child, leader of its own group) to end, enforcing the timeout and
 * serving A_KILL meanwhile; then report A_EXIT. */
static void supervise(uint32_t req, pid_t pid, uint64_t t0, uint64_t timeout)
{
	struct isol8_buf out = ISOL8_BUF_INIT;
	struct rusage ru = {0};
	int st = 0, timed_out = 0;
	uint64_t deadline;

	deadline = timeout && timeout < UINT64_MAX - t0 ? t0 + timeout : UINT64_MAX;
	for (;;) {
		/* SIGCHLD wakes us for the program and for any orphan (reaped on the way). */
		struct pollfd pf[2] = {{sock, POLLIN, 0}, {sigfd, POLLIN, 0}};
		uint64_t now = now_ms();
		int wait_ms = -1;

		if (reap(pid, &st, &ru))
			break;
		if (!timed_out && now >= deadline) {
			kill_group(pid, SIGKILL);
			timed_out = 1;
			continue;
		}
		if (!timed_out && deadline != UINT64_MAX)
			wait_ms = (int)(deadline - now < 60000 ? deadline - now : 60000);
		if (sigfd < 0 && (wait_ms < 0 || wait_ms > 10))
			wait_ms = 10;
		if (poll(pf, 2, wait_ms) > 0 && (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) && busy_msg(pid)) {
			kill_group(pid, SIGKILL);
			while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
				;
			exit(0);
		}
	}
	kill(-pid, SIGKILL); /* strays of the group must not keep the pipes open */
	isol8_put_u32(&out, WIFEXITED(st) ? (uint32_t)WEXITSTATUS(st) : UINT32_MAX);
	isol8_put_u8(&out, WIFSIGNALED(st) ? (uint8_t)WTERMSIG(st) : 0);
	isol8_put_u8(&out, (uint8_t)timed_out);
	isol8_put_u64(&out, now_ms() - t0);
	isol8_put_u64(&out, (uint64_t)ru.ru_utime.tv_sec * 1000000 + (uint64_t)ru.ru_utime.tv_usec);
	isol8_put_u64(&out, (uint64_t)ru.ru_stime.tv_sec * 1000000 + (uint64_t)ru.ru_stime.tv_usec);
	isol8_put_u64(&out, (uint64_t)ru.ru_maxrss);
	send_msg_fds(A_EXIT, req, &out, NULL, 0);
	isol8_buf_free(&out);
}

/* The standby: a program started ahead of time (an interpreter that has done its start-up and
 * waits for its job on fd 3), with the far ends of its stdio pipes held here until a run takes it. */
static struct {
	pid_t pid;
	int ctl, in, out, err;
} stby = {-1, -1, -1, -1, -1};
static char *warm_argv[MAX_ARGC + 1], *warm_env[MAX_ENVC + 1];
/* A program ran since the start or the last complete reset: a standby started now could meet
 * what it left behind, so A_WARM then waits for the next reset. */
static int dirty;

static int xclose(int fd)
{
	if (fd >= 0)
		close(fd);
	return -1;
}

/* The reaper took the standby's status: it is gone, and its pid may be reused. */
static void standby_reaped(pid_t pid)
{
	if (pid == stby.pid)
		stby.pid = -1;
}

static void standby_drop(void)
{
	if (stby.pid > 0) {
		kill_group(stby.pid, SIGKILL);
		while (waitpid(stby.pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	stby.pid = -1;
	stby.ctl = xclose(stby.ctl);
	stby.in = xclose(stby.in);
	stby.out = xclose(stby.out);
	stby.err = xclose(stby.err);
}

static void standby_spawn(void)
{
	int p[4][2] = {{-1, -1}, {-1, -1}, {-1, -1}, {-1, -1}};
	char **env;
	pid_t pid;

	standby_drop();
	if (!warm_argv[0])
		return;
	for (int i = 0; i < 4; i++)
		if (pipe2(p[i], O_CLOEXEC) < 0)
			goto fail;
	env = merge_env(warm_env);
	pid = fork_child();
	if (pid == 0) {
		int fds[3] = {p[0][0], p[1][1], p[2][1]};
		child(fds, p[3][0], warm_argv, env, "/sandbox");
	}
	free(env);
	if (pid < 0)
		goto fail;
	close(p[0][0]);
	close(p[1][1]);
	close(p[2][1]);
	close(p[3][0]);
	stby.pid = pid;
	stby.in = p[0][1];
	stby.out = p[1][0];
	stby.err = p[2][0];
	stby.ctl = p[3][1];
	/* The job is written whole into an empty pipe (ISOL8_AGENT_MAX_JOB + 4 < 64 KiB): never blocks. */
	fcntl(stby.ctl, F_SETFL, O_NONBLOCK);
	return;
fail:
	for (int i = 0; i < 4; i++) {
		xclose(p[i][0]);
		xclose(p[i][1]);
	}
}

static void warm(struct isol8_msg *m)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	char *argv[MAX_ARGC + 1] = {0}, *env[MAX_ENVC + 1] = {0};

	if (!parse_cmd(m, argv, env) || isol8_msg_end(m, &err) < 0) {
		free_cmd(argv, env);
		send_error(m->request_id, "malformed A_WARM");
		return;
	}
	free_cmd(warm_argv, warm_env);
	memcpy(warm_argv, argv, sizeof(argv));
	memcpy(warm_env, env, sizeof(env));
	send_u32(A_DONE, m->request_id, 0);
	if (!dirty)
		standby_spawn();
}

static void run_warm(struct isol8_msg *m)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_buf out = ISOL8_BUF_INIT;
	const uint8_t *job = NULL;
	uint64_t timeout = 0, t0;
	uint32_t n = 0;
	unsigned char hdr[4];
	struct iovec iov[2];
	pid_t pid;

	if (isol8_get_u64(m, &timeout, &err) < 0 || isol8_get_bytes(m, &job, &n, ISOL8_AGENT_MAX_JOB, &err) < 0 ||
	    isol8_msg_end(m, &err) < 0) {
		send_error(m->request_id, "malformed A_RUN_WARM");
		return;
	}
	reap(-1, NULL, NULL); /* a standby that died while waiting is no standby */
	for (int i = 0; i < 4; i++)
		hdr[i] = (unsigned char)(n >> (8 * i));
	iov[0] = (struct iovec){hdr, 4};
	iov[1] = (struct iovec){(void *)job, n};
	if (stby.pid <= 0 || writev(stby.ctl, iov, 2) != (ssize_t)(4 + n)) {
		standby_drop();
		send_error(m->request_id, "no standby");
		return;
	}
	t0 = now_ms();
	dirty = 1;
	pid = stby.pid;
	stby.ctl = xclose(stby.ctl);
	{
		int fds[3] = {stby.in, stby.out, stby.err};
		isol8_put_u32(&out, (uint32_t)pid);
		send_msg_fds(A_HANDOFF, m->request_id, &out, fds, 3);
		isol8_buf_free(&out);
	}
	stby.in = xclose(stby.in);
	stby.out = xclose(stby.out);
	stby.err = xclose(stby.err);
	stby.pid = -1;
	supervise(m->request_id, pid, t0, timeout);
}

/* The table guarantees the three pipe ends: stdin's read end, stdout's and stderr's write ends. */
static void run(struct isol8_msg *m)
{
	struct isol8_err perr = ISOL8_ERR_INIT;
	uint64_t timeout = 0, t0;
	char *argv[MAX_ARGC + 1] = {0}, *env[MAX_ENVC + 1] = {0}, *cwd = NULL, **menv = NULL;
	const char *err = NULL;
	pid_t pid = -1;

	if (isol8_get_u64(m, &timeout, &perr) < 0 || !parse_cmd(m, argv, env) ||
	    isol8_get_str(m, &cwd, 4096, &perr) < 0 || isol8_msg_end(m, &perr) < 0)
		err = "malformed A_RUN";
	else if (!cwd_ok(cwd))
		err = "cwd must be /sandbox or below";
	if (!err) {
		standby_drop();
		menv = merge_env(env);
		dirty = 1;
	}
	t0 = now_ms();
	if (!err && (pid = fork_child()) < 0)
		err = "fork failed";
	if (!err && pid == 0)
		child(m->fds, -1, argv, menv, cwd);
	isol8_msg_free(m);
	free_cmd(argv, env);
	free(menv);
	free(cwd);
	if (err) {
		send_error(m->request_id, err);
		return;
	}
	send_u32(A_STARTED, m->request_id, (uint32_t)pid);
	supervise(m->request_id, pid, t0, timeout);
}

/* A live process of the sandbox other than us (and PID 1 when we are not it): its pid, with its
 * name in name; 0 when there is none. Zombies do not count (as PID 1 we reap them). */
static int others_alive(char *name, size_t name_len)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int found = 0;

	if (!d)
		return -1; /* cannot tell: the caller must not call the sandbox clean */
	while (!found && (de = readdir(d))) {
		char path[64], buf[1024];
		int pid = atoi(de->d_name), fd;
		ssize_t n;
		if (pid <= 1 || pid == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%d/status", pid);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue; /* gone meanwhile */
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		char *s = strstr(buf, "\nState:");
		if (s && (strncmp(s + 7, "\tZ", 2) == 0 || strncmp(s + 7, "\tX", 2) == 0))
			continue;
		found = pid;
		if (strncmp(buf, "Name:\t", 6) == 0)
			snprintf(name, name_len, "%.*s", (int)strcspn(buf + 6, "\n"), buf + 6);
		else
			snprintf(name, name_len, "?");
	}
	closedir(d);
	return found;
}

/* ---- what every program inherits from the agent ----
 * A program may change these in the agent (same uid), and every later program forked by it would
 * inherit the change. They are read once before any program runs; a reset that finds any of
 * them different refuses to call the sandbox clean. */
struct sched_attr_v1 {
	uint32_t size, policy;
	uint64_t flags;
	int32_t nice;
	uint32_t priority;
	uint64_t runtime, deadline, period;
	uint32_t util_min, util_max;
};

struct inherited {
	struct rlimit rl[RLIM_NLIMITS];
	int nice;
	cpu_set_t cpus;
	struct sched_attr_v1 sched;
	long ioprio;
};

static struct inherited at_start;

static void inherited_read(struct inherited *h)
{
	memset(h, 0, sizeof(*h));
	for (int r = 0; r < RLIM_NLIMITS; r++)
		getrlimit(r, &h->rl[r]);
	errno = 0;
	h->nice = getpriority(PRIO_PROCESS, 0);
	if (errno)
		h->nice = INT32_MIN;
	sched_getaffinity(0, sizeof(h->cpus), &h->cpus);
	h->sched.size = sizeof(h->sched);
	syscall(SYS_sched_getattr, 0, &h->sched, sizeof(h->sched), 0);
	h->ioprio = syscall(SYS_ioprio_get, 1 /* IOPRIO_WHO_PROCESS */, 0);
}

/* What changed since the start (written into buf), or NULL. */
static const char *inherited_changed(char *buf, size_t n)
{
	static const char *const names[] = {"cpu",      "fsize",  "data",    "stack", "core",  "rss",
					    "nproc",    "nofile", "memlock", "as",    "locks", "sigpending",
					    "msgqueue", "nice",   "rtprio",  "rttime"};
	struct inherited now;

	inherited_read(&now);
	for (int r = 0; r < RLIM_NLIMITS; r++)
		if (memcmp(&now.rl[r], &at_start.rl[r], sizeof(now.rl[r])) != 0) {
			snprintf(buf, n, "the agent's limit %s was changed",
				 r < (int)(sizeof(names) / sizeof(names[0])) ? names[r] : "?");
			return buf;
		}
	if (now.nice != at_start.nice)
		snprintf(buf, n, "the agent's nice value was changed (%d, was %d)", now.nice, at_start.nice);
	else if (!CPU_EQUAL(&now.cpus, &at_start.cpus))
		snprintf(buf, n, "the agent's CPU affinity was changed");
	else if (memcmp(&now.sched, &at_start.sched, sizeof(now.sched)) != 0)
		snprintf(buf, n, "the agent's scheduling policy or attributes were changed");
	else if (now.ioprio != at_start.ioprio)
		snprintf(buf, n, "the agent's I/O priority was changed");
	else if (prctl(PR_GET_DUMPABLE) != 0)
		snprintf(buf, n, "the agent is dumpable");
	else
		return NULL;
	return buf;
}

/* Remove everything inside dfd (on device dev); returns the number of failures. */
static unsigned empty_dir(int dfd, dev_t dev, int depth)
{
	unsigned fails;
	int removed;
	DIR *d;
	int fd2 = dup(dfd);

	if (fd2 < 0 || !(d = fdopendir(fd2))) {
		if (fd2 >= 0)
			close(fd2);
		return 1;
	}
	/* Unlinking while reading may skip entries on some filesystems: repeat until a pass removes nothing. */
	do {
		struct dirent *de;
		fails = 0;
		removed = 0;
		rewinddir(d);
		while ((de = readdir(d))) {
			struct stat st;
			const char *n = de->d_name;
			if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
				continue;
			if (fstatat(dfd, n, &st, AT_SYMLINK_NOFOLLOW) < 0) {
				fails++;
				continue;
			}
			if (S_ISDIR(st.st_mode)) {
				int sub;
				if (st.st_dev != dev || depth >= MAX_DEPTH) {
					fails++;
					continue;
				}
				/* The program may have taken away our own permissions. */
				fchmodat(dfd, n, 0700, 0);
				sub = openat(dfd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				if (sub < 0) {
					fails++;
					continue;
				}
				fails += empty_dir(sub, dev, depth + 1);
				close(sub);
				if (unlinkat(dfd, n, AT_REMOVEDIR) < 0)
					fails++;
				else
					removed++;
			} else if (unlinkat(dfd, n, 0) < 0) {
				fails++;
			} else {
				removed++;
			}
		}
	} while (removed && fails);
	closedir(d);
	return fails;
}

static unsigned empty_top(const char *path)
{
	struct stat st;
	unsigned fails;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? 0 : 1;
	fails = fstat(fd, &st) < 0 ? 1 : empty_dir(fd, st.st_dev, 0);
	close(fd);
	return fails;
}

/* /proc/sysvipc/<kind>: remove the objects whose owner or creator is us. */
static unsigned remove_ipc(const char *kind, int uid_col)
{
	char path[64], line[512];
	unsigned fails = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/sysvipc/%s", kind);
	if (!(f = fopen(path, "re")))
		return 0;
	if (!fgets(line, sizeof(line), f)) { /* column titles */
		fclose(f);
		return 0;
	}
	while (fgets(line, sizeof(line), f)) {
		long v[16];
		int n = 0, r;
		for (char *s = line, *e; n < 16; s = e, n++) {
			v[n] = strtol(s, &e, 10);
			if (e == s)
				break;
		}
		if (n < uid_col + 3 || ((uid_t)v[uid_col] != getuid() && (uid_t)v[uid_col + 2] != getuid()))
			continue;
		if (kind[1] == 'h')
			r = shmctl((int)v[1], IPC_RMID, NULL);
		else if (kind[1] == 'e')
			r = semctl((int)v[1], 0, IPC_RMID);
		else
			r = msgctl((int)v[1], IPC_RMID, NULL);
		if (r < 0 && errno != EINVAL && errno != EIDRM)
			fails++;
	}
	fclose(f);
	return fails;
}

/* Never fail open: a reset that cannot show the sandbox clean answers A_ERROR, so that the
 * worker discards the sandbox instead of giving it to the next run. */
static void reset(uint32_t req)
{
	uint64_t end = now_ms() + 200;
	unsigned fails = 0;
	char why[200], name[32] = "";
	int left;

	standby_drop();
	for (;;) {
		kill(-1, SIGKILL); /* every process we may signal but us (and PID 1, which we are) */
		reap(-1, NULL, NULL);
		if (!(left = others_alive(name, sizeof(name))) || now_ms() >= end)
			break;
		usleep(5000);
	}
	if (left) {
		if (left < 0)
			snprintf(why, sizeof(why), "reset: cannot list the sandbox's processes");
		else
			snprintf(why, sizeof(why), "reset: process %d (%s) outlived the kill", left, name);
		send_error(req, why);
		return;
	}
	if (inherited_changed(why, sizeof(why))) {
		char msg[256];
		snprintf(msg, sizeof(msg), "reset: %s", why);
		send_error(req, msg);
		return;
	}
	/* POSIX message queues live as files in /dev/mqueue and outlive their creator too. */
	fails += empty_top("/sandbox") + empty_top("/tmp") + empty_top("/dev/shm") + empty_top("/dev/mqueue");
	fails += remove_ipc("shm", 7) + remove_ipc("sem", 4) + remove_ipc("msg", 7);
	send_u32(A_DONE, req, fails);
	if (!fails) {
		dirty = 0;
		standby_spawn();
	}
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : ISOL8_AGENT_SOCK;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	static const int ignored[] = {SIGHUP,  SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGPIPE, SIGVTALRM,
				      SIGPROF, SIGIO,  SIGPWR,  SIGXCPU, SIGXFSZ, SIGTSTP, SIGTTIN, SIGTTOU};
	struct isol8_buf ready = ISOL8_BUF_INIT;
	sigset_t chld;
	int fd;

	/* First: nothing of the sandbox may ptrace us or open our memory (/proc/1/mem). */
	prctl(PR_SET_DUMPABLE, 0);
	/* Keep 0-2 taken so received fds never land there (dup2 onto itself would keep CLOEXEC). */
	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd < 3)
		;
	if (fd >= 3)
		close(fd);
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "isol8-agent: socket path too long\n");
		return 2;
	}
	strcpy(sa.sun_path, path);
	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		signal(ignored[i], SIG_IGN);
	for (int s = SIGRTMIN; s <= SIGRTMAX; s++)
		signal(s, SIG_IGN);
	/* Blocked SIGCHLD is queued even for PID 1; children start with an empty mask (child()). */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	/* Before any program runs: what every program inherits from us (checked at each reset). */
	inherited_read(&at_start);

	for (uint64_t end = now_ms() + 10000;;) {
		sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (sock >= 0 && connect(sock, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		if (sock >= 0)
			close(sock);
		if (now_ms() >= end) {
			perror("isol8-agent: connect");
			return 1;
		}
		usleep(20000);
	}
	isol8_put_u32(&ready, ISOL8_AGENT_VERSION);
	isol8_put_u32(&ready, (uint32_t)getpid());
	send_msg_fds(A_READY, 0, &ready, NULL, 0);
	isol8_buf_free(&ready);

	for (;;) {
		struct pollfd pf[2] = {{sock, POLLIN, 0}, {sigfd, POLLIN, 0}};
		struct isol8_msg m;
		int r;

		/* Idle: orphans of a session's background processes end here too. */
		if (poll(pf, sigfd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR)
			return 1;
		reap(-1, NULL, NULL);
		if (!(pf[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		r = recv_msg(&m);
		if (r == 0)
			return 0;
		if (r == -2)
			return errno == ECONNRESET ? 0 : 1;
		if (r < 0)
			continue;
		if (m.type == A_RUN) {
			run(&m);
			continue;
		}
		if (m.type == A_WARM)
			warm(&m);
		else if (m.type == A_RUN_WARM)
			run_warm(&m);
		else if (m.type == A_RESET)
			reset(m.request_id);
		else
			send_error(m.request_id, m.type == A_KILL ? "no program is running" : "bad request");
		isol8_msg_free(&m);
	}
}
