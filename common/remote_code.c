/* Remote code: URL shorthands, content checks and the fetcher's answer (contract in remote_code.h). */
#include "config.h"
#include "common/remote_code.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/sha256.h"
#include "common/xalloc.h"

/* One path part of a shorthand: non-empty, not "." or "..", only characters that stay literal
 * in a URL path (no '?', '#', '%', '\\', spaces or controls). */
static bool part_ok(const char *s, size_t n)
{
	if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c == 0x7f || c == '?' || c == '#' || c == '%' || c == '\\')
			return false;
	}
	return true;
}

/* Split-check spec at '/': returns the number of parts, or 0 if one is bad. */
static size_t parts_ok(const char *spec)
{
	size_t n = 0;
	const char *p = spec;

	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (!part_ok(p, len))
			return 0;
		n++;
		if (!slash)
			return n;
		p = slash + 1;
	}
}

char *remote_github_url(const char *spec, struct isol8_err *err)
{
	if (strlen(spec) > ISOL8_REMOTE_MAX_URL - 64 || parts_ok(spec) < 4) {
		isol8_err_set(err, ISOL8_E_USAGE, 0, "--github format must be owner/repo/ref/path/to/file");
		return NULL;
	}
	return xasprintf("https://raw.githubusercontent.com/%s", spec);
}

char *remote_gist_url(const char *spec, struct isol8_err *err)
{
	const char *slash = strchr(spec, '/');

	if (strlen(spec) > ISOL8_REMOTE_MAX_URL - 64 || !slash || parts_ok(spec) < 2) {
		isol8_err_set(err, ISOL8_E_USAGE, 0, "--gist format must be gistId/file.ext");
		return NULL;
	}
	return xasprintf("https://gist.githubusercontent.com/%.*s/raw/%s", (int)(slash - spec), spec, slash + 1);
}

int remote_hash_check_format(const char *hash, const char *flag, struct isol8_err *err)
{
	size_t n = strlen(hash);

	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)hash[i]))
			n = 0;
	if (n != 64)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s must be a SHA-256 digest: 64 hexadecimal digits", flag);
	return 0;
}

bool remote_utf8_valid(const char *str, size_t len, size_t *bad)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t need;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1, cp = c & 0x1f, min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2, cp = c & 0x0f, min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3, cp = c & 0x07, min = 0x10000;
		} else {
			*bad = i;
			return false;
		}
		if (len - i <= need) {
			*bad = i;
			return false;
		}
		for (size_t k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80) {
				*bad = i;
				return false;
			}
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
			*bad = i;
			return false;
		}
		i += need + 1;
	}
	return true;
}

int remote_code_check(const char *code, size_t len, const char *hash, struct isol8_err *err)
{
	size_t bad;

	if (len == 0)
		return isol8_err_set(err, ISOL8_E_POLICY, 0, "Remote code response body is empty");
	if (!remote_utf8_valid(code, len, &bad))
		return isol8_err_set(err, ISOL8_E_POLICY, 0,
				     "Fetched code is not valid UTF-8 (invalid byte 0x%02x at offset %zu)",
				     (unsigned char)code[bad], bad);
	if (memchr(code, '\0', len))
		return isol8_err_set(err, ISOL8_E_POLICY, 0, "Fetched code appears to be binary content");
	if (hash && hash[0]) {
		char hex[ISOL8_SHA256_HEXLEN];
		isol8_sha256_hexdigest(code, len, hex);
		if (strlen(hash) != 64 || strncasecmp(hex, hash, 64) != 0)
			return isol8_err_set(err, ISOL8_E_POLICY, 0, "Remote code hash mismatch");
	}
	return 0;
}

void remote_result_err(const struct isol8_err *e, char *out, size_t n)
{
	char msg[256];
	size_t i;

	snprintf(msg, sizeof msg, "%.255s", e->msg[0] ? e->msg : "remote code fetch failed");
	for (i = 0; msg[i]; i++)
		if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
			msg[i] = ' ';
	snprintf(out, n, "ERR %d %s\n", e->code > 0 && e->code < ISOL8_E__MAX ? e->code : ISOL8_E_INTERNAL, msg);
}

static int bad_answer(struct isol8_err *err, const char *why)
{
	return isol8_err_set(err, ISOL8_E_PROTO, 0, "code fetcher: malformed answer (%s)", why);
}

int remote_result_parse(const char *buf, size_t len, char **code, size_t *code_len, struct isol8_err *err)
{
	const char *nl = memchr(buf, '\n', len < 300 ? len : 300);
	size_t head;

	*code = NULL;
	*code_len = 0;
	if (!nl)
		return bad_answer(err, len ? "no first line" : "empty: the fetcher died");
	head = (size_t)(nl - buf);
	if (head > 3 && memcmp(buf, "OK ", 3) == 0) {
		uint64_t n = 0;
		size_t i = 3;
		if (head > 3 + 9)
			return bad_answer(err, "length");
		for (; i < head; i++) {
			if (buf[i] < '0' || buf[i] > '9')
				return bad_answer(err, "length");
			n = n * 10 + (uint64_t)(buf[i] - '0');
		}
		if (n > ISOL8_REMOTE_MAX_CODE || n != len - head - 1)
			return bad_answer(err, "length differs from the body");
		*code = xmalloc((size_t)n + 1);
		memcpy(*code, nl + 1, (size_t)n);
		(*code)[n] = '\0';
		*code_len = (size_t)n;
		return 0;
	}
	if (head > 6 && memcmp(buf, "ERR ", 4) == 0 && len == head + 1) {
		int c = 0;
		size_t i = 4;
		for (; i < head && buf[i] >= '0' && buf[i] <= '9' && c < 1000; i++)
			c = c * 10 + (buf[i] - '0');
		if (i == 4 || i >= head || buf[i] != ' ' || c <= 0 || c >= ISOL8_E__MAX)
			return bad_answer(err, "error code");
		for (size_t k = i + 1; k < head; k++)
			if ((unsigned char)buf[k] < 0x20 || buf[k] == 0x7f)
				return bad_answer(err, "control character in the message");
		return isol8_err_set(err, c, 0, "%.*s", (int)(head - i - 1), buf + i + 1);
	}
	return bad_answer(err, "neither OK nor ERR");
}
