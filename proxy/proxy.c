/* isol8-proxy: the HTTP/HTTPS egress of filtered sandboxes.
 *
 * Decisions (issue 7):
 * - One proxy process per daemon, not one per sandbox. Every filtered sandbox gets its own
 *   listening socket, created by the broker inside the sandbox's network namespace and handed
 *   over with PX_LISTEN; a connection is tied to its sandbox's rules and log by the listener it
 *   arrived on, never by anything the client says. One process keeps the cost of a filtered run
 *   at one socket instead of a fork+exec+lockdown, gives one place for global limits (connection
 *   cap, memory), and keeps the broker's process table small. The price is a shared failure
 *   domain: a proxy crash cuts every filtered sandbox off (fail closed: their namespaces have no
 *   other way out) until the broker respawns it; new runs get new listeners.
 * - The proxy runs on the host side, unprivileged (the workers' uid, no capabilities,
 *   no_new_privs, its own seccomp allowlist in seccomp.c), outside every sandbox's reach:
 *   sandboxed code sees only a TCP port on its own loopback.
 *   XXX it still runs in the host's network namespace, so the host's own addresses are kept
 *   out by checks (addr.c, the bind probe and the source check below), not by construction. A
 *   namespace of its own would need host-side rules isol8d does not manage yet (NAT for its
 *   traffic, and INPUT dropped from its interface, or the host stays reachable as its router).
 * - One poll() loop does all socket work; the broker channel is served in the same loop, one
 *   request answered at a time and in order (PX_REPLY_OK/PX_REPLY_ERR). Name resolution is the
 *   exception: getaddrinfo blocks for as long as the DNS servers take, so a few resolver threads
 *   (resolve.c) run it and post answers back through a pipe; a slow name delays only the
 *   connection that asked for it (RESOLVE_MS, then 504).
 *   A sandbox may have at most MAX_RESOLVING_PER_SANDBOX lookups in flight, a tenant at most
 *   MAX_RESOLVING_PER_TENANT (more get 503), so
 *   one sandbox's slow names cannot occupy every resolver thread.
 * - Rules are on whole host names (proxy/hostpat.h: name, *.domain or *; deny wins, empty allow
 *   list allows nothing): CONNECT targets for HTTPS (no TLS interception) and the absolute URI
 *   (or Host) for plain HTTP, whose forwarded head carries our own Host header and
 *   "Connection: close". Above the caller's lists stands the tenant's policy (PX_LISTEN carries
 *   it): its own allow/deny lists and the allowed ports (default 80 and 443). Resolved
 *   destinations that are not global unicast (proxy/addr.h), are the host's own addresses or lie
 *   in a Docker network's subnet (the broker lists them for each listener) are refused whatever
 *   the rules say, unless the policy permits their range ("allowAddresses").
 * - Bounds: PROXY_MAX_HEAD header bytes, MAX_CONNS connections in all, MAX_CONNS_PER_SANDBOX
 *   per sandbox and MAX_CONNS_PER_TENANT for all sandboxes of one tenant (a full sandbox's or
 *   tenant's listeners are simply not polled: their clients wait in the kernel backlog), IDLE_MS without progress closes a connection, CONNECT_MS for the outbound connect.
 * - Logs: one record per request, kept in memory per sandbox (at most MAX_LOG records) and
 *   returned as JSON by PX_LOGS: [{"timestamp","method","host","port","path","action":
 *   "ALLOW"|"BLOCK","durationMs","bytesUp","bytesDown"}] (the original's fields plus port and
 *   byte counts). Bytes are counted when the connection closes.
 * - A CONNECT tunnel starts with the client's TLS ClientHello, held until its server_name is
 *   checked against the CONNECT host (tls.c): a mismatch, a missing name (unless the target is
 *   an address) or bytes that are not TLS on ports 80 and 443 close the tunnel before anything
 *   reaches the server, so an allowed name cannot front for another site on the same address.
 * - A plain-HTTP connection carries one request: the proxy tracks its body (Content-Length or
 *   chunked) and drops whatever follows, so a pipelined request never reaches the server
 *   unchecked (issue 12 #18); the forwarded "Connection: close" ends the exchange. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/cleanup.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/xalloc.h"
#include "proxy/addr.h"
#include "proxy/http.h"
#include "proxy/proxy.h"
#include "proxy/rules.h"
#include "proxy/tls.h"

#define MAX_LISTENERS 256
#define MAX_CONNS 256
#define MAX_CONNS_PER_SANDBOX 32
/* One tenant's sandboxes together: a quarter of MAX_CONNS, so eight sandboxes of one tenant can
 * no longer hold every slot (issue 12 #13). */
#define MAX_CONNS_PER_TENANT 64
#define MAX_RESOLVING_PER_SANDBOX 2 /* of the resolver threads (resolve.c) */
#define MAX_RESOLVING_PER_TENANT 2
#define MAX_LOG 100
#define MAX_LOG_PATH 128
#define IDLE_MS 60000
#define CONNECT_MS 10000
/* A lookup still unanswered after this is a 504; glibc's own retries can take longer. */
#define RESOLVE_MS 10000
#define CHUNK 16384

struct log_rec {
	char ts[64];
	char method[16];
	char host[PROXY_MAX_HOST + 1];
	char path[MAX_LOG_PATH + 1];
	bool has_path;
	uint16_t port;
	bool allowed;
	uint64_t start_ms, dur_ms, up, down;
};

