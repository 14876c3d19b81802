/* `isol8 doctor [--json]`: is this host fit to run isol8, and is a sandbox what the policy
 * says? Host checks first (engine, cgroups, seccomp, iptables, images, the daemon's socket,
 * the policy, runc, the systemd unit), then the conformance probe (cli/doctor_probe.h): without
 * network on the host itself as the caller (the baseline), in a runc sandbox and in a runsc one
 * (`isol8 run --isolation`), printed as one matrix row per check with the three side by side;
 * filtered, under the policy's tier. One table of expected and seen values; exit 1 on any
 * failed check of a tier the caller may use. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/broker_conn.h"
#include "cli/cli.h"
#include "cli/doctor_probe.h"
#include "common/buf.h"
#include "common/cleanup.h"
#include "common/xalloc.h"
#include "policy/policy.h"
#ifndef ISOL8_LEAN
#include "docker/client.h"
#include "images/image_build.h"
#include "images/images.h"
#endif

/* ok, fail, skip; n/a: the check means nothing there (a host-native baseline of a sandbox-only
 * check, or one gVisor's kernel answers for itself); differs: the host alone does not meet it
 * (the baseline column, which never fails). */
enum status { ST_OK, ST_FAIL, ST_SKIP, ST_NA, ST_DIFF };
static const char *const st_names[] = {"ok", "fail", "skip", "n/a", "differs"};
static const char *const st_marks[] = {"\u2713", "\u2717", "-", "-", "\u2260"};

/* The tier matrix: the conformance probe without network on the host as the caller (the
 * baseline), in a runc sandbox and in a runsc one, one row per check. */
enum tier { T_NATIVE, T_RUNC, T_RUNSC, T__N };
static const char *const tier_keys[T__N] = {"native", "runc", "runsc"};
static const char *const tier_groups[T__N] = {"host-native", "runc (none)", "runsc (none)"};
#define MATRIX_ROWS 24

struct mcell {
	bool set;
	enum status st;
	char seen[1024];
};
struct mrow {
	char check[64];
	char expected[160];
	int expected_rank; /* the expected value is the sandboxes' (runc first), else the baseline's */
	struct mcell c[T__N];
};
struct matrix {
	struct mrow rows[MATRIX_ROWS];
	size_t n;
};

struct doctor {
	json_object *checks;
	bool as_json;
	unsigned failed;
	const char *group;
	struct matrix *m;
};

static void matrix_set(struct matrix *m, int tier, enum status st, const char *name, const char *expected,
		       const char *seen)
{
	static const int rank[T__N] = {2, 0, 1};
	struct mrow *r = NULL;

	for (size_t i = 0; i < m->n && !r; i++)
		if (strcmp(m->rows[i].check, name) == 0)
			r = &m->rows[i];
	if (!r && m->n < MATRIX_ROWS) {
		r = &m->rows[m->n++];
		snprintf(r->check, sizeof r->check, "%s", name);
		r->expected_rank = T__N;
	}
	if (!r)
		return;
	if (rank[tier] < r->expected_rank) {
		snprintf(r->expected, sizeof r->expected, "%s", expected);
		r->expected_rank = rank[tier];
	}
	r->c[tier].set = true;
	r->c[tier].st = st;
	snprintf(r->c[tier].seen, sizeof r->c[tier].seen, "%s", seen);
}

/* One check's result: a row of the table under d->group (tier < 0), or a cell of the tier
 * matrix. Every one is in --json's checks; a failure counts unless it is the host-native
 * baseline's. */
static void vrecord(struct doctor *d, int tier, enum status st, const char *name, const char *expected, const char *fmt,
		    va_list ap) __attribute__((format(printf, 6, 0)));
static void vrecord(struct doctor *d, int tier, enum status st, const char *name, const char *expected, const char *fmt,
		    va_list ap)
{
	char seen[1024];
	json_object *o = json_object_new_object();

	vsnprintf(seen, sizeof seen, fmt, ap);
	if (st == ST_FAIL && tier != T_NATIVE)
		d->failed++;
	json_object_object_add(o, "group", json_object_new_string(tier < 0 ? d->group : tier_groups[tier]));
	json_object_object_add(o, "check", json_object_new_string(name));
	json_object_object_add(o, "status", json_object_new_string(st_names[st]));
	json_object_object_add(o, "expected", json_object_new_string(expected));
	json_object_object_add(o, "seen", json_object_new_string(seen));
	json_object_array_add(d->checks, o);
	if (tier >= 0)
		matrix_set(d->m, tier, st, name, expected, seen);
	else if (!d->as_json)
		printf("%s %-16s %-28s %-32s %s\n", st_marks[st], d->group, name, expected, seen);
}

static void record(struct doctor *d, int tier, enum status st, const char *name, const char *expected, const char *fmt,
		   ...) __attribute__((format(printf, 6, 7)));
