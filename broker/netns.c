/* Filtered networking, the privileged half (issue 7). A filtered sandbox is created with
 * network "none": its namespace has loopback only. Here the broker, from the host side, puts the
 * proxy's entrance into that namespace: a forked child (not a thread: setns() would change the
 * namespace of a thread in the broker itself, and a bug or an early return would leave it
 * there) enters /proc/<pid>/ns/net, binds 127.0.0.1:ISOL8_NET_PROXY_PORT, installs
 * drop-all-but-loopback OUTPUT rules as defence in depth, reads them back, and passes the
 * listening socket back over a socketpair. The proxy then accepts the sandbox's connections
 * and makes the outbound ones from the host side. The sandbox keeps CapDrop ALL and never holds
 * a route out: there is no interface to bypass the proxy through, IPv4 or IPv6, raw or UDP.
 *
 * The child runs in a copy of a multithreaded process: it only makes system calls and formats
 * with the helpers below (no malloc, no stdio, no locks) until it exits. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker/audit.h"
#include "broker/broker.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/xalloc.h"
#include "docker/client.h"
#include "proxy/addr.h"
#include "proxy/rules.h"

#define CHILD_MS 15000
#define DROP_RULE "-A OUTPUT ! -o lo -j DROP"

/* ---- which sandboxes have a listener in the proxy --------------------------------------------- */

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static char (*reg)[ISOL8_MAX_ID + 1];
static size_t n_reg, cap_reg;

static bool reg_has(const char *id)
{
	bool r = false;
	pthread_mutex_lock(&reg_lock);
	for (size_t i = 0; i < n_reg && !r; i++)
		r = strcmp(reg[i], id) == 0;
	pthread_mutex_unlock(&reg_lock);
	return r;
}

static void reg_add(const char *id)
{
	pthread_mutex_lock(&reg_lock);
	if (n_reg == cap_reg) {
		cap_reg = cap_reg ? cap_reg * 2 : 16;
		reg = xrealloc(reg, cap_reg * sizeof *reg);
	}
	snprintf(reg[n_reg++], sizeof reg[0], "%s", id);
	pthread_mutex_unlock(&reg_lock);
}

static bool reg_del(const char *id)
{
	bool found = false;
	pthread_mutex_lock(&reg_lock);
	for (size_t i = 0; i < n_reg; i++)
		if (strcmp(reg[i], id) == 0) {
			memcpy(reg[i], reg[--n_reg], sizeof reg[0]);
			found = true;
			break;
		}
	pthread_mutex_unlock(&reg_lock);
	return found;
}

void netns_proxy_lost(void)
{
	pthread_mutex_lock(&reg_lock);
	n_reg = 0;
	pthread_mutex_unlock(&reg_lock);
}

/* ---- the child in the sandbox's namespace --------------------------------------------------------- */

struct child_msg {
	char text[400];
	size_t len;
};

static void cm_put(struct child_msg *m, const char *s)
{
	while (*s && m->len < sizeof m->text - 1)
		m->text[m->len++] = *s++;
	m->text[m->len] = '\0';
}

