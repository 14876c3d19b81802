/* `isol8 serve`: flags, the listening socket, signals; the HTTP server itself is in http/. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/buildtree.h"
#include "common/cleanup.h"
#include "common/ipc.h"
#include "common/parse.h"
#include "common/proto.h"
#include "common/suggest.h"
#include "common/xalloc.h"
#include "cli/broker_conn.h"
#include "cli/cli.h"
#include "http/connector.h"
#include "http/lockdown.h"
#include "http/server.h"

#define DEFAULT_PORT 3000u
#define TLS_FILE_MAX (1024u * 1024u)

struct serve_args {
	const char *port, *key, *key_file, *keys_file, *bind, *max_body, *socket, *tls_cert, *tls_key, *node_id;
	const char *metrics; /* --metrics auto|open|key|off */
	unsigned keepalive_ms;
	int act_for_keys;    /* -1 auto (root), 0 off, 1 on */
	bool no_seccomp;     /* --no-seccomp: debugging only */
	bool lockdown_probe; /* --lockdown-probe: tests only (see lockdown_probe()) */
	unsigned header_timeout_s;
	unsigned grace_s;
	unsigned max_inflight;
};

static const char *value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (strcmp(argv[*i], name) == 0 && *i + 1 < argc)
		return argv[++*i];
	return NULL;
}

static int parse_uint(const char *s, unsigned max, unsigned *out, const char *what)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	uint64_t v;

	/* cli_usage_error() returns the exit status (2), not -1: callers test "< 0". */
	if (isol8_parse_u64(s, max, &v, &err) < 0) {
		cli_usage_error("%s: %s", what, err.msg);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

static int parse(int argc, char **argv, struct serve_args *a)
{
	for (int i = 1; i < argc; i++) {
		const char *v;
		if ((v = value(argc, argv, &i, "--port")))
			a->port = v;
		else if ((v = value(argc, argv, &i, "--key")))
			a->key = v;
		else if ((v = value(argc, argv, &i, "--keys-file")))
			a->keys_file = v;
		else if ((v = value(argc, argv, &i, "--key-file")))
			a->key_file = v;
		else if ((v = value(argc, argv, &i, "--bind")))
			a->bind = v;
		else if ((v = value(argc, argv, &i, "--metrics"))) {
			if (strcmp(v, "auto") && strcmp(v, "open") && strcmp(v, "key") && strcmp(v, "off"))
				return cli_usage_error(
					"--metrics '%s': use auto (open on loopback, key otherwise), open, key or off",
					v);
			a->metrics = v;
		} else if ((v = value(argc, argv, &i, "--max-body")))
			a->max_body = v;
		else if ((v = value(argc, argv, &i, "--socket")))
			a->socket = v;
		else if ((v = value(argc, argv, &i, "--tls-cert")))
			a->tls_cert = v;
		else if ((v = value(argc, argv, &i, "--tls-key")))
			a->tls_key = v;
		else if ((v = value(argc, argv, &i, "--node-id")))
			a->node_id = v;
		else if ((v = value(argc, argv, &i, "--keepalive-ms"))) {
			/* Hidden: lets the tests see the SSE keepalive without waiting 15 s. */
			if (parse_uint(v, 3600000, &a->keepalive_ms, "--keepalive-ms") < 0 || a->keepalive_ms < 10)
				return a->keepalive_ms < 10 ? cli_usage_error("--keepalive-ms must be at least 10")
							    : -1;
		} else if ((v = value(argc, argv, &i, "--grace"))) {
			if (parse_uint(v, 3600, &a->grace_s, "--grace") < 0)
				return -1;
		} else if ((v = value(argc, argv, &i, "--max-concurrent"))) {
			if (parse_uint(v, 100000, &a->max_inflight, "--max-concurrent") < 0 || a->max_inflight == 0)
				return a->max_inflight == 0 ? cli_usage_error("--max-concurrent must be at least 1")
							    : -1;
		} else if (strcmp(argv[i], "--act-for-keys") == 0)
			a->act_for_keys = 1;
		else if (strcmp(argv[i], "--no-seccomp") == 0) /* debugging only: keep the filter off */
			a->no_seccomp = true;
		else if (strcmp(argv[i], "--lockdown-probe") == 0) /* tests only */
			a->lockdown_probe = true;
		else if ((v = value(argc, argv, &i, "--header-timeout"))) {
			if (parse_uint(v, 3600, &a->header_timeout_s, "--header-timeout") < 0 ||
			    a->header_timeout_s == 0)
				return a->header_timeout_s == 0 ? cli_usage_error("--header-timeout must be at least 1")
								: -1;
		} else if (strcmp(argv[i], "--no-act-for-keys") == 0)
			a->act_for_keys = 0;
		else {
			static const char *const known[] = {
				"port",           "key",          "key-file",        "keys-file",     "bind",
				"max-body",       "socket",       "tls-cert",        "tls-key",       "grace",
				"max-concurrent", "act-for-keys", "no-act-for-keys", "header-timeout"};
			const char *sugg = strncmp(argv[i], "--", 2) == 0
				? isol8_suggest(argv[i] + 2, known, sizeof known / sizeof known[0])
				: NULL;
			if (sugg && strcmp(sugg, argv[i] + 2) != 0)
				return cli_usage_error("unknown option '%s' (did you mean --%s?)", argv[i], sugg);
			return cli_usage_error("unknown option or missing value: '%s'; see 'isol8 serve --help'",
					       argv[i]);
		}
	}
	return 0;
}

/* --port > ISOL8_PORT > PORT > 3000. Port 0 lets the kernel pick. */
static int pick_port(const struct serve_args *a, unsigned *port)
{
	const char *s = a->port, *what = "--port";

	if (!s) {
		what = "ISOL8_PORT";
		s = getenv("ISOL8_PORT");
		if (!s || !*s) {
			what = "PORT";
			s = getenv("PORT");
			if (s && !*s)
				s = NULL;
		}
	}
	*port = DEFAULT_PORT;
	if (s && parse_uint(s, 65535, port, what) < 0)
		return -1;
	return 0;
}

/* --node-id > ISOL8_NODE_ID > the host name (up to its first dot, which a node id may hold but a
 * host name's domain only lengthens). Same charset as session names: it goes into headers. */
static int pick_node_id(const struct serve_args *a, char *out, size_t len, struct isol8_err *err)
{
	const char *s = a->node_id, *what = "--node-id";
	char host[256] = "";

	if (!s || !*s) {
		s = getenv("ISOL8_NODE_ID");
		what = "ISOL8_NODE_ID";
	}
	if (!s || !*s) {
		what = "the host name";
		if (gethostname(host, sizeof host - 1) < 0)
			return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "gethostname (set --node-id)");
		host[strcspn(host, ".")] = '\0';
		s = host;
	}
	if (!isol8_valid_session_name(s))
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "%s '%.80s' is not a valid node id: use 1-64 of [A-Za-z0-9_.-]", what, s);
	snprintf(out, len, "%s", s);
	return 0;
}

