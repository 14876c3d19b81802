/* The transfer of isol8-fetch (contract in fetch.h): resolve once, check every address, pin the
 * connection to them, follow redirects by hand (each target checked like the first), cap the body
 * while it streams, then check the body. Runs locked down: nothing here opens a file except the
 * resolver's (read-only: /etc/hosts, /etc/resolv.conf, NSS). */
#include "config.h"
#include "fetch/fetch.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cleanup.h"
#include "common/remote_code.h"
#include "common/xalloc.h"

/* ---- the test hook's hosts file ------------------------------------------------------------ */

struct host_ent {
	char name[256];
	struct sockaddr_storage sa;
	bool used;
};
static struct host_ent *hosts;
static size_t n_hosts;

int fetch_hosts_load(const char *path, struct isol8_err *err)
{
	FILE *f = fopen(path, "re");
	char line[512];

	if (!f)
		return isol8_err_set(err, ISOL8_E_IO, errno, "open %s", path);
	while (fgets(line, sizeof line, f)) {
		char *save = NULL, *ip = strtok_r(line, " \t\r\n", &save), *name;
		struct sockaddr_storage sa = {0};
		struct sockaddr_in *v4 = (struct sockaddr_in *)&sa;
		struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&sa;

		if (!ip || ip[0] == '#')
			continue;
		if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1)
			v4->sin_family = AF_INET;
		else if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1)
			v6->sin6_family = AF_INET6;
		else {
			fclose(f);
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: not an address: %s", path, ip);
		}
		while ((name = strtok_r(NULL, " \t\r\n", &save))) {
			hosts = xrealloc(hosts, (n_hosts + 1) * sizeof *hosts);
			memset(&hosts[n_hosts], 0, sizeof *hosts);
			snprintf(hosts[n_hosts].name, sizeof hosts[n_hosts].name, "%s", name);
			hosts[n_hosts].sa = sa;
			n_hosts++;
		}
	}
	fclose(f);
	return 0;
}

/* The hook: the first unused line for the name, marked used; the last one again once all are. */
static int hook_lookup(const char *host, struct sockaddr_storage *out)
{
	struct host_ent *last = NULL;

	for (size_t i = 0; i < n_hosts; i++) {
		if (strcasecmp(hosts[i].name, host) != 0)
			continue;
		last = &hosts[i];
		if (!hosts[i].used) {
			hosts[i].used = true;
			*out = hosts[i].sa;
			return 1;
		}
	}
	if (last)
		*out = last->sa;
	return last ? 1 : 0;
}

int fetch_resolve(const char *host, struct sockaddr_storage *out, size_t max, size_t *n, struct isol8_err *err)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC}, *res = NULL;
	int rc;

	*n = 0;
	if (hook_lookup(host, &out[0])) {
		*n = 1;
		return 0;
	}
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0 || !res)
		return isol8_err_set(err, ISOL8_E_IO, 0, "Failed to resolve code URL host: %s", host);
	for (struct addrinfo *a = res; a && *n < max; a = a->ai_next) {
		if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) || a->ai_addrlen > sizeof *out)
			continue;
		memset(&out[*n], 0, sizeof *out);
		memcpy(&out[*n], a->ai_addr, a->ai_addrlen);
		(*n)++;
	}
	freeaddrinfo(res);
	if (*n == 0)
		return isol8_err_set(err, ISOL8_E_IO, 0, "Failed to resolve code URL host: %s", host);
	return 0;
}

/* ---- one hop ------------------------------------------------------------------------------- */

struct hop {
	struct sockaddr_storage addrs[FETCH_MAX_ADDRS];
	size_t n_addrs;
	bool unchecked; /* the socket callback saw an address step 5 did not pass */
	char *buf;
	size_t len, cap, max;
	bool over;      /* the body passed max while streaming */
	long long clen; /* the response's Content-Length, -1 when it has none */
	bool clen_over; /* ... and it is above max: refused before the body */
};

static bool same_addr(const struct sockaddr *a, const struct sockaddr_storage *b)
{
	if (a->sa_family != b->ss_family)
		return false;
	if (a->sa_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr, &((const struct sockaddr_in *)b)->sin_addr,
			      4) == 0;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr, 16) ==
		0;
}

/* Every socket libcurl opens goes to an address step 5 passed, whatever libcurl resolved: the
 * pinning's second lock (the first is CURLOPT_RESOLVE). */
