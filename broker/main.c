/* isol8d: the privileged broker. See broker/broker.h for its job and man/isol8d.8 for usage. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <malloc.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker/audit.h"
#include "broker/broker.h"
#include "broker/users.h"
#include "common/cleanup.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/parse.h"
#include "common/proto.h"
#include "common/xalloc.h"
#include "docker/client.h"

struct broker *g_broker;

uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: isol8d [OPTIONS]\n"
		"The isol8 broker: the only process that talks to Docker; runs code for local and HTTP clients.\n\n"
		"  --socket PATH          listening socket (default /run/isol8/isol8d.sock)\n"
		"  --socket-group NAME    group owning the socket (default: isol8 if it exists)\n"
		"  --socket-mode MODE     octal mode of the socket (default 0660)\n"
		"  --policy FILE          policy file (default /etc/isol8/policy.json, else built-in)\n"
		"  --workers N            worker processes (default 2, max %d)\n"
		"  --user NAME            unprivileged account for workers (default isol8, else nobody)\n"
		"  --seccomp-profile FILE sandbox seccomp profile (default: the installed strict profile)\n"
		"  --worker-path FILE     isol8-worker binary (default: next to isol8d)\n"
		"  --proxy-path FILE      isol8-proxy binary (default: next to isol8d)\n"
		"  --proxy-hosts FILE     hosts file (\"ADDRESS NAME...\" lines) the network proxy consults\n"
		"                         before DNS (tests)\n"
		"  --grace-ms MS          shutdown grace period for running executions (default 10000)\n"
		"  --trust-key-uid UID    uid of the HTTP frontend allowed to act for API keys (root always is)\n"
		"  --max-concurrent N     executions running at once (default 10); more wait in a queue\n"
		"  --queue N              how many runs may wait (default 32); beyond it requests are refused\n"
		"  --no-agent             never use the in-sandbox agent; run every program with docker exec\n"
		"  --pool-strategy S      fast (default: reset and reuse sandboxes of a tenant) or secure\n"
		"                         (a fresh sandbox for every run)\n"
		"  --pool-size N|C,D      C: warm sandboxes kept per shape and worker; D: used sandboxes a\n"
		"                         worker may reset at once (more are removed); N = N,N (default 2,2;\n"
		"                         0 = no pool)\n"
		"  --config FILE          take maxConcurrent, poolStrategy and poolSize from an\n"
		"                         isol8.config.json file; options given here win\n"
		"  --prewarm LIST         start warm sandboxes at start for these runtimes (python,node,... or all)\n"
		"  --http ADDR:PORT       also serve the HTTP API (isol8 serve) as an unprivileged child\n"
		"  --http-keys FILE       API keys for --http (name:secret lines; read by isol8d as root)\n"
		"  --audit-log FILE       the audit log (default: the policy's audit.path, else\n"
		"                         " AUDIT_DEFAULT_PATH " for the default socket and\n"
		"                         SOCKET.audit.jsonl for others)\n"
		"  --pidfile FILE         write the daemon's pid\n"
		"  --foreground           do not detach\n"
		"  --log-json             log JSON lines\n"
		"  --debug                debug logging\n"
		"  --version              print the version\n",
		BROKER_MAX_WORKERS);
}

static char *find_sibling(const char *name)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		char *p;
		exe[n] = '\0';
		p = xasprintf("%s/%s", dirname(exe), name);
		if (access(p, X_OK) == 0)
			return p;
		free(p);
	}
	return xasprintf("%s/%s", ISOL8_LIBEXECDIR, name);
}

static char *read_text_file(const char *path, size_t max, struct isol8_err *err)
{
	struct isol8_buf b = ISOL8_BUF_INIT;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	char tmp[8192];

	if (fd < 0) {
		isol8_err_set(err, ISOL8_E_IO, errno, "open %s", path);
		return NULL;
	}
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof tmp);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			isol8_err_set(err, ISOL8_E_IO, errno, "read %s", path);
			isol8_buf_free(&b);
			return NULL;
		}
		if (n == 0)
			break;
		if (b.len + (size_t)n > max) {
			isol8_err_set(err, ISOL8_E_LIMIT, 0, "%s is larger than %zu bytes", path, max);
			isol8_buf_free(&b);
			return NULL;
		}
		isol8_buf_append(&b, tmp, (size_t)n);
	}
	return isol8_buf_steal(&b, NULL);
}

static char *find_seccomp(const char *explicit_path)
{
	static const char *const cands[] = {ISOL8_DATADIR "/seccomp-strict.json", ISOL8_SRCDIR "/policy/seccomp-strict.json"};
	if (explicit_path)
		return xstrdup(explicit_path);
	for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++)
		if (access(cands[i], R_OK) == 0)
			return xstrdup(cands[i]);
	return xstrdup(cands[0]);
}

static int resolve_user(struct broker *b, const char *name, const struct broker_users *u, struct isol8_err *err)
{
	if (!u->found)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "unknown worker user '%s'", name ? name : "nobody");
	if (u->uid == 0)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "workers must not run as root (user %s)",
				     name ? name : u->isol8_exists ? "isol8" : "nobody");
	b->worker_uid = u->uid;
	b->worker_gid = u->gid;
	return 0;
}

/* Flags given on the command line, which win over the config file. */
struct cli_set {
	bool max_concurrent, pool_size, pool_strategy;
};

