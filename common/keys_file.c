/* Keys file syntax (contract in keys_file.h). */
#include "config.h"
#include "common/keys_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/proto.h"
#include "common/xalloc.h"

bool http_key_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > ISOL8_MAX_KEY_NAME)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
		      *s == '.' || *s == '-'))
			return false;
	return true;
}

bool http_key_secret_valid(const char *s, size_t n)
{
	if (n < HTTP_KEY_MIN_SECRET || n > HTTP_KEY_MAX_SECRET)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

int http_keys_scan(const char *text, size_t len,
		   int (*fn)(void *ctx, const char *name, const char *secret, struct isol8_err *err), void *ctx,
		   struct isol8_err *err)
{
	size_t line = 0, pos = 0;

	while (pos < len) {
		const char *s = text + pos, *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		_cleanup_free_ char *copy = NULL;
		char *colon;
		int r;

		pos += n + (nl ? 1 : 0);
		line++;
		if (n && s[n - 1] == '\r')
			n--;
		if (n == 0 || s[0] == '#')
			continue;
		if (memchr(s, '\0', n))
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "line %zu: contains a NUL byte", line);
		copy = xstrndup(s, n);
		colon = strchr(copy, ':');
		if (!colon)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "line %zu: expected name:secret", line);
		*colon = '\0';
		r = fn(ctx, copy, colon + 1, err);
		explicit_bzero(copy, n);
		if (r < 0)
			return isol8_err_wrap(err, "line %zu", line);
	}
	return 0;
}

char *http_keys_read_file(const char *path, size_t *len, struct isol8_err *err)
{
	/* "fd:N": an already open file handed over by isol8d --http (the file may be root-only). */
	_cleanup_close_ int fd = strncmp(path, "fd:", 3) == 0 && path[3] >= '0' && path[3] <= '9' && atoi(path + 3) > 2
		? fcntl(atoi(path + 3), F_DUPFD_CLOEXEC, 3)
		: open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct isol8_buf b = ISOL8_BUF_INIT;
	char tmp[4096];

	if (fd < 0) {
		isol8_err_set(err, ISOL8_E_IO, errno, "cannot open keys file %s", path);
		return NULL;
	}
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof tmp);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || b.len + (size_t)n > HTTP_KEYS_FILE_MAX) {
			int e = n < 0 ? errno : 0;
			explicit_bzero(b.data, b.len);
			isol8_buf_free(&b);
			explicit_bzero(tmp, sizeof tmp);
			isol8_err_set(err, n < 0 ? ISOL8_E_IO : ISOL8_E_LIMIT, e, "%s: %s", path,
				      n < 0 ? "cannot read" : "keys file too large");
			return NULL;
		}
		if (n == 0)
			break;
		isol8_buf_append(&b, tmp, (size_t)n);
	}
	explicit_bzero(tmp, sizeof tmp);
	return isol8_buf_steal(&b, len);
}

struct seen {
	char **names, **secrets;
	size_t n;
};

static int check_cb(void *ctx, const char *name, const char *secret, struct isol8_err *err)
{
	struct seen *s = ctx;

	if (!http_key_name_valid(name))
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "invalid key name '%.64s': use 1-64 of [A-Za-z0-9_.-]",
				     name);
	if (!http_key_secret_valid(secret, strlen(secret)))
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "key '%s': the secret must be %u-%u printable characters without spaces", name,
				     HTTP_KEY_MIN_SECRET, HTTP_KEY_MAX_SECRET);
	if (s->n >= HTTP_KEYS_MAX)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "more than %u keys", HTTP_KEYS_MAX);
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->names[i], name) == 0)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "key name '%s' given twice", name);
		if (strcmp(s->secrets[i], secret) == 0)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "keys '%s' and '%s' have the same secret",
					     s->names[i], name);
	}
	s->names = xrealloc(s->names, (s->n + 1) * sizeof *s->names);
	s->secrets = xrealloc(s->secrets, (s->n + 1) * sizeof *s->secrets);
	s->names[s->n] = xstrdup(name);
	s->secrets[s->n++] = xstrdup(secret);
	return 0;
}

int http_keys_check_file(const char *path, size_t *n_keys, struct isol8_err *err)
{
	struct seen s = {0};
	size_t len = 0;
	char *text = http_keys_read_file(path, &len, err);
	int r;

	if (!text)
		return -1;
	r = http_keys_scan(text, len, check_cb, &s, err);
	explicit_bzero(text, len);
	free(text);
	if (r == 0 && s.n == 0)
		r = isol8_err_set(err, ISOL8_E_USAGE, 0, "no keys");
	for (size_t i = 0; i < s.n; i++) {
		explicit_bzero(s.secrets[i], strlen(s.secrets[i]));
		free(s.secrets[i]);
		free(s.names[i]);
	}
	free(s.names);
	free(s.secrets);
	if (r < 0)
		return isol8_err_wrap(err, "%s", path);
	*n_keys = s.n;
	return 0;
}
