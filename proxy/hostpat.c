/* Host patterns (contract in hostpat.h). Replaces the POSIX ERE patterns the broker used to
 * compile with regcomp: glibc's compiler is exponential in nested repetitions ("a" and twenty
 * "+" took the root broker to 720 MB), and an unanchored regex allowed "pypi.org.evil.test"
 * for "pypi\.org". Nothing here compiles or allocates per host; matching is a suffix compare. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/proto.h"
#include "common/xalloc.h"
#include "proxy/hostpat.h"

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Labels of [a-z0-9_-], 1-63 bytes each, joined by single dots, at most 253 bytes. */
static bool valid_name(const char *s, size_t n)
{
	size_t label = 0;

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (name_char(s[i]) && ++label <= 63) {
			continue;
		} else {
			return false;
		}
	}
	return label > 0;
}

/* An IPv6 literal in the form inet_ntop prints (so that equal addresses compare equal). */
static bool canonical_v6(const char *s)
{
	struct in6_addr a;
	char back[INET6_ADDRSTRLEN];

	return inet_pton(AF_INET6, s, &a) == 1 && inet_ntop(AF_INET6, &a, back, sizeof back) && strcmp(back, s) == 0;
}

int hostpat_check(const char *pat, struct isol8_err *err)
{
	size_t n = strlen(pat);

	if (n > HOSTPAT_MAX)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "network pattern '%.64s...' is longer than %u bytes", pat,
				     HOSTPAT_MAX);
	if (strcmp(pat, "*") == 0)
		return 0;
	if (strncmp(pat, "*.", 2) == 0 ? valid_name(pat + 2, n - 2)
		    : strchr(pat, ':') ? canonical_v6(pat)
				       : valid_name(pat, n))
		return 0;
	return isol8_err_set(err, ISOL8_E_USAGE, 0, "invalid network pattern '%.256s': expected %s", pat,
			     HOSTPAT_SYNTAX);
}

static int refuse(const char *in, struct isol8_err *err)
{
	return isol8_err_set(err, ISOL8_E_USAGE, 0,
			     "invalid network pattern '%.256s': regular expressions are not accepted; use %s", in,
			     HOSTPAT_SYNTAX);
}

char *hostpat_normalize(const char *in, struct isol8_err *err)
{
	char low[ISOL8_NET_MAX_PATTERN + 1], out[ISOL8_NET_MAX_PATTERN + 3];
	size_t n = strlen(in), o = 0;
	const char *s = low, *end;
	bool anchored = false, sub = false;
	struct isol8_err ignored = ISOL8_ERR_INIT;

	if (n == 0 || n > ISOL8_NET_MAX_PATTERN) {
		isol8_err_set(err, ISOL8_E_USAGE, 0, "network pattern must be 1 to %u bytes", ISOL8_NET_MAX_PATTERN);
		return NULL;
	}
	for (size_t i = 0; i <= n; i++)
		low[i] = (char)tolower((unsigned char)in[i]);
	if (hostpat_check(low, &ignored) == 0)
		return xstrdup(low);

	/* The regular-expression spellings of "this host", "below this domain" and "any host". */
	end = low + n;
	if (*s == '^') {
		anchored = true;
		s++;
	}
	if (end > s && end[-1] == '$' && (end - 1 == s || end[-2] != '\\'))
		end--;
	if ((end - s == 2 && (strncmp(s, ".*", 2) == 0 || strncmp(s, ".+", 2) == 0)) || (end - s == 1 && *s == '*'))
		return xstrdup("*");
	if (end - s > 4 && (strncmp(s, ".*\\.", 4) == 0 || strncmp(s, ".+\\.", 4) == 0)) {
		sub = true;
		s += 4;
	} else if (end - s > 3 && (strncmp(s, ".*.", 3) == 0 || strncmp(s, ".+.", 3) == 0)) {
		sub = true;
		s += 3;
	} else if (end - s > 2 && strncmp(s, "*.", 2) == 0) {
		sub = true;
		s += 2;
	} else if (!anchored && end - s > 2 && strncmp(s, "\\.", 2) == 0) {
		sub = true; /* unanchored "\.example\.com$": any name ending in .example.com */
		s += 2;
	} else if (!anchored && end - s > 1 && *s == '.') {
		sub = true;
		s += 1;
	}
	if (sub) {
		out[o++] = '*';
		out[o++] = '.';
	}
	for (; s < end; s++) {
		if (s[0] == '\\' && s + 1 < end && s[1] == '.') {
			out[o++] = '.';
			s++;
		} else if (name_char(*s) || *s == '.' || *s == ':') {
			out[o++] = *s; /* an unescaped "." in "api.example.com" means the dot */
		} else {
			refuse(in, err);
			return NULL;
		}
	}
	out[o] = '\0';
	if (strchr(out, ':') && !sub) {
		struct in6_addr a;
		char back[INET6_ADDRSTRLEN];
		if (inet_pton(AF_INET6, out, &a) == 1 && inet_ntop(AF_INET6, &a, back, sizeof back))
			snprintf(out, sizeof out, "%s", back);
	}
	if (hostpat_check(out, &ignored) < 0) {
		refuse(in, err);
		return NULL;
	}
	return xstrdup(out);
}

bool hostpat_match(const char *pat, const char *host)
{
	size_t hl = strlen(host), pl = strlen(pat);

	if (hl && host[hl - 1] == '.')
		hl--; /* "evil.test." is "evil.test" to DNS: so it is to the rules */
	if (pl == 1 && pat[0] == '*')
		return true;
	if (pl > 2 && pat[0] == '*' && pat[1] == '.') {
		size_t sl = pl - 2;
		return hl > sl + 1 && host[hl - sl - 1] == '.' && strncasecmp(host + hl - sl, pat + 2, sl) == 0;
	}
	if (strchr(pat, ':')) {
		struct in6_addr a, b;
		char h[INET6_ADDRSTRLEN];
		if (hl >= sizeof h)
			return false;
		memcpy(h, host, hl);
		h[hl] = '\0';
		return inet_pton(AF_INET6, pat, &a) == 1 && inet_pton(AF_INET6, h, &b) == 1 &&
			memcmp(&a, &b, sizeof a) == 0;
	}
	return hl == pl && strncasecmp(host, pat, pl) == 0;
}
