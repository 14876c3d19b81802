/* isol8d: the privileged broker. See broker/broker.h for its job and man/isol8d.8 for usage. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker/audit.h"
#include "broker/broker.h"
#include "broker/supervise.h"
#include "broker/options.h"
#include "broker/users.h"
#include "common/buildtree.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/xalloc.h"
#include "docker/client.h"

struct broker *g_broker;

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
	_cleanup_free_ char *tree = isol8_build_tree_path("policy/seccomp-strict.json");
	const char *installed = ISOL8_DATADIR "/seccomp-strict.json";

	if (explicit_path)
		return xstrdup(explicit_path);
	/* A build tree only when told where it is ($ISOL8_SRCDIR) and nothing is installed. */
	if (access(installed, R_OK) != 0 && tree && access(tree, R_OK) == 0)
		return steal_ptr(&tree);
	return xstrdup(installed);
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

static void shutdown_broker(struct broker *b)
{
	uint64_t until = clock_mono_ms() + b->o.grace_ms;
	char(*ids)[65] = NULL;
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
		if (supervise_pid(SV_WORKER, i))
			broker_send_worker(b, i, BR_SHUTDOWN, 0, NULL, NULL, 0);
	/* Keep serving verbs while workers finish, so running executions can complete. */
	for (;;) {
		struct pollfd pf[BROKER_MAX_WORKERS];
		unsigned map[BROKER_MAX_WORKERS], np = 0, alive = 0;
		uint64_t now = clock_mono_ms();

		supervise_reap(now, true);
		for (unsigned i = 0; i < b->o.workers; i++) {
			if (supervise_pid(SV_WORKER, i))
				alive++;
			if (b->w[i].chan >= 0) {
				pf[np] = (struct pollfd){.fd = b->w[i].chan,
							 .events = POLLIN |
								 (broker_worker_wants_out(b, i) ? POLLOUT : 0)};
				map[np++] = i;
			}
		}
		if (!alive || now >= until)
			break;
		if (poll(pf, np, 100) > 0)
			for (unsigned k = 0; k < np; k++) {
				if (pf[k].revents & POLLOUT)
					broker_worker_flush(b, map[k]);
				if (pf[k].revents & ~POLLOUT)
					broker_worker_msg(b, map[k]);
			}
		broker_watch_workers(b, clock_mono_ms());
	}
	supervise_stop(SV_WORKER, SIGKILL, 0);
	/* Wait for verb threads still talking to Docker: a create that is still in flight records
	 * its container after this, and a loaded engine takes seconds (up to 10 s here; the unit
	 * allows 30). Then remove what the table holds, twice in case one was late anyway. */
	for (int k = 0; k < 500 && __atomic_load_n(&b->inflight, __ATOMIC_SEQ_CST) > 0; k++)
		usleep(20000);
	for (int pass = 0; pass < 2; pass++) {
		n = table_container_ids(UINT32_MAX, 0, false, 0, &ids);
		if (n)
			log_info("removing %zu sandbox(es) created by this daemon", n);
		broker_remove_containers(b, ids, n);
		free(ids);
		ids = NULL;
	}
	broker_stop_http(b, true);
	broker_stop_proxy(b);
	keys_pg_stop();
	supervise_stop_all(1000); /* fetches still running: SIGTERM, SIGKILL after 1 s */
	proxyns_fini(b);
	audit_close();
	if (b->o.pidfile)
		unlink(b->o.pidfile);
	log_info("stopped");
}

static int resolve_user(struct broker *b, const char *name, const struct broker_users *u, struct isol8_err *err)
{
	const char *shown = name ? name : BROKER_UNPRIV_USER;

	if (!u->found)
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     name ? "unknown worker user '%s'"
					  : "the worker account '%s' does not exist: install isol8's sysusers.d entry "
					    "(systemd-sysusers isol8.conf) or start isol8d as root without "
					    "--no-create-accounts",
				     shown);
	if (u->uid == 0 || u->gid == 0)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "workers must not run as root (user %s)", shown);
	b->worker_uid = u->uid;
	b->worker_gid = u->gid;
	return 0;
}

/* The client group and the worker account: from sysusers.d under systemd, created here
 * otherwise (a package's postinst or `make install` may not have run systemd-sysusers). */
