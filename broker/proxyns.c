/* The proxy's own network namespace (issue 12 item 3), the second layer under the proxy's
 * address checks (proxy/addr.c). isol8-proxy starts in a fresh namespace (the spawning child
 * unshares it before exec) whose only way out is a veth pair to the host: the host end
 * isol8px<K> holds .1 of a /30, the proxy's end (eth0 in its namespace) .2 and the default route,
 * and the host masquerades what leaves. The host's 127.0.0.1 and its interface addresses are
 * then not local to the proxy, and rules in chains of their own (ISOL8-PX<K>-IN, -FWD, -NAT)
 * drop whatever the proxy sends to the host itself (INPUT) and to non-global destinations
 * (FORWARD: RFC 1918, CGNAT, the Docker bridges, link-local...) except the DNS servers of
 * /etc/resolv.conf and the CIDRs some tenant's policy permits (allowAddresses); IPv6 is off on
 * the veth, and ip6tables drops the interface's traffic besides.
 *
 * The namespace belongs to the proxy process: when the proxy dies, for whatever reason, the
 * kernel removes the namespace and with it both ends of the veth. The iptables chains are the
 * only host state that could outlive a crashed broker, so an index K is held with a flock on
 * /run/isol8-proxyns/K.lock for the broker's life (several daemons on one host each get their
 * own K, interface, /30 and chains), and at start the broker removes the leftovers of every
 * index nobody holds. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker/broker.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "proxy/addr.h"

#define PXNS_LOCK_DIR "/run/isol8-proxyns"
#define PXNS_MAX 64
#define PXNS_READY_MS 5000

static const char *const v4_drop[] = {
	"0.0.0.0/8",     "10.0.0.0/8",      "100.64.0.0/10",  "127.0.0.0/8",    "169.254.0.0/16",
	"172.16.0.0/12", "192.0.0.0/24",    "192.0.2.0/24",   "192.88.99.0/24", "192.168.0.0/16",
	"198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4",    "240.0.0.0/4",
};

static const char *tool(const char *name, char buf[64])
{
	static const char *const dirs[] = {"/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"};

	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		snprintf(buf, 64, "%s%s", dirs[i], name);
		if (access(buf, X_OK) == 0)
			return buf;
	}
	return NULL;
}

/* Run argv with stdin from `in` (NULL: /dev/null), in the namespace nsfd (-1: the broker's);
 * output into out (may be NULL). Returns the exit status, -1 when it could not run. */
static int run(char *const argv[], const char *in, int nsfd, char *out, size_t cap)
{
	static char *const envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL};
	int p[2], status, infd;
	size_t len = 0;
	pid_t pid;

	infd = in ? memfd_create("isol8-pxns", MFD_CLOEXEC) : open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (infd < 0)
		return -1;
	if (in && (write(infd, in, strlen(in)) != (ssize_t)strlen(in) || lseek(infd, 0, SEEK_SET) < 0)) {
		close(infd);
		return -1;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		close(infd);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET) < 0)
			_exit(125);
		if (dup2(infd, 0) < 0 || dup2(p[1], 1) < 0 || dup2(p[1], 2) < 0)
			_exit(126);
		close_range(3, ~0U, 0);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	close(infd);
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return -1;
	}
	for (;;) {
		char sink[512];
		ssize_t n = out && len + 1 < cap ? read(p[0], out + len, cap - 1 - len) : read(p[0], sink, sizeof sink);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (out && len + 1 < cap)
			len += (size_t)n;
	}
	if (out && cap)
		out[len] = '\0';
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int run_checked(char *const argv[], const char *in, int nsfd, struct isol8_err *err)
{
	char out[512];
	int rc = run(argv, in, nsfd, out, sizeof out);

	if (rc != 0) {
		out[strcspn(out, "\n")] = '\0';
		return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "%s %s failed (status %d): %s", argv[0],
				     argv[1] ? argv[1] : "", rc, out);
	}
	return 0;
}