static void cm_num(struct child_msg *m, long v)
{
	char d[24];
	int n = 0;
	if (v < 0) {
		cm_put(m, "-");
		v = -v;
	}
	do {
		d[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n < (int)sizeof d);
	while (n > 0) {
		char c[2] = {d[--n], 0};
		cm_put(m, c);
	}
}

static void cm_errno(struct child_msg *m, const char *what, int e)
{
	cm_put(m, what);
	cm_put(m, ": errno ");
	cm_num(m, e); /* strerror() may translate, and translating may allocate */
}

/* Run argv (absolute path) with stdout+stderr into out; returns the exit status or -1. */
static int child_run(char *const argv[], char *out, size_t cap, size_t *out_len)
{
	static char *const envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL};
	int p[2], status;
	pid_t pid;

	*out_len = 0;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(p[1], 1) < 0 || dup2(p[1], 2) < 0)
			_exit(126);
		/* The broker's Docker connections and channels must not reach iptables. */
		close_range(3, ~0U, 0);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		ssize_t n = read(p[0], out + *out_len, cap - 1 - *out_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		*out_len += (size_t)n;
		if (*out_len >= cap - 1) {
			char sink[256];
			while (read(p[0], sink, sizeof sink) > 0)
				;
			break;
		}
	}
	out[*out_len] = '\0';
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Append the drop rule and read it back. Returns 0 when verified. */
static int child_drop_rules(const char *tool, struct child_msg *m)
{
	char *add[] = {(char *)tool, "-w", "5", "-A", "OUTPUT", "!", "-o", "lo", "-j", "DROP", NULL};
	char *list[] = {(char *)tool, "-w", "5", "-S", "OUTPUT", NULL};
	char out[4096];
	size_t n;
	int rc;

	rc = child_run(add, out, sizeof out, &n);
	if (rc != 0) {
		cm_put(m, tool);
		cm_put(m, " -A failed (status ");
		cm_num(m, rc);
		cm_put(m, "): ");
		out[n > 200 ? 200 : n] = '\0';
		cm_put(m, out);
		return -1;
	}
	rc = child_run(list, out, sizeof out, &n);
	if (rc != 0 || !memmem(out, n, DROP_RULE, strlen(DROP_RULE))) {
		cm_put(m, tool);
		cm_put(m, ": the drop rule is not in place after adding it");
		return -1;
	}
	return 0;
}

/* Never returns. Message: u8 ok, u8 warn, text; with the listening fd when ok. */
static void __attribute__((noreturn)) child_main(int nsfd, int chan, const char *ipt, const char *ip6t)
{
	struct child_msg m = {.len = 0};
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(ISOL8_NET_PROXY_PORT)};
	unsigned char hdr[2] = {0, 0};
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov[2];
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
	int fd = -1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (setns(nsfd, CLONE_NEWNET) < 0) {
		cm_errno(&m, "enter the sandbox's network namespace", errno);
		goto send;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 64) < 0) {
		cm_errno(&m, "proxy listener on 127.0.0.1 in the sandbox", errno);
		goto send;
	}
	if (ipt) {
		if (child_drop_rules(ipt, &m) < 0)
			goto send;
	} else {
		hdr[1] |= 1;
	}
	/* IPv6: the namespace has no IPv6 route either; the rule is a bonus, its failure a warning. */
	if (ip6t) {
		struct child_msg w = {.len = 0};
		if (child_drop_rules(ip6t, &w) < 0)
			hdr[1] |= 2;
	}
	hdr[0] = 1;
send:
	iov[0] = (struct iovec){hdr, sizeof hdr};
	iov[1] = (struct iovec){m.text, m.len};
	if (hdr[0]) {
		struct cmsghdr *c;
		memset(cbuf, 0, sizeof cbuf);
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof cbuf;
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof fd);
	}
	_exit(sendmsg(chan, &mh, MSG_NOSIGNAL) < 0 ? 1 : 0);
}

/* Looked up in the parent (the child must not allocate); buf is the caller's. */
static const char *find_tool(const char *name, char buf[32])
{
	static const char *const dirs[] = {"/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"};

	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		snprintf(buf, 32, "%s%s", dirs[i], name);
		if (access(buf, X_OK) == 0)
			return buf;
	}
	return NULL;
}

/* The container's init by pid, without the pid-reuse race of "inspect, then open /proc/<pid>":
 * a pidfd pins the process; a second inspect shows the container still runs with that pid (so
 * the pidfd is its init, not a process that inherited the number); and the namespace is
 * opened only while the pidfd says that process is alive, so /proc/<pid> was that process. */