/* --config: the isol8.config.json keys that concern the daemon. Only keys the file sets are
 * taken; the rest keep isol8d's defaults (the file's defaults are the CLI's, not ours). */
static int apply_config(struct broker_opts *o, const struct cli_set *set, struct isol8_err *err)
{
	struct isol8_config c;
	int r = -1;

	if (isol8_config_load(o->config_path, &c, err) < 0)
		goto out; /* "FILE: json.path: reason"; what was loaded is freed below */
	if (c.max_concurrent_set && !set->max_concurrent)
		o->max_concurrent = c.max_concurrent; /* the loader already bounds it to 1..1024 */
	if (c.pool_strategy_set && !set->pool_strategy)
		o->pool_secure = strcmp(c.pool_strategy, "secure") == 0;
	if (c.pool_size_set && !set->pool_size) {
		/* The schema allows up to 256; a worker keeps at most 6 idle sandboxes in all. */
		bool big_clean = c.pool_clean > BROKER_POOL_SIZE_MAX;
		if (big_clean || c.pool_dirty > BROKER_POOL_SIZE_MAX) {
			isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: %s: %u is more than isol8d supports (0..%d)",
				      o->config_path,
				      c.pool_size_single ? "poolSize" : big_clean ? "poolSize.clean" : "poolSize.dirty",
				      big_clean ? c.pool_clean : c.pool_dirty, BROKER_POOL_SIZE_MAX);
			goto out;
		}
		o->pool_size = c.pool_clean;
		o->pool_dirty = c.pool_dirty;
	}
	r = 0;
out:
	isol8_config_free(&c);
	return r;
}

static void write_pidfile(const char *path)
{
	FILE *f;
	if (!path)
		return;
	f = fopen(path, "we");
	if (!f)
		die("cannot write pidfile %s: %s", path, strerror(errno));
	fprintf(f, "%d\n", (int)getpid());
	fclose(f);
}

static void daemonize(void)
{
	pid_t pid = fork();
	int fd;
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid > 0)
		_exit(0);
	setsid();
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		close(fd);
	}
}

/* Expired ephemeral sandboxes: the worker's own timer should have removed them long ago. */
/* Tokens a worker never finished: dropped at their expiry, and the connections they stood for
 * no longer count against the worker's load. */
static void expire_tokens(struct broker *b, uint64_t now)
{
	unsigned gone[BROKER_MAX_WORKERS] = {0};

	if (!table_token_expire(now, gone, b->o.workers))
		return;
	for (unsigned i = 0; i < b->o.workers; i++)
		if (gone[i]) {
			log_warn("worker %u never finished %u connection(s): their tokens expired", i, gone[i]);
			b->w[i].load = b->w[i].load > gone[i] ? b->w[i].load - gone[i] : 0;
		}
}

static void enforce_deadlines(struct broker *b)
{
	char (*ids)[65] = NULL;
	size_t n = table_container_ids(UINT32_MAX, 0, true, now_ms(), &ids);
	if (n)
		log_warn("removing %zu sandbox(es) past their hard deadline", n);
	/* Forget them now so the next check does not start a second removal. */
	for (size_t i = 0; i < n; i++)
		table_container_del(ids[i]);
	broker_remove_containers_async(b, ids, n);
}