static void fmt_v4(uint32_t a, char *buf, size_t cap)
{
	snprintf(buf, cap, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

/* Remove everything of index k: jumps, chains, the host end of the veth. Quiet and idempotent. */
static void cleanup_index(struct broker *b, unsigned k)
{
	struct broker_pxns *x = &b->pxns;
	char ch_in[32], ch_fwd[32], ch_nat[32], ch6[32], ifn[16];
	char *ipt = x->ipt, *ip6t = x->ip6t;

	snprintf(ch_in, sizeof ch_in, "ISOL8-PX%u-IN", k);
	snprintf(ch_fwd, sizeof ch_fwd, "ISOL8-PX%u-FWD", k);
	snprintf(ch_nat, sizeof ch_nat, "ISOL8-PX%u-NAT", k);
	snprintf(ch6, sizeof ch6, "ISOL8-PX%u", k);
	snprintf(ifn, sizeof ifn, "isol8px%u", k);
	if (x->ip[0]) {
		char *del[] = {x->ip, "link", "del", ifn, NULL};
		run(del, NULL, -1, NULL, 0);
	}
	struct {
		char *tool, *table, *chain, *hook, *match;
	} jumps[] = {
		{ipt, "filter", ch_in, "INPUT", "-i"},        {ipt, "filter", ch_fwd, "FORWARD", NULL},
		{ipt, "filter", ch_fwd, "DOCKER-USER", NULL}, {ipt, "nat", ch_nat, "POSTROUTING", NULL},
		{ip6t, "filter", ch6, "INPUT", "-i"},         {ip6t, "filter", ch6, "FORWARD", "-i"},
		{ip6t, "filter", ch6, "FORWARD", "-o"},
	};
	for (size_t i = 0; i < sizeof jumps / sizeof jumps[0]; i++) {
		if (!jumps[i].tool[0])
			continue;
		/* Delete every copy of the jump (a crash between two inserts may leave two). */
		for (int n = 0; n < 4; n++) {
			char *d1[] = {jumps[i].tool, "-w",           "5", "-t", jumps[i].table, "-D",
				      jumps[i].hook, jumps[i].match, ifn, "-j", jumps[i].chain, NULL};
			char *d2[] = {jumps[i].tool, "-w",          "5",  "-t",           jumps[i].table,
				      "-D",          jumps[i].hook, "-j", jumps[i].chain, NULL};
			if (run(jumps[i].match ? d1 : d2, NULL, -1, NULL, 0) != 0)
				break;
		}
	}
	struct {
		char *tool, *table, *chain;
	} chains[] = {{ipt, "filter", ch_in}, {ipt, "filter", ch_fwd}, {ipt, "nat", ch_nat}, {ip6t, "filter", ch6}};
	for (size_t i = 0; i < sizeof chains / sizeof chains[0]; i++) {
		char *f[] = {chains[i].tool, "-w", "5", "-t", chains[i].table, "-F", chains[i].chain, NULL};
		char *x2[] = {chains[i].tool, "-w", "5", "-t", chains[i].table, "-X", chains[i].chain, NULL};
		if (!chains[i].tool[0])
			continue;
		if (run(f, NULL, -1, NULL, 0) == 0)
			run(x2, NULL, -1, NULL, 0);
	}
}

/* Leftovers of daemons that died without cleaning up: any index that shows up in the rules or
 * the links and whose lock nobody holds. */
static void sweep_stale(struct broker *b)
{
	struct broker_pxns *x = &b->pxns;
	char *list4[] = {x->ipt, "-w", "5", "-S", NULL}, *listnat[] = {x->ipt, "-w", "5", "-t", "nat", "-S", NULL};
	char *links[] = {x->ip, "-o", "link", "show", NULL};
	_cleanup_free_ char *buf = xmalloc(3 * 65536);
	size_t off;

	buf[0] = '\0';
	run(list4, NULL, -1, buf, 65536);
	off = strlen(buf);
	run(listnat, NULL, -1, buf + off, 65536);
	off += strlen(buf + off);
	run(links, NULL, -1, buf + off, 65536);
	for (unsigned k = 0; k < PXNS_MAX; k++) {
		char a[24], c[24], path[64];
		int fd;

		if (k == x->index)
			continue;
		snprintf(a, sizeof a, "ISOL8-PX%u-", k);
		snprintf(c, sizeof c, " isol8px%u", k);
		if (!strstr(buf, a) && !strstr(buf, c))
			continue;
		snprintf(path, sizeof path, PXNS_LOCK_DIR "/%u.lock", k);
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			log_info("proxy namespace: removing the leftovers of index %u (a daemon that did not stop)", k);
			cleanup_index(b, k);
		}
		close(fd);
	}
}

static int claim_index(struct broker *b, struct isol8_err *err)
{
	struct broker_pxns *x = &b->pxns;

	if (mkdir(PXNS_LOCK_DIR, 0700) < 0 && errno != EEXIST)
		return isol8_err_set(err, ISOL8_E_IO, errno, "mkdir %s", PXNS_LOCK_DIR);
	for (unsigned k = 0; k < x->slots; k++) {
		char path[64];
		int fd;

		snprintf(path, sizeof path, PXNS_LOCK_DIR "/%u.lock", k);
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return isol8_err_set(err, ISOL8_E_IO, errno, "open %s", path);
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			x->lock_fd = fd;
			x->index = k;
			return 0;
		}
		close(fd);
	}
	return isol8_err_set(err, ISOL8_E_LIMIT, 0, "every proxy namespace slot of %s is taken by another isol8d",
			     b->o.proxy_subnet);
}

