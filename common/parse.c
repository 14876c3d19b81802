#include "config.h"
#include "common/parse.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/proto.h"
#include "common/xalloc.h"

/* Input quoted for an error message: cut to a readable length, non-printable bytes escaped so
 * hostile input cannot reach a terminal raw. */
static const char *quote(const char *s, char *buf, size_t n)
{
	size_t pos = 0, i;

	for (i = 0; s[i]; i++) {
		unsigned char c = (unsigned char)s[i];
		if (i >= 48) {
			if (pos + 4 < n) {
				memcpy(buf + pos, "...", 3);
				pos += 3;
			}
			break;
		}
		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
			if (pos + 2 > n)
				break;
			buf[pos++] = (char)c;
		} else {
			if (pos + 5 > n)
				break;
			snprintf(buf + pos, 5, "\\x%02x", c);
			pos += 4;
		}
	}
	buf[pos] = '\0';
	return buf;
}

#define QBUF 256

static int bad(struct isol8_err *err, const char *what, const char *s, const char *why)
{
	char q[QBUF];
	return isol8_err_set(err, ISOL8_E_USAGE, 0, "invalid %s \"%s\": %s", what, quote(s, q, sizeof q), why);
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Fraction digits kept; later digits cannot move a floored byte or millisecond count for any
 * multiplier we use (at most 2^40 or 3.6e6) except in contrived boundary cases. */
#define FRAC_DIGITS 18

struct decimal {
	uint64_t ip;   /* integer part */
	uint64_t frac; /* first fd fraction digits */
	unsigned fd;
	bool overflow; /* integer part does not fit */
};

/* digits [ '.' digits ]: at least one digit on each side of the point. Advances *p. */
static bool parse_decimal(const char **p, struct decimal *d)
{
	const char *s = *p;

	memset(d, 0, sizeof *d);
	if (!is_digit(*s))
		return false;
	for (; is_digit(*s); s++) {
		unsigned dig = (unsigned)(*s - '0');
		if (d->ip > (UINT64_MAX - dig) / 10)
			d->overflow = true;
		else
			d->ip = d->ip * 10 + dig;
	}
	if (*s == '.') {
		s++;
		if (!is_digit(*s))
			return false;
		for (; is_digit(*s); s++) {
			if (d->fd < FRAC_DIGITS) {
				d->frac = d->frac * 10 + (uint64_t)(*s - '0');
				d->fd++;
			}
		}
	}
	*p = s;
	return true;
}

/* floor(d * mult); false on overflow. */
static bool scale(const struct decimal *d, uint64_t mult, uint64_t *out)
{
	unsigned __int128 v, f, p10 = 1;

	if (d->overflow)
		return false;
	for (unsigned i = 0; i < d->fd; i++)
		p10 *= 10;
	v = (unsigned __int128)d->ip * mult;
	f = (unsigned __int128)d->frac * mult / p10;
	v += f;
	if (v > UINT64_MAX)
		return false;
	*out = (uint64_t)v;
	return true;
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

int isol8_parse_size(const char *s, uint64_t *out, struct isol8_err *err)
{
	const char *p = s;
	struct decimal d;
	uint64_t mult = 1;

	if (!s || !*s)
		return bad(err, "size", s ? s : "", "empty");
	if (!parse_decimal(&p, &d))
		return bad(err, "size", s, "expected a number like 512m, 1g, 1.5g or 1024");
	switch (lower((unsigned char)*p)) {
	case 'k':
		mult = 1ULL << 10;
		p++;
		break;
	case 'm':
		mult = 1ULL << 20;
		p++;
		break;
	case 'g':
		mult = 1ULL << 30;
		p++;
		break;
	case 't':
		mult = 1ULL << 40;
		p++;
		break;
	default:
		break;
	}
	if (*p == 'b' || *p == 'B')
		p++;
	if (*p)
		return bad(err, "size", s, "unknown unit (use k, m, g or t, optionally followed by b)");
	if (!scale(&d, mult, out))
		return bad(err, "size", s, "too large");
	return 0;
}

void isol8_format_size(uint64_t bytes, char *out, size_t outlen)
{
	static const struct {
		unsigned shift;
		char unit;
	} units[] = {
		{40, 't'},
		{30, 'g'},
		{20, 'm'},
		{10, 'k'},
	};

	if (!outlen)
		return;
	for (size_t i = 0; bytes && i < sizeof units / sizeof units[0]; i++) {
		uint64_t m = 1ULL << units[i].shift;
		if (bytes % m == 0) {
			snprintf(out, outlen, "%" PRIu64 "%c", bytes / m, units[i].unit);
			return;
		}
	}
	snprintf(out, outlen, "%" PRIu64, bytes);
}

int isol8_parse_duration_ms(const char *s, uint64_t *out, struct isol8_err *err)
{
	const char *p = s;
	struct decimal d;
	uint64_t mult;

	if (!s || !*s)
		return bad(err, "duration", s ? s : "", "empty");
	if (!parse_decimal(&p, &d))
		return bad(err, "duration", s, "expected milliseconds or a number with ms, s, m or h");
	if (!*p)
		mult = 1;
	else if (lower(p[0]) == 'm' && lower(p[1]) == 's' && !p[2])
		mult = 1;
	else if (lower(p[0]) == 's' && !p[1])
		mult = 1000;
	else if (lower(p[0]) == 'm' && !p[1])
		mult = 60 * 1000;
	else if (lower(p[0]) == 'h' && !p[1])
		mult = 3600 * 1000;
	else
		return bad(err, "duration", s, "unknown unit (use ms, s, m or h)");
	if (!scale(&d, mult, out))
		return bad(err, "duration", s, "too large");
	return 0;
}

int isol8_parse_u64(const char *s, uint64_t max, uint64_t *out, struct isol8_err *err)
{
	uint64_t v = 0;
	char q[QBUF];

	if (!s || !*s)
		return bad(err, "number", s ? s : "", "empty");
	for (const char *p = s; *p; p++) {
		unsigned dig;
		if (!is_digit(*p))
			return bad(err, "number", s, "expected a non-negative integer");
		dig = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - dig) / 10)
			return bad(err, "number", s, "too large");
		v = v * 10 + dig;
	}
	if (v > max)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "invalid number \"%s\": must be at most %" PRIu64,
				     quote(s, q, sizeof q), max);
	*out = v;
	return 0;
}