struct listener {
	int fd; /* -1 when the slot is free */
	uint32_t gen;
	char id[ISOL8_MAX_ID + 1];
	struct net_patterns rules;  /* the caller's, canonical host patterns (hostpat.h) */
	struct net_policy pol;      /* the tenant's ceiling from the admin's policy */
	struct net_cidr *permitted; /* pol.addrs parsed: non-global ranges the admin permits */
	size_t n_permitted;
	struct net_cidr *docker_nets; /* Docker's subnets when the sandbox started: refused too */
	size_t n_docker_nets;
	unsigned ten; /* its tenant's slot in tenants[] */
	bool log;
	struct log_rec *logs;
	size_t n_logs;
	unsigned conns;
	uint64_t up_done, down_done; /* bytes of its closed connections (PX_STATS) */
};

enum cstate { C_FREE = 0, C_HEAD, C_RESOLVING, C_CONNECTING, C_RELAY, C_REPLY };

struct pbuf {
	struct isol8_buf b;
	size_t off;
};

struct conn {
	enum cstate st;
	int cfd, ufd;
	unsigned lst;
	uint32_t lgen;
	long logi; /* record in the listener's log, -1 if none */
	char head[PROXY_MAX_HEAD];
	size_t head_len;
	struct pbuf up, down; /* client -> upstream, upstream -> client */
	bool c_eof, u_eof, u_shut, c_shut;
	uint64_t last_ms, connect_start;
	struct proxy_addr addrs[PROXY_MAX_ADDRS];
	size_t n_addrs, next_addr;
	bool refused_local;             /* an address was skipped as the host's own */
	uint64_t ticket, resolve_start; /* C_RESOLVING: the lookup this connection waits for */
	char host[PROXY_MAX_HOST + 1];
	uint16_t port;
	bool is_connect;
	struct http_body body;         /* plain HTTP: where the one forwarded request ends */
	bool tls_pending;              /* CONNECT: the client's first bytes are held until checked */
	bool pipelined;                /* the client sent more after it: dropped */
	uint64_t up_bytes, down_bytes; /* sent to / received from upstream */
	unsigned pfi;                  /* this round's pollfd index of cfd (ufd follows) */
};

static struct listener lst[MAX_LISTENERS];

/* Tenants with a listener: the broker names a listener's tenant (from the policy, never from
 * anything the sandbox says); the slot lives while that tenant has a listener. */
struct tenant_slot {
	char name[ISOL8_MAX_TENANT + 1];
	unsigned listeners, conns;
};
static struct tenant_slot tenants[MAX_LISTENERS];

static unsigned tenant_get(const char *name)
{
	unsigned free_slot = MAX_LISTENERS;

	for (unsigned i = 0; i < MAX_LISTENERS; i++) {
		if (tenants[i].listeners && strcmp(tenants[i].name, name) == 0)
			return i;
		if (!tenants[i].listeners && free_slot == MAX_LISTENERS)
			free_slot = i;
	}
	/* A free slot exists: there are as many slots as listeners. */
	snprintf(tenants[free_slot].name, sizeof tenants[free_slot].name, "%s", name);
	tenants[free_slot].conns = 0;
	return free_slot;
}

/* May listener l accept another connection? */
static bool can_accept(const struct listener *l, unsigned n_all)
{
	return n_all < MAX_CONNS && l->conns < MAX_CONNS_PER_SANDBOX && tenants[l->ten].conns < MAX_CONNS_PER_TENANT;
}
static struct conn *conns[MAX_CONNS];
static unsigned n_conns;

static void iso_now(char *buf, size_t n)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

/* ---- connections ------------------------------------------------------------------------------ */

static struct listener *conn_listener(struct conn *c)
{
	struct listener *l = &lst[c->lst];
	return l->fd >= 0 && l->gen == c->lgen ? l : NULL;
}

static void conn_close(unsigned i)
{
	struct conn *c = conns[i];
	struct listener *l = conn_listener(c);

	if (l) {
		if (c->logi >= 0 && (size_t)c->logi < l->n_logs) {
			struct log_rec *r = &l->logs[c->logi];
			r->up = c->up_bytes;
			r->down = c->down_bytes;
			r->dur_ms = clock_mono_ms() - r->start_ms;
		}
		l->up_done += c->up_bytes;
		l->down_done += c->down_bytes;
		if (l->conns)
			l->conns--;
		if (tenants[l->ten].conns)
			tenants[l->ten].conns--;
	}
	xclose(c->cfd);
	xclose(c->ufd);
	isol8_buf_free(&c->up.b);
	isol8_buf_free(&c->down.b);
	free(c);
	conns[i] = conns[--n_conns];
	conns[n_conns] = NULL;
}

static void queue(struct pbuf *p, const char *s, size_t n)
{
	isol8_buf_append(&p->b, s, n);
}

/* A response of our own, then close. */
static void reply_and_close(struct conn *c, int status, const char *reason, const char *host, const char *why)
{
	char body[512], head[256];
	int bn = snprintf(body, sizeof body, "%s%s%s (isol8 network policy)\n", why, host ? ": " : "",
			  host ? host : "");
	int hn;

	if (bn < 0 || (size_t)bn >= sizeof body)
		bn = (int)strlen(body);
	hn = snprintf(head, sizeof head,
		      "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n"
		      "X-Isol8-Proxy: 1\r\n\r\n",
		      status, reason, bn);
	c->down.b.len = 0;
	c->down.off = 0;
	queue(&c->down, head, (size_t)hn);
	queue(&c->down, body, (size_t)bn);
	c->st = C_REPLY;
	c->ufd = xclose(c->ufd);
}