static int bind_listen(const char *addr, unsigned port, int *fd_out, unsigned *bound, struct isol8_err *err)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char ps[16];
	_cleanup_close_ int fd = -1;
	int one = 1, r;

	snprintf(ps, sizeof ps, "%u", port);
	r = getaddrinfo(addr, ps, &hints, &ai);
	if (r != 0)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "--bind: '%s' is not a numeric IP address (%s)", addr,
				     gai_strerror(r));
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		freeaddrinfo(ai);
		return isol8_err_set(err, ISOL8_E_IO, errno, "socket");
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	r = bind(fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (r < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "bind %s port %u", addr, port);
	if (listen(fd, 128) < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "listen");
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "getsockname");
	*bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						: ((struct sockaddr_in *)&ss)->sin_port);
	*fd_out = steal_fd(&fd);
	return 0;
}

/* --key-file: the key is the file's first line, so that it is never on a command line (every
 * local user can read /proc/PID/cmdline). */
static char *read_key_file(const char *path, struct isol8_err *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	char buf[HTTP_KEY_MAX_SECRET + 3];
	size_t len = 0;
	char *nl, *k;

	if (fd < 0) {
		isol8_err_set(err, ISOL8_E_USAGE, errno, "--key-file: cannot open %s", path);
		return NULL;
	}
	while (len < sizeof buf - 1) {
		ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			isol8_err_set(err, ISOL8_E_IO, errno, "--key-file: cannot read %s", path);
			explicit_bzero(buf, sizeof buf);
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	if ((nl = strchr(buf, '\n')))
		*nl = '\0';
	if ((nl = strchr(buf, '\r')))
		*nl = '\0';
	k = *buf ? xstrdup(buf) : NULL;
	explicit_bzero(buf, sizeof buf);
	if (!k)
		isol8_err_set(err, ISOL8_E_USAGE, 0, "--key-file: %s is empty (put the key on its first line)", path);
	return k;
}

static int load_keys(const struct serve_args *a, struct http_keys *keys, struct isol8_err *err)
{
	_cleanup_free_ char *from_file = NULL;
	const char *k = a->key;

	if (a->key && a->key_file)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "--key and --key-file: give one of them");
	if (a->key_file) {
		if (!(from_file = read_key_file(a->key_file, err)))
			return -1;
		k = from_file;
	}
	if (!k && (k = getenv("ISOL8_API_KEY")) && !*k)
		k = NULL;
	if (k) {
		int r = http_keys_add(keys, "default", k, err);
		if (from_file)
			explicit_bzero(from_file, strlen(from_file));
		if (r < 0)
			return isol8_err_wrap(err, a->key_file ? "--key-file" : "--key");
		if (strlen(k) < 16)
			fputs("[WARN] The API key is shorter than 16 characters; use a long random key\n", stderr);
	}
	if (a->keys_file && http_keys_load_file(keys, a->keys_file, err) < 0)
		return -1;
	if (keys->n == 0)
		return isol8_err_set(
			err, ISOL8_E_USAGE, 0,
			"an API key is required: --key-file FILE, ISOL8_API_KEY, --keys-file FILE or --key KEY");
	return 0;
}