int isol8_parse_pool_size(const char *s, uint32_t max, uint32_t *clean, uint32_t *dirty, struct isol8_err *err)
{
	char q[QBUF], part[24];
	const char *comma;
	uint64_t c, d;
	size_t n;

	if (!s)
		s = "";
	comma = strchr(s, ',');
	if (!comma) {
		if (isol8_parse_u64(s, max, &c, err) < 0)
			goto fail;
		*clean = *dirty = (uint32_t)c;
		return 0;
	}
	/* The first half is copied so the number parser sees it alone; one longer than the
	 * buffer (only possible with leading zeros) is refused. */
	n = (size_t)(comma - s);
	if (n >= sizeof part)
		goto fail;
	memcpy(part, s, n);
	part[n] = '\0';
	if (isol8_parse_u64(part, max, &c, err) < 0 || isol8_parse_u64(comma + 1, max, &d, err) < 0)
		goto fail;
	*clean = (uint32_t)c;
	*dirty = (uint32_t)d;
	return 0;
fail:
	return isol8_err_set(err, ISOL8_E_USAGE, 0, "invalid pool size \"%s\": expected N or CLEAN,DIRTY (0..%u)",
			     quote(s, q, sizeof q), max);
}

#define CPU_MAX 1024

int isol8_parse_cpu(const char *s, double *out, struct isol8_err *err)
{
	const char *p = s;
	struct decimal d;
	double v, p10 = 1;

	if (!s || !*s)
		return bad(err, "CPU limit", s ? s : "", "empty");
	if (!parse_decimal(&p, &d) || *p)
		return bad(err, "CPU limit", s, "expected a number of cores like 1, 0.5 or 2.0");
	if (d.overflow || d.ip > CPU_MAX)
		return bad(err, "CPU limit", s, "must be at most 1024");
	/* Built by hand rather than strtod: strtod follows LC_NUMERIC and would read "0,5". */
	for (unsigned i = 0; i < d.fd; i++)
		p10 *= 10;
	v = (double)d.ip + (double)d.frac / p10;
	if (v <= 0)
		return bad(err, "CPU limit", s, "must be greater than 0");
	if (v > CPU_MAX)
		return bad(err, "CPU limit", s, "must be at most 1024");
	*out = v;
	return 0;
}