static void shutdown_broker(struct broker *b)
{
	uint64_t until = now_ms() + b->o.grace_ms;
	char (*ids)[65] = NULL;
	size_t n;

	b->stopping = true;
	log_info("shutting down: waiting up to %u ms for running executions", b->o.grace_ms);
	/* HTTP first: it stops taking requests and finishes its in-flight ones meanwhile. */
	broker_stop_http(b, false);
	xclose(b->listen_fd);
	b->listen_fd = -1;
	unlink(b->o.socket_path);
	b->http_listen_fd = xclose(b->http_listen_fd);
	if (b->http_socket)
		unlink(b->http_socket);
	for (unsigned i = 0; i < b->o.workers; i++)
		if (b->w[i].pid)
			broker_send_worker(b, i, BR_SHUTDOWN, 0, NULL, NULL, 0);
	/* Keep serving verbs while workers finish, so running executions can complete. */
	for (;;) {
		struct pollfd pf[BROKER_MAX_WORKERS];
		unsigned map[BROKER_MAX_WORKERS], np = 0, alive = 0;
		uint64_t now = now_ms();

		broker_reap_workers(b, now);
		for (unsigned i = 0; i < b->o.workers; i++) {
			if (b->w[i].pid)
				alive++;
			if (b->w[i].chan >= 0) {
				pf[np] = (struct pollfd){.fd = b->w[i].chan, .events = POLLIN};
				map[np++] = i;
			}
		}
		if (!alive || now >= until)
			break;
		if (poll(pf, np, 100) > 0)
			for (unsigned k = 0; k < np; k++)
				if (pf[k].revents)
					broker_worker_msg(b, map[k]);
	}
	for (unsigned i = 0; i < b->o.workers; i++)
		if (b->w[i].pid) {
			kill(b->w[i].pid, SIGKILL);
			waitpid(b->w[i].pid, NULL, 0);
		}
	/* Wait briefly for verb threads still talking to Docker. */
	for (int k = 0; k < 100 && __atomic_load_n(&b->inflight, __ATOMIC_SEQ_CST) > 0; k++)
		usleep(20000);
	n = table_container_ids(UINT32_MAX, 0, false, 0, &ids);
	if (n)
		log_info("removing %zu sandbox(es) created by this daemon", n);
	broker_remove_containers(b, ids, n);
	free(ids);
	broker_stop_http(b, true);
	broker_stop_proxy(b);
	audit_close();
	if (b->o.pidfile)
		unlink(b->o.pidfile);
	log_info("stopped");
}