static void put(char **s, size_t *len, size_t *cap, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void put(char **s, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(*s + *len, *cap - *len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < *cap - *len)
			break;
		*cap = *cap * 2 + (size_t)(n > 0 ? n : 0);
		*s = xrealloc(*s, *cap);
	}
	*len += (size_t)n;
}

#define SYSTEMD_RESOLV "/run/systemd/resolve/resolv.conf"

/* The IPv4 name servers a resolv.conf lists that are not on loopback; *n_local counts those that
 * are (no namespace but the host's reaches them). */
static size_t read_servers(const char *path, char out[][INET_ADDRSTRLEN], size_t max, size_t *n_local)
{
	FILE *f = fopen(path, "re");
	char line[256];
	size_t n = 0;

	*n_local = 0;
	if (!f)
		return 0;
	while (n < max && fgets(line, sizeof line, f)) {
		char addr[64];
		struct in_addr a;
		struct in6_addr a6;
		if (sscanf(line, " nameserver %63s", addr) != 1)
			continue;
		if (inet_pton(AF_INET6, addr, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6))
			(*n_local)++;
		if (inet_pton(AF_INET, addr, &a) != 1)
			continue;
		if ((ntohl(a.s_addr) >> 24) == 127) {
			(*n_local)++;
			continue;
		}
		inet_ntop(AF_INET, &a, out[n++], INET_ADDRSTRLEN);
	}
	fclose(f);
	return n;
}

/* The resolv.conf the proxy should see instead of /etc/resolv.conf, or NULL. A resolver on the
 * host's loopback (systemd-resolved's 127.0.0.53, a local dnsmasq) is not reachable from the
 * proxy's namespace; systemd-resolved lists its upstream servers in SYSTEMD_RESOLV, which the
 * proxy then gets bind-mounted over /etc/resolv.conf in a mount namespace of its own. */
const char *proxyns_resolv_conf(struct broker *b)
{
	char tmp[8][INET_ADDRSTRLEN];
	size_t local, local2;

	if (!b->pxns.on)
		return NULL;
	read_servers("/etc/resolv.conf", tmp, 8, &local);
	if (local == 0 || read_servers(SYSTEMD_RESOLV, tmp, 8, &local2) == 0)
		return NULL;
	return SYSTEMD_RESOLV;
}