static curl_socket_t open_socket(void *ctx, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct hop *h = ctx;
	bool ok = false;

	if (purpose == CURLSOCKTYPE_IPCXN && (a->family == AF_INET || a->family == AF_INET6))
		for (size_t i = 0; i < h->n_addrs && !ok; i++)
			ok = same_addr(&a->addr, &h->addrs[i]);
	if (!ok) {
		h->unchecked = true;
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct hop *h = ctx;
	size_t n = size * nmemb;

	if (n > h->max - h->len) {
		h->over = true;
		return 0; /* CURLE_WRITE_ERROR */
	}
	if (h->len + n > h->cap) {
		h->cap = h->len + n > 2 * h->cap ? h->len + n : 2 * h->cap;
		h->buf = xrealloc(h->buf, h->cap + 1);
	}
	memcpy(h->buf + h->len, data, n);
	h->len += n;
	return n;
}

/* Content-Length above the cap ends the transfer before any of the body is read. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct hop *h = ctx;
	size_t n = size * nmemb;
	static const char name[] = "content-length:";

	if (n > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
		char num[24];
		size_t k = 0;
		for (size_t i = sizeof name - 1; i < n && k < sizeof num - 1; i++)
			if (data[i] >= '0' && data[i] <= '9')
				num[k++] = data[i];
			else if (k || (data[i] != ' ' && data[i] != '\t'))
				break;
		num[k] = '\0';
		if (k && k < 19) {
			h->clen = atoll(num);
			if ((unsigned long long)h->clen > h->max) {
				h->clen_over = true;
				return 0;
			}
		}
	}
	return n;
}

static void addr_text(const struct sockaddr_storage *sa, uint16_t port, char *out, size_t n)
{
	char ip[INET6_ADDRSTRLEN] = "";

	if (sa->ss_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof ip);
		snprintf(out, n, "%s", ip);
	} else {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof ip);
		snprintf(out, n, "[%s]", ip);
	}
	(void)port;
}

/* Steps 2-5 on url; fills h->addrs with the addresses it may connect to. */
static int check_hop(const struct fetch_job *j, const char *url, struct fetch_target *t, struct hop *h,
		     struct isol8_err *err)
{
	if (fetch_url_check(url, j->insecure, &j->r, t, err) < 0)
		return -1;
	if (t->literal) {
		h->addrs[0] = t->lit;
		h->n_addrs = 1;
		return 0;
	}
	if (fetch_resolve(t->host, h->addrs, FETCH_MAX_ADDRS, &h->n_addrs, err) < 0)
		return -1;
	/* Every record must pass, as in the original: a name with one private address is refused,
	 * not quietly narrowed to its public ones. */
	for (size_t i = 0; i < h->n_addrs; i++)
		if (!fetch_addr_ok((struct sockaddr *)&h->addrs[i], &j->r))
			return isol8_err_set(err, ISOL8_E_POLICY, 0, "Blocked code URL host: %s", t->host);
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* CURLOPT_RESOLVE: the name is pinned to the addresses check_hop passed, so curl does no lookup
 * of its own (a literal address needs none). */
static struct curl_slist *pin_addresses(const struct fetch_target *t, const struct hop *h)
{
	char pinline[FETCH_MAX_ADDRS * 50 + 300];
	int w;

	if (t->literal)
		return NULL;
	w = snprintf(pinline, sizeof pinline, "%s:%u:", t->host, t->port);
	for (size_t i = 0; i < h->n_addrs; i++) {
		char a[INET6_ADDRSTRLEN + 3];
		addr_text(&h->addrs[i], t->port, a, sizeof a);
		w += snprintf(pinline + w, sizeof pinline - (size_t)w, "%s%s", i ? "," : "", a);
	}
	return curl_slist_append(NULL, pinline);
}

/* One request, no redirect followed, no proxy, only the pinned addresses, the job's CA bundle
 * alone (never the system's). */
static void set_transfer(CURL *c, const struct fetch_job *j, const char *url, struct curl_slist *pin, struct hop *h,
			 uint64_t left, char *ebuf, struct curl_blob *blob)
{
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_RESOLVE, pin);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)j->r.max_size);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)left);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "isol8-fetch/" PACKAGE_VERSION);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(c, CURLOPT_CAINFO, NULL);
	curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
	if (blob->len)
		curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, blob);
}

/* The first reason a finished transfer is refused, in the order a user should hear it: size,
 * an address nobody checked, time, transport, then an HTTP status that is neither 2xx nor a
 * redirect with a Location. */
