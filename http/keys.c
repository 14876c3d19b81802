/* API key table (contract in keys.h). */
#include "config.h"
#include "http/keys.h"

#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/cleanup.h"
#include "common/proto.h"
#include "common/xalloc.h"
#include "common/buf.h"

void http_keys_free(struct http_keys *k)
{
	for (size_t i = 0; i < k->n; i++) {
		free(k->v[i].name);
		/* The secret should not linger in freed heap memory. */
		explicit_bzero(k->v[i].secret, k->v[i].secret_len);
		free(k->v[i].secret);
	}
	free(k->v);
	k->v = NULL;
	k->n = 0;
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > ISOL8_MAX_KEY_NAME)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || *s == '.' || *s == '-'))
			return false;
	return true;
}

static bool valid_secret(const char *s, size_t n)
{
	if (n < HTTP_KEY_MIN_SECRET || n > HTTP_KEY_MAX_SECRET)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static void key_id(const char *secret, size_t n, char out[ISOL8_KEY_ID_LEN + 1])
{
	static const char domain[] = "isol8 key id"; /* with its NUL: separates it from the secret */
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	/* Only allocation can fail here; a key without an id must not exist (never fail open). */
	if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(c, domain, sizeof domain) != 1 ||
	    EVP_DigestUpdate(c, secret, n) != 1 || EVP_DigestFinal_ex(c, md, &mdlen) != 1 || mdlen < ISOL8_KEY_ID_LEN / 2)
		abort();
	EVP_MD_CTX_free(c);
	for (unsigned i = 0; i < ISOL8_KEY_ID_LEN / 2; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

int http_keys_add(struct http_keys *k, const char *name, const char *secret, struct isol8_err *err)
{
	size_t n = strlen(secret);

	if (!valid_name(name))
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "invalid key name '%.64s': use 1-64 of [A-Za-z0-9_.-]",
				     name);
	if (!valid_secret(secret, n))
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "key '%s': the secret must be %u-%u printable characters without spaces", name,
				     HTTP_KEY_MIN_SECRET, HTTP_KEY_MAX_SECRET);
	if (k->n >= HTTP_KEYS_MAX)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "more than %u keys", HTTP_KEYS_MAX);
	for (size_t i = 0; i < k->n; i++) {
		if (strcmp(k->v[i].name, name) == 0)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "key name '%s' given twice", name);
		if (k->v[i].secret_len == n && memcmp(k->v[i].secret, secret, n) == 0)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "keys '%s' and '%s' have the same secret",
					     k->v[i].name, name);
	}
	k->v = xrealloc(k->v, (k->n + 1) * sizeof *k->v);
	k->v[k->n].name = xstrdup(name);
	k->v[k->n].secret = xstrdup(secret);
	k->v[k->n].secret_len = n;
	key_id(secret, n, k->v[k->n].id);
	k->n++;
	return 0;
}

int http_keys_parse(struct http_keys *k, const char *text, size_t len, struct isol8_err *err)
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
		r = http_keys_add(k, copy, colon + 1, err);
		explicit_bzero(copy, n);
		if (r < 0)
			return isol8_err_wrap(err, "line %zu", line);
	}
	if (k->n == 0)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "no keys");
	return 0;
}

int http_keys_load_file(struct http_keys *k, const char *path, struct isol8_err *err)
{
	/* "fd:N": an already open file handed over by isol8d --http (the file may be root-only). */
	_cleanup_close_ int fd = strncmp(path, "fd:", 3) == 0 && path[3] >= '0' && path[3] <= '9' && atoi(path + 3) > 2
					 ? fcntl(atoi(path + 3), F_DUPFD_CLOEXEC, 3)
					 : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r;

	if (fd < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "cannot open keys file %s", path);
	struct isol8_buf b = ISOL8_BUF_INIT;
	char tmp[4096];

	for (;;) {
		ssize_t n = read(fd, tmp, sizeof tmp);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || b.len + (size_t)n > HTTP_KEYS_FILE_MAX) {
			int e = n < 0 ? errno : 0;
			explicit_bzero(b.data, b.len);
			isol8_buf_free(&b);
			explicit_bzero(tmp, sizeof tmp);
			return isol8_err_set(err, n < 0 ? ISOL8_E_IO : ISOL8_E_LIMIT, e, "%s: %s", path,
					     n < 0 ? "cannot read" : "keys file too large");
		}
		if (n == 0)
			break;
		isol8_buf_append(&b, tmp, (size_t)n);
	}
	explicit_bzero(tmp, sizeof tmp);
	text = isol8_buf_steal(&b, &len);
	r = http_keys_parse(k, text, len, err);
	explicit_bzero(text, len);
	if (r < 0)
		return isol8_err_wrap(err, "%s", path);
	return 0;
}

/* Constant time in n: the loop runs over the presented token, whatever the secret's length. */
static bool ct_equal(const char *secret, size_t slen, const char *tok, size_t n)
{
	volatile unsigned char diff = (unsigned char)(slen != n);

	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(tok[i] ^ (slen ? secret[i % slen] : 0));
	return diff == 0;
}

const struct http_key *http_keys_match(const struct http_keys *k, const char *tok, size_t n)
{
	const struct http_key *found = NULL;

	if (n == 0 || n > HTTP_KEY_MAX_SECRET)
		return NULL;
	for (size_t i = 0; i < k->n; i++) {
		bool eq = ct_equal(k->v[i].secret, k->v[i].secret_len, tok, n);
		/* No early exit: every key is compared. */
		if (eq && !found)
			found = &k->v[i];
	}
	return found;
}

int http_bearer_token(const char *hdr, const char **tok, size_t *n)
{
	const char *s, *e;

	if (!hdr)
		return -1;
	s = hdr;
	while (*s == ' ' || *s == '\t')
		s++;
	/* "Bearer <token>"; a bare token is accepted too, as the original server does. */
	if (strncasecmp(s, "Bearer", 6) == 0 && (s[6] == ' ' || s[6] == '\t')) {
		s += 6;
		while (*s == ' ' || *s == '\t')
			s++;
	}
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (e == s)
		return -1;
	for (const char *p = s; p < e; p++)
		if (*p == ' ' || *p == '\t')
			return -1;
	*tok = s;
	*n = (size_t)(e - s);
	return 0;
}