static void record(struct doctor *d, int tier, enum status st, const char *name, const char *expected, const char *fmt,
		   ...)
{
	va_list ap;
	va_start(ap, fmt);
	vrecord(d, tier, st, name, expected, fmt, ap);
	va_end(ap);
}

static void row(struct doctor *d, enum status st, const char *name, const char *expected, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void row(struct doctor *d, enum status st, const char *name, const char *expected, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vrecord(d, -1, st, name, expected, fmt, ap);
	va_end(ap);
}

/* ---- the Docker engine, by hand: GET over its UNIX socket (HTTP/1.0, the engine closes) ---- */

static const char *docker_socket(void)
{
	const char *h = getenv("DOCKER_HOST");
	return h && strncmp(h, "unix://", 7) == 0 ? h + 7 : "/var/run/docker.sock";
}

/* The body of GET path, parsed; NULL with *status 0 when the engine cannot be reached. */
static json_object *docker_get(const char *path, int *status, char *why, size_t whylen)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;
	struct isol8_buf b = ISOL8_BUF_INIT;
	char req[512], tmp[8192], *body;
	json_object *o = NULL;
	ssize_t n;

	*status = 0;
	snprintf(a.sun_path, sizeof a.sun_path, "%s", docker_socket());
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		snprintf(why, whylen, "%s: %s", a.sun_path, strerror(errno));
		return NULL;
	}
	snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: docker\r\n\r\n", path);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		snprintf(why, whylen, "%s: %s", a.sun_path, strerror(errno));
		return NULL;
	}
	while ((n = read(fd, tmp, sizeof tmp)) > 0 && b.len < (4u << 20))
		isol8_buf_append(&b, tmp, (size_t)n);
	if (b.len < 12 || sscanf(b.data, "HTTP/%*s %d", status) != 1) {
		snprintf(why, whylen, "no HTTP answer on %s", a.sun_path);
		isol8_buf_free(&b);
		return NULL;
	}
	body = strstr(b.data, "\r\n\r\n");
	if (body)
		o = json_tokener_parse(body + 4);
	isol8_buf_free(&b);
	return o;
}

static const char *jget(json_object *o, const char *k)
{
	json_object *v;
	return o && json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
		? json_object_get_string(v)
		: NULL;
}

/* gVisor, for tenants with "isolation": "runsc" (isol8-policy(5) ISOLATION): registered in the
 * engine, with --network=none (under Docker's "none" gVisor finds the root namespace and will not
 * start) and --oci-seccomp (without it runsc ignores the container's seccomp profile; with it
 * the profile filters the container's first process, not what docker exec starts, which is how
 * a runsc tenant's programs start). Not registered is fine for a host whose policy has no runsc
 * tenant. */
static void check_runsc(struct doctor *d)
{
	char why[300] = "";
	int st;
	json_object *info = docker_get("/info", &st, why, sizeof why), *rts, *rs, *args;
	const char *path = NULL;
	bool netnone = false, ociseccomp = false;

	if (!info || st != 200 || !json_object_object_get_ex(info, "Runtimes", &rts) ||
	    !json_object_object_get_ex(rts, "runsc", &rs)) {
		row(d, ST_SKIP, "runtime runsc", "registered, --network=none", "%s",
		    info && st == 200 ? "not registered (needed only by runsc tenants)"
			    : *why    ? why
				      : "no answer");
		row(d, ST_SKIP, "runsc seccomp", "--oci-seccomp", "no runsc runtime");
		json_object_put(info);
		return;
	}
	path = jget(rs, "path");
	if (json_object_object_get_ex(rs, "runtimeArgs", &args) && json_object_is_type(args, json_type_array))
		for (size_t i = 0; i < json_object_array_length(args); i++) {
			const char *a = json_object_get_string(json_object_array_get_idx(args, i));
			if (a && strcmp(a, "--network=none") == 0)
				netnone = true;
			if (a && (strcmp(a, "--oci-seccomp") == 0 || strcmp(a, "--oci-seccomp=true") == 0))
				ociseccomp = true;
		}
	row(d, netnone ? ST_OK : ST_FAIL, "runtime runsc", "registered, --network=none", "%s%s", path ? path : "?",
	    netnone ? ", --network=none" : ": runtimeArgs lack --network=none");
	row(d, ociseccomp ? ST_OK : ST_FAIL, "runsc seccomp", "--oci-seccomp", "%s",
	    ociseccomp ? "profile on the sandbox's init; docker exec'd programs unfiltered (gVisor)"
		       : "runtimeArgs lack --oci-seccomp: gVisor ignores the profile");
	json_object_put(info);
}

