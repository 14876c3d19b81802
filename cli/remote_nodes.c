/* The remote client's session-to-node memory (contract in remote_nodes.h). */
#include "config.h"
#include "cli/remote_nodes.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/proto.h"
#include "common/xalloc.h"

#define NODES_FILE_MAX (1024u * 1024u)

static char *nodes_path(bool create_dir)
{
	const char *st = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	_cleanup_free_ char *dir = NULL;

	if (st && *st == '/')
		dir = xasprintf("%s/isol8", st);
	else if (home && *home == '/')
		dir = xasprintf("%s/.local/state/isol8", home);
	else
		return NULL;
	if (create_dir && mkdir(dir, 0700) < 0 && errno == ENOENT) {
		/* mkdir -p: each missing level, private like the file. */
		for (char *p = strchr(dir + 1, '/'); p; p = strchr(p + 1, '/')) {
			*p = '\0';
			mkdir(dir, 0700);
			*p = '/';
		}
		mkdir(dir, 0700);
	}
	return xasprintf("%s/remote-nodes", dir);
}

/* The whole file, NUL-terminated (empty when missing). */
static int read_all(int fd, struct isol8_buf *b)
{
	char chunk[4096];

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		if (b->len + (size_t)n > NODES_FILE_MAX)
			return -1;
		isol8_buf_append(b, chunk, (size_t)n);
	}
	isol8_buf_putc(b, '\0');
	b->len--;
	return 0;
}

/* Does line (without its newline) start with "url session "? */
static bool line_is(const char *line, size_t len, const char *url, const char *session)
{
	size_t ul = strlen(url), sl = strlen(session);

	return len > ul + sl + 2 && memcmp(line, url, ul) == 0 && line[ul] == ' ' &&
		memcmp(line + ul + 1, session, sl) == 0 && line[ul + 1 + sl] == ' ';
}

char *remote_node_get(const char *url, const char *session)
{
	_cleanup_free_ char *path = nodes_path(false);
	_cleanup_close_ int fd = -1;
	struct isol8_buf b = ISOL8_BUF_INIT;
	char *found = NULL;

	if (!path || strchr(url, ' ') || (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return NULL;
	if (flock(fd, LOCK_SH) == 0 && read_all(fd, &b) == 0 && b.data) {
		for (const char *l = b.data; *l && !found;) {
			const char *nl = strchr(l, '\n');
			size_t len = nl ? (size_t)(nl - l) : strlen(l);
			if (line_is(l, len, url, session)) {
				size_t off = strlen(url) + strlen(session) + 2;
				found = xstrndup(l + off, len - off);
				if (!isol8_valid_session_name(found)) {
					free(found);
					found = NULL;
				}
			}
			l += len + (nl ? 1 : 0);
		}
	}
	isol8_buf_free(&b);
	return found;
}

void remote_node_set(const char *url, const char *session, const char *node)
{
	_cleanup_free_ char *path = nodes_path(true);
	_cleanup_close_ int fd = -1;
	struct isol8_buf b = ISOL8_BUF_INIT, nb = ISOL8_BUF_INIT;

	if (!path || strchr(url, ' ') || (node && !isol8_valid_session_name(node)))
		return;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) < 0 || read_all(fd, &b) < 0)
		goto out;
	for (const char *l = b.data ? b.data : ""; *l;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);
		if (len && !line_is(l, len, url, session)) {
			isol8_buf_append(&nb, l, len);
			isol8_buf_putc(&nb, '\n');
		}
		l += len + (nl ? 1 : 0);
	}
	if (node) {
		char *line = xasprintf("%s %s %s\n", url, session, node);
		isol8_buf_append(&nb, line, strlen(line));
		free(line);
	}
	/* Rewritten in place under the lock: readers take the shared lock first. */
	if (ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0 && nb.len)
		(void)!write(fd, nb.data, nb.len);
out:
	isol8_buf_free(&b);
	isol8_buf_free(&nb);
}