static int open_netns(struct docker *d, const char *id, int pid, int *nsfd_out, struct isol8_err *err)
{
	_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0), nsfd = -1;
	json_object *o = NULL, *state, *v;
	struct pollfd pf;
	char path[64];
	int again = -1;
	bool running = false;

	if (pidfd < 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "pidfd_open %d", pid);
	if (docker_container_inspect(d, id, &o, err) < 0)
		return -1;
	if (json_object_object_get_ex(o, "State", &state)) {
		if (json_object_object_get_ex(state, "Running", &v))
			running = json_object_get_boolean(v);
		if (json_object_object_get_ex(state, "Pid", &v))
			again = json_object_get_int(v);
	}
	json_object_put(o);
	if (!running || again != pid)
		return isol8_err_set(err, ISOL8_E_POLICY, 0, "sandbox %.12s stopped while its network was set up", id);
	snprintf(path, sizeof path, "/proc/%d/ns/net", pid);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "open %s", path);
	pf = (struct pollfd){.fd = pidfd, .events = POLLIN};
	if (poll(&pf, 1, 0) != 0)
		return isol8_err_set(err, ISOL8_E_POLICY, 0, "sandbox %.12s stopped while its network was set up", id);
	*nsfd_out = steal_fd(&nsfd);
	return 0;
}

static int make_listener(int nsfd_in, int *lfd, struct isol8_err *err)
{
	char text[401], ipt_buf[32], ip6t_buf[32];
	unsigned char hdr[2];
	_cleanup_close_ int nsfd = nsfd_in;
	int sv[2] = {-1, -1}, status, got_fd = -1;
	const char *ipt = find_tool("iptables", ipt_buf), *ip6t = find_tool("ip6tables", ip6t_buf);
	struct pollfd pf;
	pid_t child;
	ssize_t n;
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov[2] = {{hdr, sizeof hdr}, {text, sizeof text - 1}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2, .msg_control = cbuf, .msg_controllen = sizeof cbuf};

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "socketpair");
	child = fork();
	if (child < 0) {
		close(sv[0]);
		close(sv[1]);
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "fork");
	}
	if (child == 0) {
		close(sv[0]);
		child_main(nsfd, sv[1], ipt, ip6t);
	}
	close(sv[1]);
	pf = (struct pollfd){.fd = sv[0], .events = POLLIN};
	while ((n = poll(&pf, 1, CHILD_MS)) < 0 && errno == EINTR)
		;
	n = n > 0 ? recvmsg(sv[0], &mh, MSG_CMSG_CLOEXEC) : -1;
	close(sv[0]);
	if (n < 0)
		kill(child, SIGKILL);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (n >= 2 && !(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&got_fd, CMSG_DATA(c), sizeof got_fd);
	}
	if (n < 2)
		return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "network namespace helper did not answer");
	text[n - 2] = '\0';
	if (!hdr[0] || got_fd < 0) {
		xclose(got_fd);
		return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "filtered network setup: %s", text);
	}
	if (hdr[1] & 1)
		log_warn("iptables is not installed: no drop rules in filtered sandboxes (their namespace has only "
			 "loopback)");
	if (hdr[1] & 2)
		log_warn("ip6tables could not install the IPv6 drop rule (the namespace has no IPv6 route either)");
	*lfd = got_fd;
	return 0;
}

/* Every Docker network's subnets (IPAM.Config[].Subnet), for the proxy to refuse: containers on
 * a network with global addresses (an IPv6 prefix, a custom pool) would otherwise be reachable
 * from filtered sandboxes through the host's routes. Then the host's own global addresses: the
 * proxy runs in a namespace of its own (proxyns.c), where they are not local, so its bind probe
 * cannot recognise them (the host also drops what the proxy sends it). Appends "u32 n, str cidr[]". */