static long log_add(struct listener *l, const struct http_req *r, const char *path, size_t path_len, bool allowed)
{
	struct log_rec *rec;

	if (!l->log || l->n_logs >= MAX_LOG)
		return -1;
	l->logs = xrealloc(l->logs, (l->n_logs + 1) * sizeof *l->logs);
	rec = &l->logs[l->n_logs];
	memset(rec, 0, sizeof *rec);
	iso_now(rec->ts, sizeof rec->ts);
	snprintf(rec->method, sizeof rec->method, "%s", r->method);
	snprintf(rec->host, sizeof rec->host, "%s", r->host);
	rec->port = r->port;
	rec->allowed = allowed;
	rec->start_ms = clock_mono_ms();
	if (path) {
		rec->has_path = true;
		snprintf(rec->path, sizeof rec->path, "%.*s", (int)(path_len > MAX_LOG_PATH ? MAX_LOG_PATH : path_len),
			 path);
	}
	return (long)l->n_logs++;
}

/* ---- destinations -------------------------------------------------------------------------------
 * Checked on the addresses the proxy itself then connects to (resolved once, no second lookup):
 * every non-global address is refused (addr.h: private, CGNAT, loopback, link-local, ULA,
 * documentation, multicast, reserved, and the IPv6 forms embedding such an IPv4 address), and
 * so is any address of the host itself, which may be global: before connecting, a datagram
 * socket bound to the address succeeds only for a local one; after connecting, a local
 * destination shows as our own source address. The admin's policy may permit ranges
 * ("allowAddresses", e.g. an internal mirror); nothing the caller says can. */

static bool nonlocal_bind; /* ip_nonlocal_bind: the bind probe proves nothing, rely on the second */

static bool permitted(const struct listener *l, const struct sockaddr *sa)
{
	for (size_t i = 0; l && i < l->n_permitted; i++)
		if (net_cidr_contains(&l->permitted[i], sa))
			return true;
	return false;
}

/* 1: a socket binds to the address (it is local), 0: EADDRNOTAVAIL (it is not), -1: cannot tell. */
static int bind_probe(const struct sockaddr *sa, socklen_t len)
{
	struct sockaddr_storage probe;
	int fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc;

	if (fd < 0)
		return -1;
	memcpy(&probe, sa, len);
	if (probe.ss_family == AF_INET)
		((struct sockaddr_in *)&probe)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&probe)->sin6_port = 0;
	rc = bind(fd, (struct sockaddr *)&probe, len);
	close(fd);
	return rc == 0 ? 1 : errno == EADDRNOTAVAIL ? 0 : -1;
}

static bool host_local(const struct sockaddr *sa, socklen_t len)
{
	return !nonlocal_bind && bind_probe(sa, len) != 0; /* cannot tell: count it as local */
}

static void probe_nonlocal_bind(void)
{
	struct sockaddr_in v4 = {.sin_family = AF_INET};
	struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};

	inet_pton(AF_INET, "198.51.100.254", &v4.sin_addr); /* documentation ranges: never local */
	inet_pton(AF_INET6, "2001:db8::fffe", &v6.sin6_addr);
	nonlocal_bind = bind_probe((struct sockaddr *)&v4, sizeof v4) == 1 ||
		bind_probe((struct sockaddr *)&v6, sizeof v6) == 1;
	if (nonlocal_bind)
		log_warn("non-local bind is enabled (ip_nonlocal_bind): the host's own addresses are recognised only "
			 "after connecting");
}

/* Keep only the addresses this sandbox may reach; false when none is left. */
static bool filter_addrs(struct conn *c)
{
	struct listener *l = conn_listener(c);
	size_t k = 0;

	for (size_t i = 0; i < c->n_addrs; i++) {
		const struct sockaddr *sa = (struct sockaddr *)&c->addrs[i].sa;
		bool docker = false;
		for (size_t j = 0; l && j < l->n_docker_nets && !docker; j++)
			docker = net_cidr_contains(&l->docker_nets[j], sa);
		if (permitted(l, sa) || (!docker && net_addr_global(sa)))
			c->addrs[k++] = c->addrs[i];
	}
	c->n_addrs = k;
	return k > 0;
}

/* PX_COUNTS: requests decided since the proxy started, for isol8d's metrics. */
static uint64_t n_allowed, n_blocked;

static void mark_blocked(struct conn *c)
{
	struct listener *l = conn_listener(c);
	/* Allowed by name, refused later (its address): it counts as blocked. */
	if (n_allowed)
		n_allowed--;
	n_blocked++;
	if (l && c->logi >= 0 && (size_t)c->logi < l->n_logs)
		l->logs[c->logi].allowed = false;
}

static int start_connect(struct conn *c)
{
	struct listener *l = conn_listener(c);

	while (c->next_addr < c->n_addrs) {
		struct proxy_addr *a = &c->addrs[c->next_addr++];
		int fd;

		if (!permitted(l, (struct sockaddr *)&a->sa) && host_local((struct sockaddr *)&a->sa, a->len)) {
			c->refused_local = true;
			continue;
		}
		fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (connect(fd, (struct sockaddr *)&a->sa, a->len) == 0 || errno == EINPROGRESS) {
			c->ufd = fd;
			c->st = C_CONNECTING;
			c->connect_start = clock_mono_ms();
			return 0;
		}
		close(fd);
	}
	return -1;
}

/* The destination's addresses are known (rc 0, c->addrs) or not (rc -1, err): connect or refuse. */
static void refuse_destination(struct conn *c)
{
	mark_blocked(c);
	reply_and_close(c, 403, "Forbidden", c->host, "destination address not allowed");
}

static void connect_failed(struct conn *c, int status, const char *reason, const char *why)
{
	if (c->refused_local)
		refuse_destination(c);
	else
		reply_and_close(c, status, reason, c->host, why);
}

static void conn_resolved(struct conn *c, int rc, const struct isol8_err *err)
{
	if (rc < 0) {
		bool pol = err->code == ISOL8_E_POLICY;
		reply_and_close(c, pol ? 403 : 502, pol ? "Forbidden" : "Bad Gateway", c->host,
				pol ? "destination address not allowed" : "cannot resolve");
		return;
	}
	if (!filter_addrs(c)) {
		refuse_destination(c);
		return;
	}
	c->next_addr = 0;
	if (start_connect(c) < 0)
		connect_failed(c, 502, "Bad Gateway", "cannot connect");
}

