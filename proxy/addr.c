/* Destination address classes (contract in addr.h). */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/addr.h"

struct v4_range {
	uint32_t net;
	unsigned bits;
};

/* IANA IPv4 special-purpose registry entries that are not globally reachable (and the whole of
 * 192.0.0.0/24: its few global entries are anycast services nobody proxies to). */
static const struct v4_range v4_denied[] = {
	{0x00000000u, 8},  {0x0a000000u, 8},  {0x64400000u, 10}, {0x7f000000u, 8},  {0xa9fe0000u, 16},
	{0xac100000u, 12}, {0xc0000000u, 24}, {0xc0000200u, 24}, {0xc0586300u, 24}, {0xc0a80000u, 16},
	{0xc6120000u, 15}, {0xc6336400u, 24}, {0xcb007100u, 24}, {0xe0000000u, 4},  {0xf0000000u, 4},
};

static bool v4_global(uint32_t a)
{
	for (size_t i = 0; i < sizeof v4_denied / sizeof v4_denied[0]; i++)
		if ((a >> (32 - v4_denied[i].bits)) == (v4_denied[i].net >> (32 - v4_denied[i].bits)))
			return false;
	return true;
}

static uint32_t v4_at(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, full) != 0)
		return false;
	return rest == 0 || ((a[full] ^ b[full]) & (0xffu << (8 - rest)) & 0xffu) == 0;
}

static bool v6_global(const uint8_t *a)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b};
	static const uint8_t zero[12] = {0};
	static const uint8_t ietf[4] = {0x20, 0x01}, doc[4] = {0x20, 0x01, 0x0d, 0xb8}, doc2[4] = {0x3f, 0xff};

	if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
		return v4_global(v4_at(a + 12));
	if (memcmp(a, zero, 12) == 0)
		return false; /* ::, ::1 and the deprecated IPv4-compatible form */
	if (a[0] == 0x20 && a[1] == 0x02)
		return v4_global(v4_at(a + 2)); /* 6to4 relays to the IPv4 address it names */
	if ((a[0] & 0xe0) != 0x20)
		return false; /* outside 2000::/3: ULA, link/site-local, multicast, reserved */
	if (prefix_eq(a, ietf, 23) || prefix_eq(a, doc, 32) || prefix_eq(a, doc2, 20))
		return false;
	return true;
}

bool net_addr_global(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return v4_global(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
	if (sa->sa_family == AF_INET6)
		return v6_global(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
	return false;
}

int net_cidr_parse(const char *s, struct net_cidr *c, struct isol8_err *err)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long bits;
	char *end = NULL;
	uint8_t mask[16] = {0};

	memset(c, 0, sizeof *c);
	if (n == 0 || n >= sizeof buf)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "invalid address range '%.64s'", s);
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, c->addr) == 1)
		c->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, c->addr) == 1)
		c->family = AF_INET6;
	else
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "invalid address range '%.64s': not an address", s);
	bits = c->family == AF_INET ? 32 : 128;
	if (slash) {
		if (!slash[1] || slash[1] == '-' || slash[1] == '+')
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "invalid address range '%.64s': bad prefix", s);
		unsigned long b = strtoul(slash + 1, &end, 10);
		if (*end || b > bits)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "invalid address range '%.64s': bad prefix", s);
		bits = b;
	}
	c->prefix = (unsigned)bits;
	for (unsigned i = 0; i < c->prefix; i++)
		mask[i / 8] |= (uint8_t)(0x80u >> (i % 8));
	for (unsigned i = 0; i < (c->family == AF_INET ? 4u : 16u); i++)
		if (c->addr[i] & ~mask[i])
			return isol8_err_set(err, ISOL8_E_USAGE, 0,
					     "invalid address range '%.64s': bits set after the /%u prefix", s,
					     c->prefix);
	return 0;
}

bool net_cidr_contains(const struct net_cidr *c, const struct sockaddr *sa)
{
	uint8_t a[16];
	int fam = sa->sa_family;

	if (fam == AF_INET) {
		memcpy(a, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (fam == AF_INET6) {
		const struct in6_addr *v6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(v6)) {
			fam = AF_INET;
			memcpy(a, &v6->s6_addr[12], 4);
		} else {
			memcpy(a, v6->s6_addr, 16);
		}
	} else {
		return false;
	}
	return fam == c->family && prefix_eq(a, c->addr, c->prefix);
}