/* PEM files are read here, before any request: MHD takes the text, not a path. */
static int read_pem(const char *path, const char *what, char **out, struct isol8_err *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct isol8_buf b = ISOL8_BUF_INIT;
	char tmp[4096];
	ssize_t n;

	if (fd < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "%s: cannot open %s", what, path);
	while ((n = read(fd, tmp, sizeof tmp)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || b.len + (size_t)n > TLS_FILE_MAX) {
			isol8_buf_free(&b);
			return isol8_err_set(err, ISOL8_E_IO, n < 0 ? errno : 0, "%s: %s %s", what,
					     n < 0 ? "cannot read" : "file too large:", path);
		}
		isol8_buf_append(&b, tmp, (size_t)n);
	}
	isol8_buf_putc(&b, '\0');
	if (!strstr(b.data, "-----BEGIN ")) {
		isol8_buf_free(&b);
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: %s is not a PEM file", what, path);
	}
	*out = isol8_buf_steal(&b, NULL);
	return 0;
}

#define OPENAPI_MAX (1u << 20)

/* docs/openapi.json as installed (else the source tree's, for a build run in place), read once
 * before the lockdown takes the filesystem away. Missing is not fatal: GET /openapi.json is 404. */
static char *load_openapi(size_t *len)
{
	_cleanup_free_ char *tree = isol8_build_tree_path("docs/openapi.json");
	const char *const cands[] = {ISOL8_DATADIR "/openapi.json", tree};
	struct isol8_buf b = ISOL8_BUF_INIT;
	char tmp[8192];

	*len = 0;
	for (size_t i = 0; i < sizeof cands / sizeof cands[0] && cands[i]; i++) {
		_cleanup_close_ int fd = open(cands[i], O_RDONLY | O_CLOEXEC);
		ssize_t n;
		if (fd < 0)
			continue;
		while ((n = read(fd, tmp, sizeof tmp)) != 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 || b.len + (size_t)n > OPENAPI_MAX)
				break;
			isol8_buf_append(&b, tmp, (size_t)n);
		}
		if (n == 0 && b.len)
			return isol8_buf_steal(&b, len);
		isol8_buf_reset(&b);
	}
	isol8_buf_free(&b);
	fprintf(stderr, "[WARN] No OpenAPI description at %s: GET /openapi.json will answer 404\n", cands[0]);
	return NULL;
}