/* A resolver thread finished: hand the answer to the connection still waiting for it, if any
 * (it may have timed out or closed meanwhile). */
static void on_resolved(void *ctx, uint64_t ticket, int rc, const struct proxy_addr *a, size_t n,
			const struct isol8_err *err)
{
	uint64_t now = *(const uint64_t *)ctx;

	for (unsigned i = 0; i < n_conns; i++) {
		struct conn *c = conns[i];
		if (c->st != C_RESOLVING || c->ticket != ticket)
			continue;
		c->last_ms = now;
		c->n_addrs = n <= PROXY_MAX_ADDRS ? n : PROXY_MAX_ADDRS;
		memcpy(c->addrs, a, c->n_addrs * sizeof *a);
		conn_resolved(c, rc, err);
		return;
	}
}

/* Bytes from the client after its request head. A CONNECT tunnel carries them as they come. A
 * plain-HTTP connection carries exactly one request: its body is forwarded, and what follows it
 * (a pipelined request, whose Host and target nobody checked) is dropped; the forwarded
 * "Connection: close" makes the server end the exchange after the first answer, and an HTTP/1.1
 * client retries the rest on a new connection, where it is checked like any other. */
static bool ip_literal(const char *host)
{
	struct in_addr a;
	return strchr(host, ':') || inet_pton(AF_INET, host, &a) == 1;
}

/* A CONNECT tunnel's first bytes must be a TLS ClientHello naming the CONNECT host (so a
 * permitted name cannot front for another server behind the same address), or no name at all
 * when the CONNECT target is an address. Bytes that are not TLS pass only on ports other than 80
 * and 443, which the policy must have allowed explicitly. Returns 0 (decided: pass, or wait
 * for more) or -1 (refused). Nothing is forwarded before the decision. */
static int tls_gate(struct conn *c)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	char sni[254];
	int rc = tls_client_hello_sni((const uint8_t *)c->up.b.data, c->up.b.len, sni, &err);

	if (rc == 0 && c->up.b.len < TLS_HELLO_MAX)
		return 0;
	if (rc < 0 && c->up.b.len && c->up.b.data[0] != 0x16 && c->port != 80 && c->port != 443) {
		c->tls_pending = false; /* not TLS, on a port the admin opened for it */
		return 0;
	}
	if (rc == 1 && (sni[0] ? strcmp(sni, c->host) == 0 : ip_literal(c->host))) {
		c->tls_pending = false;
		return 0;
	}
	log_debug("CONNECT %s:%u refused: %s", c->host, c->port,
		  rc == 1 ? (sni[0] ? "TLS server name differs" : "TLS without server name") : err.msg);
	mark_blocked(c);
	return -1;
}

static int client_bytes(struct conn *c, const char *p, size_t n)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	long k;

	if (c->is_connect) {
		queue(&c->up, p, n);
		return c->tls_pending ? tls_gate(c) : 0;
	}
	k = http_body_feed(&c->body, p, n, &err);
	if (k < 0) {
		log_debug("request to %s: %s", c->host, err.msg);
		return -1;
	}
	queue(&c->up, p, (size_t)k);
	if ((size_t)k < n && !c->pipelined) {
		c->pipelined = true;
		log_debug("request to %s: %zu bytes after the request dropped (pipelining)", c->host, n - (size_t)k);
	}
	return 0;
}

/* fill() for the client side: through client_bytes. */
static int fill_client(struct conn *c)
{
	char tmp[CHUNK];
	ssize_t n = read(c->cfd, tmp, sizeof tmp);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 1;
	if (n <= 0)
		return n == 0 ? 0 : -1;
	return client_bytes(c, tmp, (size_t)n) < 0 ? -1 : 1;
}

/* The head is complete: decide, log, and resolve (then connect) or refuse. */
/* The forwarded request line is "METHOD path HTTP/1.1": its path, for the log. */
static void forwarded_path(const struct http_req *r, const struct isol8_buf *fwd, const char **path, size_t *len)
{
	const char *sp, *sp2;

	*path = NULL;
	*len = 0;
	if (r->is_connect || !fwd->len)
		return;
	sp = memchr(fwd->data, ' ', fwd->len);
	sp2 = sp ? memchr(sp + 1, ' ', fwd->len - (size_t)(sp + 1 - fwd->data)) : NULL;
	if (sp && sp2) {
		*path = sp + 1;
		*len = (size_t)(sp2 - *path);
	}
}

/* The policy's ceiling first (ports, then its lists), then the caller's lists; NULL when the
 * request may go. */
static const char *refusal(const struct listener *l, const struct http_req *r)
{
	if (!net_policy_port_ok(&l->pol, r->port))
		return "port not allowed";
	if (!net_patterns_allow(&(struct net_patterns){.allow = l->pol.allow,
						       .n_allow = l->pol.n_allow,
						       .deny = l->pol.deny,
						       .n_deny = l->pol.n_deny},
				r->host))
		return "host not allowed by the policy";
	if (!net_patterns_allow(&l->rules, r->host))
		return "host not allowed";
	return NULL;
}

/* 403 naming what was refused: host:port for a port, else the host. */
static void refuse(struct conn *c, const struct http_req *r, const char *why)
{
	char hp[PROXY_MAX_HOST + 16];

	if (strcmp(why, "port not allowed") == 0)
		snprintf(hp, sizeof hp, strchr(r->host, ':') ? "[%s]:%u" : "%s:%u", r->host, r->port);
	else
		snprintf(hp, sizeof hp, "%s", r->host);
	reply_and_close(c, 403, "Forbidden", hp, why);
}