/* Up to date: each runtime image carries the hash of the build context it was made from
 * (ISOL8_LABEL_BUILD_HASH, with the base image's id and the host's extra CA roots in it), the
 * same comparison isol8 setup makes before it rebuilds. A stale image runs an older agent and
 * older drivers than this isol8 speaks to. */
static void check_images_current(struct doctor *d, const char *const *rts, size_t n)
{
#ifndef ISOL8_LEAN
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_base_context ctx = {.tar = ISOL8_BUF_INIT};
	struct docker *dk = docker_open(NULL, &err);
	char stale[200] = "";

	if (!dk || isol8_prepare_base_context(dk, NULL, &ctx, &err) < 0) {
		row(d, ST_SKIP, "runtime images current", "built from this isol8's image files", "cannot tell: %s",
		    err.msg);
		docker_close(dk);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *tag = xasprintf("isol8:%s", rts[i]);
		json_object *img = NULL;
		const char *h;
		struct isol8_err ierr = ISOL8_ERR_INIT;

		if (docker_image_inspect(dk, tag, &img, &ierr) < 0)
			continue;
		h = isol8_image_label(img, ISOL8_LABEL_BUILD_HASH);
		if (!h || strcmp(h, ctx.hash) != 0)
			snprintf(stale + strlen(stale), sizeof stale - strlen(stale), "%s%s", *stale ? ", " : "", tag);
		json_object_put(img);
	}
	row(d, *stale ? ST_FAIL : ST_OK, "runtime images current", "built from this isol8's image files", "%s%s",
	    *stale ? stale : "all match", *stale ? " out of date: run 'isol8 setup'" : "");
	isol8_base_context_free(&ctx);
	docker_close(dk);
#else
	(void)d;
	(void)rts;
	(void)n;
#endif
}

static void check_engine(struct doctor *d)
{
	static const char *const rts[] = {"python", "node", "bun", "deno", "bash"};
	char why[300] = "", path[64], list[200] = "";
	int st;
	json_object *v = docker_get("/version", &st, why, sizeof why), *comps;
	const char *api = jget(v, "ApiVersion"), *runc = NULL;
	unsigned missing = 0;

	if (!v || st != 200) {
		/* Only root and the docker group may use the engine; isol8 itself does not need the
		 * caller to (isol8d does). */
		row(d, errno == EACCES || geteuid() != 0 ? ST_SKIP : ST_FAIL, "engine reachable", "API >= 1.41", "%s",
		    *why ? why : "no answer");
		json_object_put(v);
		return;
	}
	row(d, api && strcmp(api, "1.41") >= 0 ? ST_OK : ST_FAIL, "engine reachable", "API >= 1.41",
	    "API %s, engine %s", api ? api : "?", jget(v, "Version") ? jget(v, "Version") : "?");
	if (json_object_object_get_ex(v, "Components", &comps) && json_object_is_type(comps, json_type_array))
		for (size_t i = 0; i < json_object_array_length(comps); i++) {
			json_object *c = json_object_array_get_idx(comps, i), *det;
			if (jget(c, "Name") && strcmp(jget(c, "Name"), "runc") == 0) {
				runc = jget(c, "Version");
				if (json_object_object_get_ex(c, "Details", &det) && jget(det, "GitCommit"))
					(void)det;
			}
		}
	/* runc before 1.1.12 lets a container's working directory escape to the host (CVE-2024-21626);
	 * Debian backports the fix into 1.1.5+ds1-1+deb12u1. */
	row(d,
	    !runc                                                              ? ST_SKIP
		    : (strcmp(runc, "1.1.12") >= 0 || strstr(runc, "deb12u1")) ? ST_OK
									       : ST_FAIL,
	    "runc version", ">= 1.1.12 or Debian's fixed 1.1.5", "%s", runc ? runc : "not reported by the engine");
	json_object_put(v);
	for (size_t i = 0; i < sizeof rts / sizeof rts[0]; i++) {
		json_object *img;
		snprintf(path, sizeof path, "/images/isol8:%s/json", rts[i]);
		img = docker_get(path, &st, why, sizeof why);
		if (st != 200) {
			missing++;
			snprintf(list + strlen(list), sizeof list - strlen(list), "%sisol8:%s", *list ? ", " : "",
				 rts[i]);
		}
		json_object_put(img);
	}
	row(d, missing ? ST_FAIL : ST_OK, "runtime images", "isol8:python ... isol8:bash", "%s",
	    missing ? list : "all 5 present");
	if (!missing) {
		/* The agent's image is optional (isol8 setup --runtimes agent); when there, it is checked. */
		static const char *const built[] = {"python", "node", "bun", "deno", "bash", "agent"};
		check_images_current(d, built, sizeof built / sizeof built[0]);
	}
	check_runsc(d);
	if (missing)
		snprintf(list + strlen(list), sizeof list - strlen(list), " missing: run 'isol8 setup'");
}