static void setup_accounts(struct broker *b)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct broker_users users;

	if (broker_lookup_users(b->o.user, &users, &err) < 0)
		die("%s", err.msg);
	if ((!users.group_exists || (!b->o.user && !users.found)) && !b->o.no_create_accounts && geteuid() == 0) {
		struct broker_users want = users;
		want.found = b->o.user ? true : users.found; /* never create an account named by --user */
		if (broker_create_accounts(&want, &err) < 0)
			die("%s", err.msg);
		if (broker_lookup_users(b->o.user, &users, &err) < 0)
			die("%s", err.msg);
	}
	if (!b->o.socket_group && users.group_exists)
		b->o.socket_group = BROKER_CLIENT_GROUP;
	if (resolve_user(b, b->o.user, &users, &err) < 0)
		die("%s", err.msg);
}

/* The key store: --keys-db, else --keys-db-file's first line, else $ISOL8_KEYS_DB (removed
 * from the environment, which every child inherits). A postgresql:// URL selects the
 * PostgreSQL store; anything else is the SQLite file. */
static void keys_db_config(struct broker *b)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	const char *env = getenv("ISOL8_KEYS_DB");
	char *v = NULL;

	if (b->o.keys_db && b->o.keys_db_file)
		die("--keys-db and --keys-db-file: give one of them");
	if (b->o.keys_db_file) {
		v = read_text_file(b->o.keys_db_file, 4096, &err);
		if (!v)
			die("--keys-db-file: %s", err.msg);
		v[strcspn(v, "\r\n")] = '\0';
		if (!*v)
			die("--keys-db-file %s: empty (one line: a postgresql:// URL or a file name)",
			    b->o.keys_db_file);
	} else if (b->o.keys_db) {
		v = xstrdup(b->o.keys_db);
	} else if (env && *env) {
		v = xstrdup(env);
	}
	if (env) {
		explicit_bzero((char *)env, strlen(env));
		unsetenv("ISOL8_KEYS_DB");
	}
	if (!v)
		return;
	if (!keys_is_pg_url(v)) {
		b->o.keys_db = v;
		return;
	}
#ifndef ISOL8_PGKEYS
	die("--keys-db: a PostgreSQL key store needs isol8-keystore, and this isol8d was built without libpq "
	    "(apt-get install libpq-dev, then configure again)");
#endif
	if (strlen(v) > 4096)
		die("--keys-db: the connection string is longer than 4096 bytes");
	b->o.keys_conninfo = v;
	b->o.keys_db = NULL;
	if (!b->o.keystore_path)
		b->o.keystore_path = find_sibling("isol8-keystore");
	if (access(b->o.keystore_path, X_OK) < 0)
		die("key store client %s: %s", b->o.keystore_path, strerror(errno));
}

/* Binaries and files isol8d starts or reads: checked now so a typo fails at start. */
static void check_paths(struct broker *b)
{
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
	if (!b->o.fetch_path)
		b->o.fetch_path = find_sibling("isol8-fetch");
	if (access(b->o.fetch_path, X_OK) < 0)
		log_warn("remote-code fetcher %s: %s: runs from a URL will fail", b->o.fetch_path, strerror(errno));
	if (b->o.fetch_hosts && access(b->o.fetch_hosts, R_OK) < 0)
		die("fetch hosts file %s: %s", b->o.fetch_hosts, strerror(errno));
}

static int block_signals(void)
{
	sigset_t mask;
	int sfd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGUSR2);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		die("signalfd: %s", strerror(errno));
	return sfd;
}

static void start(struct broker *b)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	_cleanup_free_ char *seccomp_path = NULL;

	if (broker_policy_load(b, &err) < 0)
		die("%s", err.msg);
	broker_split_workers(b);

	seccomp_path = find_seccomp(b->o.seccomp_path);
	b->seccomp_json = read_text_file(seccomp_path, 1 << 20, &err);
	if (!b->seccomp_json)
		die("sandbox seccomp profile: %s (refusing to run sandboxes without it)", err.msg);
	b->seccomp_runsc_json = seccomp_profile_for_runsc(b->seccomp_json, &err);
	if (!b->seccomp_runsc_json)
		die("sandbox seccomp profile %s: %s (refusing to run sandboxes without it)", seccomp_path, err.msg);
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
}