/* Half the resolver threads at most per sandbox and per tenant, so one sandbox's (or one
 * tenant's) slow names cannot hold up everyone else's lookups. */
static bool resolvers_busy(const struct conn *c, const struct listener *l)
{
	unsigned resolving = 0, tenant_resolving = 0;

	for (unsigned i = 0; i < MAX_CONNS; i++) {
		const struct listener *o;
		if (!conns[i] || conns[i] == c || conns[i]->st != C_RESOLVING || !(o = conn_listener(conns[i])))
			continue;
		resolving += conns[i]->lst == c->lst;
		tenant_resolving += o->ten == l->ten;
	}
	return resolving >= MAX_RESOLVING_PER_SANDBOX || tenant_resolving >= MAX_RESOLVING_PER_TENANT;
}

static void conn_head_done(struct conn *c, const struct http_req *r, struct isol8_buf *fwd)
{
	struct listener *l = conn_listener(c);
	struct isol8_err err = ISOL8_ERR_INIT;
	const char *path, *why;
	size_t path_len;
	int rc;

	if (!l) {
		reply_and_close(c, 503, "Service Unavailable", NULL, "sandbox network closed");
		return;
	}
	forwarded_path(r, fwd, &path, &path_len);
	why = refusal(l, r);
	c->logi = log_add(l, r, path, path_len, why == NULL);
	if (!why)
		n_allowed++;
	else
		n_blocked++;
	c->is_connect = r->is_connect;
	log_debug("sandbox %.12s: %s %s:%u %s", l->id, r->method, r->host, r->port, why ? why : "allowed");
	if (why) {
		refuse(c, r, why);
		return;
	}
	/* Bytes the client sent after the head (a request body, a TLS ClientHello) go upstream once
	 * connected; nothing is sent before then. */
	snprintf(c->host, sizeof c->host, "%s", r->host);
	c->port = r->port;
	c->tls_pending = r->is_connect;
	if (!r->is_connect)
		queue(&c->up, fwd->data, fwd->len);
	http_body_init(&c->body, r);
	if (c->head_len > r->head_len && client_bytes(c, c->head + r->head_len, c->head_len - r->head_len) < 0) {
		if (r->is_connect)
			reply_and_close(c, 403, "Forbidden", r->host,
					"TLS server name does not match the CONNECT host");
		else
			reply_and_close(c, 400, "Bad Request", NULL, "bad request body framing");
		return;
	}
	if (resolvers_busy(c, l)) {
		reply_and_close(c, 503, "Service Unavailable", r->host, "too many name lookups in flight");
		return;
	}
	rc = proxy_resolve_start(r->host, r->port, &c->ticket, c->addrs, &c->n_addrs, &err);
	if (rc == 0) {
		c->st = C_RESOLVING;
		c->resolve_start = clock_mono_ms();
		return;
	}
	conn_resolved(c, rc < 0 ? -1 : 0, &err);
}

static void conn_read_head(struct conn *c)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_buf fwd = ISOL8_BUF_INIT;
	struct http_req r;
	ssize_t n = read(c->cfd, c->head + c->head_len, sizeof c->head - c->head_len);
	int rc;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		c->st = C_REPLY; /* nothing to say: close once the (empty) output is written */
		c->c_eof = true;
		return;
	}
	c->head_len += (size_t)n;
	rc = http_parse_request(c->head, c->head_len, &r, &fwd, &err);
	if (rc < 0)
		reply_and_close(c, err.code == ISOL8_E_LIMIT ? 431 : 400,
				err.code == ISOL8_E_LIMIT ? "Request Header Fields Too Large" : "Bad Request", NULL,
				err.msg);
	else if (rc > 0)
		conn_head_done(c, &r, &fwd);
	isol8_buf_free(&fwd);
}

/* A connection to one of the host's own addresses has that address as its source. Nothing has
 * been sent on it yet. */
static bool connected_to_self(struct conn *c)
{
	const struct proxy_addr *a = &c->addrs[c->next_addr - 1];
	struct sockaddr_storage me;
	socklen_t ml = sizeof me;

	if (permitted(conn_listener(c), (const struct sockaddr *)&a->sa))
		return false;
	if (getsockname(c->ufd, (struct sockaddr *)&me, &ml) < 0 || me.ss_family != a->sa.ss_family)
		return true;
	if (me.ss_family == AF_INET)
		return memcmp(&((struct sockaddr_in *)&me)->sin_addr, &((const struct sockaddr_in *)&a->sa)->sin_addr,
			      4) == 0;
	return memcmp(&((struct sockaddr_in6 *)&me)->sin6_addr, &((const struct sockaddr_in6 *)&a->sa)->sin6_addr,
		      16) == 0;
}

