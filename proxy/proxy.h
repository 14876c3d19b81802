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

/* resolve.c: the test hook's hosts file (read before lockdown), then getaddrinfo. Fills at most
 * PROXY_MAX_ADDRS public addresses; loopback, link-local, unspecified and multicast destinations
 * are refused (ISOL8_E_POLICY): the proxy runs on the host and must not become a way into the
 * host's own services or cloud metadata endpoints. */
int proxy_hosts_load(const char *path, struct isol8_err *err);
int proxy_resolve(const char *host, uint16_t port, struct proxy_addr *out, size_t *n, struct isol8_err *err);
bool proxy_addr_forbidden(const struct sockaddr *sa);

/* seccomp.c */
int proxy_seccomp_load(struct isol8_err *err);

/* proxy.c: the event loop; returns when the broker channel closes. */
int proxy_run(int chan);

#endif