static int put_docker_subnets(struct docker *d, struct isol8_buf *px, struct isol8_err *err)
{
	json_object *nets = NULL;
	char *cidrs[NET_MAX_DOCKER_NETS];
	char own[NET_MAX_DOCKER_NETS][INET6_ADDRSTRLEN + 4];
	struct ifaddrs *ifs = NULL;
	size_t n = 0, n_own = 0;
	int rc = 0;

	if (docker_network_list(d, &nets, err) < 0)
		return isol8_err_wrap(err, "list Docker networks");
	for (size_t i = 0; json_object_is_type(nets, json_type_array) && i < json_object_array_length(nets); i++) {
		json_object *ipam, *cfg, *sub;
		if (!json_object_object_get_ex(json_object_array_get_idx(nets, i), "IPAM", &ipam) ||
		    !json_object_object_get_ex(ipam, "Config", &cfg) || !json_object_is_type(cfg, json_type_array))
			continue;
		for (size_t k = 0; k < json_object_array_length(cfg); k++) {
			struct net_cidr c;
			struct isol8_err ignored = ISOL8_ERR_INIT;
			const char *str;
			if (!json_object_object_get_ex(json_object_array_get_idx(cfg, k), "Subnet", &sub) ||
			    !(str = json_object_get_string(sub)) || net_cidr_parse(str, &c, &ignored) < 0)
				continue;
			if (n == NET_MAX_DOCKER_NETS) {
				rc = isol8_err_set(err, ISOL8_E_LIMIT, 0, "more than %u Docker subnets",
						   NET_MAX_DOCKER_NETS);
				goto out;
			}
			cidrs[n++] = (char *)str;
		}
	}
	if (getifaddrs(&ifs) == 0) {
		for (struct ifaddrs *i = ifs; i && n_own < NET_MAX_DOCKER_NETS; i = i->ifa_next) {
			const struct sockaddr *sa = i->ifa_addr;
			char a[INET6_ADDRSTRLEN];
			if (!sa || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) || !net_addr_global(sa))
				continue;
			inet_ntop(sa->sa_family,
				  sa->sa_family == AF_INET
					  ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
					  : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr,
				  a, sizeof a);
			snprintf(own[n_own++], sizeof own[0], "%s/%d", a, sa->sa_family == AF_INET ? 32 : 128);
		}
		freeifaddrs(ifs);
	}
	if (n + n_own > NET_MAX_DOCKER_NETS) {
		log_warn("%zu Docker subnets and %zu host addresses: the proxy is told of the first %u only", n, n_own,
			 NET_MAX_DOCKER_NETS);
		n_own = NET_MAX_DOCKER_NETS - n;
	}
	isol8_put_u32(px, (uint32_t)(n + n_own));
	for (size_t i = 0; i < n; i++)
		isol8_put_str(px, cidrs[i]);
	for (size_t i = 0; i < n_own; i++)
		isol8_put_str(px, own[i]);
out:
	json_object_put(nets);
	return rc;
}

/* ---- verbs ------------------------------------------------------------------------------------------ */

int netns_apply_rules(struct broker *b, struct docker *d, const char *id, const struct owned_container *oc,
		      struct isol8_msg *m, struct isol8_err *err)
{
	struct net_patterns p;
	struct isol8_buf px = ISOL8_BUF_INIT, nets = ISOL8_BUF_INIT;
	struct isol8_msg reply;
	json_object *o = NULL, *state, *hc, *v;
	const char *netmode = "";
	bool running = false;
	int pid = 0, lfd = -1, nsfd = -1, rc;

