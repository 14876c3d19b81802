/* isol8d's command line and the isol8.config.json keys it takes (--config). Nothing here acts:
 * it fills struct broker_opts, and main() checks files and accounts afterwards. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/audit.h"
#include "broker/broker.h"
#include "broker/options.h"
#include "common/cleanup.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/parse.h"
#include "common/suggest.h"
#include "common/xalloc.h"

enum {
	O_SOCKET = 256,
	O_GROUP,
	O_MODE,
	O_POLICY,
	O_WORKERS,
	O_USER,
	O_SECCOMP,
	O_WPATH,
	O_GRACE,
	O_PIDFILE,
	O_FG,
	O_JSON,
	O_DEBUG,
	O_VERSION,
	O_HELP,
	O_TRUSTKEY,
	O_MAXC,
	O_QUEUE,
	O_PPATH,
	O_PHOSTS,
	O_PSUBNET,
	O_PHOSTNS,
	O_FPATH,
	O_FHOSTS,
	O_NOAGENT,
	O_PSIZE,
	O_PSTRAT,
	O_PREWARM,
	O_HTTP,
	O_HTTPKEYS,
	O_CONFIG,
	O_CHECK,
	O_NOACCOUNTS,
	O_AUDIT,
	O_KEYSDB,
	O_KEYSDBFILE,
	O_KSPATH,
	O_NODEID,
};

static const struct option opts[] = {{"socket", required_argument, 0, O_SOCKET},
				     {"socket-group", required_argument, 0, O_GROUP},
				     {"socket-mode", required_argument, 0, O_MODE},
				     {"policy", required_argument, 0, O_POLICY},
				     {"workers", required_argument, 0, O_WORKERS},
				     {"user", required_argument, 0, O_USER},
				     {"seccomp-profile", required_argument, 0, O_SECCOMP},
				     {"worker-path", required_argument, 0, O_WPATH},
				     {"grace-ms", required_argument, 0, O_GRACE},
				     {"pidfile", required_argument, 0, O_PIDFILE},
				     {"foreground", no_argument, 0, O_FG},
				     {"log-json", no_argument, 0, O_JSON},
				     {"debug", no_argument, 0, O_DEBUG},
				     {"version", no_argument, 0, O_VERSION},
				     {"help", no_argument, 0, O_HELP},
				     {"trust-key-uid", required_argument, 0, O_TRUSTKEY},
				     {"max-concurrent", required_argument, 0, O_MAXC},
				     {"queue", required_argument, 0, O_QUEUE},
				     {"no-agent", no_argument, 0, O_NOAGENT},
				     {"pool-size", required_argument, 0, O_PSIZE},
				     {"pool-strategy", required_argument, 0, O_PSTRAT},
				     {"prewarm", required_argument, 0, O_PREWARM},
				     {"http", required_argument, 0, O_HTTP},
				     {"http-keys", required_argument, 0, O_HTTPKEYS},
				     {"proxy-path", required_argument, 0, O_PPATH},
				     {"proxy-hosts", required_argument, 0, O_PHOSTS},
				     {"proxy-subnet", required_argument, 0, O_PSUBNET},
				     {"proxy-in-host-netns", no_argument, 0, O_PHOSTNS},
				     {"fetch-path", required_argument, 0, O_FPATH},
				     {"fetch-hosts", required_argument, 0, O_FHOSTS},
				     {"config", required_argument, 0, O_CONFIG},
				     {"check-policy", no_argument, 0, O_CHECK},
				     {"no-create-accounts", no_argument, 0, O_NOACCOUNTS},
				     {"audit-log", required_argument, 0, O_AUDIT},
				     {"keys-db", required_argument, 0, O_KEYSDB},
				     {"keys-db-file", required_argument, 0, O_KEYSDBFILE},
				     {"keystore-path", required_argument, 0, O_KSPATH},
				     {"node-id", required_argument, 0, O_NODEID},
				     {0, 0, 0, 0}};

void broker_usage(FILE *f)
{
	fprintf(f,
		"Usage: isol8d [OPTIONS]\n"
		"       isol8d --check-policy [FILE] [--http-keys FILE]\n"
		"The isol8 broker: the only process that talks to Docker; runs code for local and HTTP clients.\n\n"
		"  --socket PATH          listening socket (default /run/isol8/isol8d.sock)\n"
		"  --socket-group NAME    group owning the socket (default: " BROKER_CLIENT_GROUP ")\n"
		"  --socket-mode MODE     octal mode of the socket (default 0660)\n"
		"  --policy FILE          policy file (default /etc/isol8/policy.json, else built-in)\n"
		"  --check-policy [FILE]  check the policy (and --http-keys FILE) and exit: 0 valid, 1 not\n"
		"  --workers N            worker processes (default 2, max %d)\n"
		"  --user NAME            unprivileged account for workers, the proxy and the HTTP child\n"
		"                         (default " BROKER_UNPRIV_USER ")\n"
		"  --no-create-accounts   do not create the " BROKER_CLIENT_GROUP " group and the " BROKER_UNPRIV_USER
		" account\n"
		"                         when they are missing (systemd-sysusers normally does it)\n"
		"  --seccomp-profile FILE sandbox seccomp profile (default: the installed strict profile)\n"
		"  --worker-path FILE     isol8-worker binary (default: next to isol8d)\n"
		"  --proxy-path FILE      isol8-proxy binary (default: next to isol8d)\n"
		"  --proxy-hosts FILE     hosts file (\"ADDRESS NAME...\" lines) the network proxy consults\n"
		"                         before DNS (tests)\n"
		"  --proxy-subnet CIDR    IPv4 network for the proxy's own namespace, a /30 per daemon\n"
		"                         (default 10.254.254.0/24)\n"
		"  --proxy-in-host-netns  run the proxy in the host's network namespace (hosts without\n"
		"                         iptables or veth; the host's own services are then local to it)\n"
		"  --fetch-path FILE      isol8-fetch binary, the remote-code fetcher (default: next to isol8d)\n"
		"  --fetch-hosts FILE     hosts file the remote-code fetcher consults before DNS; a name listed\n"
		"                         again answers its next lookup with the next line (tests)\n"
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
		"  --keys-db FILE|URL     the API key store (isol8 keys; default /var/lib/isol8/keys.db for\n"
		"                         the default socket, SOCKET.keys.db for others); a postgresql://\n"
		"                         URL: a PostgreSQL store shared by several nodes (isol8-keystore)\n"
		"  --keys-db-file FILE    read --keys-db from FILE (a URL with a password stays out of\n"
		"                         /proc/*/cmdline; so does the environment's ISOL8_KEYS_DB)\n"
		"  --keystore-path FILE   isol8-keystore binary (default: next to isol8d)\n"
		"  --node-id ID           this node's name in audit records and, with --http, X-Isol8-Node\n"
		"                         (default: the host name up to its first dot)\n"
		"  --pidfile FILE         write the daemon's pid\n"
		"  --foreground           do not detach\n"
		"  --log-json             log JSON lines\n"
		"  --debug                debug logging\n"
		"  --version              print the version\n"
		"SIGHUP (systemctl reload isol8d) re-reads the policy and the --http-keys file.\n",
		BROKER_MAX_WORKERS);
}