static int load_tls(const struct serve_args *a, char **cert, char **key, struct isol8_err *err)
{
	if (!a->tls_cert != !a->tls_key)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "--tls-cert and --tls-key go together");
	if (!a->tls_cert)
		return 0;
	if (read_pem(a->tls_cert, "--tls-cert", cert, err) < 0)
		return -1;
	return read_pem(a->tls_key, "--tls-key", key, err);
}

/* Hidden --lockdown-probe (tests/security/http_lockdown_test.sh): once the server is locked
 * down and listening, a fresh thread (as every connection thread is) tries what an attacker
 * with code execution in the server would try and prints each outcome to stderr. It only makes
 * calls the server could make anyway, after the lockdown, and serves on unchanged. */
static void *lockdown_probe(void *unused)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX, .sun_path = "/var/run/docker.sock"};
	static const char *const files[] = {"/etc/shadow", "/etc/passwd", "/proc/self/status"};
	int fd;

	(void)unused;
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		fd = open(files[i], O_RDONLY | O_CLOEXEC);
		fprintf(stderr, "[PROBE] open %s: %s\n", files[i], fd >= 0 ? "ok" : strerrorname_np(errno));
		xclose(fd);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	fprintf(stderr, "[PROBE] socket AF_UNIX: %s\n", fd >= 0 ? "ok" : strerrorname_np(errno));
	xclose(fd);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	fprintf(stderr, "[PROBE] socket AF_INET: %s\n", fd >= 0 ? "ok" : strerrorname_np(errno));
	xclose(fd);
	/* A bad fd: had the filter let connect through, the kernel would answer EBADF. */
	fprintf(stderr, "[PROBE] connect %s: %s\n", sa.sun_path,
		connect(-1, (struct sockaddr *)&sa, sizeof sa) == 0 ? "ok" : strerrorname_np(errno));
	fprintf(stderr, "[PROBE] setuid 0: %s\n", setuid(0) == 0 ? "ok" : strerrorname_np(errno));
	fprintf(stderr, "[PROBE] done\n");
	return NULL;
}

/* The network-facing child: lock down, then serve until SIGINT/SIGTERM (forwarded by the
 * connector, our parent). */
/* Wait for SIGINT/SIGTERM, or for the connector's word (it forwards its signals as one byte:
 * as root without CAP_KILL it may not signal us), or for the connector to go. */
static int wait_for_stop(int sfd, int stop_fd)
{
	for (;;) {
		struct pollfd p[2] = {{.fd = sfd, .events = POLLIN}, {.fd = stop_fd, .events = POLLIN}};
		struct signalfd_siginfo si;
		unsigned char b;
		ssize_t n;

		if (poll(p, 2, -1) < 0)
			continue;
		if (p[0].revents & POLLIN && read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
			return (int)si.ssi_signo;
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(stop_fd, &b, 1);
			if (n < 0 && errno == EINTR)
				continue;
			return n == 1 ? b : SIGTERM;
		}
	}
}