/* The IPv4 name servers the proxy's resolver uses, which its namespace must reach. */
static size_t name_servers(struct broker *b, char out[][INET_ADDRSTRLEN], size_t max)
{
	const char *path = proxyns_resolv_conf(b);
	size_t local, n = read_servers(path ? path : "/etc/resolv.conf", out, max, &local);

	if (local)
		log_warn("proxy namespace: /etc/resolv.conf lists %zu name server(s) on the host's loopback, which "
			 "the proxy cannot reach from its namespace%s; list servers the host routes to (for "
			 "systemd-resolved: link /etc/resolv.conf to " SYSTEMD_RESOLV
			 "), or start isol8d with --proxy-in-host-netns",
			 local, n ? " (its lookups time out on them before trying the others)" : "");
	else if (path)
		log_info("proxy namespace: the host's resolver is local; the proxy uses the servers of %s", path);
	return n;
}

/* Rebuild the chains' contents in one iptables-restore transaction (a declared chain is flushed
 * and refilled atomically), then hook them in where they are not yet. */
/* What the admin lets some tenant reach (the proxy still applies each tenant's own list). */
static void put_allowed(struct broker *b, char **s, size_t *len, size_t *cap)
{
	unsigned k = b->pxns.index;
	const char *ifn = b->pxns.ifname;

	pthread_rwlock_rdlock(&b->policy_lock);
	for (size_t t = 0; t < b->policy.n_tenants; t++) {
		const struct net_policy *np = &b->policy.tenants[t].net;
		for (size_t i = 0; i < np->n_addrs; i++) {
			struct net_cidr c;
			struct isol8_err ignored = ISOL8_ERR_INIT;
			char a[INET_ADDRSTRLEN];
			if (net_cidr_parse(np->addrs[i], &c, &ignored) < 0 || c.family != AF_INET)
				continue;
			inet_ntop(AF_INET, c.addr, a, sizeof a);
			put(s, len, cap, "-A ISOL8-PX%u-FWD -i %s -d %s/%u -j ACCEPT\n", k, ifn, a, c.prefix);
		}
	}
	pthread_rwlock_unlock(&b->policy_lock);
}

/* The chains' contents for one iptables-restore --noflush: -IN, -FWD (DNS servers and the
 * allowed addresses, then every non-global range refused) and -NAT. */
static char *restore_rules(struct broker *b)
{
	struct broker_pxns *x = &b->pxns;
	char ns[INET_ADDRSTRLEN], dns[8][INET_ADDRSTRLEN];
	const char *ifn = x->ifname;
	size_t cap = 4096, len = 0, n_dns;
	char *s = xmalloc(cap);
	unsigned k = x->index;

	fmt_v4(x->ns_ip, ns, sizeof ns);
	s[0] = '\0';
	put(&s, &len, &cap, "*filter\n:ISOL8-PX%u-IN - [0:0]\n:ISOL8-PX%u-FWD - [0:0]\n", k, k);
	/* The host itself: nothing from the proxy's side is for it. */
	put(&s, &len, &cap, "-A ISOL8-PX%u-IN -p tcp -j REJECT --reject-with tcp-reset\n-A ISOL8-PX%u-IN -j DROP\n", k,
	    k);
	put(&s, &len, &cap, "-A ISOL8-PX%u-FWD -o %s -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n", k, ifn);
	put(&s, &len, &cap, "-A ISOL8-PX%u-FWD -o %s -j DROP\n", k, ifn);
	put(&s, &len, &cap, "-A ISOL8-PX%u-FWD -i %s ! -s %s/32 -j DROP\n", k, ifn, ns);
	n_dns = name_servers(b, dns, 8);
	for (size_t i = 0; i < n_dns; i++)
		put(&s, &len, &cap,
		    "-A ISOL8-PX%u-FWD -i %s -d %s/32 -p udp --dport 53 -j ACCEPT\n"
		    "-A ISOL8-PX%u-FWD -i %s -d %s/32 -p tcp --dport 53 -j ACCEPT\n",
		    k, ifn, dns[i], k, ifn, dns[i]);
	put_allowed(b, &s, &len, &cap);
	for (size_t i = 0; i < sizeof v4_drop / sizeof v4_drop[0]; i++)
		put(&s, &len, &cap, "-A ISOL8-PX%u-FWD -i %s -d %s -j REJECT --reject-with icmp-admin-prohibited\n", k,
		    ifn, v4_drop[i]);
	put(&s, &len, &cap, "-A ISOL8-PX%u-FWD -i %s -j ACCEPT\nCOMMIT\n", k, ifn);
	put(&s, &len, &cap, "*nat\n:ISOL8-PX%u-NAT - [0:0]\n-A ISOL8-PX%u-NAT -s %s/32 ! -o %s -j MASQUERADE\nCOMMIT\n",
	    k, k, ns, ifn);
	return s;
}