void broker_options_defaults(struct broker_opts *o)
{
	memset(o, 0, sizeof *o);
	o->socket_path = "/run/isol8/isol8d.sock";
	o->proxy_subnet = "10.254.254.0/24";
	o->policy_path = ISOL8_SYSCONFDIR "/isol8/policy.json";
	if (access("/etc/isol8/policy.json", F_OK) == 0)
		o->policy_path = "/etc/isol8/policy.json";
	o->workers = 2;
	o->grace_ms = 10000;
	o->socket_mode = 0660;
	o->trust_key_uid = (uid_t)-1;
	o->max_concurrent = 10;
	o->pool_size = 2;
	o->pool_dirty = 2;
	o->queue_max = 32;
	o->log_level = ISOL8_LOG_INFO;
}

/* getopt_long takes any unambiguous prefix: "--pol" would silently mean --policy, and a future
 * option starting the same way would change what an existing unit file means. Every long
 * option must be spelled in full; a misspelt one gets the nearest real name. */
static int refuse_abbreviations(int argc, char **argv, struct isol8_err *err)
{
	const char *names[sizeof opts / sizeof opts[0]];
	size_t n = 0;

	for (const struct option *p = opts; p->name; p++)
		names[n++] = p->name;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *eq;
		char name[64];
		const struct option *hit = NULL;
		const char *sugg;

		if (strcmp(a, "--") == 0)
			break;
		if (strncmp(a, "--", 2) != 0)
			continue;
		eq = strchr(a + 2, '=');
		snprintf(name, sizeof name, "%.*s", (int)(eq ? (size_t)(eq - a - 2) : strlen(a + 2)), a + 2);
		for (const struct option *p = opts; p->name; p++)
			if (strcmp(p->name, name) == 0)
				hit = p;
		if (hit) {
			if (hit->has_arg == required_argument && !eq)
				i++;
			continue;
		}
		sugg = isol8_suggest(name, names, n);
		if (sugg)
			return isol8_err_set(err, ISOL8_E_USAGE, 0,
					     "unknown option '--%s' (did you mean --%s?); see isol8d --help", name,
					     sugg);
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "unknown option '--%s'; see isol8d --help", name);
	}
	return 0;
}

