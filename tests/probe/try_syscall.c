/* Probe for the worker lockdown (bubblewrap try-syscall.c idea): lock itself down exactly like a
 * worker, then try syscalls. Denied calls get arguments that would fail harmlessly if the filter
 * let them through (bad fds, bad families), so a printed errno tells filter from kernel.
 *
 *   try_syscall identity [NAME]   print "uid gid" of the worker account (no root needed)
 *   try_syscall errnos            lock down; print "name ERRNO" for denied calls, "name ok" for
 *                                 calls a worker needs (to fd 1, which is kept as fd 3)
 *   try_syscall kills [NAME...]   per name: fork, lock the child down, try NAME; print
 *                                 "name SIGSYS" if the kernel killed it, else "name exit ERRNO"
 *   try_syscall sleep             keep stdin, stdout, stderr; lock down; write "ready"; block
 *                                 until stdin reaches EOF (the test inspects /proc/PID meanwhile)
 *   try_syscall sleep-nostderr    same, without keeping stderr
 *   try_syscall reorder           keep {5, 3, 2}: check they arrive as 3, 4 and 2 (on stderr)
 *   try_syscall badfd | dupfd     lockdown with an invalid keep list: print "error: MSG", exit 0
 *                                 if worker_lockdown() refused
 *   try_syscall lockdown-as-is    lockdown keeping stderr, then exit 0 (exit 1 with the error on
 *                                 stderr if refused, e.g. when not started as root)
 *   try_syscall asan-overflow     lock down, then overflow a heap buffer (sanitizer build: the
 *                                 ASan report must survive the filter)
 *   try_syscall build             print "sanitizers 0|1" and "seccomp_debug 0|1"
 * Exit 0 on success, 1 on failure, 2 on usage error, 125 if worker_lockdown() failed. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "lockdown/lockdown.h"

static const char *errname(int e)
{
	const char *n = e ? strerrorname_np(e) : "0";

	return n ? n : "E?";
}

#define LOCKDOWN_FAILED 125

static void lock_or_die(int *keep, unsigned n)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct worker_identity id;

	if (worker_identity_resolve("nobody", &id, &err) < 0 || worker_lockdown(&id, keep, n, &err) < 0) {
		/* fd 2 may already be /dev/null; the exit status still tells the test. */
		dprintf(STDERR_FILENO, "try_syscall: %s\n", err.msg);
		_exit(LOCKDOWN_FAILED);
	}
}

/* ---- errnos: expected-but-denied calls, then what a worker must still be able to do ---- */

static int out_fd = -1;

static void report_errno(const char *name, long r)
{
	dprintf(out_fd, "%s %s\n", name, r == -1 ? errname(errno) : "SUCCEEDED");
}

static void report_ok(const char *name, int ok)
{
	dprintf(out_fd, "%s %s\n", name, ok ? "ok" : errname(errno));
}

static void *thread_main(void *arg)
{
	return arg;
}

static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

static int try_memfd(void)
{
	struct stat st;
	int fd = (int)syscall(SYS_memfd_create, "probe", 1u /* MFD_CLOEXEC */);
	char *p;
	int ok;

	if (fd < 0)
		return 0;
	ok = ftruncate(fd, 4096) == 0 && fstat(fd, &st) == 0 && st.st_size == 4096;
	p = ok ? mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
	if (p == MAP_FAILED)
		ok = 0;
	else {
		p[0] = 'x';
		ok = ok && lseek(fd, 0, SEEK_SET) == 0;
		char c = 0;
		ok = ok && read(fd, &c, 1) == 1 && c == 'x';
		munmap(p, 4096);
	}
	close(fd);
	return ok;
}

static int try_epoll_timer_event(void)
{
	struct itimerspec its = {.it_value = {.tv_nsec = 1000000}};
	struct epoll_event ev = {.events = EPOLLIN}, got[2];
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	int efd = eventfd(0, EFD_CLOEXEC);
	int ok = ep >= 0 && tfd >= 0 && efd >= 0;

	ok = ok && timerfd_settime(tfd, 0, &its, NULL) == 0;
	ev.data.fd = tfd;
	ok = ok && epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) == 0;
	ok = ok && epoll_wait(ep, got, 2, 5000) == 1 && got[0].data.fd == tfd;
	ok = ok && eventfd_write(efd, 1) == 0;
	close(ep);
	close(tfd);
	close(efd);
	return ok;
}

