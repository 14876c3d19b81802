/* Name resolution for isol8-proxy (contract in proxy.h). */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "proxy/http.h"
#include "proxy/proxy.h"

struct host_ent {
	char name[PROXY_MAX_HOST + 1];
	struct sockaddr_storage sa;
	socklen_t len;
};
static struct host_ent *hosts;
static size_t n_hosts;

static int parse_ip(const char *s, uint16_t port, struct sockaddr_storage *sa, socklen_t *len)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)sa;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)sa;

	memset(sa, 0, sizeof *sa);
	if (inet_pton(AF_INET, s, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(port);
		*len = sizeof *v4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(port);
		*len = sizeof *v6;
		return 0;
	}
	return -1;
}

int proxy_hosts_load(const char *path, struct isol8_err *err)
{
	FILE *f = fopen(path, "re");
	char line[1024];
	unsigned lineno = 0;

	if (!f)
		return isol8_err_set(err, ISOL8_E_IO, errno, "open %s", path);
	while (fgets(line, sizeof line, f)) {
		char *save = NULL, *ip, *name;
		struct sockaddr_storage sa;
		socklen_t len;

		lineno++;
		if (strchr(line, '#'))
			*strchr(line, '#') = '\0';
		ip = strtok_r(line, " \t\r\n", &save);
		if (!ip)
			continue;
		if (parse_ip(ip, 0, &sa, &len) < 0) {
			fclose(f);
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s:%u: bad address '%.64s'", path, lineno, ip);
		}
		while ((name = strtok_r(NULL, " \t\r\n", &save))) {
			struct host_ent *h;
			if (strlen(name) > PROXY_MAX_HOST)
				continue;
			hosts = xrealloc(hosts, (n_hosts + 1) * sizeof *hosts);
			h = &hosts[n_hosts++];
			for (size_t i = 0; i <= strlen(name); i++)
				h->name[i] = (char)tolower((unsigned char)name[i]);
			h->sa = sa;
			h->len = len;
		}
	}
	fclose(f);
	return 0;
}

bool proxy_addr_forbidden(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		uint32_t a = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
		return (a >> 24) == 0 || (a >> 24) == 127 || (a >> 16) == 0xa9fe || (a >> 28) == 0xe || a == 0xffffffffu;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a) || IN6_IS_ADDR_V4COMPAT(a)) {
			struct sockaddr_in v4 = {.sin_family = AF_INET};
			memcpy(&v4.sin_addr, &a->s6_addr[12], 4);
			return proxy_addr_forbidden((const struct sockaddr *)&v4);
		}
		return IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_LINKLOCAL(a) ||
		       IN6_IS_ADDR_MULTICAST(a);
	}
	return true;
}

static void set_port(struct sockaddr_storage *sa, uint16_t port)
{
	if (sa->ss_family == AF_INET)
		((struct sockaddr_in *)sa)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
}

int proxy_resolve(const char *host, uint16_t port, struct proxy_addr *out, size_t *n, struct isol8_err *err)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
	bool forbidden = false;
	int rc;

	*n = 0;
	for (size_t i = 0; i < n_hosts; i++)
		if (strcmp(hosts[i].name, host) == 0 && *n < PROXY_MAX_ADDRS) {
			out[*n].sa = hosts[i].sa;
			out[*n].len = hosts[i].len;
			set_port(&out[*n].sa, port);
			(*n)++;
		}
	if (*n == 0 && parse_ip(host, port, &out[0].sa, &out[0].len) == 0)
		*n = 1;
	if (*n == 0) {
		/* XXX blocking: a slow resolver stalls every sandbox's connections for its timeout.
		 * A resolver thread (or getaddrinfo_a) is the next step. */
		rc = getaddrinfo(host, NULL, &hints, &res);
		if (rc != 0)
			return isol8_err_set(err, ISOL8_E_NOTFOUND, 0, "cannot resolve %s: %s", host, gai_strerror(rc));
		for (struct addrinfo *a = res; a && *n < PROXY_MAX_ADDRS; a = a->ai_next) {
			if (a->ai_addrlen > sizeof out[0].sa)
				continue;
			memcpy(&out[*n].sa, a->ai_addr, a->ai_addrlen);
			out[*n].len = a->ai_addrlen;
			set_port(&out[*n].sa, port);
			(*n)++;
		}
		freeaddrinfo(res);
	}
	for (size_t i = 0; i < *n;) {
		if (proxy_addr_forbidden((struct sockaddr *)&out[i].sa)) {
			forbidden = true;
			out[i] = out[--(*n)];
		} else {
			i++;
		}
	}
	if (*n == 0)
		return isol8_err_set(err, forbidden ? ISOL8_E_POLICY : ISOL8_E_NOTFOUND, 0,
				     forbidden ? "%s resolves to a local address" : "no address for %s", host);
	return 0;
}