static int bad(struct isol8_err *err, const char *opt, const char *val, const char *want)
{
	return isol8_err_set(err, ISOL8_E_USAGE, 0, "invalid %s '%s' (%s)", opt, val, want);
}

int broker_options_parse(int argc, char **argv, struct broker_opts *o, struct isol8_err *err)
{
	int c;

	if (refuse_abbreviations(argc, argv, err) < 0)
		return -1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		char *end;
		unsigned long v;
		switch (c) {
		case O_SOCKET:
			o->socket_path = optarg;
			break;
		case O_GROUP:
			o->socket_group = optarg;
			break;
		case O_MODE:
			v = strtoul(optarg, &end, 8);
			if (!*optarg || *end || v > 0777 || (v & 0600) != 0600)
				return bad(err, "--socket-mode", optarg, "octal, owner must have rw");
			o->socket_mode = (mode_t)v;
			break;
		case O_POLICY:
			o->policy_path = optarg;
			o->policy_explicit = true;
			break;
		case O_WORKERS:
			v = strtoul(optarg, &end, 10);
			if (!*optarg || *end || v < 1 || v > BROKER_MAX_WORKERS)
				return isol8_err_set(err, ISOL8_E_USAGE, 0, "invalid --workers '%s' (1..%d)", optarg,
						     BROKER_MAX_WORKERS);
			o->workers = (unsigned)v;
			break;
		case O_USER:
			o->user = optarg;
			break;
		case O_SECCOMP:
			o->seccomp_path = optarg;
			break;
		case O_WPATH:
			o->worker_path = optarg;
			break;
		case O_PPATH:
			o->proxy_path = optarg;
			break;
		case O_PHOSTS:
			o->proxy_hosts = optarg;
			break;
		case O_PSUBNET:
			o->proxy_subnet = optarg;
			break;
		case O_PHOSTNS:
			o->proxy_host_netns = true;
			break;
		case O_FPATH:
			o->fetch_path = optarg;
			break;
		case O_FHOSTS:
			o->fetch_hosts = optarg;
			break;
		case O_GRACE:
			v = strtoul(optarg, &end, 10);
			if (!*optarg || *end || v > 3600000)
				return bad(err, "--grace-ms", optarg, "0..3600000");
			o->grace_ms = (unsigned)v;
			break;
		case O_PIDFILE:
			o->pidfile = optarg;
			break;
		case O_MAXC:
			v = strtoul(optarg, &end, 10);
			if (!*optarg || *end || v < 1 || v > 1024)
				return bad(err, "--max-concurrent", optarg, "1..1024");
			o->max_concurrent = (unsigned)v;
			o->set_max_concurrent = true;
			break;
		case O_QUEUE:
			v = strtoul(optarg, &end, 10);
			if (!*optarg || *end || v > BROKER_MAX_PENDING / 2)
				return isol8_err_set(err, ISOL8_E_USAGE, 0, "invalid --queue '%s' (0..%d)", optarg,
						     BROKER_MAX_PENDING / 2);
			o->queue_max = (unsigned)v;
			break;
		case O_TRUSTKEY:
			v = strtoul(optarg, &end, 10);
			if (*end || !*optarg || v >= (unsigned long)(uid_t)-1)
				return bad(err, "--trust-key-uid", optarg, "a uid");
			o->trust_key_uid = (uid_t)v;
			break;
		case O_FG:
			o->foreground = true;
			break;
		case O_NOAGENT:
			o->no_agent = true;
			break;
		case O_PSIZE: {
			uint32_t clean, dirty;
			if (isol8_parse_pool_size(optarg, BROKER_POOL_SIZE_MAX, &clean, &dirty, err) < 0)
				return isol8_err_wrap(err, "--pool-size");
			o->pool_size = clean;
			o->pool_dirty = dirty;
			o->set_pool_size = true;
			break;
		}
		case O_CONFIG:
			o->config_path = optarg;
			break;
		case O_AUDIT:
			o->audit_log = optarg;
			break;
		case O_KEYSDB:
			o->keys_db = optarg;
			break;
		case O_KEYSDBFILE:
			o->keys_db_file = optarg;
			break;
		case O_KSPATH:
			o->keystore_path = optarg;
			break;
		case O_NODEID:
			if (!isol8_valid_session_name(optarg))
				return isol8_err_set(err, ISOL8_E_USAGE, 0,
						     "--node-id '%.80s': use 1-64 of [A-Za-z0-9_.-]", optarg);
			o->node_id = optarg;
			break;
		case O_PREWARM: {
			_cleanup_free_ char *list = xstrdup(optarg);
			char *save = NULL;
			for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
				int rt = isol8_runtime_parse(t);
				/* A prewarmed sandbox has no network; an agent's always has the proxy. */
				if (strcmp(t, "all") == 0)
					o->prewarm_mask = ((1u << ISOL8_RT__MAX) - 1) & ~(1u << ISOL8_RT_AGENT);
				else if (rt < 0 || rt == ISOL8_RT_AGENT)
					return isol8_err_set(
						err, ISOL8_E_USAGE, 0,
						"invalid --prewarm runtime '%s' (python, node, bun, deno, bash or all; "
						"the "
						"agent's sandboxes need the network and are not prewarmed)",
						t);
				else
					o->prewarm_mask |= 1u << rt;
			}
			break;
		}
		case O_HTTP:
#ifndef ISOL8_HTTP
			return isol8_err_set(err, ISOL8_E_USAGE, 0,
					     "--http: this isol8 was built without HTTP (configure --disable-http)");
#endif
			o->http = optarg;
			break;
		case O_HTTPKEYS:
			o->http_keys = optarg;
			break;
		case O_PSTRAT:
			if (strcmp(optarg, "fast") == 0)
				o->pool_secure = false;
			else if (strcmp(optarg, "secure") == 0)
				o->pool_secure = true;
			else
				return bad(err, "--pool-strategy", optarg, "fast or secure");
			o->set_pool_strategy = true;
			break;
		case O_CHECK:
			o->check_policy = true;
			break;
		case O_NOACCOUNTS:
			o->no_create_accounts = true;
			break;
		case O_JSON:
			o->log_json = true;
			break;
		case O_DEBUG:
			o->log_level = ISOL8_LOG_DEBUG;
			break;
		case O_VERSION:
			printf("isol8d %s\n", PACKAGE_VERSION);
			return 1;
		case O_HELP:
			broker_usage(stdout);
			return 1;
		case ':':
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "option '%s' needs a value; see isol8d --help",
					     argv[optind - 1]);
		default:
			if (optopt > 0 && optopt < 256)
				return isol8_err_set(err, ISOL8_E_USAGE, 0, "unknown option '-%c'; see isol8d --help",
						     optopt);
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "option '%s' %s; see isol8d --help",
					     argv[optind - 1],
					     strchr(argv[optind - 1], '=') ? "takes no value" : "needs a value");
		}
	}
	/* --check-policy FILE: the one positional argument isol8d takes. */
	if (o->check_policy && optind < argc) {
		o->policy_path = argv[optind++];
		o->policy_explicit = true;
	}
	if (optind < argc)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "unexpected argument '%s'; see isol8d --help",
				     argv[optind]);
	if (!o->node_id) {
		/* Each node of a fleet names itself in its audit records (issue 18). */
		static char host[256];
		if (gethostname(host, sizeof host - 1) == 0) {
			host[strcspn(host, ".")] = '\0';
			if (isol8_valid_session_name(host))
				o->node_id = host;
		}
	}
	return 0;
}