static int try_pipe_poll(void)
{
	int p[2];
	char c = 0;
	int ok, fl;

	if (pipe2(p, O_CLOEXEC) < 0)
		return 0;
	fl = fcntl(p[0], F_GETFL);
	ok = fl >= 0 && fcntl(p[0], F_SETFL, fl | O_NONBLOCK) == 0;
	ok = ok && read(p[0], &c, 1) == -1 && errno == EAGAIN;
	ok = ok && write(p[1], "y", 1) == 1 && read(p[0], &c, 1) == 1 && c == 'y';
	{
		int d = fcntl(p[1], F_DUPFD_CLOEXEC, 0);
		ok = ok && d >= 0 && close(d) == 0;
	}
	close(p[0]);
	close(p[1]);
	return ok;
}

static int mode_errnos(void)
{
	int keep[] = {STDOUT_FILENO, STDERR_FILENO};
	pthread_t th;
	void *ret = NULL;
	struct rlimit rl;
	struct termios tio;
	struct stat st;
	char rnd[16];

	lock_or_die(keep, 2);
	out_fd = keep[0];

	/* Harmless if they got through: bad fd, relative path, bad family. */
	report_errno("openat", syscall(SYS_openat, -1, "isol8-probe-never", O_WRONLY | O_CREAT | O_EXCL, 0600));
	report_errno("openat_rdonly", syscall(SYS_openat, -1, "isol8-probe-never", O_RDONLY));
#ifdef SYS_open
	report_errno("open", syscall(SYS_open, "", O_WRONLY | O_CREAT | O_EXCL, 0600));
#else
	dprintf(out_fd, "open EACCES\n");
#endif
	report_errno("socket", syscall(SYS_socket, -1, SOCK_STREAM, 0));
	report_errno("socketpair", syscall(SYS_socketpair, -1, SOCK_STREAM, 0, NULL));
	report_errno("connect", syscall(SYS_connect, -1, NULL, 0));
	report_errno("getdents64", syscall(SYS_getdents64, -1, NULL, 0));
	report_errno("newfstatat_path", syscall(SYS_newfstatat, -1, "isol8-probe-never", &st, 0));
	report_errno("readlinkat", syscall(SYS_readlinkat, -1, "isol8-probe-never", rnd, sizeof rnd));
	report_errno("clone3", syscall(SYS_clone3, NULL, 0));
	report_errno("ioctl_tcgets", ioctl(-1, TCGETS, &tio));
	report_errno("ioctl_fionread", ioctl(-1, FIONREAD, &(int){0}));

	/* A worker's daily life. */
	report_ok("thread",
		  pthread_create(&th, NULL, thread_main, (void *)1) == 0 && pthread_join(th, &ret) == 0 &&
			  ret == (void *)1);
	report_ok("malloc", ({
			  void *big = malloc(8 << 20);
			  int ok = big != NULL;
			  if (big)
				  memset(big, 1, 8 << 20);
			  free(big);
			  ok;
		  }));
	report_ok("memfd", try_memfd());
	report_ok("epoll_timerfd_eventfd", try_epoll_timer_event());
	report_ok("pipe_fcntl", try_pipe_poll());
	report_ok("getrandom", getrandom(rnd, sizeof rnd, 0) == (ssize_t)sizeof rnd);
	report_ok("getrlimit", getrlimit(RLIMIT_NOFILE, &rl) == 0);
	report_ok("fstat", fstat(out_fd, &st) == 0);
	report_ok("kill_self", kill(getpid(), 0) == 0);
	signal(SIGUSR1, on_usr1);
	report_ok("raise", raise(SIGUSR1) == 0 && got_usr1);
	report_ok("stdio", printf("to /dev/null\n") > 0 && fflush(stdout) == 0);
	report_ok("ids", getuid() == 65534 && geteuid() == 65534 && getgid() == 65534);
	dprintf(out_fd, "done\n");
	return 0;
}

/* ---- kills: each attempt in its own locked-down child ---------------------------------- */