static int serve_child(const struct serve_args *a, struct http_server_conf *conf, struct http_lockdown *lk,
		       pid_t parent, unsigned bound, int stop_fd)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct http_server *srv;
	int sfd, keep[6] = {STDERR_FILENO, conf->listen_fd, conf->broker_link, STDOUT_FILENO, -1, stop_fd};
	unsigned left;
	sigset_t set;
	int sig = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0) {
		fprintf(stderr, "[ERR] isol8 serve: signalfd: %s\n", strerror(errno));
		_exit(1);
	}
	keep[4] = sfd;
	lk->keep = keep;
	lk->n_keep = sizeof keep / sizeof keep[0];
	if (http_lockdown(lk, &err) < 0) {
		fprintf(stderr, "[ERR] isol8 serve: %s\n", err.msg);
		_exit(1);
	}
	if (lk->as_root) {
		/* worker_lockdown moved the kept fds to 3.. and pointed 0 and 1 at /dev/null. */
		conf->listen_fd = keep[1];
		conf->broker_link = keep[2];
		if (dup3(keep[3], STDOUT_FILENO, 0) < 0)
			_exit(1);
		close(keep[3]);
		sfd = keep[4];
		stop_fd = keep[5];
	}
	/* Set after the uid change (which clears it): without the connector there is nothing to
	 * serve with. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
		_exit(1);

	srv = http_server_start(conf, &err);
	if (!srv) {
		close(conf->listen_fd);
		http_keys_free(&conf->keys);
		return cli_fail(&err);
	}
	printf("[INFO] isol8 server listening on %s://%s%s%s:%u (isol8d: %s, %zu key%s%s)\n",
	       conf->tls_cert ? "https" : "http", strchr(a->bind, ':') ? "[" : "", a->bind,
	       strchr(a->bind, ':') ? "]" : "", bound, conf->socket_path, conf->keys.n, conf->keys.n == 1 ? "" : "s",
	       conf->key_principals ? ", sessions per key" : "");
	fflush(stdout);
	if (a->lockdown_probe) {
		pthread_t th;
		if (pthread_create(&th, NULL, lockdown_probe, NULL) == 0)
			pthread_detach(th);
	}
	sig = wait_for_stop(sfd, stop_fd);
	printf("[INFO] Shutting down isol8 server (signal %d)...\n", sig);
	fflush(stdout);
	left = http_server_stop(srv);
	if (left)
		fprintf(stderr, "[WARN] %u request(s) still running after %u s were cut off\n", left, conf->grace_s);
	http_keys_free(&conf->keys);
	printf("[INFO] Server stopped\n");
	return 0;
}

/* Binds --port; when it is busy and nobody is at a terminal to answer a question, takes a free
 * port and says which. */
static int listen_on(const struct serve_args *a, unsigned port, int *fd, unsigned *bound, struct isol8_err *err)
{
	if (bind_listen(a->bind, port, fd, bound, err) == 0)
		return 0;
	if (err->errnum != EADDRINUSE || isatty(STDIN_FILENO)) {
		if (err->errnum == EADDRINUSE)
			isol8_err_wrap(err, "port %u is busy (choose another with --port)", port);
		return -1;
	}
	isol8_err_clear(err);
	if (bind_listen(a->bind, 0, fd, bound, err) < 0)
		return -1;
	fprintf(stderr, "[WARN] Port %u is busy; using port %u instead\n", port, *bound);
	return 0;
}

/* GET /metrics: a scraper on this host needs no key; elsewhere the tenant names it carries
 * need one. */
static enum http_metrics_mode metrics_access(const struct serve_args *a)
{
	if (!a->metrics || strcmp(a->metrics, "auto") == 0)
		return strncmp(a->bind, "127.", 4) == 0 || strcmp(a->bind, "::1") == 0 ? HTTP_METRICS_OPEN
										       : HTTP_METRICS_KEY;
	return strcmp(a->metrics, "open") == 0   ? HTTP_METRICS_OPEN
		: strcmp(a->metrics, "off") == 0 ? HTTP_METRICS_OFF
						 : HTTP_METRICS_KEY;
}

static void set_limits(struct http_server_conf *conf, const struct serve_args *a, uint64_t max_body)
{
	conf->max_body = (size_t)max_body;
	conf->max_connections = 256;
	/* Few per address: with the header deadline, one address can hold at most this many
	 * threads for at most header_timeout_s before it must start over. */
	conf->per_ip_connections = 32;
	conf->max_inflight = a->max_inflight ? a->max_inflight : 64;
	conf->timeout_s = 60;
	conf->header_timeout_s = a->header_timeout_s ? a->header_timeout_s : HTTP_HEADER_TIMEOUT_S;
	conf->grace_s = a->grace_s;
	conf->keepalive_ms = a->keepalive_ms ? a->keepalive_ms : HTTP_KEEPALIVE_MS;
}

static void close_pair(int p[2])
{
	close(p[0]);
	close(p[1]);
}

/* The server's channel to the connector (sv) and the connector's stop pipe, then the fork.
 * On failure every fd made here and the listener are closed. */