static void conn_connected(struct conn *c)
{
	int e = 0;
	socklen_t el = sizeof e;

	if (getsockopt(c->ufd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
		e = errno;
	if (e == 0 && connected_to_self(c)) {
		c->refused_local = true;
		e = EADDRNOTAVAIL;
	}
	if (e != 0) {
		c->ufd = xclose(c->ufd);
		if (start_connect(c) < 0)
			connect_failed(c, 502, "Bad Gateway", "cannot connect to the destination");
		return;
	}
	c->st = C_RELAY;
	if (c->is_connect)
		queue(&c->down, "HTTP/1.1 200 Connection established\r\n\r\n", 39);
}

/* Write what is pending in p to fd; returns -1 on a dead peer. */
static int flush(int fd, struct pbuf *p, uint64_t *count)
{
	while (p->off < p->b.len) {
		ssize_t n = send(fd, p->b.data + p->off, p->b.len - p->off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0)
			return -1;
		p->off += (size_t)n;
		if (count)
			*count += (uint64_t)n;
	}
	p->b.len = p->off = 0;
	return 0;
}

/* Read a chunk from fd into p (only called when p is drained); returns 0 on EOF, -1 on error. */
static int fill(int fd, struct pbuf *p)
{
	char tmp[CHUNK];
	ssize_t n = read(fd, tmp, sizeof tmp);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 1;
	if (n <= 0)
		return n == 0 ? 0 : -1;
	queue(p, tmp, (size_t)n);
	return 1;
}

/* Returns false when the connection is finished. */
static bool conn_step(struct conn *c, short crev, short urev)
{
	uint64_t ignored = 0;

	if (c->st == C_HEAD && (crev & (POLLIN | POLLHUP | POLLERR)))
		conn_read_head(c);
	if (c->st == C_RESOLVING)
		return true;
	if (c->st == C_CONNECTING && (urev & (POLLOUT | POLLERR | POLLHUP)))
		conn_connected(c);
	if (c->st == C_REPLY) {
		if (flush(c->cfd, &c->down, &ignored) < 0 || c->down.b.len == 0)
			return false;
		return true;
	}
	if (c->st != C_RELAY)
		return true;
	if ((crev & (POLLIN | POLLHUP | POLLERR)) && !c->c_eof && (c->up.b.len == 0 || c->tls_pending)) {
		int r = fill_client(c);
		if (r < 0)
			return false;
		if (r == 0)
			c->c_eof = true;
		if (r == 0 && c->tls_pending)
			return false; /* gone before saying which server it wants */
	}
	if ((urev & (POLLIN | POLLHUP | POLLERR)) && !c->u_eof && c->down.b.len == 0) {
		size_t before = c->down.b.len;
		int r = fill(c->ufd, &c->down);
		if (r < 0)
			return false;
		c->down_bytes += c->down.b.len - before;
		if (r == 0)
			c->u_eof = true;
	}
	if (c->up.b.len && !c->tls_pending && flush(c->ufd, &c->up, &c->up_bytes) < 0)
		return false;
	if (c->down.b.len && flush(c->cfd, &c->down, &ignored) < 0)
		return false;
	if (c->c_eof && !c->up.b.len && !c->u_shut) {
		shutdown(c->ufd, SHUT_WR);
		c->u_shut = true;
	}
	if (c->u_eof && !c->down.b.len && !c->c_shut) {
		shutdown(c->cfd, SHUT_WR);
		c->c_shut = true;
	}
	return !(c->u_shut && c->c_shut);
}

static void accept_on(unsigned li)
{
	struct listener *l = &lst[li];
	struct conn *c;
	int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (!can_accept(l, n_conns)) {
		close(fd);
		return;
	}
	c = xcalloc(1, sizeof *c);
	c->st = C_HEAD;
	c->cfd = fd;
	c->ufd = -1;
	c->lst = li;
	c->lgen = l->gen;
	c->logi = -1;
	c->last_ms = clock_mono_ms();
	l->conns++;
	tenants[l->ten].conns++;
	conns[n_conns++] = c;
}

/* ---- broker channel ----------------------------------------------------------------------------- */

static struct listener *find_listener(const char *id)
{
	for (unsigned i = 0; i < MAX_LISTENERS; i++)
		if (lst[i].fd >= 0 && strcmp(lst[i].id, id) == 0)
			return &lst[i];
	return NULL;
}

static void listener_drop(struct listener *l)
{
	unsigned idx = (unsigned)(l - lst);
	for (unsigned i = 0; i < n_conns;)
		if (conns[i]->lst == idx && conns[i]->lgen == l->gen)
			conn_close(i);
		else
			i++;
	/* Closing the listener also lets the sandbox's network namespace go away with it. */
	l->fd = xclose(l->fd);
	net_patterns_free(&l->rules);
	net_policy_free(&l->pol);
	free(l->permitted);
	l->permitted = NULL;
	l->n_permitted = 0;
	free(l->docker_nets);
	l->docker_nets = NULL;
	l->n_docker_nets = 0;
	free(l->logs);
	l->logs = NULL;
	l->n_logs = 0;
	l->conns = 0;
	if (tenants[l->ten].listeners)
		tenants[l->ten].listeners--;
	l->gen++;
}

/* "u32 n, str cidr[n]": the Docker networks' subnets (PX_LISTEN's last part). */
static int get_cidrs(struct isol8_msg *m, struct net_cidr **out, size_t *n, struct isol8_err *err)
{
	uint32_t cnt;

	if (isol8_get_u32(m, &cnt, err) < 0)
		return -1;
	if (cnt > NET_MAX_DOCKER_NETS)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "too many Docker subnets: %u", cnt);
	*out = xcalloc(cnt + 1, sizeof **out);
	for (*n = 0; *n < cnt; (*n)++) {
		_cleanup_free_ char *s = NULL;
		if (isol8_get_str(m, &s, 64, err) < 0 || net_cidr_parse(s, &(*out)[*n], err) < 0)
			return -1;
	}
	return 0;
}

static int do_listen(struct isol8_msg *m, struct isol8_err *err)
{
	_cleanup_free_ char *id = NULL, *tenant = NULL;
	_cleanup_free_ struct net_cidr *dn = NULL;
	size_t n_dn = 0;
	struct net_patterns p;
	struct net_policy pol;
	struct listener *l = NULL;
	int rc;

	if (isol8_get_str(m, &id, ISOL8_MAX_ID, err) < 0 || net_patterns_get(m, &p, err) < 0)
		return -1;
	if (isol8_get_str(m, &tenant, ISOL8_MAX_TENANT, err) < 0 || !*tenant || net_policy_get(m, &pol, err) < 0) {
		net_patterns_free(&p);
		return *err->msg ? -1 : isol8_err_set(err, ISOL8_E_PROTO, 0, "listen without a tenant");
	}
	if (get_cidrs(m, &dn, &n_dn, err) < 0 || isol8_msg_end(m, err) < 0) {
		net_patterns_free(&p);
		net_policy_free(&pol);
		return -1;
	}
	if (find_listener(id)) {
		net_patterns_free(&p);
		net_policy_free(&pol);
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "sandbox %.12s already has network rules", id);
	}
	for (unsigned i = 0; i < MAX_LISTENERS && !l; i++)
		if (lst[i].fd < 0)
			l = &lst[i];
	if (!l) {
		net_patterns_free(&p);
		net_policy_free(&pol);
		return isol8_err_set(err, ISOL8_E_LIMIT, 0, "proxy serves %d sandboxes already", MAX_LISTENERS);
	}
	/* The broker checked the patterns already; the proxy trusts no one's checks but its own. */
	rc = net_patterns_check(&p, err);
	if (rc < 0) {
		net_patterns_free(&p);
		net_policy_free(&pol);
		return -1;
	}
	l->rules = p;
	l->log = p.log;
	l->pol = pol;
	l->permitted = xcalloc(pol.n_addrs + 1, sizeof *l->permitted);
	for (l->n_permitted = 0; l->n_permitted < pol.n_addrs; l->n_permitted++)
		net_cidr_parse(pol.addrs[l->n_permitted], &l->permitted[l->n_permitted],
			       err); /* checked by net_policy_get */
	l->docker_nets = steal_ptr(&dn);
	l->n_docker_nets = n_dn;
	l->ten = tenant_get(tenant);
	tenants[l->ten].listeners++;
	l->fd = isol8_msg_take_fd(m, 0);
	snprintf(l->id, sizeof l->id, "%s", id);
	l->n_logs = 0;
	l->conns = 0;
	l->up_done = l->down_done = 0;
	log_debug("listening for sandbox %.12s", id);
	return 0;
}

