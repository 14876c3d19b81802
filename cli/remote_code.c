/* --url/--github/--gist on the client side (contract in run_args.h): the URL shorthands, the
 * user's own remoteCode settings from the config file (the gate of original-reference.md §1.10,
 * and steps 2, 3, 4 and 6 of §4.24 with the user's lists), and the runtime from the URL's path.
 * This only narrows: isol8d's policy decides again, and isol8-fetch checks everything with it. */
#include "config.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/run_args.h"
#include "common/remote_code.h"
#include "common/xalloc.h"

/* The URL's scheme, host (lower case, no brackets, no port, no user info) and path. Only for
 * the user's narrowing and the runtime: what is connected to is parsed by libcurl in the fetcher. */
static int split_url(const char *url, char *scheme, size_t ns, char *host, size_t nh, const char **path)
{
	const char *sep = strstr(url, "://"), *a, *end, *at, *hs, *he;
	size_t n;

	if (!sep || sep == url || (size_t)(sep - url) >= ns)
		return -1;
	for (const char *p = url; p < sep; p++)
		scheme[p - url] = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
	scheme[sep - url] = '\0';
	a = sep + 3;
	end = a + strcspn(a, "/?#");
	at = memchr(a, '@', (size_t)(end - a));
	hs = at ? at + 1 : a;
	if (*hs == '[') {
		he = memchr(hs, ']', (size_t)(end - hs));
		if (!he)
			return -1;
		hs++;
	} else {
		he = memchr(hs, ':', (size_t)(end - hs));
		if (!he)
			he = end;
	}
	n = (size_t)(he - hs);
	if (n == 0 || n >= nh)
		return -1;
	for (size_t i = 0; i < n; i++)
		host[i] = (char)((hs[i] >= 'A' && hs[i] <= 'Z') ? hs[i] + 32 : hs[i]);
	host[n] = '\0';
	if (n > 1 && host[n - 1] == '.')
		host[n - 1] = '\0';
	*path = end;
	return 0;
}

/* The original's host lists are JavaScript regular expressions; the subset its defaults use
 * is POSIX ERE once "(?:" is read as "(". Case-insensitive, as there. */
static int host_matches(const char *pattern, const char *host, const char *what, size_t idx, bool *hit,
			struct isol8_err *err)
{
	char *ere = xmalloc(strlen(pattern) + 1), *w = ere;
	regex_t re;
	int rc;

	for (const char *p = pattern; *p;) {
		if (p[0] == '(' && p[1] == '?' && p[2] == ':') {
			*w++ = '(';
			p += 3;
		} else {
			*w++ = *p++;
		}
	}
	*w = '\0';
	rc = regcomp(&re, ere, REG_EXTENDED | REG_ICASE | REG_NOSUB);
	free(ere);
	if (rc != 0)
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "config remoteCode.%s[%zu]: not a regular expression this isol8 reads (POSIX ERE, "
				     "\"(?:\" allowed): %s",
				     what, idx, pattern);
	*hit = regexec(&re, host, 0, NULL, 0) == 0;
	regfree(&re);
	return 0;
}

int run_remote_resolve(struct run_opts *o, const struct run_defaults *def, struct isol8_err *err)
{
	char scheme[16], host[256];
	const char *path;
	bool ok;

	if (o->url && o->url[0])
		o->code_url = xstrdup(o->url);
	else if (o->github && o->github[0])
		o->code_url = remote_github_url(o->github, err);
	else if (o->gist && o->gist[0])
		o->code_url = remote_gist_url(o->gist, err);
	else
		return o->hash || o->allow_insecure_code_url
			? isol8_err_set(err, ISOL8_E_USAGE, 0,
					"--hash and --allow-insecure-code-url need --url, --github or --gist")
			: 0;
	if (!o->code_url)
		return -1;
	if (o->file || o->eval)
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "--url/--github/--gist cannot be used with file input or --eval.");
	if (strlen(o->code_url) > ISOL8_REMOTE_MAX_URL)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "--url: longer than %u bytes", ISOL8_REMOTE_MAX_URL);
	if (o->hash && remote_hash_check_format(o->hash, "--hash", err) < 0)
		return -1;
	/* Step 1 on this side: the user's own switch (isol8.config.json remoteCode.enabled). */
	if (!def->remote.enabled)
		return isol8_err_set(err, ISOL8_E_POLICY, 0, ISOL8_REMOTE_DISABLED_MSG);
	if (split_url(o->code_url, scheme, sizeof scheme, host, sizeof host, &path) < 0)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "Invalid code URL: %.200s", o->code_url);
	/* Steps 2-4 and 6 with the user's lists. */
	if (strcmp(scheme, "http") == 0 && !o->allow_insecure_code_url)
		return isol8_err_set(err, ISOL8_E_POLICY, 0,
				     "Insecure code URL blocked. Use allowInsecureCodeUrl=true to allow HTTP.");
	ok = false;
	if (!def->remote.schemes)
		ok = strcmp(scheme, "https") == 0;
	for (size_t i = 0; def->remote.schemes && i < def->remote.n_schemes && !ok; i++)
		ok = strcasecmp(def->remote.schemes[i], scheme) == 0;
	if (!ok)
		return isol8_err_set(err, ISOL8_E_POLICY, 0, "URL scheme not allowed: %s", scheme);
	ok = def->remote.n_allowed == 0;
	for (size_t i = 0; i < def->remote.n_allowed && !ok; i++)
		if (host_matches(def->remote.allowed[i], host, "allowedHosts", i, &ok, err) < 0)
			return -1;
	for (size_t i = 0; i < def->remote.n_blocked && ok; i++) {
		bool hit = false;
		if (host_matches(def->remote.blocked[i], host, "blockedHosts", i, &hit, err) < 0)
			return -1;
		ok = !hit;
	}
	if (!ok)
		return isol8_err_set(err, ISOL8_E_POLICY, 0, "Blocked code URL host: %s", host);
	if (def->remote.require_hash && !o->hash)
		return isol8_err_set(err, ISOL8_E_POLICY, 0,
				     "Hash verification required: provide codeHash for remote code execution.");
	o->code_max = def->remote.max_size;
	o->code_timeout = def->remote.timeout_ms;
	/* The runtime and file extension from the path's last extension (§1.4 step 2). */
	{
		size_t pl = strcspn(path, "?#");
		char *p = xstrndup(path, pl);
		const char *base = strrchr(p, '/');
		const char *dot = strrchr(base ? base + 1 : p, '.');
		const char *rt = run_runtime_from_path(p);
		if (!o->runtime) {
			if (!rt) {
				free(p);
				return isol8_err_set(err, ISOL8_E_USAGE, 0,
						     "Cannot detect runtime from URL path. Use --runtime to specify.");
			}
			o->runtime = xstrdup(rt);
		}
		if (dot && dot[1] && strlen(dot) <= 16 && !o->file_ext)
			o->file_ext = xstrdup(dot);
		free(p);
	}
	return 0;
}