static void check_host(struct doctor *d, const char *sock)
{
	struct stat st;
	char buf[4096];
	bool seccomp = false;
	FILE *f;

	d->group = "host";
	check_engine(d);
	if (stat("/sys/fs/cgroup/cgroup.controllers", &st) == 0)
		row(d, ST_OK, "cgroup version", "v1 or v2", "v2 (unified)");
	else if (stat("/sys/fs/cgroup/memory", &st) == 0 && stat("/sys/fs/cgroup/pids", &st) == 0)
		row(d, ST_OK, "cgroup version", "v1 or v2", "v1 (memory, pids, cpu controllers)");
	else
		row(d, ST_FAIL, "cgroup version", "v1 or v2", "no memory/pids controller under /sys/fs/cgroup");
	if ((f = fopen("/proc/self/status", "re"))) {
		while (fgets(buf, sizeof buf, f))
			seccomp |= strncmp(buf, "Seccomp:", 8) == 0;
		fclose(f);
	}
	row(d, seccomp ? ST_OK : ST_FAIL, "seccomp available", "kernel with seccomp filters", "%s",
	    seccomp ? "yes (Seccomp in /proc/self/status)" : "no");
	{
		static const char *const ipt[] = {"/usr/sbin/iptables", "/sbin/iptables", "/usr/sbin/nft",
						  "/usr/bin/iptables"};
		const char *found = NULL;
		for (size_t i = 0; i < sizeof ipt / sizeof ipt[0] && !found; i++)
			if (access(ipt[i], X_OK) == 0)
				found = ipt[i];
		row(d, found ? ST_OK : ST_FAIL, "iptables available", "iptables or nft", "%s",
		    found ? found : "neither found");
	}
	if (stat(sock, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		row(d, ST_FAIL, "isol8d socket", "a socket", "%s: %s", sock, errno ? strerror(errno) : "not a socket");
	} else {
		struct group *g = getgrgid(st.st_gid);
		/* Anyone who can connect can run code: the socket is for its group, not for all. */
		row(d, (st.st_mode & 07) && strcmp(sock, ISOL8_DEFAULT_SOCKET) == 0 ? ST_FAIL : ST_OK, "isol8d socket",
		    "root, group isol8, not for others", "%s %04o %u:%s", sock, st.st_mode & 07777, (unsigned)st.st_uid,
		    g ? g->gr_name : "?");
	}
	if (access("/etc/isol8/policy.json", F_OK) == 0) {
		struct isol8_policy p;
		struct isol8_err err = ISOL8_ERR_INIT;
		if (access("/etc/isol8/policy.json", R_OK) < 0)
			row(d, ST_SKIP, "policy valid", "loads", "/etc/isol8/policy.json: %s", strerror(errno));
		else if (isol8_policy_load_file("/etc/isol8/policy.json", &p, &err) < 0)
			row(d, ST_FAIL, "policy valid", "loads", "%s", err.msg);
		else {
			row(d, ST_OK, "policy valid", "loads", "/etc/isol8/policy.json: %zu tenants", p.n_tenants);
			isol8_policy_free(&p);
		}
	} else {
		row(d, ST_OK, "policy valid", "loads", "no /etc/isol8/policy.json: the built-in policy");
	}
	if (access("/run/systemd/system", F_OK) == 0 && access("/bin/systemctl", X_OK) == 0) {
		FILE *p = popen("systemctl show isol8d.service -p LoadState -p NoNewPrivileges -p ProtectSystem "
				"-p PrivateTmp 2>/dev/null",
				"re");
		char props[512] = "";
		size_t n = p ? fread(props, 1, sizeof props - 1, p) : 0;
		if (p)
			pclose(p);
		props[n] = '\0';
		for (char *c = props; *c; c++)
			if (*c == '\n')
				*c = ' ';
		if (!strstr(props, "LoadState=loaded"))
			row(d, ST_SKIP, "systemd unit hardening", "NoNewPrivileges, ProtectSystem",
			    "isol8d.service not installed");
		else
			row(d,
			    strstr(props, "NoNewPrivileges=yes") && !strstr(props, "ProtectSystem=no") ? ST_OK
												       : ST_FAIL,
			    "systemd unit hardening", "NoNewPrivileges=yes, ProtectSystem set", "%s", props);
	} else {
		row(d, ST_SKIP, "systemd unit hardening", "NoNewPrivileges, ProtectSystem",
		    "not running under systemd");
	}
}

/* ---- the probe in a sandbox ---- */

/* path with argv, stdin /dev/null; stdout and stderr captured. Returns the exit status. */
static int run_prog(const char *path, char *const argv[], struct isol8_buf *out, struct isol8_buf *err)
{
	int po[2], pe[2], status = 0;
	pid_t pid;
	char tmp[8192];
	ssize_t n;

	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		dup2(devnull, 0);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		execv(path, argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	while ((n = read(po[0], tmp, sizeof tmp)) > 0)
		isol8_buf_append(out, tmp, (size_t)n);
	while ((n = read(pe[0], tmp, sizeof tmp)) > 0)
		isol8_buf_append(err, tmp, (size_t)n);
	close(po[0]);
	close(pe[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* This binary with argv (argv[0] "isol8"). */
static int run_isol8(char *const argv[], struct isol8_buf *out, struct isol8_buf *err)
{
	return run_prog("/proc/self/exe", argv, out, err);
}

/* `isol8 run --json` of code with this binary; iso NULL: the policy's tier. */
static int run_self(const char *sock, const char *net, const char *iso, const char *code, struct isol8_buf *out,
		    struct isol8_buf *err)
{
	char *const argv[] = {
		"isol8",     "run",       "--socket",  (char *)sock, "--json", "-r",         "python",
		"--net",     (char *)net, "--timeout", "60000",      "-e",     (char *)code, iso ? "--isolation" : NULL,
		(char *)iso, NULL};
	return run_isol8(argv, out, err);
}

/* The message of a failed isol8 command: its stderr without the trailing newlines. */
static const char *err_text(struct isol8_buf *err, int *len)
{
	const char *e = err->len ? err->data : "no output";
	size_t el = strlen(e);
	while (el && e[el - 1] == '\n')
		el--;
	*len = (int)el;
	return e;
}

/* Whether the caller may ask for a writable root (isol8-policy(5) writableRoot): an admin's
 * tenant may, and that is said; any other tenant allowed one fails the check, as a sandbox
 * whose program can change its own image is not the read-only sandbox the other checks saw. */
static void check_writable(struct doctor *d, const char *sock)
{
	struct isol8_buf out = ISOL8_BUF_INIT, err = ISOL8_BUF_INIT, sout = ISOL8_BUF_INIT, serr = ISOL8_BUF_INIT;
	char *const run[] = {"isol8", "run", "--socket", (char *)sock, "--writable", "-r", "bash", "-e", "true", NULL};
	char *const status[] = {"isol8", "status", "--json", "--socket", (char *)sock, NULL};
	json_object *st = NULL;
	const char *e;
	int rc, el;

	d->group = "policy";
	rc = run_isol8(run, &out, &err);
	e = err_text(&err, &el);
	if (rc != 0 && strstr(e, "writable root filesystem is not allowed")) {
		row(d, ST_OK, "writable root refused", "refused (writableRoot false)", "refused");
		goto out;
	}
	if (rc != 0) {
		row(d, ST_FAIL, "writable root refused", "refused (writableRoot false)",
		    "isol8 run --writable exit %d: %.*s", rc, el, e);
		goto out;
	}
	if (run_isol8(status, &sout, &serr) == 0 && sout.len)
		st = json_tokener_parse(sout.data);
	if (st && jget(st, "scope") && strcmp(jget(st, "scope"), "all") == 0)
		row(d, ST_SKIP, "writable root refused", "refused (writableRoot false)",
		    "allowed: your tenant is an admin's (isol8-policy(5) admin)");
	else
		row(d, ST_FAIL, "writable root refused", "refused (writableRoot false)",
		    "allowed: the policy gives your tenant writableRoot true");
	json_object_put(st);
out:
	isol8_buf_free(&out);
	isol8_buf_free(&err);
	isol8_buf_free(&sout);
	isol8_buf_free(&serr);
}

static long long num_of(json_object *o, const char *k)
{
	json_object *v;
	return o && json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : -1;
}

/* The cgroup limits inside against what isol8d says it applied. */
static void check_limits(struct doctor *d, int tier, json_object *limits, const char *mem, const char *pids,
			 const char *cpu)
{
	long long want_mem = num_of(limits, "memoryBytes"), want_pids = num_of(limits, "pidsLimit");
	json_object *v;
	double want_cpu = limits && json_object_object_get_ex(limits, "cpuLimit", &v) ? json_object_get_double(v) : -1;
	long long quota = -1, period = -1;
	char exp[128];
	bool ok;

	if (sscanf(cpu, "%lld %lld", &quota, &period) != 2)
		sscanf(cpu, "max %lld", &period);
	snprintf(exp, sizeof exp, "memory %lld, pids %lld, cpu %.2f", want_mem, want_pids, want_cpu);
	ok = want_mem > 0 && atoll(mem) == want_mem && atoll(pids) == want_pids && quota > 0 && period > 0 &&
		(double)quota / (double)period > want_cpu - 0.005 && (double)quota / (double)period < want_cpu + 0.005;
	record(d, tier, ok ? ST_OK : ST_FAIL, "limits as applied", exp, "memory %s, pids %s, cpu %.2f", mem, pids,
	       quota > 0 && period > 0 ? (double)quota / (double)period : -1.0);
}

/* Checks of the host kernel's confinement that gVisor's Sentry answers for itself. */
static bool sentry_answers(const char *check)
{
	static const char *const names[] = {"seccomp filter on", "no_new_privs", "sample syscalls refused",
					    "capabilities empty", "root filesystem read-only"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(check, names[i]) == 0)
			return true;
	return false;
}

/* The probe's lines (cli/doctor_probe.h) as results: tier T_NATIVE (the baseline: a check the
 * host does not meet "differs"), a sandbox's tier, or -1 for the rows of d->group. */
static void judge(struct doctor *d, int tier, bool runsc, const char *text, json_object *limits)
{
	char mem[64] = "?", pids[64] = "?", cpu[64] = "?";

	for (const char *l = text; l && *l;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);
		_cleanup_free_ char *line = xstrndup(l, len);
		char *f[4] = {0}, *save = NULL;
		int k = 0;

		if (strncmp(line, "@memory=", 8) == 0)
			snprintf(mem, sizeof mem, "%s", line + 8);
		else if (strncmp(line, "@pids=", 6) == 0)
			snprintf(pids, sizeof pids, "%s", line + 6);
		else if (strncmp(line, "@cpu=", 5) == 0)
			snprintf(cpu, sizeof cpu, "%s", line + 5);
		else {
			for (char *t = strtok_r(line, "|", &save); t && k < 4; t = strtok_r(NULL, "|", &save))
				f[k++] = t;
			if (k != 4)
				;
			else if (strcmp(f[3], "n") == 0)
				record(d, tier, ST_NA, f[0], f[1], "%s", f[2]);
			else if (tier == T_NATIVE)
				record(d, tier, strcmp(f[3], "1") == 0 ? ST_OK : ST_DIFF, f[0], f[1], "%s", f[2]);
			else if (runsc && strcmp(f[3], "1") != 0 && sentry_answers(f[0]))
				record(d, tier, ST_NA, f[0], f[1], "%s (gVisor's kernel: not the host's check)", f[2]);
			else
				record(d, tier, strcmp(f[3], "1") == 0 ? ST_OK : ST_FAIL, f[0], f[1], "%s", f[2]);
		}
		l = nl ? nl + 1 : NULL;
	}
	if (tier == T_NATIVE)
		record(d, tier, ST_NA, "limits as applied", "the cgroup's limits",
		       "n/a: the host has no sandbox limits");
	else if (runsc && strcmp(mem, "?") == 0)
		record(d, tier, ST_NA, "limits as applied", "the cgroup's limits",
		       "not visible inside gVisor (the host's cgroup holds them)");
	else
		check_limits(d, tier, limits, mem, pids, cpu);
}

/* The probe in a sandbox: for a tier of the matrix (asked for with --isolation), or under the
 * policy's tier as rows of d->group (tier -1). A tier the caller may not have is skipped with
 * the reason, not failed: a runsc tenant cannot lower its tier to runc, and runsc needs the
 * runtime in the engine. */
static void probe_sandbox(struct doctor *d, const char *sock, const char *net, int tier)
{
	struct isol8_buf out = ISOL8_BUF_INIT, err = ISOL8_BUF_INIT;
	_cleanup_free_ char *code = xasprintf(doctor_probe_py, net);
	char group[40];
	const char *iso = tier < 0 ? NULL : tier_keys[tier], *text, *got;
	json_object *res = NULL, *limits = NULL, *v;
	bool runsc = false;
	int rc;

	if (tier < 0) {
		snprintf(group, sizeof group, "sandbox (%s)", net);
		d->group = group;
	}
	rc = run_self(sock, net, iso, code, &out, &err);
	if (out.len)
		res = json_tokener_parse(out.data);
	if (!res || !json_object_object_get_ex(res, "stdout", &v)) {
		int el;
		const char *e = err_text(&err, &el);
		if (strstr(e, "never lower"))
			record(d, tier, ST_SKIP, "probe ran", "exit 0", "not allowed: policy tier runsc");
		else if (strstr(e, "which the engine does not have"))
			record(d, tier, ST_SKIP, "probe ran", "exit 0", "not available: the engine has no %s runtime",
			       iso ? iso : "such");
		else
			/* A mode the caller's tenant may not use is not a fault of the host. */
			record(d, tier, strstr(e, "not allowed") ? ST_SKIP : ST_FAIL, "probe ran", "exit 0",
			       "isol8 run exit %d: %.*s", rc, el, e);
		goto out;
	}
	text = json_object_get_string(v);
	record(d, tier, num_of(res, "exitCode") == 0 ? ST_OK : ST_FAIL, "probe ran", "exit 0", "exit %lld in %.12s",
	       num_of(res, "exitCode"), jget(res, "containerId") ? jget(res, "containerId") : "?");
	if (json_object_object_get_ex(res, "timings", &v) && (got = jget(v, "isolation"))) {
		/* Under gVisor the kernel-level checks below see the Sentry, which has no seccomp
		 * filter or no_new_privs of its own to report. A tier asked for is the tier got, or
		 * something (the pool) mixed them up. */
		runsc = strcmp(got, "runsc") == 0;
		if (tier < 0)
			record(d, tier, ST_OK, "isolation tier", "runc or runsc (policy)", "%s, %s", got,
			       jget(v, "execPath") ? jget(v, "execPath") : "?");
		else
			record(d, tier, strcmp(got, iso) == 0 ? ST_OK : ST_FAIL, "isolation tier", "the tier asked for",
			       "%s, %s", got, jget(v, "execPath") ? jget(v, "execPath") : "?");
	} else if (tier >= 0) {
		record(d, tier, ST_FAIL, "isolation tier", "the tier asked for", "not in the result's timings");
	}
	json_object_object_get_ex(res, "limits", &limits);
	judge(d, tier, runsc, text, limits);
out:
	json_object_put(res);
	isol8_buf_free(&out);
	isol8_buf_free(&err);
}

/* python3 on the caller's PATH; false when there is none. */
static bool find_python(char *path, size_t len)
{
	const char *env = getenv("PATH");
	_cleanup_free_ char *dirs = xstrdup(env && *env ? env : "/usr/local/bin:/usr/bin:/bin");
	char *save = NULL;

	for (char *dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save))
		if (*dir == '/' && (size_t)snprintf(path, len, "%s/python3", dir) < len && access(path, X_OK) == 0)
			return true;
	return false;
}

/* The same probe on the host as the caller, outside any sandbox: the baseline column. It never
 * fails the doctor; what only a sandbox can show is n/a. */
static void probe_native(struct doctor *d)
{
	struct isol8_buf out = ISOL8_BUF_INIT, err = ISOL8_BUF_INIT;
	_cleanup_free_ char *code = xasprintf(doctor_probe_py, "native");
	char py[4096];
	char *argv[] = {"python3", "-I", "-c", code, NULL};
	int rc, el;
	const char *e;

	if (!find_python(py, sizeof py)) {
		record(d, T_NATIVE, ST_SKIP, "probe ran", "exit 0", "no python3 on the host's PATH");
		return;
	}
	rc = run_prog(py, argv, &out, &err);
	if (rc != 0) {
		e = err_text(&err, &el);
		record(d, T_NATIVE, ST_SKIP, "probe ran", "exit 0", "%s exit %d: %.*s", py, rc, el, e);
	} else {
		record(d, T_NATIVE, ST_OK, "probe ran", "exit 0", "exit 0 as uid %u (%s)", (unsigned)getuid(), py);
		record(d, T_NATIVE, ST_NA, "isolation tier", "the tier asked for", "n/a: the host's kernel");
		judge(d, T_NATIVE, false, out.len ? out.data : "", NULL);
	}
	isol8_buf_free(&out);
	isol8_buf_free(&err);
}

/* The next line of at most w columns of *p (UTF-8), broken after a space where one is; *p
 * moves past it. Returns the columns used. */
static int wrap_line(const char **p, int w, char *out, size_t outlen)
{
	const char *s = *p;
	size_t i = 0, brk = 0;
	int cols = 0;

	while (s[i] && cols < w) {
		if (s[i] == ' ')
			brk = i + 1;
		i++;
		while ((s[i] & 0xC0) == 0x80)
			i++;
		cols++;
	}
	if (s[i] && brk)
		i = brk;
	if (i >= outlen)
		i = outlen - 1;
	memcpy(out, s, i);
	out[i] = '\0';
	cols = 0;
	for (size_t k = 0; k < i; k++)
		cols += (out[k] & 0xC0) != 0x80;
	s += i;
	while (*s == ' ')
		s++;
	*p = s;
	return cols;
}

#define CELL_COLS 32

/* One row per check, the tiers side by side, long values wrapped in their column. */
static void print_matrix(const struct matrix *m)
{
	printf("\n  %-28s %-*s %-*s %-*s %s\n", "CHECK (network none)", CELL_COLS, "HOST-NATIVE (baseline)", CELL_COLS,
	       "RUNC", CELL_COLS, "RUNSC", "EXPECTED");
	for (size_t i = 0; i < m->n; i++) {
		const struct mrow *r = &m->rows[i];
		char cells[T__N][1100];
		const char *p[T__N];
		bool first = true;

		for (int t = 0; t < T__N; t++) {
			if (r->c[t].set)
				snprintf(cells[t], sizeof cells[t], "%s %s", st_marks[r->c[t].st], r->c[t].seen);
			else
				snprintf(cells[t], sizeof cells[t], "- not run");
			p[t] = cells[t];
		}
		while (first || *p[0] || *p[1] || *p[2]) {
			struct isol8_buf out = ISOL8_BUF_INIT;
			char line[1100];

			isol8_buf_printf(&out, "  %-28s", first ? r->check : "");
			for (int t = 0; t < T__N; t++) {
				int cols = wrap_line(&p[t], CELL_COLS, line, sizeof line);
				isol8_buf_printf(&out, " %s%*s", line, CELL_COLS - cols, "");
			}
			isol8_buf_printf(&out, " %s", first ? r->expected : "");
			while (out.len && out.data[out.len - 1] == ' ')
				out.data[--out.len] = '\0';
			printf("%s\n", out.data);
			isol8_buf_free(&out);
			first = false;
		}
	}
}

/* --json's matrix: {"network", "tiers", "rows": [{"check", "expected", "native": {"status",
 * "seen"}, "runc": ..., "runsc": ...}]}; a tier that did not run a check: status "skip". */
static json_object *matrix_json(const struct matrix *m)
{
	json_object *o = json_object_new_object(), *rows = json_object_new_array(), *tiers = json_object_new_array();

	for (int t = 0; t < T__N; t++)
		json_object_array_add(tiers, json_object_new_string(tier_keys[t]));
	json_object_object_add(o, "network", json_object_new_string("none"));
	json_object_object_add(o, "tiers", tiers);
	for (size_t i = 0; i < m->n; i++) {
		json_object *r = json_object_new_object();
		json_object_object_add(r, "check", json_object_new_string(m->rows[i].check));
		json_object_object_add(r, "expected", json_object_new_string(m->rows[i].expected));
		for (int t = 0; t < T__N; t++) {
			const struct mcell *c = &m->rows[i].c[t];
			json_object *cj = json_object_new_object();
			json_object_object_add(cj, "status", json_object_new_string(c->set ? st_names[c->st] : "skip"));
			json_object_object_add(cj, "seen", json_object_new_string(c->set ? c->seen : "not run"));
			json_object_object_add(r, tier_keys[t], cj);
		}
		json_object_array_add(rows, r);
	}
	json_object_object_add(o, "rows", rows);
	return o;
}

int cmd_doctor(int argc, char **argv)
{
#ifdef ISOL8_LEAN
	/* The image check reads the build context (libarchive): the full binary runs the doctor. */
	return cli_exec_full();
#endif
	struct doctor d = {.checks = json_object_new_array(), .group = "host"};
	const char *sock_flag = NULL, *sock;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			d.as_json = true;
		else if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			sock_flag = argv[++i];
		else if (strncmp(argv[i], "--socket=", 9) == 0)
			sock_flag = argv[i] + 9;
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			puts("Usage: isol8 doctor [--json] [--socket PATH]\n\n"
			     "Check the host (engine, cgroups, seccomp, iptables, images, isol8d's socket, the "
			     "policy,\n"
			     "runc, the systemd unit) and probe a real sandbox: capabilities, no_new_privs, seccomp\n"
			     "and refused syscalls, read-only root, /tmp noexec, its own uid, limits, network, no\n"
			     "Docker socket, host processes hidden. Without network, the probe runs on the host as\n"
			     "you (the baseline), under runc and under runsc, side by side; filtered, under your\n"
			     "policy's tier. Exit 1 on any \u2717 of a tier you may use.");
			json_object_put(d.checks);
			return 0;
		} else {
			json_object_put(d.checks);
			return cli_unknown("argument", argv[i],
					   (const char *const[]){"--json", "--socket", "--help", NULL}, NULL,
					   " (isol8 doctor [--json] [--socket PATH])");
		}
	}
	sock = broker_socket_path(sock_flag);
	d.m = xcalloc(1, sizeof *d.m);
	if (!d.as_json)
		printf("  %-16s %-28s %-32s %s\n", "GROUP", "CHECK", "EXPECTED", "SEEN");
	check_host(&d, sock);
	probe_native(&d);
	probe_sandbox(&d, sock, "none", T_RUNC);
	probe_sandbox(&d, sock, "none", T_RUNSC);
	probe_sandbox(&d, sock, "filtered", -1);
	check_writable(&d, sock);
	if (d.as_json) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "ok", json_object_new_boolean(d.failed == 0));
		json_object_object_add(o, "failed", json_object_new_int((int)d.failed));
		json_object_object_add(o, "checks", json_object_get(d.checks));
		json_object_object_add(o, "matrix", matrix_json(d.m));
		puts(json_object_to_json_string_ext(
			o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	} else {
		print_matrix(d.m);
		printf("\n%s\n", d.failed ? "[ERR] some checks failed (\u2717)" : "[OK] all checks passed");
	}
	json_object_put(d.checks);
	free(d.m);
	return d.failed ? 1 : 0;
}