static pid_t fork_server(int listen_fd, int sv[2], int stop[2], struct isol8_err *err)
{
	pid_t pid;

	if (pipe2(stop, O_CLOEXEC) < 0) {
		isol8_err_set(err, ISOL8_E_INTERNAL, errno, "pipe");
		close(listen_fd);
		return -1;
	}
	if (isol8_ipc_socketpair(sv, err) < 0) {
		close_pair(stop);
		close(listen_fd);
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		isol8_err_set(err, ISOL8_E_INTERNAL, errno, "fork the HTTP server");
		close(listen_fd);
		close_pair(sv);
		close_pair(stop);
	}
	return pid;
}

static int serve(struct serve_args *a)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct http_server_conf conf = {.listen_fd = -1, .broker_link = -1};
	struct http_lockdown lk = {.as_root = geteuid() == 0, .seccomp = !a->no_seccomp};
	unsigned port, bound = 0;
	uint64_t max_body = HTTP_DEFAULT_MAX_BODY;
	sigset_t set;
	int sv[2] = {-1, -1}, stop[2] = {-1, -1}, rc;
	pid_t parent = getpid(), pid;
	_cleanup_free_ char *tls_cert = NULL;
	_cleanup_free_ char *tls_key = NULL;
	_cleanup_free_ char *openapi = NULL;
	char node_id[ISOL8_MAX_SESSION + 1];

	/* As root, plain hellos would be uid 0's: every API client would be the admin tenant. */
	if (lk.as_root && a->act_for_keys == 0)
		return cli_usage_error("--no-act-for-keys cannot be used as root: every API client would act as root's "
				       "tenant. Run isol8 serve as an unprivileged user for that"),
		       2;
	if (pick_port(a, &port) < 0)
		return 2;
	if (a->max_body && isol8_parse_size(a->max_body, &max_body, &err) < 0)
		return cli_fail(&err);
	if (lk.as_root && worker_identity_resolve(NULL, &lk.id, &err) < 0)
		return cli_fail(&err);
	if (load_tls(a, &tls_cert, &tls_key, &err) < 0)
		return cli_fail(&err);
	if (pick_node_id(a, node_id, sizeof node_id, &err) < 0)
		return cli_fail(&err);
	if (load_keys(a, &conf.keys, &err) < 0 || listen_on(a, port, &conf.listen_fd, &bound, &err) < 0) {
		http_keys_free(&conf.keys);
		return cli_fail(&err);
	}
	conf.socket_path = broker_socket_path(a->socket);
	conf.metrics = metrics_access(a);
	conf.key_principals = a->act_for_keys < 0 ? lk.as_root : a->act_for_keys;
	set_limits(&conf, a, max_body);
	conf.tls_cert = tls_cert;
	conf.tls_key = tls_key;
	openapi = load_openapi(&conf.openapi_len);
	conf.openapi = openapi;
	conf.node_id = node_id;

	/* Threads started by libmicrohttpd inherit this mask: only sigwait() sees the signals. The
	 * connector forwards them to the server; SIGCHLD waits for its signalfd. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* glibc reads /etc/localtime once; after the lockdown it could not. */
	tzset();
	pid = fork_server(conf.listen_fd, sv, stop, &err);
	if (pid < 0) {
		http_keys_free(&conf.keys);
		return cli_fail(&err);
	}
	if (pid == 0) {
		close(sv[0]);
		close(stop[1]);
		conf.broker_link = sv[1];
		return serve_child(a, &conf, &lk, parent, bound, stop[0]);
	}
	/* The connector holds no listener, key or TLS secret: only the way to isol8d. */
	close(conf.listen_fd);
	close(sv[1]);
	close(stop[0]);
	http_keys_free(&conf.keys);
	if (tls_key)
		explicit_bzero(tls_key, strlen(tls_key));
	rc = http_connector_run(sv[0], stop[1], pid, conf.socket_path, conf.key_principals ? FE_HELLO_KEY : FE_HELLO,
				!a->no_seccomp);
	close(sv[0]);
	close(stop[1]);
	return rc;
}

int cmd_serve(int argc, char **argv)
{
	struct serve_args a = {.bind = "127.0.0.1", .act_for_keys = -1, .grace_s = 30};

	if (cli_wants_help(argc, argv)) {
		usage_command("serve", stdout);
		return 0;
	}
	/* cli_usage_error() returns 2, parse_uint() -1: either is a usage error. */
	if (parse(argc, argv, &a) != 0)
		return 2;
	return serve(&a);
}