static json_object *logs_json(const struct listener *l)
{
	json_object *a = json_object_new_array();
	for (size_t i = 0; l && i < l->n_logs; i++) {
		const struct log_rec *r = &l->logs[i];
		json_object *o = json_object_new_object();
		json_object_object_add(o, "timestamp", json_object_new_string(r->ts));
		json_object_object_add(o, "method", json_object_new_string(r->method));
		json_object_object_add(o, "host", json_object_new_string(r->host));
		json_object_object_add(o, "port", json_object_new_int(r->port));
		json_object_object_add(o, "path", r->has_path ? json_object_new_string(r->path) : NULL);
		json_object_object_add(o, "action", json_object_new_string(r->allowed ? "ALLOW" : "BLOCK"));
		json_object_object_add(o, "durationMs", json_object_new_int64((int64_t)r->dur_ms));
		json_object_object_add(o, "bytesUp", json_object_new_int64((int64_t)r->up));
		json_object_object_add(o, "bytesDown", json_object_new_int64((int64_t)r->down));
		json_object_array_add(a, o);
	}
	return a;
}

static void serve_channel_msg(int chan, struct isol8_msg *m)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_buf reply = ISOL8_BUF_INIT;
	_cleanup_free_ char *id = NULL;
	int rc = -1;

	/* The table holds PX_LISTEN to one listening TCP socket and the others to none. */
	if (isol8_proto_check(PEER_PROXY, PEER_BROKER, m, NULL, &err) < 0)
		goto answer;
	switch (m->type) {
	case PX_LISTEN:
		rc = do_listen(m, &err);
		break;
	case PX_COUNTS:
		isol8_put_u64(&reply, n_allowed);
		isol8_put_u64(&reply, n_blocked);
		rc = 0;
		break;
	case PX_DROP:
	case PX_LOGS:
	case PX_STATS:
		if (isol8_get_str(m, &id, ISOL8_MAX_ID, &err) < 0 || isol8_msg_end(m, &err) < 0)
			break;
		rc = 0;
		if (m->type == PX_DROP) {
			struct listener *l = find_listener(id);
			if (l)
				listener_drop(l);
		} else if (m->type == PX_STATS) {
			/* The sandbox's traffic through us so far: closed connections plus open ones. */
			struct listener *l = find_listener(id);
			uint64_t up = l ? l->up_done : 0, down = l ? l->down_done : 0;
			for (unsigned i = 0; l && i < n_conns; i++)
				if (conns[i]->lst == (unsigned)(l - lst) && conns[i]->lgen == l->gen) {
					up += conns[i]->up_bytes;
					down += conns[i]->down_bytes;
				}
			isol8_put_u64(&reply, up);
			isol8_put_u64(&reply, down);
		} else {
			json_object *a = logs_json(find_listener(id));
			const char *s = json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN);
			/* MAX_LOG records fit the frame; this only guards the invariant. */
			isol8_put_str(&reply, strlen(s) < ISOL8_IPC_MAX_PAYLOAD - 64 ? s : "[]");
			json_object_put(a);
		}
		break;
	default:
		isol8_err_set(&err, ISOL8_E_PROTO, 0, "unexpected message %u", m->type);
	}
answer:
	if (rc < 0) {
		reply.len = 0;
		isol8_put_u16(&reply, (uint16_t)(err.code ? err.code : ISOL8_E_INTERNAL));
		isol8_put_str(&reply, err.msg);
	}
	if (isol8_ipc_send_buf(chan, rc < 0 ? PX_REPLY_ERR : PX_REPLY_OK, m->request_id, &reply, NULL, 0, &err) < 0)
		log_error("reply to broker: %s", err.msg);
	isol8_buf_free(&reply);
}

