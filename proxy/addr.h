/* Which destinations the filtered network may connect to, by address (pure code: the broker
 * validates policy CIDRs with it, the proxy decides with it, the unit tests call it).
 *
 * net_addr_global: false for every address that is not globally reachable unicast, after
 * looking through the forms that embed an IPv4 address (v4-mapped ::ffff:0:0/96, NAT64
 * 64:ff9b::/96, 6to4 2002::/16; IPv4-compatible ::/96 is refused outright). IPv4: 0/8, 10/8,
 * 100.64/10 (CGNAT), 127/8, 169.254/16, 172.16/12, 192.0.0/24, 192.0.2/24, 192.88.99/24,
 * 192.168/16, 198.18/15, 198.51.100/24, 203.0.113/24, 224/4 (multicast), 240/4 (reserved and
 * broadcast). IPv6: only 2000::/3 is global unicast, minus 2001::/23 (IETF: Teredo, ORCHID,
 * benchmarking), 2001:db8::/32 and 3fff::/20 (documentation); so ULA fc00::/7, link-local
 * fe80::/10, site-local fec0::/10, multicast ff00::/8, discard 100::/64, local NAT64
 * 64:ff9b:1::/48, SRv6 5f00::/16, loopback and unspecified are all refused.
 * The host's own addresses and Docker's networks can be global too: the proxy checks those
 * separately (proxy.c). */
#ifndef ISOL8_PROXY_ADDR_H
#define ISOL8_PROXY_ADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/err.h"

struct net_cidr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	unsigned prefix;
};

bool net_addr_global(const struct sockaddr *sa);
/* "10.1.2.0/24", "fd00::/8", or a bare address (/32, /128). Host bits must be zero. */
int net_cidr_parse(const char *s, struct net_cidr *c, struct isol8_err *err);
/* v4-mapped IPv6 addresses are compared as the IPv4 address they carry. */
bool net_cidr_contains(const struct net_cidr *c, const struct sockaddr *sa);

#endif