/* --config: the isol8.config.json keys that concern the daemon. Only keys the file sets are
 * taken; the rest keep isol8d's defaults (the file's defaults are the CLI's, not ours). */
int broker_options_apply_config(struct broker_opts *o, struct isol8_err *err)
{
	struct isol8_config c;
	int r = -1;

	if (isol8_config_load(o->config_path, &c, err) < 0)
		goto out; /* "FILE: json.path: reason"; what was loaded is freed below */
	if (c.max_concurrent_set && !o->set_max_concurrent)
		o->max_concurrent = c.max_concurrent; /* the loader already bounds it to 1..1024 */
	if (c.pool_strategy_set && !o->set_pool_strategy)
		o->pool_secure = strcmp(c.pool_strategy, "secure") == 0;
	if (c.pool_size_set && !o->set_pool_size) {
		/* The schema allows up to 256; a worker keeps at most 6 idle sandboxes in all. */
		bool big_clean = c.pool_clean > BROKER_POOL_SIZE_MAX;
		if (big_clean || c.pool_dirty > BROKER_POOL_SIZE_MAX) {
			isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: %s: %u is more than isol8d supports (0..%d)",
				      o->config_path,
				      c.pool_size_single  ? "poolSize"
					      : big_clean ? "poolSize.clean"
							  : "poolSize.dirty",
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