bool isol8_valid_env_name(const char *s)
{
	if (!s || !((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_' || is_digit(*s)))
			return false;
	return true;
}

int isol8_parse_kv(const char *s, char **key, char **value, struct isol8_err *err)
{
	const char *eq;
	char *k;

	if (!s || !*s)
		return bad(err, "KEY=VALUE", s ? s : "", "empty");
	eq = strchr(s, '=');
	if (!eq)
		return bad(err, "KEY=VALUE", s, "missing '='");
	if (eq == s)
		return bad(err, "KEY=VALUE", s, "empty key");
	k = xstrndup(s, (size_t)(eq - s));
	if (!isol8_valid_env_name(k)) {
		free(k);
		return bad(err, "KEY=VALUE", s, "key must match [A-Za-z_][A-Za-z0-9_]*");
	}
	*key = k;
	*value = xstrdup(eq + 1);
	return 0;
}

int isol8_sandbox_relpath(const char *p, const char *what, char *out, size_t n, struct isol8_err *err)
{
	const char *rel = p;
	size_t len = strlen(p);

	if (len == 0)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: empty path", what);
	if (len > ISOL8_MAX_PATH)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: longer than %u bytes", what, ISOL8_MAX_PATH);
	if (strcmp(p, "/sandbox") == 0 || strcmp(p, "/sandbox/") == 0)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: must name a file inside /sandbox", what);
	if (p[0] == '/') {
		if (strncmp(p, "/sandbox/", 9) != 0)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: must be inside /sandbox", what);
		rel = p + 9;
	}
	for (const char *c = rel;;) {
		size_t seg = strcspn(c, "/");
		if (seg == 0 || (seg == 1 && c[0] == '.') || (seg == 2 && c[0] == '.' && c[1] == '.'))
			return isol8_err_set(err, ISOL8_E_USAGE, 0,
					     "%s: empty, '.' and '..' path components are not allowed", what);
		if (!c[seg])
			break;
		c += seg + 1;
	}
	if (strlen(rel) >= n)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: path too long", what);
	memcpy(out, rel, strlen(rel) + 1);
	return 0;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

int isol8_split_words(const char *s, const char *what, char ***words, size_t *n, struct isol8_err *err)
{
	size_t len = strlen(s), cnt = 0;
	char **v = xcalloc(ISOL8_AGENT_FLAGS_MAX_WORDS + 1, sizeof *v);
	char *w = xmalloc(len + 1);
	const char *p = s;

	*words = NULL;
	*n = 0;
	if (len > ISOL8_AGENT_FLAGS_MAX) {
		isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: longer than %u bytes", what, ISOL8_AGENT_FLAGS_MAX);
		goto fail;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f) {
			isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: control character 0x%02x at byte %zu", what, c, i);
			goto fail;
		}
	}
	for (;;) {
		size_t wl = 0;
		while (is_blank(*p))
			p++;
		if (!*p)
			break;
		while (*p && !is_blank(*p)) {
			unsigned char c = (unsigned char)*p;
			if (c == '\'') {
				const char *end = strchr(p + 1, '\'');
				if (!end) {
					isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: unterminated ' quote at byte %zu",
						      what, (size_t)(p - s));
					goto fail;
				}
				memcpy(w + wl, p + 1, (size_t)(end - p - 1));
				wl += (size_t)(end - p - 1);
				p = end + 1;
				continue;
			}
			if (c == '"') {
				const char *q = p + 1;
				for (; *q && *q != '"'; q++) {
					if (*q == '\\' && q[1] && strchr("\"\\$`\n", q[1])) {
						if (q[1] != '\n')
							w[wl++] = q[1];
						q++;
						continue;
					}
					w[wl++] = *q;
				}
				if (!*q) {
					isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: unterminated \" quote at byte %zu",
						      what, (size_t)(p - s));
					goto fail;
				}
				p = q + 1;
				continue;
			}
			if (c == '\\') {
				if (!p[1]) {
					isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: trailing backslash", what);
					goto fail;
				}
				if (p[1] != '\n')
					w[wl++] = p[1];
				p += 2;
				continue;
			}
			w[wl++] = *p++;
		}
		if (cnt == ISOL8_AGENT_FLAGS_MAX_WORDS) {
			isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: more than %u words", what,
				      ISOL8_AGENT_FLAGS_MAX_WORDS);
			goto fail;
		}
		v[cnt++] = xstrndup(w, wl);
	}
	free(w);
	*words = v;
	*n = cnt;
	return 0;
fail:
	free(w);
	for (size_t i = 0; i < cnt; i++)
		free(v[i]);
	free(v);
	return -1;
}
