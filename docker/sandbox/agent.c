/* isol8-agent: the sandbox's main process (under tini, as the sandbox user 100:101).
 *
 * Connects to the worker's socket, then runs one program at a time with the pipes the worker
 * passes, and empties the sandbox on request. The contract is common/agent_proto.h; this file
 * is built alone inside the image (gcc -O2 -static, libc only), so it re-declares the constants.
 *
 * Choices the protocol header leaves open:
 * - timeout_ms 0 means no deadline.
 * - A run ends when its main process ends: the rest of its process group is then SIGKILLed, so
 *   strays cannot keep the pipes open. Processes that left the group (setsid) live until A_RESET.
 * - A_RUN or A_RESET while a program runs gets A_ERROR "busy"; A_KILL when idle gets A_ERROR.
 * - env entries must contain '='; cwd is "/sandbox" or below it, with no ".." component.
 * - Catchable terminating signals are ignored, so the program (same uid) cannot stop the agent
 *   with them; SIGKILL and SIGSTOP from the same uid cannot be prevented and are accepted (the
 *   worker then sees EOF or its own timeout and discards the container). The agent is not
 *   dumpable, so the program cannot ptrace it.
 * - A_RESET does not descend more than MAX_DEPTH directories, nor into other filesystems; what it
 *   cannot remove is counted in A_DONE, and the worker should then discard the container.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAGIC 0x3849u
#define VERSION 1u
#define HDR 20u
#define MAX_PAYLOAD 65536u
#define MAX_FDS 3
#define MAX_ARGC 64u
#define MAX_ARG (32u * 1024)
#define MAX_ENVC 256u
#define MAX_DEPTH 128
#define DEFAULT_SOCK "/run/isol8-agent/sock"
#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

enum { A_READY = 70, A_RUN = 71, A_KILL = 72, A_RESET = 73,
       A_STARTED = 80, A_EXIT = 81, A_DONE = 82, A_ERROR = 83 };

struct msg {
	unsigned type;
	uint32_t req, len;
	const unsigned char *p;
	int fds[MAX_FDS];
	int nfds;
};

static int sock = -1;
static unsigned char rbuf[HDR + MAX_PAYLOAD + 1];

static uint32_t rd32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t rd64(const unsigned char *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr16(unsigned char *p, uint16_t v) { p[0] = v & 0xff; p[1] = v >> 8; }
static void wr32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (v >> (8 * i)) & 0xff; }
static void wr64(unsigned char *p, uint64_t v) { wr32(p, (uint32_t)v); wr32(p + 4, (uint32_t)(v >> 32)); }

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void close_fds(struct msg *m)
{
	for (int i = 0; i < m->nfds; i++)
		close(m->fds[i]);
	m->nfds = 0;
}

static void send_msg(unsigned type, uint32_t req, const void *payload, uint32_t len)
{
	unsigned char b[HDR + 512];

	if (len > sizeof(b) - HDR)
		len = sizeof(b) - HDR;
	memset(b, 0, HDR);
	wr16(b, MAGIC);
	b[2] = VERSION;
	b[3] = (unsigned char)type;
	wr32(b + 8, len);
	wr32(b + 12, req);
	memcpy(b + HDR, payload, len);
	/* A failed send shows up as EOF on the next receive. */
	(void)send(sock, b, HDR + len, MSG_NOSIGNAL);
}

static void send_error(uint32_t req, const char *text)
{
	unsigned char p[4 + 256];
	size_t n = strnlen(text, 256);

	wr32(p, (uint32_t)n);
	memcpy(p + 4, text, n);
	send_msg(A_ERROR, req, p, (uint32_t)(4 + n));
}

/* 1 message, 0 EOF, -1 malformed (answered, fds closed), -2 socket error. */
static int recv_msg(struct msg *m)
{
	union { char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)]; struct cmsghdr align; } c;
	struct iovec iov = { rbuf, sizeof(rbuf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf, .msg_controllen = sizeof(c.buf) };
	ssize_t n;

	memset(m, 0, sizeof(*m));
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -2;
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&mh); h; h = CMSG_NXTHDR(&mh, h)) {
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
			if (m->nfds < MAX_FDS)
				m->fds[m->nfds++] = fd;
			else
				close(fd);
		}
	}
	if (n == 0 && m->nfds == 0 && !(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
		return 0;
	if (n >= (ssize_t)HDR)
		m->req = rd32(rbuf + 12);
	const char *bad = NULL;
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC) || n > (ssize_t)(HDR + MAX_PAYLOAD))
		bad = "frame or fds truncated";
	else if (n < (ssize_t)HDR || (rbuf[0] | rbuf[1] << 8) != MAGIC || rbuf[2] != VERSION || rd32(rbuf + 16) != 0)
		bad = "bad header";
	else if (rd32(rbuf + 8) != (uint32_t)n - HDR)
		bad = "length mismatch";
	else if ((rbuf[6] | rbuf[7] << 8) != m->nfds)
		bad = "nfds mismatch";
	if (bad) {
		close_fds(m);
		send_error(m->req, bad);
		return -1;
	}
	m->type = rbuf[3];
	m->len = (uint32_t)n - HDR;
	m->p = rbuf + HDR;
	return 1;
}