_Static_assert(BROKER_MAX_WORKERS + 3 + BROKER_MAX_FETCHES <= SUPERVISE_MAX,
	       "the supervisor's table holds every worker, the proxy, the http child, the keystore and each fetch");

static void spawn_children(struct broker *b)
{
	static const struct supervise_ops *const ops[SV__KINDS] = {
		[SV_WORKER] = &broker_worker_ops, [SV_PROXY] = &broker_proxy_ops,       [SV_HTTP] = &broker_http_ops,
		[SV_FETCH] = &broker_fetch_ops,   [SV_KEYSTORE] = &broker_keystore_ops,
	};
	struct isol8_err err = ISOL8_ERR_INIT;

	supervise_init(ops, b);
	if (proxyns_init(b, &err) < 0)
		die("%s", err.msg);
	if (supervise_spawn(SV_PROXY, 0, &err) < 0) {
		proxyns_fini(b);
		die("%s", err.msg);
	}
	for (unsigned i = 0; i < b->o.workers; i++) {
		pthread_mutex_init(&b->w[i].send_lock, NULL);
		b->w[i].chan = -1;
		if (supervise_spawn(SV_WORKER, i, &err) < 0)
			die("%s", err.msg);
	}
	log_info("listening on %s (pid %d, %u workers, socket group %s)", b->o.socket_path, (int)getpid(), b->o.workers,
		 b->o.socket_group ? b->o.socket_group : "root");
	if (keys_pg_enabled(b) && supervise_spawn(SV_KEYSTORE, 0, &err) < 0)
		die("%s", err.msg);
	if (b->o.http && (broker_http_listen(b, &err) < 0 || supervise_spawn(SV_HTTP, 0, &err) < 0))
		die("%s", err.msg);
}

int main(int argc, char **argv)
{
	static struct broker br;
	struct broker *b = &br;
	struct isol8_err err = ISOL8_ERR_INIT;
	int sfd, r;

	/* Verb threads are short-lived and mostly wait on Docker; one arena for all of them costs no
	 * measurable contention, while glibc's default (up to 8 per core) left each idle arena holding
	 * ~100 KB: 0.7 MB more RSS at 16 concurrent runs. */
	mallopt(M_ARENA_MAX, 1);
	g_broker = b;
	b->started_at = time(NULL);
	/* Option errors name the daemon, not the CLI; set again once --debug/--log-json are known. */
	isol8_log_init("isol8d", ISOL8_LOG_INFO, false);
	broker_options_defaults(&b->o);
	b->listen_fd = -1;
	b->claim_fd = -1;
	b->http_listen_fd = -1;
	b->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->wake_fd < 0)
		die("eventfd: %s", strerror(errno));
	b->proxy_chan = -1;
	pthread_mutex_init(&b->proxy_lock, NULL);
	broker_policy_lock_init(b);
	r = broker_options_parse(argc, argv, &b->o, &err);
	if (r != 0) {
		if (r < 0)
			log_error("%s", err.msg);
		return r < 0 ? 2 : 0;
	}
	isol8_log_init("isol8d", b->o.log_level, b->o.log_json);
	if (b->o.check_policy)
		return broker_check_policy(&b->o);
	if (b->o.config_path) {
		if (broker_options_apply_config(&b->o, &err) < 0)
			die("%s", err.msg);
		log_info("config %s: maxConcurrent %u, poolStrategy %s, poolSize clean %u dirty %u", b->o.config_path,
			 b->o.max_concurrent, b->o.pool_secure ? "secure" : "fast", b->o.pool_size, b->o.pool_dirty);
	}
	/* From here on isol8d is a daemon: its lines need a time (the journal adds its own). */
	if (!b->o.log_json && !broker_log_to_journal())
		isol8_log_set_timestamps(true);
	if (geteuid() != 0)
		log_warn("not running as root: workers cannot drop privileges and will fail to start");

	setup_accounts(b);
	check_paths(b);
	keys_db_config(b);
	start(b);
	if (!b->o.foreground)
		daemonize();
	write_pidfile(b->o.pidfile);
	sfd = block_signals();
	spawn_children(b);
	broker_notify_ready(b);
	r = broker_loop(b, sfd);
	broker_notify_stopping();
	shutdown_broker(b);
	return r < 0 ? 1 : 0;
}