static long attempt(const char *name)
{
	char *const argv[] = {"/bin/true", NULL};
	struct rlimit rl = {64, 64};

	if (!strcmp(name, "execve"))
		return execve("/bin/true", argv, argv + 1);
	if (!strcmp(name, "execveat"))
		return syscall(SYS_execveat, -1, "", argv, argv + 1, 0);
	if (!strcmp(name, "ptrace"))
		return syscall(SYS_ptrace, -1L, 0, 0, 0);
	if (!strcmp(name, "unshare"))
		return syscall(SYS_unshare, 0);
	if (!strcmp(name, "setns"))
		return syscall(SYS_setns, -1, 0);
	if (!strcmp(name, "mount"))
		return syscall(SYS_mount, NULL, NULL, NULL, 0, NULL);
	if (!strcmp(name, "umount2"))
		return syscall(SYS_umount2, NULL, 0);
	if (!strcmp(name, "pivot_root"))
		return syscall(SYS_pivot_root, NULL, NULL);
	if (!strcmp(name, "bpf"))
		return syscall(SYS_bpf, -1, NULL, 0);
	if (!strcmp(name, "keyctl"))
		return syscall(SYS_keyctl, -1, 0, 0, 0, 0);
	if (!strcmp(name, "fork")) {
		/* clone without CLONE_THREAD; a surviving child leaves at once */
		long r = syscall(SYS_clone, (long)SIGCHLD, 0L, NULL, NULL, 0L);
		if (r == 0)
			_exit(0);
		return r;
	}
	if (!strcmp(name, "prlimit_set"))
		return syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &rl, NULL);
	if (!strcmp(name, "kill_other"))
		return kill(1, 0);
	if (!strcmp(name, "fcntl_setown"))
		return fcntl(-1, F_SETOWN, 1);
	if (!strcmp(name, "sendto_addr")) {
		struct sockaddr sa = {.sa_family = AF_UNIX};
		return sendto(-1, "", 0, 0, &sa, sizeof sa);
	}
	if (!strcmp(name, "setuid"))
		return syscall(SYS_setuid, 0);
	if (!strcmp(name, "chdir"))
		return syscall(SYS_chdir, "/");
#if defined(__x86_64__)
	/* Other ABIs on the same kernel: the filter must not be bypassable through them. */
	if (!strcmp(name, "x32_getpid"))
		return syscall(0x40000000L | SYS_getpid);
	if (!strcmp(name, "i386_getpid")) {
		long r = 20; /* __NR_getpid on i386 */

		__asm__ volatile("int $0x80" : "+a"(r) : : "memory");
		if (r < 0) {
			errno = (int)-r;
			return -1;
		}
		return r;
	}
#endif
	return -2;
}

static const char *const default_kills[] = {
	"execve",     "execveat",     "ptrace",      "unshare", "setns", "mount",
	"umount2",    "pivot_root",   "bpf",         "keyctl",  "fork",  "prlimit_set",
	"kill_other", "fcntl_setown", "sendto_addr", "setuid",  "chdir",
#if defined(__x86_64__)
	"x32_getpid", "i386_getpid",
#endif
};

/* kills: each call in a locked-down child, which the filter must kill. unfiltered (lock false):
 * the same calls without the filter, to tell a call the kernel itself lacks (int 0x80 on a
 * kernel built without IA32 emulation faults with SIGSEGV before seccomp sees it). */
static int mode_kills(int argc, char **argv, bool lock)
{
	const char *const *names = default_kills;
	size_t n = sizeof default_kills / sizeof default_kills[0];

	if (argc > 0) {
		names = (const char *const *)argv;
		n = (size_t)argc;
	}
	for (size_t i = 0; i < n; i++) {
		int status = 0;
		pid_t pid;

		fflush(stdout);
		pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			int keep[] = {STDERR_FILENO};
			long r;

			if (lock)
				lock_or_die(keep, 1);
			errno = 0;
			r = attempt(names[i]);
			if (r == -2)
				_exit(200);
			/* survived: report the errno through the exit status */
			_exit(r == -1 ? (errno & 0xff) : 0);
		}
		if (waitpid(pid, &status, 0) < 0) {
			perror("waitpid");
			return 1;
		}
		if (WIFSIGNALED(status))
			printf("%s %s\n", names[i],
			       WTERMSIG(status) == SIGSYS ? "SIGSYS" : strsignal(WTERMSIG(status)));
		else if (WEXITSTATUS(status) == 200)
			printf("%s unknown\n", names[i]);
		else if (WEXITSTATUS(status) == LOCKDOWN_FAILED)
			printf("%s lockdown-failed\n", names[i]);
		else
			printf("%s exit %s\n", names[i], errname(WEXITSTATUS(status)));
	}
	return 0;
}

/* ---- sleep: a locked-down process for the test to inspect from outside ----------------- */

static int mode_sleep(int keep_stderr)
{
	int keep[] = {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO};
	char buf[64];
	ssize_t r;

	lock_or_die(keep, keep_stderr ? 3 : 2);
	if (write(keep[1], "ready\n", 6) != 6)
		return 1;
	while ((r = read(keep[0], buf, sizeof buf)) != 0)
		if (r < 0 && errno != EINTR)
			return 1;
	return 0;
}

/* Kept fds arrive at 3, 4, ... in list order even when the list runs backwards over the
 * target slots; 2 stays 2; the write-back tells the caller the new numbers. */
