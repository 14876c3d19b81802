/* isol8-fetch: the remote-code fetcher (isol8-policy(5) remoteCode, original-reference.md §4.24).
 *
 * isol8d starts one per fetch, as root with a stream socket on fd 3 and an empty environment; it
 * reads the CA bundle and the test hook's hosts file, locks itself down (the workers' account, no
 * capabilities, its own seccomp allowlist: fetch/seccomp.c), then reads the job (JSON, written by
 * the broker, which shut its side for writing) and answers on the same socket in the framing of
 * common/remote_code.h. The worker holds the other end and only reads.
 *
 * The checks, in the original's order and with its messages (2-5 again for every redirect target,
 * which the original did not re-validate): 2 http without allowInsecureCodeUrl, 3 scheme not in
 * allowedSchemes, 4 host or port not allowed (host patterns, proxy/hostpat.h), 5 an address that
 * is not global unicast (proxy/addr.h, IPv4 and IPv6) unless listed in allowAddresses: a literal,
 * or any address the name resolves to; 6 requireHash without a hash; then the GET, with the
 * connection made to exactly the addresses step 5 passed (CURLOPT_RESOLVE, and a socket callback
 * that refuses any other: no second lookup, so no DNS rebinding), the size cap enforced on
 * Content-Length and while streaming, 8-10 on the complete body (common/remote_code.h). */
#ifndef ISOL8_FETCH_FETCH_H
#define ISOL8_FETCH_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/buf.h"
#include "common/err.h"
#include "proxy/rules.h"

#define FETCH_MAX_ADDRS 8
#define FETCH_MAX_JOB (256u << 10)

struct fetch_rules {
	bool http_ok, https_ok; /* allowedSchemes */
	struct net_policy net;  /* allowedHosts, blockedHosts, ports, allowAddresses */
	uint64_t max_size, timeout_ms;
	bool require_hash;
};

struct fetch_job {
	char *url, *hash; /* hash NULL or 64 hex digits */
	bool insecure;    /* allowInsecureCodeUrl */
	struct fetch_rules r;
};

/* job.c (in libisol8net.a, so the broker encodes with the code the fetcher decodes with): the
 * job in IPC cursor encoding: str url, str hash ("" for none), u8 flags (FETCH_F_*), u64 max_size,
 * u64 timeout_ms, then the net_policy (proxy/rules.h). fetch_job_get checks everything: lengths,
 * ranges, hash syntax, pattern syntax and CIDRs, trailing bytes. */
#define FETCH_F_INSECURE 0x01u
#define FETCH_F_HTTP 0x02u
#define FETCH_F_HTTPS 0x04u
#define FETCH_F_REQUIRE_HASH 0x08u
void fetch_job_put(struct isol8_buf *b, const struct fetch_job *j);
int fetch_job_get(const void *data, size_t len, struct fetch_job *j, struct isol8_err *err);
void fetch_job_free(struct fetch_job *j);

struct fetch_target {
	char scheme[8];
	char host[256]; /* lower case, IPv6 without brackets, no trailing dot */
	uint16_t port;
	bool literal; /* host is an address */
	struct sockaddr_storage lit;
};

/* Steps 2-4 on one URL (the first or a redirect target): ISOL8_E_POLICY with the original's
 * message, or ISOL8_E_USAGE for a URL that does not parse. */
int fetch_url_check(const char *url, bool insecure, const struct fetch_rules *r, struct fetch_target *t,
		    struct isol8_err *err);
/* Step 5 for one address: global unicast, or inside one of allowAddresses. */
bool fetch_addr_ok(const struct sockaddr *sa, const struct fetch_rules *r);

/* fetch.c: the whole job; *code on success (heap). */
int fetch_run(const struct fetch_job *j, const char *ca, size_t ca_len, char **code, size_t *len,
	      struct isol8_err *err);
/* The test hook's hosts file ("ADDRESS NAME" lines; a name listed again answers its next
 * lookup with the next line: a stand-in for a DNS server that changes its answer). */
int fetch_hosts_load(const char *path, struct isol8_err *err);
int fetch_resolve(const char *host, struct sockaddr_storage *out, size_t max, size_t *n, struct isol8_err *err);

int fetch_seccomp_load(struct isol8_err *err);

#endif