int main(int argc, char **argv)
{
	static struct broker br;
	struct broker *b = &br;
	struct isol8_err err = ISOL8_ERR_INIT;
	struct broker_users users;
	_cleanup_free_ char *seccomp_path = NULL;
	bool debug = false, policy_explicit = false;
	struct cli_set set = {0};
	sigset_t mask;
	int sfd, c;
	uint64_t last_deadline_check = 0;
	enum { O_SOCKET = 256, O_GROUP, O_MODE, O_POLICY, O_WORKERS, O_USER, O_SECCOMP, O_WPATH, O_GRACE, O_PIDFILE,
	       O_FG, O_JSON, O_DEBUG, O_VERSION, O_HELP, O_TRUSTKEY, O_MAXC, O_QUEUE, O_PPATH, O_PHOSTS, O_NOAGENT, O_PSIZE, O_PSTRAT, O_PREWARM, O_HTTP, O_HTTPKEYS, O_CONFIG, O_AUDIT };
	static const struct option opts[] = {
		{"socket", required_argument, 0, O_SOCKET}, {"socket-group", required_argument, 0, O_GROUP},
		{"socket-mode", required_argument, 0, O_MODE}, {"policy", required_argument, 0, O_POLICY},
		{"workers", required_argument, 0, O_WORKERS}, {"user", required_argument, 0, O_USER},
		{"seccomp-profile", required_argument, 0, O_SECCOMP}, {"worker-path", required_argument, 0, O_WPATH},
		{"grace-ms", required_argument, 0, O_GRACE}, {"pidfile", required_argument, 0, O_PIDFILE},
		{"foreground", no_argument, 0, O_FG}, {"log-json", no_argument, 0, O_JSON},
		{"debug", no_argument, 0, O_DEBUG}, {"version", no_argument, 0, O_VERSION},
		{"help", no_argument, 0, O_HELP}, {"trust-key-uid", required_argument, 0, O_TRUSTKEY},
		{"max-concurrent", required_argument, 0, O_MAXC}, {"queue", required_argument, 0, O_QUEUE},
		{"no-agent", no_argument, 0, O_NOAGENT}, {"pool-size", required_argument, 0, O_PSIZE},
		{"pool-strategy", required_argument, 0, O_PSTRAT}, {"prewarm", required_argument, 0, O_PREWARM},
		{"http", required_argument, 0, O_HTTP}, {"http-keys", required_argument, 0, O_HTTPKEYS},
		{"proxy-path", required_argument, 0, O_PPATH}, {"proxy-hosts", required_argument, 0, O_PHOSTS},
		{"config", required_argument, 0, O_CONFIG}, {"audit-log", required_argument, 0, O_AUDIT},
		{0, 0, 0, 0}};

	/* Verb threads are short-lived and mostly wait on Docker; one arena for all of them costs no
	 * measurable contention, while glibc's default (up to 8 per core) left each idle arena holding
	 * ~100 KB: 0.7 MB more RSS at 16 concurrent runs. */
	mallopt(M_ARENA_MAX, 1);
	g_broker = b;
	/* Option errors name the daemon, not the CLI; set again once --debug/--log-json are known. */
	isol8_log_init("isol8d", ISOL8_LOG_INFO, false);
	b->o.socket_path = "/run/isol8/isol8d.sock";
	b->o.policy_path = ISOL8_SYSCONFDIR "/isol8/policy.json";
	if (access("/etc/isol8/policy.json", F_OK) == 0)
		b->o.policy_path = "/etc/isol8/policy.json";
	b->o.workers = 2;
	b->o.grace_ms = 10000;
	b->o.socket_mode = 0660;
	b->o.trust_key_uid = (uid_t)-1;
	b->o.max_concurrent = 10;
	b->o.pool_size = 2;
	b->o.pool_dirty = 2;
	b->o.queue_max = 32;
	b->listen_fd = -1;
	b->claim_fd = -1;
	b->http_listen_fd = -1;
	b->proxy_chan = -1;
	pthread_mutex_init(&b->proxy_lock, NULL);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end;
		unsigned long v;
		switch (c) {
		case O_SOCKET: b->o.socket_path = optarg; break;
		case O_GROUP: b->o.socket_group = optarg; break;
		case O_MODE:
			v = strtoul(optarg, &end, 8);
			if (*end || v > 0777 || (v & 0600) != 0600)
				die("invalid --socket-mode '%s' (octal, owner must have rw)", optarg);
			b->o.socket_mode = (mode_t)v;
			break;
		case O_POLICY: b->o.policy_path = optarg; policy_explicit = true; break;
		case O_WORKERS:
			v = strtoul(optarg, &end, 10);
			if (*end || v < 1 || v > BROKER_MAX_WORKERS)
				die("invalid --workers '%s' (1..%d)", optarg, BROKER_MAX_WORKERS);
			b->o.workers = (unsigned)v;
			break;
		case O_USER: b->o.user = optarg; break;
		case O_SECCOMP: b->o.seccomp_path = optarg; break;
		case O_WPATH: b->o.worker_path = optarg; break;
		case O_PPATH: b->o.proxy_path = optarg; break;
		case O_PHOSTS: b->o.proxy_hosts = optarg; break;
		case O_GRACE:
			v = strtoul(optarg, &end, 10);
			if (*end || v > 3600000)
				die("invalid --grace-ms '%s'", optarg);
			b->o.grace_ms = (unsigned)v;
			break;
		case O_PIDFILE: b->o.pidfile = optarg; break;
		case O_MAXC:
			v = strtoul(optarg, &end, 10);
			if (*end || v < 1 || v > 1024)
				die("invalid --max-concurrent '%s' (1..1024)", optarg);
			b->o.max_concurrent = (unsigned)v;
			set.max_concurrent = true;
			break;
		case O_QUEUE:
			v = strtoul(optarg, &end, 10);
			if (*end || v > BROKER_MAX_PENDING / 2)
				die("invalid --queue '%s' (0..%d)", optarg, BROKER_MAX_PENDING / 2);
			b->o.queue_max = (unsigned)v;
			break;
		case O_TRUSTKEY:
			v = strtoul(optarg, &end, 10);
			if (*end || !*optarg || v >= (unsigned long)(uid_t)-1)
				die("invalid --trust-key-uid '%s'", optarg);
			b->o.trust_key_uid = (uid_t)v;
			break;
		case O_FG: b->o.foreground = true; break;
		case O_NOAGENT: b->o.no_agent = true; break;
		case O_PSIZE: {
			uint32_t clean, dirty;
			if (isol8_parse_pool_size(optarg, BROKER_POOL_SIZE_MAX, &clean, &dirty, &err) < 0)
				die("--pool-size: %s", err.msg);
			b->o.pool_size = clean;
			b->o.pool_dirty = dirty;
			set.pool_size = true;
			break;
		}
		case O_CONFIG: b->o.config_path = optarg; break;
		case O_AUDIT: b->o.audit_log = optarg; break;
		case O_PREWARM: {
			_cleanup_free_ char *list = xstrdup(optarg);
			char *save = NULL;
			for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
				int rt = isol8_runtime_parse(t);
				if (strcmp(t, "all") == 0)
					b->o.prewarm_mask = (1u << ISOL8_RT__MAX) - 1;
				else if (rt < 0)
					die("invalid --prewarm runtime '%s' (python, node, bun, deno, bash or all)", t);
				else
					b->o.prewarm_mask |= 1u << rt;
			}
			break;
		}
		case O_HTTP: b->o.http = optarg; break;
		case O_HTTPKEYS: b->o.http_keys = optarg; break;
		case O_PSTRAT:
			if (strcmp(optarg, "fast") == 0)
				b->o.pool_secure = false;
			else if (strcmp(optarg, "secure") == 0)
				b->o.pool_secure = true;
			else
				die("invalid --pool-strategy '%s' (fast or secure)", optarg);
			set.pool_strategy = true;
			break;
		case O_JSON: b->o.log_json = true; break;
		case O_DEBUG: debug = true; break;
		case O_VERSION: printf("isol8d %s\n", PACKAGE_VERSION); return 0;
		case O_HELP: usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "isol8d: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	isol8_log_init("isol8d", debug ? ISOL8_LOG_DEBUG : ISOL8_LOG_INFO, b->o.log_json);
	if (b->o.config_path) {
		if (apply_config(&b->o, &set, &err) < 0)
			die("%s", err.msg);
		log_info("config %s: maxConcurrent %u, poolStrategy %s, poolSize clean %u dirty %u", b->o.config_path,
			 b->o.max_concurrent, b->o.pool_secure ? "secure" : "fast", b->o.pool_size, b->o.pool_dirty);
	}
	if (geteuid() != 0)
		log_warn("not running as root: workers cannot drop privileges and will fail to start");

	if (broker_lookup_users(b->o.user, &users, &err) < 0)
		die("%s", err.msg);
	if (!b->o.socket_group && users.isol8_exists)
		b->o.socket_group = "isol8";
	if (resolve_user(b, b->o.user, &users, &err) < 0)
		die("%s", err.msg);
	if (!b->o.worker_path)
		b->o.worker_path = find_sibling("isol8-worker");
	if (b->o.http) {
		if (!b->o.http_keys)
			die("--http needs --http-keys FILE (name:secret lines)");
		if (access(b->o.http_keys, R_OK) < 0)
			die("--http-keys %s: %s", b->o.http_keys, strerror(errno));
		b->o.http_path = find_sibling("isol8-full");
	}
	if (access(b->o.worker_path, X_OK) < 0)
		die("worker binary %s: %s", b->o.worker_path, strerror(errno));
	if (!b->o.proxy_path)
		b->o.proxy_path = find_sibling("isol8-proxy");
	if (access(b->o.proxy_path, X_OK) < 0)
		die("proxy binary %s: %s", b->o.proxy_path, strerror(errno));
	if (b->o.proxy_hosts && access(b->o.proxy_hosts, R_OK) < 0)
		die("proxy hosts file %s: %s", b->o.proxy_hosts, strerror(errno));

	if (!policy_explicit && access(b->o.policy_path, F_OK) < 0) {
		isol8_policy_builtin(&b->policy);
	} else if (isol8_policy_load_file(b->o.policy_path, &b->policy, &err) < 0) {
		die("%s", err.msg);
	}
	log_info("policy: %s (%zu tenants)", b->policy.source ? b->policy.source : "built-in", b->policy.n_tenants);
	broker_split_workers(b);

	seccomp_path = find_seccomp(b->o.seccomp_path);
	b->seccomp_json = read_text_file(seccomp_path, 1 << 20, &err);
	if (!b->seccomp_json)
		die("sandbox seccomp profile: %s (refusing to run sandboxes without it)", err.msg);
	b->instance = xstrdup(b->o.socket_path);

	{
		struct docker *d = docker_open(NULL, &err);
		if (!d || docker_ping(d, &err) < 0)
			die("%s", err.msg);
		docker_close(d);
	}
	/* Claim the socket first: the orphan cleanup removes every container of this instance. */
	if (broker_claim_socket(b->o.socket_path, b->o.socket_group, b->o.socket_mode, &b->claim_fd, &err) < 0)
		die("%s", err.msg);
	if (broker_remove_orphans(b, &err) < 0)
		log_warn("orphan cleanup: %s", err.msg);
	if (audit_open(b, audit_path(b), &err) < 0)
		die("%s", err.msg);

	if (broker_listen(b->o.socket_path, b->o.socket_group, b->o.socket_mode, &b->listen_fd, &err) < 0)
		die("%s", err.msg);
	if (!b->o.foreground)
		daemonize();
	write_pidfile(b->o.pidfile);

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		die("signalfd: %s", strerror(errno));

	if (broker_spawn_proxy(b, &err) < 0)
		die("%s", err.msg);
	for (unsigned i = 0; i < b->o.workers; i++) {
		pthread_mutex_init(&b->w[i].send_lock, NULL);
		b->w[i].chan = -1;
		if (broker_spawn_worker(b, i, &err) < 0)
			die("%s", err.msg);
	}
	log_info("listening on %s (pid %d, %u workers)", b->o.socket_path, (int)getpid(), b->o.workers);
	if (b->o.http && (broker_http_listen(b, &err) < 0 || broker_spawn_http(b, &err) < 0))
		die("%s", err.msg);

	for (;;) {
		struct pollfd pf[3 + BROKER_MAX_WORKERS + BROKER_MAX_PENDING];
		int kind[3 + BROKER_MAX_WORKERS + BROKER_MAX_PENDING];
		int pfds[BROKER_MAX_PENDING];
		unsigned np = 0;
		int npend, r;
		uint64_t now;

		pf[np] = (struct pollfd){.fd = sfd, .events = POLLIN};
		kind[np++] = -1;
		pf[np] = (struct pollfd){.fd = b->listen_fd, .events = POLLIN};
		kind[np++] = -2;
		if (b->http_listen_fd >= 0) {
			pf[np] = (struct pollfd){.fd = b->http_listen_fd, .events = POLLIN};
			kind[np++] = -4;
		}
		for (unsigned i = 0; i < b->o.workers; i++)
			if (b->w[i].chan >= 0) {
				pf[np] = (struct pollfd){.fd = b->w[i].chan, .events = POLLIN};
				kind[np++] = (int)i;
			}
		npend = broker_pending_fds(pfds, BROKER_MAX_PENDING);
		for (int i = 0; i < npend; i++) {
			pf[np] = (struct pollfd){.fd = pfds[i], .events = POLLIN};
			kind[np++] = -3;
		}
		r = poll(pf, np, 500);
		if (r < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		now = now_ms();
		for (unsigned k = 0; r > 0 && k < np; k++) {
			if (!pf[k].revents)
				continue;
			if (kind[k] == -1) {
				struct signalfd_siginfo si;
				while (read(sfd, &si, sizeof si) == sizeof si) {
					if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
						shutdown_broker(b);
						return 0;
					}
				}
			} else if (kind[k] == -2) {
				broker_accept(b, b->listen_fd);
			} else if (kind[k] == -4) {
				broker_accept(b, b->http_listen_fd);
			} else if (kind[k] == -3) {
				broker_pending_ready(b, pf[k].fd);
			} else {
				broker_worker_msg(b, (unsigned)kind[k]);
			}
		}
		broker_reap_workers(b, now);
		broker_pending_expire(b, now);
		broker_run_queue(b);
		if (now - last_deadline_check >= 1000) {
			last_deadline_check = now;
			enforce_deadlines(b);
			expire_tokens(b, now);
		}
	}
}