/* ---- loop ------------------------------------------------------------------------------------------ */

/* What a connection waits for on the client's side (*ce) and upstream (*ue) in its state;
 * in the relay each direction is read only while its buffer is empty (bounded memory). */
static void conn_events(const struct conn *c, short *ce, short *ue)
{
	*ce = *ue = 0;
	switch (c->st) {
	case C_HEAD:
		*ce = POLLIN;
		break;
	case C_CONNECTING:
		*ue = POLLOUT;
		break;
	case C_REPLY:
		*ce = POLLOUT;
		break;
	case C_RELAY:
		if (!c->c_eof && (!c->up.b.len || c->tls_pending))
			*ce |= POLLIN;
		if (c->down.b.len)
			*ce |= POLLOUT;
		if (!c->u_eof && !c->down.b.len)
			*ue |= POLLIN;
		if (c->up.b.len && !c->tls_pending)
			*ue |= POLLOUT;
		break;
	default:
		break;
	}
}

/* pf[0] the broker channel, pf[1] the resolver pipe, then listeners (who = index), then two
 * per connection (who = 1000, the connection keeps its index in pfi). */
static unsigned poll_set(int chan, struct pollfd *pf, int *who)
{
	unsigned np = 0;

	pf[np] = (struct pollfd){.fd = chan, .events = POLLIN};
	who[np++] = -1;
	pf[np] = (struct pollfd){.fd = proxy_resolver_fd(), .events = POLLIN};
	who[np++] = -2;
	for (unsigned i = 0; i < MAX_LISTENERS; i++)
		if (lst[i].fd >= 0 && can_accept(&lst[i], n_conns)) {
			pf[np] = (struct pollfd){.fd = lst[i].fd, .events = POLLIN};
			who[np++] = (int)i;
		}
	for (unsigned i = 0; i < n_conns; i++) {
		struct conn *c = conns[i];
		short ce, ue;
		conn_events(c, &ce, &ue);
		c->pfi = np;
		/* While resolving there is nothing to do with the client; a hang-up is noticed
		 * afterwards (and must not make poll spin meanwhile). */
		pf[np] = (struct pollfd){.fd = c->st == C_RESOLVING ? -1 : c->cfd, .events = ce};
		who[np++] = 1000;
		pf[np] = (struct pollfd){.fd = c->ufd, .events = ue}; /* fd -1 is ignored by poll */
		who[np++] = 1000;
	}
	return np;
}

/* The resolve, connect and idle deadlines; false when the connection is to be closed. */
static bool conn_in_time(struct conn *c, uint64_t now)
{
	if (c->st == C_RESOLVING && now > c->resolve_start && now - c->resolve_start > RESOLVE_MS) {
		proxy_resolve_cancel(c->ticket);
		reply_and_close(c, 504, "Gateway Timeout", c->host, "cannot resolve (timed out)");
	}
	/* conn_step may have started the connect after `now` was taken */
	if (c->st == C_CONNECTING && now > c->connect_start && now - c->connect_start > CONNECT_MS) {
		c->ufd = xclose(c->ufd);
		if (start_connect(c) < 0)
			connect_failed(c, 504, "Gateway Timeout", "connect timed out");
	}
	return !(now > c->last_ms && now - c->last_ms > IDLE_MS);
}

/* Connections first (their indexes are stable until one closes), last to first so that a
 * close does not move one not yet seen. */
static void step_conns(const struct pollfd *pf, uint64_t now)
{
	for (int i = (int)n_conns - 1; i >= 0; i--) {
		struct conn *c = conns[i];
		short crev = pf[c->pfi].revents, urev = pf[c->pfi + 1].revents;
		bool alive;

		if (crev || urev)
			c->last_ms = now;
		alive = (crev || urev) ? conn_step(c, crev, urev) : true;
		if (alive)
			alive = conn_in_time(c, now);
		if (!alive)
			conn_close((unsigned)i);
	}
}

/* One message from the broker; -1 to go on, else the proxy's exit status. */
static int read_channel(int chan)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_msg m = {0};
	int rr = isol8_ipc_recv(chan, &m, &err);

	if (rr == 0)
		return 0; /* the broker is gone: so are the sandboxes' reasons to exist */
	if (rr < 0) {
		if (err.errnum == EAGAIN || err.errnum == EINTR)
			return -1;
		log_error("bad frame from broker: %s", err.msg);
		return 1;
	}
	serve_channel_msg(chan, &m);
	isol8_msg_free(&m);
	return -1;
}

int proxy_run(int chan)
{
	static struct pollfd pf[2 + MAX_LISTENERS + 2 * MAX_CONNS];
	static int who[2 + MAX_LISTENERS + 2 * MAX_CONNS];
	struct isol8_err rerr = ISOL8_ERR_INIT;

	for (unsigned i = 0; i < MAX_LISTENERS; i++)
		lst[i].fd = -1;
	probe_nonlocal_bind();
	if (proxy_resolver_start(&rerr) < 0) {
		log_error("%s", rerr.msg);
		return 1;
	}
	for (;;) {
		unsigned np = poll_set(chan, pf, who);
		uint64_t now;
		int r = poll(pf, np, 1000);

		if (r < 0 && errno != EINTR) {
			log_error("poll: %s", strerror(errno));
			return 1;
		}
		now = clock_mono_ms();
		if (pf[1].revents)
			proxy_resolve_collect(on_resolved, &now);
		step_conns(pf, now);
		for (unsigned k = 2; k < np && who[k] < 1000; k++)
			if (pf[k].revents)
				accept_on((unsigned)who[k]);
		if (pf[0].revents) {
			r = read_channel(chan);
			if (r >= 0)
				return r;
		}
	}
}
