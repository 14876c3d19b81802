/* isol8-collect: copies a run's output files (request.outputPaths) out of /sandbox.
 *
 * Run by the worker as an exec in the sandbox, as the sandbox user, after the program ended:
 *
 *     isol8-collect MAX_FILE MAX_TOTAL REL...
 *
 * Each REL is a path relative to /sandbox that the worker has already checked lexically
 * (no "", "." or ".." component). It is opened with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV) from /sandbox, so no symbolic
 * link in any component is followed and nothing outside the /sandbox mount is reached, whatever
 * the program left behind or a process it started is doing meanwhile (the check and the open are
 * one step). Only regular files are read.
 *
 * Output on stdout, one record per REL in order: a line "<status> <n>\n", then n bytes of
 * content for status "file" (for the others n is 0, or the file's size for "toolarge" and
 * "total"). Statuses: file, missing, directory, special (not a regular file), symlink (a
 * symbolic link on the way), outside (leaves /sandbox), toolarge (over MAX_FILE), total (would
 * take the run past MAX_TOTAL), denied, error. The worker trusts none of it: it re-checks every
 * size against its own limits and the number of records.
 *
 * Built alone inside the image (gcc -O2 -static, libc only), like isol8-agent. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int write_all(const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = write(1, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int record(const char *status, unsigned long long n)
{
	char line[64];
	int len = snprintf(line, sizeof line, "%s %llu\n", status, n);

	return write_all(line, (size_t)len);
}

static const char *open_status(int e)
{
	switch (e) {
	case ENOENT:
	case ENOTDIR:
		return "missing";
	case ELOOP:
		return "symlink";
	case EXDEV:
		return "outside";
	case EACCES:
	case EPERM:
		return "denied";
	default:
		return "error";
	}
}

/* Reads at most max + 1 bytes, so a file that grew past its limit since fstat is noticed. */
static int read_capped(int fd, char *buf, size_t max, size_t *got)
{
	size_t n = 0;

	while (n <= max) {
		ssize_t r = read(fd, buf + n, max + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*got = n;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long long max_file, max_total, used = 0;
	char *buf, *end;
	int root;

	if (argc < 3)
		return 2;
	max_file = strtoull(argv[1], &end, 10);
	if (*end)
		return 2;
	max_total = strtoull(argv[2], &end, 10);
	if (*end || max_file > (1ull << 30))
		return 2;
	buf = malloc(max_file + 1);
	root = open("/sandbox", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (!buf || root < 0)
		return 1;
	for (int i = 3; i < argc; i++) {
		struct open_how how = {
			/* O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below). */
			.flags = O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC,
			.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
		};
		struct stat st;
		size_t got = 0;
		int fd = (int)syscall(SYS_openat2, root, argv[i], &how, sizeof how);
		int rc;

		if (fd < 0) {
			rc = record(open_status(errno), 0);
		} else if (fstat(fd, &st) < 0) {
			rc = record("error", 0);
		} else if (S_ISDIR(st.st_mode)) {
			rc = record("directory", 0);
		} else if (!S_ISREG(st.st_mode)) {
			rc = record("special", 0);
		} else if ((unsigned long long)st.st_size > max_file) {
			rc = record("toolarge", (unsigned long long)st.st_size);
		} else if (read_capped(fd, buf, max_file, &got) < 0) {
			rc = record("error", 0);
		} else if (got > max_file) {
			rc = record("toolarge", got);
		} else if (used + got > max_total) {
			rc = record("total", got);
		} else {
			used += got;
			rc = record("file", got);
			if (rc == 0)
				rc = write_all(buf, got);
		}
		if (fd >= 0)
			close(fd);
		if (rc < 0)
			return 1;
	}
	return 0;
}