/* The jumps from INPUT (for the veth only), FORWARD and POSTROUTING, each added once. */
static int hook_chains(struct broker_pxns *x, struct isol8_err *err)
{
	const char *ifn = x->ifname;
	unsigned k = x->index;
	struct {
		char *table, *hook, *chain, *match;
	} hooks[] = {{"filter", "INPUT", "-IN", "-i"},
		     {"filter", "FORWARD", "-FWD", NULL},
		     {"nat", "POSTROUTING", "-NAT", NULL}};

	for (size_t i = 0; i < sizeof hooks / sizeof hooks[0]; i++) {
		char chain[32];
		snprintf(chain, sizeof chain, "ISOL8-PX%u%s", k, hooks[i].chain);
		char *c1[] = {x->ipt,        "-w", "5",         "-t", hooks[i].table, "-C",
			      hooks[i].hook, "-i", (char *)ifn, "-j", chain,          NULL};
		char *c2[] = {x->ipt, "-w", "5", "-t", hooks[i].table, "-C", hooks[i].hook, "-j", chain, NULL};
		char *i1[] = {x->ipt, "-w", "5",         "-t", hooks[i].table, "-I", hooks[i].hook,
			      "1",    "-i", (char *)ifn, "-j", chain,          NULL};
		char *i2[] = {x->ipt, "-w", "5", "-t", hooks[i].table, "-I", hooks[i].hook, "1", "-j", chain, NULL};
		if (run(hooks[i].match ? c1 : c2, NULL, -1, NULL, 0) == 0)
			continue;
		if (run_checked(hooks[i].match ? i1 : i2, NULL, -1, err) < 0)
			return -1;
	}
	return 0;
}

/* Docker keeps the jump to DOCKER-USER first in FORWARD when it rewrites its rules; the FWD
 * chain is hooked there as well so that a Docker restart cannot put its accepts first. */
static int hook_docker_user(struct broker_pxns *x, struct isol8_err *err)
{
	char chain[32];

	snprintf(chain, sizeof chain, "ISOL8-PX%u-FWD", x->index);
	char *has[] = {x->ipt, "-w", "5", "-S", "DOCKER-USER", NULL};
	char *c[] = {x->ipt, "-w", "5", "-C", "DOCKER-USER", "-j", chain, NULL};
	char *ins[] = {x->ipt, "-w", "5", "-I", "DOCKER-USER", "1", "-j", chain, NULL};
	if (run(has, NULL, -1, NULL, 0) == 0 && run(c, NULL, -1, NULL, 0) != 0 && run_checked(ins, NULL, -1, err) < 0)
		return -1;
	return 0;
}

/* IPv6: the veth has none (addrgenmode none, no address); the drop is a second lock, so a
 * failure is a warning. */
