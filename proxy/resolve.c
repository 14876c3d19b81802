/* Name resolution for isol8-proxy (contract in proxy.h). */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "proxy/http.h"
#include "proxy/proxy.h"

struct host_ent {
	char name[PROXY_MAX_HOST + 1];
	struct sockaddr_storage sa;
	socklen_t len;
	unsigned delay_ms; /* "@delay=MS" entries: no address, a stalled lookup (tests) */
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
		unsigned delay = 0;

		ip = strtok_r(line, " \t\r\n", &save);
		if (!ip)
			continue;
		if (strncmp(ip, "@delay=", 7) == 0) {
			/* Test hook: these names go through the resolver threads like any unknown name
			 * but stall first, standing in for an unreachable DNS server. */
			char *end = NULL;
			unsigned long d = strtoul(ip + 7, &end, 10);
			if (end == ip + 7 || *end || d == 0 || d > 600000) {
				fclose(f);
				return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s:%u: bad delay '%.64s'", path, lineno,
						     ip);
			}
			delay = (unsigned)d;
			memset(&sa, 0, sizeof sa);
			len = 0;
		} else if (parse_ip(ip, 0, &sa, &len) < 0) {
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
			h->delay_ms = delay;
		}
	}
	fclose(f);
	return 0;
}

static void set_port(struct sockaddr_storage *sa, uint16_t port)
{
	if (sa->ss_family == AF_INET)
		((struct sockaddr_in *)sa)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
}

/* Which of the addresses may be connected to is the loop's decision (proxy.c: per sandbox, with
 * the policy's permitted ranges); here only "none at all" is an answer. */
static int finish(const char *host, struct proxy_addr *out, size_t *n, struct isol8_err *err)
{
	(void)out;
	if (*n == 0)
		return isol8_err_set(err, ISOL8_E_NOTFOUND, 0, "no address for %s", host);
	return 0;
}

/* The hosts hook and IP literals: answered without blocking. 1 answered (0/-1 in *rc),
 * 0 when the name needs a real lookup (*delay_ms from a hook "@delay" entry). */
static int lookup_static(const char *host, uint16_t port, struct proxy_addr *out, size_t *n, unsigned *delay_ms,
			 int *rc, struct isol8_err *err)
{
	*n = 0;
	*delay_ms = 0;
	for (size_t i = 0; i < n_hosts; i++) {
		if (strcmp(hosts[i].name, host) != 0)
			continue;
		if (hosts[i].delay_ms) {
			*delay_ms = hosts[i].delay_ms;
			return 0;
		}
		if (*n < PROXY_MAX_ADDRS) {
			out[*n].sa = hosts[i].sa;
			out[*n].len = hosts[i].len;
			set_port(&out[*n].sa, port);
			(*n)++;
		}
	}
	if (*n == 0 && parse_ip(host, port, &out[0].sa, &out[0].len) == 0)
		*n = 1;
	if (*n == 0)
		return 0;
	*rc = finish(host, out, n, err);
	return 1;
}

/* getaddrinfo: blocks for as long as the DNS servers take, so only resolver threads call it. */
static int lookup_gai(const char *host, uint16_t port, struct proxy_addr *out, size_t *n, struct isol8_err *err)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
	int rc = getaddrinfo(host, NULL, &hints, &res);

	*n = 0;
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
	return finish(host, out, n, err);
}

/* ---- resolver threads ----------------------------------------------------------------------------
 * RESOLVER_THREADS threads take lookups from a FIFO (mutex + condition variable) and hand each
 * finished one back by writing its pointer to a pipe the event loop polls (one pointer per
 * write, under PIPE_BUF, so writes never interleave). getaddrinfo cannot be interrupted: a lookup
 * the loop gave up on (proxy_resolve_cancel after its timeout) is removed if still queued, or
 * runs to completion and is discarded. The threads share nothing else with the loop; they only
 * read the hosts table, which is immutable after proxy_hosts_load. */

struct lookup {
	struct lookup *next;
	uint64_t ticket;
	char host[PROXY_MAX_HOST + 1];
	uint16_t port;
	unsigned delay_ms;
	int rc;
	struct proxy_addr addrs[PROXY_MAX_ADDRS];
	size_t n;
	struct isol8_err err;
};

