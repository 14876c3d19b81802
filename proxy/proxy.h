/* isol8-proxy internals (see proxy.c for the design). */
#ifndef ISOL8_PROXY_PROXY_H
#define ISOL8_PROXY_PROXY_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/err.h"

#define PROXY_MAX_ADDRS 4

struct proxy_addr {
	struct sockaddr_storage sa;
	socklen_t len;
};

/* resolve.c: the test hook's hosts file (read before lockdown; "@delay=MS name..." lines make
 * those names stall in the resolver threads, then fail), then getaddrinfo. Fills at most
 * PROXY_MAX_ADDRS addresses, unfiltered: which of them may be connected to is decided by the
 * loop (proxy.c, per sandbox: non-global and the host's own addresses are refused unless the
 * policy permits them), on the very addresses it then connects to. */
int proxy_hosts_load(const char *path, struct isol8_err *err);
/* The event loop must never wait on DNS. proxy_resolver_start
 * runs after lockdown (the seccomp allowlist permits thread clones only) and starts
 * PROXY_RESOLVER_THREADS threads. proxy_resolve_start answers the hosts hook and IP literals at
 * once (returns 1, out/n filled) or fails (-1, e.g. ISOL8_E_LIMIT past PROXY_RESOLVER_QUEUE
 * queued lookups); otherwise it queues a lookup and returns 0 with *ticket set. When
 * proxy_resolver_fd() is readable, proxy_resolve_collect calls fn once per finished lookup
 * (rc 0 with addresses, or -1 with err). proxy_resolve_cancel
 * forgets a lookup the loop timed out; a late result for it still arrives and is ignored by
 * ticket. */
#define PROXY_RESOLVER_THREADS 4
#define PROXY_RESOLVER_QUEUE 256
typedef void proxy_resolved_fn(void *ctx, uint64_t ticket, int rc, const struct proxy_addr *a, size_t n,
			       const struct isol8_err *err);
int proxy_resolver_start(struct isol8_err *err);
int proxy_resolver_fd(void);
int proxy_resolve_start(const char *host, uint16_t port, uint64_t *ticket, struct proxy_addr *out, size_t *n,
			struct isol8_err *err);
void proxy_resolve_cancel(uint64_t ticket);
void proxy_resolve_collect(proxy_resolved_fn *fn, void *ctx);

/* seccomp.c */
int proxy_seccomp_load(struct isol8_err *err);

/* proxy.c: the event loop; returns when the broker channel closes. */
int proxy_run(int chan);

#endif