static void drop_ipv6(struct broker_pxns *x)
{
	const char *ifn = x->ifname;
	char ch6[32];
	bool ok = true;

	if (!x->ip6t[0])
		return;
	snprintf(ch6, sizeof ch6, "ISOL8-PX%u", x->index);
	char *n6[] = {x->ip6t, "-w", "5", "-N", ch6, NULL};
	char *f6[] = {x->ip6t, "-w", "5", "-F", ch6, NULL};
	char *a6[] = {x->ip6t, "-w", "5", "-A", ch6, "-j", "DROP", NULL};
	run(n6, NULL, -1, NULL, 0);
	ok = run(f6, NULL, -1, NULL, 0) == 0 && run(a6, NULL, -1, NULL, 0) == 0;
	const char *hk[][2] = {{"INPUT", "-i"}, {"FORWARD", "-i"}, {"FORWARD", "-o"}};
	for (size_t i = 0; ok && i < 3; i++) {
		char *c6[] = {x->ip6t,          "-w",        "5",  "-C", (char *)hk[i][0],
			      (char *)hk[i][1], (char *)ifn, "-j", ch6,  NULL};
		char *i6[] = {x->ip6t,     "-w", "5", "-I", (char *)hk[i][0], "1", (char *)hk[i][1],
			      (char *)ifn, "-j", ch6, NULL};
		if (run(c6, NULL, -1, NULL, 0) != 0 && run(i6, NULL, -1, NULL, 0) != 0)
			ok = false;
	}
	if (!ok)
		log_warn("proxy namespace: ip6tables could not install the IPv6 drop (the veth has no IPv6 "
			 "either)");
}

int proxyns_firewall(struct broker *b, struct isol8_err *err)
{
	struct broker_pxns *x = &b->pxns;
	_cleanup_free_ char *s = NULL;
	char *restore[] = {x->ipt_restore, "-w", "5", "--noflush", NULL};

	if (!x->on)
		return 0;
	s = restore_rules(b);
	if (run_checked(restore, s, -1, err) < 0 || hook_chains(x, err) < 0 || hook_docker_user(x, err) < 0)
		return isol8_err_wrap(err, "proxy namespace rules");
	drop_ipv6(x);
	return 0;
}

int proxyns_init(struct broker *b, struct isol8_err *err)
{
	struct broker_pxns *x = &b->pxns;
	struct net_cidr c;
	char buf[64];
	const char *t;
	int fd;

	x->lock_fd = -1;
	if (b->o.proxy_host_netns) {
		log_warn("the network proxy runs in the host's network namespace (--proxy-in-host-netns): only its "
			 "address checks stand between filtered sandboxes and the host's own services");
		return 0;
	}
	if (net_cidr_parse(b->o.proxy_subnet, &c, err) < 0 || c.family != AF_INET || c.prefix > 30)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "--proxy-subnet %s: an IPv4 network of /30 or larger",
				     b->o.proxy_subnet);
	x->base = (uint32_t)c.addr[0] << 24 | (uint32_t)c.addr[1] << 16 | (uint32_t)c.addr[2] << 8 | c.addr[3];
	x->slots = c.prefix >= 24 ? 1u << (30 - c.prefix) : PXNS_MAX;
	if (x->slots > PXNS_MAX)
		x->slots = PXNS_MAX;
	if (!(t = tool("ip", buf)))
		return isol8_err_set(err, ISOL8_E_UNAVAIL, 0,
				     "the network proxy's namespace needs ip (iproute2); or start isol8d with "
				     "--proxy-in-host-netns");
	snprintf(x->ip, sizeof x->ip, "%s", t);
	if (!(t = tool("iptables", buf)))
		return isol8_err_set(err, ISOL8_E_UNAVAIL, 0,
				     "the network proxy's namespace needs iptables; or start isol8d with "
				     "--proxy-in-host-netns");
	snprintf(x->ipt, sizeof x->ipt, "%s", t);
	if (!(t = tool("iptables-restore", buf)))
		return isol8_err_set(err, ISOL8_E_UNAVAIL, 0, "the network proxy's namespace needs iptables-restore");
	snprintf(x->ipt_restore, sizeof x->ipt_restore, "%s", t);
	if ((t = tool("ip6tables", buf)))
		snprintf(x->ip6t, sizeof x->ip6t, "%s", t);
	if (claim_index(b, err) < 0)
		return -1;
	snprintf(x->ifname, sizeof x->ifname, "isol8px%u", x->index);
	x->host_ip = x->base + 4 * x->index + 1;
	x->ns_ip = x->host_ip + 1;
	cleanup_index(b, x->index);
	sweep_stale(b);
	/* The host routes the proxy's traffic (Docker turns this on as well). */
	fd = open("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "1", 1) != 1) {
		int e = errno;
		xclose(fd);
		return isol8_err_set(err, ISOL8_E_INTERNAL, e, "enable net.ipv4.ip_forward");
	}
	close(fd);
	x->on = true;
	if (proxyns_firewall(b, err) < 0) {
		cleanup_index(b, x->index);
		x->on = false;
		return -1;
	}
	fmt_v4(x->ns_ip, buf, sizeof buf);
	log_info("network proxy namespace: %s on the host, the proxy at %s behind NAT", x->ifname, buf);
	return 0;
}