static pthread_mutex_t q_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cv = PTHREAD_COND_INITIALIZER;
static struct lookup *q_head, **q_tail = &q_head;
static size_t q_len; /* queued, not yet taken by a thread */
static int res_pipe[2] = {-1, -1};
static uint64_t next_ticket = 1;

static void *resolver_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct lookup *l;

		pthread_mutex_lock(&q_mu);
		while (!q_head)
			pthread_cond_wait(&q_cv, &q_mu);
		l = q_head;
		q_head = l->next;
		if (!q_head)
			q_tail = &q_head;
		q_len--;
		pthread_mutex_unlock(&q_mu);

		if (l->delay_ms) {
			struct timespec ts = {.tv_sec = l->delay_ms / 1000,
					      .tv_nsec = (long)(l->delay_ms % 1000) * 1000000L};
			while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
				;
		}
		l->err = (struct isol8_err)ISOL8_ERR_INIT;
		l->rc = lookup_gai(l->host, l->port, l->addrs, &l->n, &l->err);
		while (write(res_pipe[1], &l, sizeof l) < 0 && errno == EINTR)
			;
	}
	return NULL;
}

int proxy_resolver_start(struct isol8_err *err)
{
	pthread_attr_t attr;

	if (pipe2(res_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "resolver pipe");
	/* Writers block rather than drop a result: the loop drains the pipe every round. */
	if (fcntl(res_pipe[1], F_SETFL, 0) < 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "resolver pipe flags");
	pthread_attr_init(&attr);
	/* getaddrinfo with NSS needs some stack, nowhere near the 8 MiB default. */
	pthread_attr_setstacksize(&attr, 256 * 1024);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (int i = 0; i < PROXY_RESOLVER_THREADS; i++) {
		pthread_t t;
		int r = pthread_create(&t, &attr, resolver_main, NULL);
		if (r != 0) {
			pthread_attr_destroy(&attr);
			return isol8_err_set(err, ISOL8_E_INTERNAL, r, "resolver thread");
		}
	}
	pthread_attr_destroy(&attr);
	return 0;
}

int proxy_resolver_fd(void)
{
	return res_pipe[0];
}

int proxy_resolve_start(const char *host, uint16_t port, uint64_t *ticket, struct proxy_addr *out, size_t *n,
			struct isol8_err *err)
{
	struct lookup *l;
	unsigned delay;
	int rc = 0;

	*ticket = 0;
	if (lookup_static(host, port, out, n, &delay, &rc, err))
		return rc < 0 ? -1 : 1;
	if (strlen(host) > PROXY_MAX_HOST)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "host name too long");
	pthread_mutex_lock(&q_mu);
	if (q_len >= PROXY_RESOLVER_QUEUE) {
		pthread_mutex_unlock(&q_mu);
		return isol8_err_set(err, ISOL8_E_LIMIT, 0, "too many pending lookups");
	}
	l = xcalloc(1, sizeof *l);
	l->ticket = *ticket = next_ticket++;
	snprintf(l->host, sizeof l->host, "%s", host);
	l->port = port;
	l->delay_ms = delay;
	*q_tail = l;
	q_tail = &l->next;
	q_len++;
	pthread_cond_signal(&q_cv);
	pthread_mutex_unlock(&q_mu);
	return 0;
}

void proxy_resolve_cancel(uint64_t ticket)
{
	struct lookup **pp, *l = NULL;

	pthread_mutex_lock(&q_mu);
	for (pp = &q_head; *pp; pp = &(*pp)->next)
		if ((*pp)->ticket == ticket) {
			l = *pp;
			*pp = l->next;
			if (!*pp)
				q_tail = pp;
			q_len--;
			break;
		}
	pthread_mutex_unlock(&q_mu);
	free(l); /* NULL when a thread has it: its result will be discarded */
}

void proxy_resolve_collect(proxy_resolved_fn *fn, void *ctx)
{
	struct lookup *batch[64];
	ssize_t got;

	while ((got = read(res_pipe[0], batch, sizeof batch)) > 0) {
		for (size_t i = 0; i < (size_t)got / sizeof batch[0]; i++) {
			struct lookup *l = batch[i];
			fn(ctx, l->ticket, l->rc, l->addrs, l->n, &l->err);
			free(l);
		}
	}
}