static int mode_reorder(void)
{
	struct stat st;
	ino_t ino5, ino3;
	int p[2], q[2];
	int keep[3] = {5, 3, STDERR_FILENO};

	if (pipe(p) < 0 || pipe(q) < 0 || dup2(p[0], 5) < 0 || dup2(q[0], 3) < 0)
		return 1;
	if (fstat(5, &st) < 0)
		return 1;
	ino5 = st.st_ino;
	if (fstat(3, &st) < 0)
		return 1;
	ino3 = st.st_ino;
	lock_or_die(keep, 3);
	if (keep[0] != 3 || keep[1] != 4 || keep[2] != 2) {
		dprintf(STDERR_FILENO, "reorder: write-back %d %d %d\n", keep[0], keep[1], keep[2]);
		return 1;
	}
	if (fstat(3, &st) < 0 || st.st_ino != ino5 || fstat(4, &st) < 0 || st.st_ino != ino3) {
		dprintf(STDERR_FILENO, "reorder: fds 3/4 are not the kept 5/3\n");
		return 1;
	}
	if (fcntl(5, F_GETFD) != -1 || errno != EBADF) {
		dprintf(STDERR_FILENO, "reorder: fd 5 still open\n");
		return 1;
	}
	dprintf(STDERR_FILENO, "reorder ok\n");
	return 0;
}

static int mode_bad_keep(int dup)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct worker_identity id;
	int keep[2] = {STDOUT_FILENO, dup ? STDOUT_FILENO : 99};

	if (worker_identity_resolve("nobody", &id, &err) < 0) {
		printf("identity error: %s\n", err.msg);
		return 1;
	}
	close(99);
	if (worker_lockdown(&id, keep, 2, &err) == 0) {
		printf("lockdown accepted a bad keep list\n");
		return 1;
	}
	/* Refused before anything was dropped or closed: stdout still works. */
	printf("error: %s\n", err.msg);
	return getuid() == 0 ? 0 : 1;
}

static int mode_identity(const char *name)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct worker_identity id;

	if (worker_identity_resolve(name, &id, &err) < 0) {
		printf("error: %s\n", err.msg);
		return 1;
	}
	printf("%u %u\n", (unsigned)id.uid, (unsigned)id.gid);
	return 0;
}

/* UBSan's object-size check would report first; this is about the ASan runtime. */
__attribute__((no_sanitize("undefined"), noinline)) static void overflow(volatile char *p, int i)
{
	p[i] = 1;
}

/* Sanitizer build: the report must come out whole under the filter (exit 1, not SIGSYS). */
static int mode_asan_overflow(void)
{
	int keep[] = {STDERR_FILENO};
	char *p = malloc(8);

	lock_or_die(keep, 1);
	overflow(p, 8);
	free(p);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr,
			"usage: try_syscall identity|errnos|kills|unfiltered|sleep|sleep-nostderr|badfd|dupfd|build\n");
		return 2;
	}
	if (!strcmp(argv[1], "identity"))
		return mode_identity(argc > 2 ? argv[2] : NULL);
	if (!strcmp(argv[1], "errnos"))
		return mode_errnos();
	if (!strcmp(argv[1], "kills"))
		return mode_kills(argc - 2, argv + 2, true);
	if (!strcmp(argv[1], "unfiltered"))
		return mode_kills(argc - 2, argv + 2, false);
	if (!strcmp(argv[1], "sleep"))
		return mode_sleep(1);
	if (!strcmp(argv[1], "sleep-nostderr"))
		return mode_sleep(0);
	if (!strcmp(argv[1], "reorder"))
		return mode_reorder();
	if (!strcmp(argv[1], "badfd"))
		return mode_bad_keep(0);
	if (!strcmp(argv[1], "dupfd"))
		return mode_bad_keep(1);
	if (!strcmp(argv[1], "lockdown-as-is")) {
		int keep[] = {STDERR_FILENO};
		lock_or_die(keep, 1);
		return 0;
	}
	if (!strcmp(argv[1], "asan-overflow"))
		return mode_asan_overflow();
	if (!strcmp(argv[1], "build")) {
#ifdef ISOL8_SANITIZERS
		printf("sanitizers 1\n");
#else
		printf("sanitizers 0\n");
#endif
#ifdef ISOL8_SECCOMP_DEBUG
		printf("seccomp_debug 1\n");
#else
		printf("seccomp_debug 0\n");
#endif
		return 0;
	}
	fprintf(stderr, "try_syscall: unknown mode %s\n", argv[1]);
	return 2;
}