	if (net_patterns_get(m, &p, err) < 0)
		return -1;
	/* Canonical host patterns only (proxy/hostpat.h): a syntax check, nothing compiled here. */
	if (isol8_msg_end(m, err) < 0 || net_patterns_check(&p, err) < 0) {
		net_patterns_free(&p);
		return -1;
	}
	if (oc->tenant < 0 || (size_t)oc->tenant >= b->policy.n_tenants) {
		net_patterns_free(&p);
		return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "sandbox %.12s has no tenant", id);
	}
	if (oc->net_mode != ISOL8_NET_FILTERED) {
		net_patterns_free(&p);
		return isol8_err_set(err, ISOL8_E_POLICY, 0, "sandbox %.12s was not created with network mode filtered",
				     id);
	}
	if (reg_has(id)) {
		net_patterns_free(&p);
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "sandbox %.12s already has network rules", id);
	}
	if (docker_container_inspect(d, id, &o, err) < 0) {
		net_patterns_free(&p);
		return -1;
	}
	if (json_object_object_get_ex(o, "State", &state)) {
		if (json_object_object_get_ex(state, "Running", &v))
			running = json_object_get_boolean(v);
		if (json_object_object_get_ex(state, "Pid", &v))
			pid = json_object_get_int(v);
	}
	if (json_object_object_get_ex(o, "HostConfig", &hc) && json_object_object_get_ex(hc, "NetworkMode", &v))
		netmode = json_object_get_string(v);
	/* Re-check what the broker itself created: a filtered sandbox must have no network of its own. */
	rc = strcmp(netmode, "none") == 0 ? 0 : -1;
	json_object_put(o);
	if (rc < 0 || !running || pid <= 0) {
		net_patterns_free(&p);
		return isol8_err_set(err, ISOL8_E_POLICY, 0, "sandbox %.12s is not running with network none", id);
	}
	if (put_docker_subnets(d, &nets, err) < 0) {
		net_patterns_free(&p);
		isol8_buf_free(&nets);
		return isol8_err_wrap(err, "filtered network for %.12s", id);
	}
	if (open_netns(d, id, pid, &nsfd, err) < 0 || make_listener(steal_fd(&nsfd), &lfd, err) < 0) {
		isol8_buf_free(&nets);
		net_patterns_free(&p);
		return isol8_err_wrap(err, "sandbox %.12s", id);
	}
	/* The tenant's ceiling travels with the caller's lists; the proxy applies both (the caller
	 * can only narrow it) and counts connections per tenant by this name. */
	isol8_put_str(&px, id);
	net_patterns_put(&px, &p);
	audit_note_net(id, &p);
	net_patterns_free(&p);
	isol8_put_str(&px, b->policy.tenants[oc->tenant].name);
	net_policy_put(&px, &b->policy.tenants[oc->tenant].net);
	isol8_buf_append(&px, nets.data, nets.len);
	isol8_buf_free(&nets);
	rc = broker_proxy_call(b, PX_LISTEN, &px, lfd, &reply, err);
	isol8_buf_free(&px);
	xclose(lfd);
	if (rc < 0)
		return isol8_err_wrap(err, "filtered network for %.12s", id);
	isol8_msg_free(&reply);
	reg_add(id);
	log_info("filtered network for sandbox %.12s (proxy on 127.0.0.1:%d inside)", id, ISOL8_NET_PROXY_PORT);
	return 0;
}

int netns_logs(struct broker *b, const char *id, struct isol8_buf *out, struct isol8_err *err)
{
	struct isol8_buf px = ISOL8_BUF_INIT;
	struct isol8_msg reply;
	_cleanup_free_ char *json = NULL;

	if (!reg_has(id)) {
		isol8_put_str(out, "[]");
		return 0;
	}
	isol8_put_str(&px, id);
	if (broker_proxy_call(b, PX_LOGS, &px, -1, &reply, err) < 0) {
		isol8_buf_free(&px);
		return -1;
	}
	isol8_buf_free(&px);
	if (isol8_get_str(&reply, &json, ISOL8_IPC_MAX_PAYLOAD, err) < 0 || isol8_msg_end(&reply, err) < 0) {
		isol8_msg_free(&reply);
		return isol8_err_wrap(err, "network logs from the proxy");
	}
	isol8_msg_free(&reply);
	isol8_put_str(out, json);
	return 0;
}

int netns_stats(struct broker *b, const char *id, uint64_t *up, uint64_t *down, struct isol8_err *err)
{
	struct isol8_buf px = ISOL8_BUF_INIT;
	struct isol8_msg reply;
	int rc;

	*up = *down = 0;
	if (!reg_has(id))
		return 0;
	isol8_put_str(&px, id);
	rc = broker_proxy_call(b, PX_STATS, &px, -1, &reply, err);
	isol8_buf_free(&px);
	if (rc < 0)
		return -1;
	rc = isol8_get_u64(&reply, up, err) < 0 || isol8_get_u64(&reply, down, err) < 0 ||
			isol8_msg_end(&reply, err) < 0
		? -1
		: 0;
	isol8_msg_free(&reply);
	return rc;
}

void netns_forget(struct broker *b, const char *id)
{
	struct isol8_buf px = ISOL8_BUF_INIT;
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_msg reply;

	if (!reg_del(id))
		return;
	isol8_put_str(&px, id);
	if (broker_proxy_call(b, PX_DROP, &px, -1, &reply, &err) < 0)
		log_warn("drop network listener of %.12s: %s", id, err.msg);
	else
		isol8_msg_free(&reply);
	isol8_buf_free(&px);
}