void proxyns_fini(struct broker *b)
{
	struct broker_pxns *x = &b->pxns;

	if (!x->on)
		return;
	cleanup_index(b, x->index);
	x->on = false;
	x->lock_fd = xclose(x->lock_fd);
}

bool proxyns_enabled(const struct broker *b)
{
	return b->pxns.on;
}

/* pid has unshared its network namespace and waits: give it the veth, addresses and route. */
int proxyns_attach(struct broker *b, pid_t pid, struct isol8_err *err)
{
	struct broker_pxns *x = &b->pxns;
	char pidbuf[16], gw[INET_ADDRSTRLEN + 4], ns[INET_ADDRSTRLEN], nspath[48], batch[512];
	_cleanup_close_ int nsfd = -1;

	snprintf(pidbuf, sizeof pidbuf, "%d", (int)pid);
	fmt_v4(x->host_ip, gw, sizeof gw);
	fmt_v4(x->ns_ip, ns, sizeof ns);
	/* The previous proxy's namespace may still be on its way out. */
	char *del[] = {x->ip, "link", "del", x->ifname, NULL};
	run(del, NULL, -1, NULL, 0);
	char *add[] = {x->ip, "link", "add", x->ifname, "type", "veth", "peer", "name", "eth0", "netns", pidbuf, NULL};
	if (run_checked(add, NULL, -1, err) < 0)
		return isol8_err_wrap(err, "proxy namespace veth");
	snprintf(batch, sizeof batch, "link set %s addrgenmode none\naddr add %s/30 dev %s\nlink set %s up\n",
		 x->ifname, gw, x->ifname, x->ifname);
	char *batchv[] = {x->ip, "-batch", "-", NULL};
	if (run_checked(batchv, batch, -1, err) < 0)
		return isol8_err_wrap(err, "proxy namespace, host side");
	snprintf(nspath, sizeof nspath, "/proc/%d/ns/net", (int)pid);
	nsfd = open(nspath, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "open %s", nspath);
	snprintf(batch, sizeof batch,
		 "link set lo up\nlink set eth0 addrgenmode none\naddr add %s/30 dev eth0\nlink set eth0 up\n"
		 "route add default via %s\n",
		 ns, gw);
	if (run_checked(batchv, batch, nsfd, err) < 0)
		return isol8_err_wrap(err, "proxy namespace, proxy side");
	/* The name servers may have changed since the last proxy started. */
	return proxyns_firewall(b, err);
}
