/* API key table (contract in keys.h). */
#include "config.h"
#include "http/keys.h"

#include "common/sha256.h"
#include "common/keys_file.h"

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

static void key_id(const char *secret, size_t n, char out[ISOL8_KEY_ID_LEN + 1])
{
	static const char domain[] = "isol8 key id"; /* with its NUL: separates it from the secret */
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	/* Only allocation can fail here; a key without an id must not exist (never fail open). */
	if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(c, domain, sizeof domain) != 1 ||
	    EVP_DigestUpdate(c, secret, n) != 1 || EVP_DigestFinal_ex(c, md, &mdlen) != 1 ||
	    mdlen < ISOL8_KEY_ID_LEN / 2)
		abort();
	EVP_MD_CTX_free(c);
	for (unsigned i = 0; i < ISOL8_KEY_ID_LEN / 2; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

int http_keys_add(struct http_keys *k, const char *name, const char *secret, struct isol8_err *err)
{
	size_t n = strlen(secret);

	if (!http_key_name_valid(name))
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "invalid key name '%.64s': use 1-64 of [A-Za-z0-9_.-]",
				     name);
	if (!http_key_secret_valid(secret, n))
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
	memset(&k->v[k->n], 0, sizeof k->v[k->n]);
	k->v[k->n].name = xstrdup(name);
	k->v[k->n].secret = xstrdup(secret);
	k->v[k->n].secret_len = n;
	key_id(secret, n, k->v[k->n].id);
	k->n++;
	return 0;
}

static int add_cb(void *ctx, const char *name, const char *secret, struct isol8_err *err)
{
	return http_keys_add(ctx, name, secret, err);
}

int http_keys_parse(struct http_keys *k, const char *text, size_t len, struct isol8_err *err)
{
	if (http_keys_scan(text, len, add_cb, k, err) < 0)
		return -1;
	if (k->n == 0)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "no keys");
	return 0;
}

int http_keys_load_file(struct http_keys *k, const char *path, struct isol8_err *err)
{
	size_t len = 0;
	char *text = http_keys_read_file(path, &len, err);
	int r;

	if (!text)
		return -1;
	r = http_keys_parse(k, text, len, err);
	explicit_bzero(text, len);
	free(text);
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

bool http_dbkey_token(const char *tok, size_t n)
{
	if (n != 70 || strncmp(tok, "isol8_", 6) != 0)
		return false;
	for (size_t i = 6; i < n; i++)
		if (!((tok[i] >= '0' && tok[i] <= '9') || (tok[i] >= 'a' && tok[i] <= 'f')))
			return false;
	return true;
}

void http_dbkey_make(struct http_key *k, char dbhash[65], const char *tok, size_t n)
{
	memset(k, 0, sizeof *k);
	isol8_sha256_hexdigest(tok, n, dbhash);
	k->name = (char *)HTTP_DBKEY_PREFIX;
	/* id carries the hash to the connector; the connector sends it whole. */
	k->dbhash = dbhash;
}
