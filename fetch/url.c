/* Steps 2-5 of the remote-code checks on one URL (contract in fetch.h). The URL is parsed by
 * libcurl's own parser, the one the transfer then uses: the host checked is the host connected
 * to (no second parser to disagree with). */
#include "config.h"
#include "fetch/fetch.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/addr.h"
#include "proxy/hostpat.h"

static int url_part(CURLU *u, CURLUPart what, unsigned flags, char *out, size_t n)
{
	char *v = NULL;
	int ok = curl_url_get(u, what, &v, flags) == CURLUE_OK && v && strlen(v) < n;

	if (ok)
		snprintf(out, n, "%s", v);
	curl_free(v);
	return ok ? 0 : -1;
}

int fetch_url_check(const char *url, bool insecure, const struct fetch_rules *r, struct fetch_target *t,
		    struct isol8_err *err)
{
	CURLU *u = curl_url();
	char port[8], host[300];
	size_t hl;
	int rc = -1;

	memset(t, 0, sizeof *t);
	if (!u)
		return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "out of memory");
	/* No scheme guessing: "example.com/x.py" is not a URL. Other schemes parse too, so that
	 * step 3 can name them. */
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
	    url_part(u, CURLUPART_SCHEME, 0, t->scheme, sizeof t->scheme) < 0) {
		isol8_err_set(err, ISOL8_E_USAGE, 0, "Invalid code URL: %.200s", url);
		goto out;
	}
	for (char *p = t->scheme; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	/* Step 2, then step 3 (so plain http needs both the flag and "http" in allowedSchemes). */
	if (strcmp(t->scheme, "http") == 0 && !insecure) {
		isol8_err_set(err, ISOL8_E_POLICY, 0,
			      "Insecure code URL blocked. Use allowInsecureCodeUrl=true to allow HTTP.");
		goto out;
	}
	if (!((strcmp(t->scheme, "https") == 0 && r->https_ok) || (strcmp(t->scheme, "http") == 0 && r->http_ok))) {
		isol8_err_set(err, ISOL8_E_POLICY, 0, "URL scheme not allowed: %s", t->scheme);
		goto out;
	}
	if (url_part(u, CURLUPART_HOST, 0, host, sizeof host) < 0 ||
	    url_part(u, CURLUPART_PORT, CURLU_DEFAULT_PORT, port, sizeof port) < 0 || !host[0]) {
		isol8_err_set(err, ISOL8_E_USAGE, 0, "Invalid code URL: %.200s", url);
		goto out;
	}
	/* [v6] -> v6; one trailing dot goes (example.com. is example.com); lower case. */
	hl = strlen(host);
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	} else if (hl > 1 && host[hl - 1] == '.') {
		host[hl - 1] = '\0';
	}
	for (char *p = host; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (strlen(host) >= sizeof t->host) {
		isol8_err_set(err, ISOL8_E_USAGE, 0, "Invalid code URL: %.200s", url);
		goto out;
	}
	snprintf(t->host, sizeof t->host, "%s", host);
	t->port = (uint16_t)atoi(port);
	{
		struct sockaddr_in *v4 = (struct sockaddr_in *)&t->lit;
		struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&t->lit;
		if (inet_pton(AF_INET, t->host, &v4->sin_addr) == 1) {
			v4->sin_family = AF_INET;
			t->literal = true;
		} else if (inet_pton(AF_INET6, t->host, &v6->sin6_addr) == 1) {
			v6->sin6_family = AF_INET6;
			t->literal = true;
		}
	}
	/* Step 4: the policy's host patterns (deny first), then its ports. */
	{
		bool allowed = false;
		for (size_t i = 0; i < r->net.n_deny; i++)
			if (hostpat_match(r->net.deny[i], t->host))
				goto blocked;
		for (size_t i = 0; i < r->net.n_allow && !allowed; i++)
			allowed = hostpat_match(r->net.allow[i], t->host);
		if (!allowed)
			goto blocked;
	}
	if (!net_policy_port_ok(&r->net, t->port)) {
		isol8_err_set(err, ISOL8_E_POLICY, 0, "Blocked code URL port: %u", t->port);
		goto out;
	}
	/* Step 5 for a literal; names are resolved by the caller. */
	if (t->literal && !fetch_addr_ok((struct sockaddr *)&t->lit, r))
		goto blocked;
	rc = 0;
	goto out;
blocked:
	isol8_err_set(err, ISOL8_E_POLICY, 0, "Blocked code URL host: %s", t->host);
out:
	curl_url_cleanup(u);
	return rc;
}

bool fetch_addr_ok(const struct sockaddr *sa, const struct fetch_rules *r)
{
	if (net_addr_global(sa))
		return true;
	for (size_t i = 0; i < r->net.n_addrs; i++) {
		struct net_cidr c;
		struct isol8_err e = ISOL8_ERR_INIT;
		if (net_cidr_parse(r->net.addrs[i], &c, &e) == 0 && net_cidr_contains(&c, sa))
			return true;
	}
	return false;
}