/* Bounded payload reader: any overrun sets ok = 0 and every later read returns zeros. */
struct rd {
	const unsigned char *p;
	size_t left;
	int ok;
};

static const unsigned char *take(struct rd *r, size_t n)
{
	const unsigned char *p = r->p;

	if (!r->ok || r->left < n) {
		r->ok = 0;
		return NULL;
	}
	r->p += n;
	r->left -= n;
	return p;
}

static uint32_t get32(struct rd *r) { const unsigned char *p = take(r, 4); return p ? rd32(p) : 0; }
static uint64_t get64(struct rd *r) { const unsigned char *p = take(r, 8); return p ? rd64(p) : 0; }

static char *getstr(struct rd *r, size_t max)
{
	uint32_t n = get32(r);
	const unsigned char *p;
	char *s;

	if (n > max || !(p = take(r, n)) || memchr(p, 0, n)) {
		r->ok = 0;
		return NULL;
	}
	if (!(s = malloc(n + 1u)))
		abort();
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
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

static void child(int fds[3], char **argv, char **env, const char *cwd)
{
	sigset_t all;

	setsid();
	for (int i = 0; i < 3; i++)
		if (dup2(fds[i], i) < 0)
			_exit(126);
	if (syscall(SYS_close_range, 3u, ~0u, 0u) < 0)
		for (int fd = 3; fd < 65536; fd++)
			close(fd);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	if (chdir(cwd) < 0)
		child_fail(cwd, 126);
	exec_path(argv, env);
	child_fail(argv[0], 127);
}

static void kill_group(pid_t pid, int sig)
{
	if (kill(-pid, sig) < 0)
		kill(pid, sig);
}

/* A message while a program runs. Returns 0 to go on, 1 when the worker is gone. */
static int busy_msg(pid_t pid)
{
	struct msg m;
	int r = recv_msg(&m);

	if (r == 0 || r == -2)
		return 1;
	if (r < 0)
		return 0;
	if (m.type == A_KILL && m.len == 1 && m.nfds == 0 &&
	    (m.p[0] == SIGINT || m.p[0] == SIGTERM || m.p[0] == SIGKILL))
		kill_group(pid, m.p[0]);
	else
		send_error(m.req, m.type == A_RUN || m.type == A_RESET ? "busy" : "bad request");
	close_fds(&m);
	return 0;
}

static void run(struct msg *m)
{
	struct rd r = { m->p, m->len, 1 };
	uint64_t timeout = get64(&r), t0, deadline;
	uint32_t argc = get32(&r), envc = 0;
	char *argv[MAX_ARGC + 1] = { 0 }, *env[MAX_ENVC + 1] = { 0 }, *cwd = NULL;
	const char *err = NULL;
	unsigned char out[48];
	struct rusage ru = { 0 };
	int st = 0, pidfd, timed_out = 0;
	pid_t pid = -1;

	if (argc < 1 || argc > MAX_ARGC)
		r.ok = 0;
	for (uint32_t i = 0; r.ok && i < argc; i++)
		argv[i] = getstr(&r, MAX_ARG);
	envc = get32(&r);
	if (envc > MAX_ENVC)
		r.ok = 0;
	for (uint32_t i = 0; r.ok && i < envc; i++)
		if ((env[i] = getstr(&r, MAX_ARG)) && !strchr(env[i], '='))
			r.ok = 0;
	cwd = getstr(&r, 4096);
	if (!r.ok || r.left != 0)
		err = "malformed A_RUN";
	else if (m->nfds != 3)
		err = "A_RUN needs 3 fds";
	else if (!cwd_ok(cwd))
		err = "cwd must be /sandbox or below";
	t0 = now_ms();
	if (!err && (pid = fork()) < 0)
		err = "fork failed";
	if (!err && pid == 0)
		child(m->fds, argv, env, cwd);
	close_fds(m);
	for (uint32_t i = 0; i <= MAX_ARGC; i++)
		free(argv[i]);
	for (uint32_t i = 0; i <= MAX_ENVC; i++)
		free(env[i]);
	free(cwd);
	if (err) {
		send_error(m->req, err);
		return;
	}
	wr32(out, (uint32_t)pid);
	send_msg(A_STARTED, m->req, out, 4);

	/* Without pidfd_open (kernel < 5.3) poll every 10 ms instead. */
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	deadline = timeout && timeout < UINT64_MAX - t0 ? t0 + timeout : UINT64_MAX;
	for (;;) {
		struct pollfd pf[2] = { { sock, POLLIN, 0 }, { pidfd, POLLIN, 0 } };
		uint64_t now = now_ms();
		int wait_ms = -1;

		if (wait4(pid, &st, WNOHANG, &ru) == pid)
			break;
		if (!timed_out && now >= deadline) {
			kill_group(pid, SIGKILL);
			timed_out = 1;
			continue;
		}
		if (!timed_out && deadline != UINT64_MAX)
			wait_ms = (int)(deadline - now < 60000 ? deadline - now : 60000);
		if (pidfd < 0 && (wait_ms < 0 || wait_ms > 10))
			wait_ms = 10;
		if (poll(pf, 2, wait_ms) > 0 && (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) && busy_msg(pid)) {
			kill_group(pid, SIGKILL);
			while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
				;
			exit(0);
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	kill(-pid, SIGKILL); /* strays of the group must not keep the pipes open */
	wr32(out, WIFEXITED(st) ? (uint32_t)WEXITSTATUS(st) : UINT32_MAX);
	out[4] = WIFSIGNALED(st) ? (unsigned char)WTERMSIG(st) : 0;
	out[5] = (unsigned char)timed_out;
	wr64(out + 6, now_ms() - t0);
	wr64(out + 14, (uint64_t)ru.ru_utime.tv_sec * 1000000 + (uint64_t)ru.ru_utime.tv_usec);
	wr64(out + 22, (uint64_t)ru.ru_stime.tv_sec * 1000000 + (uint64_t)ru.ru_stime.tv_usec);
	wr64(out + 30, (uint64_t)ru.ru_maxrss);
	send_msg(A_EXIT, m->req, out, 38);
}

/* Does a process other than us run as our uid? Read from status: non-dumpable processes'
 * /proc entries are owned by root. */
static int others_alive(void)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int found = 0;

	if (!d)
		return 0;
	while (!found && (de = readdir(d))) {
		char path[64], buf[1024];
		int pid = atoi(de->d_name), fd;
		ssize_t n;
		if (pid <= 1 || pid == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%d/status", pid);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		char *u = strstr(buf, "\nUid:"), *s = strstr(buf, "\nState:");
		unsigned ruid, euid;
		if (s && (strncmp(s + 7, "\tZ", 2) == 0 || strncmp(s + 7, "\tX", 2) == 0))
			continue;
		if (u && sscanf(u + 5, "%u %u", &ruid, &euid) == 2 && (ruid == getuid() || euid == getuid()))
			found = 1;
	}
	closedir(d);
	return found;
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

static void reset(uint32_t req)
{
	uint64_t end = now_ms() + 200;
	unsigned fails = 0;
	unsigned char out[4];

	for (;;) {
		kill(-1, SIGKILL); /* the kernel spares us and pid 1 */
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (!others_alive() || now_ms() >= end)
			break;
		usleep(5000);
	}
	/* POSIX message queues live as files in /dev/mqueue and outlive their creator too. */
	fails += empty_top("/sandbox") + empty_top("/tmp") + empty_top("/dev/shm") + empty_top("/dev/mqueue");
	fails += remove_ipc("shm", 7) + remove_ipc("sem", 4) + remove_ipc("msg", 7);
	wr32(out, fails);
	send_msg(A_DONE, req, out, 4);
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : DEFAULT_SOCK;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static const int ignored[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGPIPE,
				       SIGVTALRM, SIGPROF, SIGIO, SIGPWR, SIGXCPU, SIGXFSZ, SIGTSTP, SIGTTIN, SIGTTOU };
	unsigned char ready[8];
	int fd;

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
	prctl(PR_SET_DUMPABLE, 0);

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
	wr32(ready, VERSION);
	wr32(ready + 4, (uint32_t)getpid());
	send_msg(A_READY, 0, ready, 8);

	for (;;) {
		struct msg m;
		int r = recv_msg(&m);
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
		if (m.type == A_RESET && m.len == 0 && m.nfds == 0)
			reset(m.req);
		else
			send_error(m.req, m.type == A_KILL ? "no program is running" : "bad request");
		close_fds(&m);
	}
}