static int transfer_failed(const struct fetch_job *j, const struct hop *h, const struct fetch_target *t, CURLcode cc,
			   long status, const char *next, const char *ebuf, struct isol8_err *err)
{
	if (h->clen_over || (cc == CURLE_FILESIZE_EXCEEDED && h->clen >= 0))
		return isol8_err_set(err, ISOL8_E_POLICY, 0, "Remote code exceeds maxCodeSize (%llu bytes): %lld bytes",
				     (unsigned long long)j->r.max_size, h->clen);
	if (h->over || cc == CURLE_FILESIZE_EXCEEDED)
		return isol8_err_set(err, ISOL8_E_POLICY, 0, "Remote code exceeds maxCodeSize (%llu bytes)",
				     (unsigned long long)j->r.max_size);
	if (h->unchecked)
		return isol8_err_set(err, ISOL8_E_POLICY, 0,
				     "Blocked code URL host: %s (a connection to an address that was not checked)",
				     t->host);
	if (cc == CURLE_OPERATION_TIMEDOUT)
		return isol8_err_set(err, ISOL8_E_TIMEOUT, 0, "Remote code fetch timed out after %llums",
				     (unsigned long long)j->r.timeout_ms);
	if (cc != CURLE_OK)
		return isol8_err_set(err, ISOL8_E_IO, 0, "Failed to fetch remote code: %s",
				     ebuf[0] ? ebuf : curl_easy_strerror(cc));
	if (!(status >= 300 && status < 400 && next) && (status < 200 || status > 299))
		return isol8_err_set(err, ISOL8_E_IO, 0, "Failed to fetch remote code: HTTP %ld", status);
	return 0;
}

/* One hop: checks url, fetches it into h, and sets *next to the redirect's target (NULL when
 * the answer is the code). */
static int fetch_hop(const struct fetch_job *j, const char *url, unsigned hop, uint64_t deadline, const char *ca,
		     size_t ca_len, struct hop *h, char **next, struct isol8_err *err)
{
	struct fetch_target t;
	struct curl_slist *pin;
	struct curl_blob blob = {.data = (void *)ca, .len = ca_len, .flags = CURL_BLOB_NOCOPY};
	char ebuf[CURL_ERROR_SIZE] = "";
	long status = 0;
	uint64_t left;
	CURLcode cc;
	CURL *c;
	int bad;

	*next = NULL;
	h->n_addrs = 0;
	h->len = 0;
	h->over = h->unchecked = h->clen_over = false;
	h->clen = -1;
	if (check_hop(j, url, &t, h, err) < 0)
		return -1;
	/* Step 6 once the first URL passed (the original's order). */
	if (hop == 0 && j->r.require_hash && !j->hash)
		return isol8_err_set(err, ISOL8_E_POLICY, 0,
				     "Hash verification required: provide codeHash for remote code execution.");
	left = deadline > now_ms() ? deadline - now_ms() : 0;
	if (left == 0)
		return isol8_err_set(err, ISOL8_E_TIMEOUT, 0, "Remote code fetch timed out after %llums",
				     (unsigned long long)j->r.timeout_ms);
	if (!(c = curl_easy_init()))
		return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "out of memory");
	pin = pin_addresses(&t, h);
	set_transfer(c, j, url, pin, h, left, ebuf, &blob);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (cc == CURLE_OK && status >= 300 && status < 400) {
		char *loc = NULL;
		curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc);
		if (loc)
			*next = xstrdup(loc);
	}
	bad = transfer_failed(j, h, &t, cc, status, *next, ebuf, err);
	curl_easy_cleanup(c);
	curl_slist_free_all(pin);
	if (bad) {
		free(*next);
		*next = NULL;
	}
	return bad;
}

int fetch_run(const struct fetch_job *j, const char *ca, size_t ca_len, char **code, size_t *len, struct isol8_err *err)
{
	_cleanup_free_ char *url = xstrdup(j->url);
	uint64_t deadline = now_ms() + j->r.timeout_ms;
	struct hop h = {.max = (size_t)j->r.max_size};
	int rc = -1;

	*code = NULL;
	*len = 0;
	for (unsigned hop = 0;; hop++) {
		char *next = NULL;

		if (fetch_hop(j, url, hop, deadline, ca, ca_len, &h, &next, err) < 0)
			goto out;
		if (!next)
			break;
		if (hop + 1 > ISOL8_REMOTE_MAX_REDIRECTS) {
			free(next);
			isol8_err_set(err, ISOL8_E_IO, 0, "Failed to fetch remote code: more than %u redirects",
				      ISOL8_REMOTE_MAX_REDIRECTS);
			goto out;
		}
		free(url);
		url = next;
	}
	if (remote_code_check(h.buf ? h.buf : "", h.len, j->hash, err) < 0)
		goto out;
	*code = h.buf ? h.buf : xstrdup("");
	(*code)[h.len] = '\0';
	*len = h.len;
	h.buf = NULL;
	rc = 0;
out:
	free(h.buf);
	return rc;
}
