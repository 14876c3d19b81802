/* The audit log, written by the broker alone. Each record is one JSON line whose head chains
 * it to the one before (common/audit.h); the file is the daemon's for its life (flock), so two
 * daemons never interleave chains. Records are built from what the broker knows itself (who:
 * the connection token; where and with which limits: its own note of each sandbox it created)
 * and, for executions, from the fields of a V_AUDIT message, each range-checked here. Nothing
 * in a record is worker JSON: strings are re-encoded by json-c after a UTF-8 check.
 *
 * Writes are one write(2) each under a mutex, synced only when the policy says (audit.sync): a
 * crash may otherwise lose the last records in the page cache but never leaves a chain that
 * verifies with a record missing in the middle. A short write is cut back (ftruncate) so the
 * file never keeps half a record. A policy reload that names another file (or disables the
 * log) ends this file with a "stop" record and starts the other with one naming it. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "broker/audit.h"
#include "broker/broker.h"
#include "broker/metrics.h"
#include "broker/validate.h"
#include "common/audit.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/xalloc.h"
#include "proxy/rules.h"

#define SHOW_MAX (64u << 20) /* bytes of records one `isol8 audit show` gets */
#define REFUSALS_PER_SEC 20u /* more are counted and reported in the next one */

struct note {
	char id[65];
	int tenant, runtime, net, kind;
	bool writable;
	char image[ISOL8_MAX_IMAGE + 1];
	char session[ISOL8_MAX_SESSION + 1];
	struct isol8_limits lim;
	char **allow, **deny;
	size_t n_allow, n_deny;
	struct note *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = -1;
static char *log_path;
static uint64_t next_seq = 1, file_size;
static char last_hash[ISOL8_SHA256_HEXLEN] = ISOL8_AUDIT_GENESIS;
static struct isol8_audit_policy pol;
static gid_t log_gid;
static struct note *notes;
static uint64_t rl_sec;
static unsigned rl_count;
static uint64_t suppressed;
static const struct broker *g_b;

/* ---- helpers ---- */

static void iso_time(char *buf, size_t n)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100,
		 tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100, tm.tm_sec % 100,
		 (int)(ts.tv_nsec / 1000000) % 1000);
}

/* A string from a less trusted source as valid UTF-8: each byte that does not start a valid
 * sequence becomes '?'. json-c escapes control characters itself but copies other bytes. */
static json_object *jstr(const char *s)
{
	size_t n = strlen(s), i = 0, o = 0;
	_cleanup_free_ char *c = NULL;

	if (isol8_utf8_valid(s, n))
		return json_object_new_string(s);
	c = xmalloc(n + 1);
	while (i < n) {
		unsigned char b = (unsigned char)s[i];
		size_t len = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
		if (len <= n - i && isol8_utf8_valid(s + i, len)) {
			memcpy(c + o, s + i, len);
			o += len;
			i += len;
		} else {
			c[o++] = '?';
			i++;
		}
	}
	c[o] = '\0';
	return json_object_new_string(c);
}

static void add_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, jstr(v));
}

static void add_u64(json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_int64(v > INT64_MAX ? INT64_MAX : (int64_t)v));
}

static json_object *limits_json(const struct isol8_limits *l, int writable)
{
	json_object *o = json_object_new_object();
	add_u64(o, "memoryBytes", l->memory);
	json_object_object_add(o, "cpu", json_object_new_double(l->cpu));
	add_u64(o, "pids", l->pids);
	add_u64(o, "timeoutMs", l->timeout_ms);
	add_u64(o, "sandboxSize", l->sandbox_size);
	add_u64(o, "tmpSize", l->tmp_size);
	add_u64(o, "maxOutput", l->max_output);
	if (writable >= 0)
		json_object_object_add(o, "readonlyRootFs", json_object_new_boolean(writable == 0));
	return o;
}

static json_object *str_array(char *const *v, size_t n)
{
	json_object *a = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, jstr(v[i]));
	return a;
}

static const char *tenant_name(int t)
{
	return g_b && t >= 0 && (size_t)t < g_b->policy.n_tenants ? g_b->policy.tenants[t].name : NULL;
}

/* A new record: time and type first, after the head. */
static json_object *record(const char *type)
{
	json_object *o = json_object_new_object();
	char ts[40];
	iso_time(ts, sizeof ts);
	add_str(o, "time", ts);
	add_str(o, "type", type);
	/* Per-node chains: each node writes its own file, and its records say which node (the files
	 * are shipped to one place, isol8d(8) AUDIT LOG). */
	if (g_b && g_b->o.node_id)
		add_str(o, "node", g_b->o.node_id);
	return o;
}

static void add_who(json_object *o, int tenant, const char *principal, uid_t uid, gid_t gid)
{
	const char *tn = tenant_name(tenant);
	json_object_object_add(o, "tenant", tn ? jstr(tn) : NULL);
	add_str(o, "principal", principal);
	if (uid != (uid_t)-1)
		add_u64(o, "uid", uid);
	if (gid != (gid_t)-1)
		add_u64(o, "gid", gid);
}

/* ---- the file ---- */

static int open_file(const char *path, int *fd_out, struct isol8_err *err)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	bool created = false;

	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd >= 0)
		created = true;
	else if (errno == EEXIST)
		fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "audit log %s", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return isol8_err_set(err, ISOL8_E_IO, 0, "audit log %s: not a regular file", path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return isol8_err_set(err, ISOL8_E_USAGE, errno == EWOULDBLOCK ? 0 : errno,
				     "audit log %s is in use by another isol8d: give each daemon its own "
				     "(isol8d --audit-log FILE, or audit.path in the policy)",
				     path);
	if (created && geteuid() == 0 && fchown(fd, 0, log_gid) < 0)
		log_warn("audit log %s: chown root:%u: %s", path, (unsigned)log_gid, strerror(errno));
	/* Records name tenants, principals and what they ran: never for every local user. */
	if ((st.st_mode & 07) && fchmod(fd, st.st_mode & 0770) < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "audit log %s: chmod", path);
	*fd_out = steal_fd(&fd);
	return 0;
}

/* Where a file's chain stands: the next record's seq, the last record's hash, the size. */
struct chain {
	uint64_t next_seq, size;
	char hash[ISOL8_SHA256_HEXLEN];
};

/* Continue the chain from the file's last line. */
static int read_tail(int fd, const char *path, struct chain *c, struct isol8_err *err)
{
	struct stat st;
	_cleanup_free_ char *buf = NULL;
	size_t want, end, start;
	ssize_t n;
	uint64_t seq;
	char prev[ISOL8_SHA256_HEXLEN];

	if (fstat(fd, &st) < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "audit log %s", path);
	c->size = (uint64_t)st.st_size;
	if (c->size == 0) {
		c->next_seq = 1;
		memcpy(c->hash, ISOL8_AUDIT_GENESIS, sizeof c->hash);
		return 0;
	}
	want = c->size < ISOL8_AUDIT_MAX_LINE + 1 ? (size_t)c->size : ISOL8_AUDIT_MAX_LINE + 1;
	buf = xmalloc(want + 1);
	n = pread(fd, buf, want, (off_t)(c->size - want));
	if (n != (ssize_t)want)
		return isol8_err_set(err, ISOL8_E_IO, n < 0 ? errno : 0, "audit log %s: read its end", path);
	end = want;
	if (buf[end - 1] == '\n') {
		end--;
	} else {
		/* A record cut short (a crash in the middle of a write by an older version, or a hand
		 * edit): keep it, it is evidence, and start the next record on its own line. */
		log_warn("audit log %s does not end with a newline: its last line is incomplete", path);
		if (write(fd, "\n", 1) != 1)
			return isol8_err_set(err, ISOL8_E_IO, errno, "audit log %s", path);
		c->size++;
	}
	start = end;
	while (start > 0 && buf[start - 1] != '\n')
		start--;
	isol8_audit_line_hash(buf + start, end - start, c->hash);
	if (isol8_audit_parse_head(buf + start, end - start, &seq, prev) == 0 && seq < UINT64_MAX) {
		c->next_seq = seq + 1;
	} else {
		log_error("audit log %s: its last line is not an audit record; the chain continues from its hash, "
			  "and 'isol8 audit verify' will report the break there",
			  path);
		c->next_seq = 1;
	}
	return 0;
}

static void sweep_rotated(void)
{
	_cleanup_free_ char *d = xstrdup(log_path), *bcopy = xstrdup(log_path);
	const char *dir = dirname(d), *base = basename(bcopy);
	size_t bl = strlen(base);
	time_t cutoff = time(NULL) - (time_t)pol.retention_days * 86400;
	DIR *dp;
	struct dirent *e;

	if (!pol.retention_days || !(dp = opendir(dir)))
		return;
	while ((e = readdir(dp))) {
		struct stat st;
		if (strncmp(e->d_name, base, bl) != 0 || e->d_name[bl] != '.')
			continue;
		if (fstatat(dirfd(dp), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
		    st.st_mtime < cutoff) {
			if (unlinkat(dirfd(dp), e->d_name, 0) == 0)
				log_info("audit: removed %s/%s (older than %u days)", dir, e->d_name,
					 pol.retention_days);
		}
	}
	closedir(dp);
}

static int write_locked(json_object *o);

/* Rename the full file aside and start a new one whose first record names it; the chain
 * carries on (its prev is the old file's last hash). */
static void rotate_locked(void)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	char ts[32], *aside;
	struct tm tm;
	time_t now = time(NULL);
	int fd = -1;
	json_object *o;

	gmtime_r(&now, &tm);
	strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
	aside = xasprintf("%s.%s", log_path, ts);
	for (int i = 1; access(aside, F_OK) == 0 && i < 100; i++) {
		free(aside);
		aside = xasprintf("%s.%s-%d", log_path, ts, i);
	}
	if (rename(log_path, aside) < 0) {
		log_error("audit: rotate %s: %s; writing on", log_path, strerror(errno));
		free(aside);
		return;
	}
	if (open_file(log_path, &fd, &err) < 0) {
		/* Keep the old file open: records go on there (under its new name) rather than nowhere. */
		log_error("audit: %s; records go on in %s", err.msg, aside);
		free(aside);
		return;
	}
	close(log_fd);
	log_fd = fd;
	file_size = 0;
	log_info("audit: rotated %s to %s at seq %llu hash %s", log_path, aside, (unsigned long long)(next_seq - 1),
		 last_hash);
	o = record("rotate");
	{
		_cleanup_free_ char *bcopy = xstrdup(aside);
		add_str(o, "previousFile", basename(bcopy));
	}
	write_locked(o);
	json_object_put(o);
	free(aside);
	sweep_rotated();
}

static int write_locked(json_object *o)
{
	struct isol8_buf line = ISOL8_BUF_INIT;
	const char *body;
	char hash[ISOL8_SHA256_HEXLEN];
	size_t off = 0;

	if (log_fd < 0)
		return -1;
	body = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	isol8_audit_put_head(&line, next_seq, last_hash);
	isol8_buf_puts(&line, body + 1); /* the object's members after its '{' */
	if (line.len > ISOL8_AUDIT_MAX_LINE - 1) {
		log_error("audit: a %s record of %zu bytes is over the limit; not written",
			  json_object_get_string(json_object_object_get(o, "type")), line.len);
		isol8_buf_free(&line);
		return -1;
	}
	isol8_audit_line_hash(line.data, line.len, hash);
	isol8_buf_putc(&line, '\n');
	while (off < line.len) {
		ssize_t n = write(log_fd, line.data + off, line.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_error("audit: write %s: %s; record seq %llu lost", log_path,
				  n < 0 ? strerror(errno) : "short", (unsigned long long)next_seq);
			if (off && ftruncate(log_fd, (off_t)file_size) < 0)
				log_error("audit: cannot cut %s back to its last record: %s", log_path,
					  strerror(errno));
			isol8_buf_free(&line);
			return -1;
		}
		off += (size_t)n;
	}
	/* The admin's choice (audit.sync): a record on disk before the run's answer goes out. */
	if (pol.sync && fdatasync(log_fd) < 0)
		log_error("audit: fdatasync %s: %s", log_path, strerror(errno));
	file_size += line.len;
	next_seq++;
	memcpy(last_hash, hash, sizeof hash);
	isol8_buf_free(&line);
	if (pol.max_size && file_size >= pol.max_size &&
	    strcmp(json_object_get_string(json_object_object_get(o, "type")), "rotate") != 0)
		rotate_locked();
	return 0;
}

static void write_record(json_object *o)
{
	pthread_mutex_lock(&lock);
	write_locked(o);
	pthread_mutex_unlock(&lock);
	json_object_put(o);
}

static int make_parent(const char *path)
{
	_cleanup_free_ char *d = xstrdup(path);
	const char *dir = dirname(d);
	struct stat st;

	if (stat(dir, &st) == 0)
		return S_ISDIR(st.st_mode) ? 0 : -1;
	/* Only the last level (the default /var/log/isol8): the rest is the admin's layout. */
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return -1;
	if (geteuid() == 0 && chown(dir, 0, log_gid) < 0)
		log_warn("audit: chown %s: %s", dir, strerror(errno));
	return 0;
}

const char *audit_path(const struct broker *b)
{
	static char *own;

	if (b->o.audit_log)
		return b->o.audit_log;
	if (!b->policy.audit.enabled)
		return NULL;
	if (b->policy.audit.path)
		return b->policy.audit.path;
	if (strcmp(b->o.socket_path, "/run/isol8/isol8d.sock") == 0)
		return AUDIT_DEFAULT_PATH;
	if (!own)
		own = xasprintf("%s.audit.jsonl", b->o.socket_path);
	return own;
}

/* Open or create path and read where its chain stands; the file in use is not touched. */
static int open_log(const char *path, int *fd_out, struct chain *c, struct isol8_err *err)
{
	struct group *gr;
	int fd = -1;

	/* Debian's group for reading logs; root's own group where there is none. */
	gr = getgrnam("adm");
	log_gid = gr ? gr->gr_gid : 0;
	if (path[0] != '/')
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "audit log %s: an absolute path is required", path);
	if (make_parent(path) < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "audit log directory of %s", path);
	if (open_file(path, &fd, err) < 0 || read_tail(fd, path, c, err) < 0) {
		xclose(fd);
		return -1;
	}
	*fd_out = fd;
	return 0;
}

/* Make fd the file records go to, its chain continued (locked, or before any other thread). */
static void use_log(int fd, const char *path, const struct chain *c)
{
	xclose(log_fd);
	log_fd = fd;
	free(log_path);
	log_path = xstrdup(path);
	next_seq = c->next_seq;
	file_size = c->size;
	memcpy(last_hash, c->hash, sizeof last_hash);
}

static json_object *start_record(const struct broker *b)
{
	json_object *o = record("start");
	add_u64(o, "pid", (uint64_t)getpid());
	add_str(o, "version", PACKAGE_VERSION);
	add_str(o, "instance", b->o.socket_path);
	add_str(o, "policy", b->policy.source ? b->policy.source : "built-in");
	return o;
}

int audit_open(struct broker *b, const char *path, struct isol8_err *err)
{
	struct chain c;
	int fd;

	g_b = b;
	pol = b->policy.audit;
	metrics_init(b);
	if (!path)
		return 0;
	if (open_log(path, &fd, &c, err) < 0)
		return -1;
	use_log(fd, path, &c);
	log_info("audit log %s: continuing at seq %llu", path, (unsigned long long)next_seq);
	write_record(start_record(b));
	return 0;
}

/* The reloaded policy's audit block: its choices apply from the next record, and when it
 * names another file (or none), this file ends with a "stop" record naming the next one and
 * the next one starts with a record naming this file and its last hash, so the two chains
 * read as one. A file that cannot be opened leaves records going where they went. */
void audit_reload(struct broker *b)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	const char *path = audit_path(b);
	_cleanup_free_ char *prev = NULL;
	char prev_hash[ISOL8_SHA256_HEXLEN];
	struct chain c;
	json_object *o;
	int fd = -1;

	pthread_mutex_lock(&lock);
	pol = b->policy.audit;
	if (log_fd >= 0 && path && strcmp(path, log_path) == 0) {
		o = record("reload");
		add_str(o, "policy", b->policy.source ? b->policy.source : "built-in");
		json_object_object_add(o, "includeCode", json_object_new_boolean(pol.include_code));
		json_object_object_add(o, "includeOutput", json_object_new_boolean(pol.include_output));
		json_object_object_add(o, "sync", json_object_new_boolean(pol.sync));
		write_locked(o);
		json_object_put(o);
		goto out;
	}
	if (log_fd < 0 && !path)
		goto out;
	if (path && open_log(path, &fd, &c, &err) < 0) {
		log_error("audit: reload: %s; records go on %s%s", err.msg, log_fd >= 0 ? "in " : "unwritten",
			  log_fd >= 0 ? log_path : " (the log was off)");
		goto out;
	}
	if (log_fd >= 0) {
		o = record("stop");
		add_str(o, "reason", path ? "policy reload: the log moves" : "policy reload: the log is off");
		json_object_object_add(o, "nextFile", path ? jstr(path) : NULL);
		write_locked(o);
		json_object_put(o);
		log_info("audit log %s: last record seq %llu hash %s%s%s", log_path, (unsigned long long)(next_seq - 1),
			 last_hash, path ? "; continuing in " : "; the log is off", path ? path : "");
		prev = xstrdup(log_path);
		memcpy(prev_hash, last_hash, sizeof prev_hash);
		log_fd = xclose(log_fd);
	}
	if (!path) {
		free(log_path);
		log_path = NULL;
		goto out;
	}
	/* A new, empty file carries the chain on, as a rotation does: both verify as one. */
	if (prev && c.size == 0) {
		c.next_seq = next_seq;
		memcpy(c.hash, last_hash, sizeof c.hash);
	}
	use_log(fd, path, &c);
	log_info("audit log %s: continuing at seq %llu", path, (unsigned long long)next_seq);
	o = start_record(b);
	if (prev) {
		add_str(o, "previousFile", prev);
		add_str(o, "previousHash", prev_hash);
	}
	write_locked(o);
	json_object_put(o);
out:
	pthread_mutex_unlock(&lock);
}

void audit_close(void)
{
	if (log_fd < 0)
		return;
	write_record(record("stop"));
	pthread_mutex_lock(&lock);
	log_info("audit log %s: last record seq %llu hash %s", log_path, (unsigned long long)(next_seq - 1), last_hash);
	log_fd = xclose(log_fd);
	pthread_mutex_unlock(&lock);
}

uint8_t audit_assign_flags(const struct broker *b)
{
	(void)b;
	/* Always on: the reports feed the metrics too, audit log or not. */
	if (log_fd < 0)
		return ISOL8_AUDIT_F_ON;
	return (uint8_t)(ISOL8_AUDIT_F_ON | (pol.include_code ? ISOL8_AUDIT_F_CODE : 0) |
			 (pol.include_output ? ISOL8_AUDIT_F_OUTPUT : 0));
}

/* ---- notes on sandboxes ---- */

static void note_free(struct note *n)
{
	for (size_t i = 0; i < n->n_allow; i++)
		free(n->allow[i]);
	for (size_t i = 0; i < n->n_deny; i++)
		free(n->deny[i]);
	free(n->allow);
	free(n->deny);
	free(n);
}

void audit_note_sandbox(const char *id, const struct create_req *r)
{
	struct note *n;

	/* Kept with or without the log: the metrics label runs by the sandbox's runtime. */
	n = xcalloc(1, sizeof *n);
	snprintf(n->id, sizeof n->id, "%s", id);
	n->tenant = r->tenant;
	n->runtime = r->runtime;
	n->net = r->net_mode;
	n->kind = r->kind;
	n->writable = r->writable;
	n->lim = r->lim;
	snprintf(n->image, sizeof n->image, "%s", r->image);
	snprintf(n->session, sizeof n->session, "%s", r->session);
	pthread_mutex_lock(&lock);
	n->next = notes;
	notes = n;
	pthread_mutex_unlock(&lock);
}

static char **copy_list(char *const *v, size_t n)
{
	char **c = xcalloc(n + 1, sizeof *c);
	for (size_t i = 0; i < n; i++)
		c[i] = xstrdup(v[i]);
	return c;
}

void audit_note_net(const char *id, const struct net_patterns *p)
{
	pthread_mutex_lock(&lock);
	for (struct note *n = notes; n; n = n->next)
		if (strcmp(n->id, id) == 0 && !n->allow) {
			n->allow = copy_list(p->allow, p->n_allow);
			n->n_allow = p->n_allow;
			n->deny = copy_list(p->deny, p->n_deny);
			n->n_deny = p->n_deny;
			break;
		}
	pthread_mutex_unlock(&lock);
}

void audit_forget(const char *id)
{
	struct note **pp, *n = NULL;

	pthread_mutex_lock(&lock);
	for (pp = &notes; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->id, id) == 0) {
			n = *pp;
			*pp = n->next;
			break;
		}
	pthread_mutex_unlock(&lock);
	if (n)
		note_free(n);
}

/* ---- refusals and clamps ---- */

/* A refused peer can repeat its request as fast as it likes: records beyond a few a second are
 * counted, and the count goes into the next record that is written. */
static bool refusal_admit(uint64_t *dropped)
{
	uint64_t sec = clock_mono_ms() / 1000;
	bool ok;

	pthread_mutex_lock(&lock);
	if (sec != rl_sec) {
		rl_sec = sec;
		rl_count = 0;
	}
	ok = rl_count++ < REFUSALS_PER_SEC;
	if (!ok)
		suppressed++;
	*dropped = ok ? suppressed : 0;
	if (ok)
		suppressed = 0;
	pthread_mutex_unlock(&lock);
	return ok;
}

void audit_refusal(const struct broker *b, int tenant, const char *principal, uid_t uid, gid_t gid, const char *action,
		   const struct isol8_err *why)
{
	uint64_t dropped;
	json_object *o;

	(void)b;
	metrics_refusal(tenant, why->code);
	if (log_fd < 0 || !refusal_admit(&dropped))
		return;
	o = record("refusal");
	add_who(o, tenant, principal, uid, gid);
	add_str(o, "action", action);
	add_str(o, "reason", isol8_err_code_name(why->code));
	add_str(o, "message", why->msg);
	if (dropped)
		add_u64(o, "suppressedBefore", dropped);
	write_record(o);
}

void audit_refusal_token(const struct broker *b, unsigned worker, uint32_t gen, uint32_t token, const char *action,
			 const struct isol8_err *why)
{
	struct token_who w;

	/* The broker's own prewarm tokens stand for no caller: nothing was refused to anyone. A
	 * pool top-up with the same token repeats the refusal: one record per request. */
	if (table_token_who(token, worker, gen, &w) < 0 || w.uid == (uid_t)-1 ||
	    !table_token_once(token, worker, gen, 1u))
		return;
	audit_refusal(b, w.tenant, w.principal, w.uid, w.gid, action, why);
}

void audit_clamp(const struct broker *b, unsigned worker, uint32_t gen, uint32_t token, const char *container,
		 const struct isol8_limits *asked, const struct isol8_limits *applied)
{
	/* Not in the record: with a pool top-up running, the first sandbox made with this token
	 * need not be the run's (its execution record names that one, with the applied limits). */
	(void)container;
	struct token_who w;
	json_object *o;

	(void)b;
	if (log_fd < 0 || table_token_who(token, worker, gen, &w) < 0 || w.uid == (uid_t)-1 ||
	    !table_token_once(token, worker, gen, 2u))
		return;
	o = record("clamp");
	add_who(o, w.tenant, w.principal, w.uid, w.gid);
	json_object_object_add(o, "requested", limits_json(asked, -1));
	json_object_object_add(o, "applied", limits_json(applied, -1));
	write_record(o);
}

/* ---- executions ---- */

static const char *const outcome_names[AUDIT__MAX] = {"ok", "error", "timeout", "oom", "refused"};
static const char *const kind_names[SANDBOX__MAX] = {"ephemeral", "session", "persist"};

static bool exec_id_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > ISOL8_AUDIT_MAX_EXEC_ID)
		return false;
	return strspn(s, "0123456789abcdef-") == n;
}

static bool hash_ok(const char *s)
{
	size_t n = strlen(s);
	return n == 0 || (n == 64 && strspn(s, "0123456789abcdef") == 64);
}

struct exec_msg {
	uint32_t token, exit_code, net_requests, net_blocked, n_meta;
	uint8_t outcome, flags;
	uint16_t err_code;
	uint64_t duration_ms, total_ms, out_bytes, err_bytes, cpu_us, mem, peak, net_in, net_out;
	char *container, *exec_id, *err_msg, *code_hash, *code, *out_head, *err_head;
	char *meta_k[ISOL8_AUDIT_META_MAX], *meta_v[ISOL8_AUDIT_META_MAX];
};

static void exec_msg_free(struct exec_msg *e)
{
	free(e->container);
	free(e->exec_id);
	free(e->err_msg);
	free(e->code_hash);
	free(e->code);
	free(e->out_head);
	free(e->err_head);
	for (uint32_t i = 0; i < ISOL8_AUDIT_META_MAX; i++) {
		free(e->meta_k[i]);
		free(e->meta_v[i]);
	}
}

static int exec_msg_parse(struct isol8_msg *m, struct exec_msg *e, struct isol8_err *err)
{
	if (isol8_get_u32(m, &e->token, err) < 0 || isol8_get_str(m, &e->container, ISOL8_MAX_ID, err) < 0 ||
	    isol8_get_str(m, &e->exec_id, ISOL8_AUDIT_MAX_EXEC_ID, err) < 0 || isol8_get_u8(m, &e->outcome, err) < 0 ||
	    isol8_get_u32(m, &e->exit_code, err) < 0 || isol8_get_u16(m, &e->err_code, err) < 0 ||
	    isol8_get_str(m, &e->err_msg, ISOL8_AUDIT_MAX_ERRMSG, err) < 0 ||
	    isol8_get_u64(m, &e->duration_ms, err) < 0 || isol8_get_u64(m, &e->total_ms, err) < 0 ||
	    isol8_get_u8(m, &e->flags, err) < 0 || isol8_get_u64(m, &e->out_bytes, err) < 0 ||
	    isol8_get_u64(m, &e->err_bytes, err) < 0 || isol8_get_u64(m, &e->cpu_us, err) < 0 ||
	    isol8_get_u64(m, &e->mem, err) < 0 || isol8_get_u64(m, &e->peak, err) < 0 ||
	    isol8_get_u64(m, &e->net_in, err) < 0 || isol8_get_u64(m, &e->net_out, err) < 0 ||
	    isol8_get_u32(m, &e->net_requests, err) < 0 || isol8_get_u32(m, &e->net_blocked, err) < 0 ||
	    isol8_get_str(m, &e->code_hash, 64, err) < 0 || isol8_get_u32(m, &e->n_meta, err) < 0)
		return -1;
	if (e->n_meta > ISOL8_AUDIT_META_MAX)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "audit: %u metadata pairs (at most %u)", e->n_meta,
				     ISOL8_AUDIT_META_MAX);
	for (uint32_t i = 0; i < e->n_meta; i++) {
		if (isol8_get_str(m, &e->meta_k[i], ISOL8_AUDIT_META_KEY, err) < 0 ||
		    isol8_get_str(m, &e->meta_v[i], ISOL8_AUDIT_META_VALUE, err) < 0)
			return -1;
		if (!isol8_audit_meta_key_ok(e->meta_k[i]) || !isol8_audit_meta_value_ok(e->meta_v[i]))
			return isol8_err_set(err, ISOL8_E_PROTO, 0, "audit: metadata pair %u is not valid", i);
		for (uint32_t k = 0; k < i; k++)
			if (strcmp(e->meta_k[k], e->meta_k[i]) == 0)
				return isol8_err_set(err, ISOL8_E_PROTO, 0, "audit: metadata key repeated");
	}
	if (isol8_get_str(m, &e->code, ISOL8_AUDIT_MAX_CODE, err) < 0 ||
	    isol8_get_str(m, &e->out_head, ISOL8_AUDIT_MAX_OUTPUT, err) < 0 ||
	    isol8_get_str(m, &e->err_head, ISOL8_AUDIT_MAX_OUTPUT, err) < 0 || isol8_msg_end(m, err) < 0)
		return -1;
	if (e->outcome >= AUDIT__MAX)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "audit: outcome %u out of range", e->outcome);
	if (e->flags & ~ISOL8_AUDIT_R__ALL)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "audit: unknown flags 0x%x", e->flags);
	if (e->err_code >= ISOL8_E__MAX || (e->outcome == AUDIT_ERROR) != (e->err_code != 0))
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "audit: error code %u does not fit outcome %s", e->err_code,
				     outcome_names[e->outcome]);
	if (!exec_id_ok(e->exec_id) || !hash_ok(e->code_hash))
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "audit: bad execution id or code hash");
	/* The worker sends code and output only when the policy asked for them. */
	if ((*e->code && !pol.include_code) || ((*e->out_head || *e->err_head) && !pol.include_output))
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "audit: code or output the policy does not record");
	return 0;
}

/* The note taken at create time, copied out; its lists stay in the table (see add_sandbox). */
static bool find_note(const char *id, struct note *nt)
{
	bool found = false;

	pthread_mutex_lock(&lock);
	for (struct note *n = notes; n; n = n->next)
		if (strcmp(n->id, id) == 0) {
			*nt = *n;
			found = true;
			break;
		}
	pthread_mutex_unlock(&lock);
	return found;
}

/* The sandbox as it was created; the host lists are copied under the lock, since the sandbox
 * may be forgotten meanwhile. */
static void add_sandbox(json_object *o, const struct note *nt)
{
	add_str(o, "container", nt->id);
	add_str(o, "image", nt->image);
	add_str(o, "runtime", isol8_runtime_name(nt->runtime));
	add_str(o, "kind", kind_names[nt->kind]);
	if (*nt->session)
		add_str(o, "session", nt->session);
	json_object_object_add(o, "limits", limits_json(&nt->lim, nt->writable));
	add_str(o, "network", isol8_net_mode_name(nt->net));
	if (nt->net != ISOL8_NET_FILTERED)
		return;
	pthread_mutex_lock(&lock);
	for (struct note *n = notes; n; n = n->next)
		if (strcmp(n->id, nt->id) == 0) {
			json_object_object_add(o, "allowedHosts", str_array(n->allow, n->n_allow));
			json_object_object_add(o, "deniedHosts", str_array(n->deny, n->n_deny));
			break;
		}
	pthread_mutex_unlock(&lock);
}

static json_object *usage_json(const struct exec_msg *e, bool host_net)
{
	double pct = e->duration_ms ? (double)e->cpu_us / 10.0 / (double)e->duration_ms : 0.0;
	json_object *v = json_object_new_object();

	add_u64(v, "cpuTimeMs", e->cpu_us / 1000);
	json_object_object_add(v, "cpuPercent", json_object_new_double((double)(int64_t)(pct * 100.0 + 0.5) / 100.0));
	add_u64(v, "memoryMB", (e->mem + (1u << 19)) >> 20);
	add_u64(v, "peakMemoryMB", (e->peak + (1u << 19)) >> 20);
	add_u64(v, "peakMemoryBytes", e->peak);
	if (host_net) {
		/* The host's counters are not the sandbox's: unknown. */
		json_object_object_add(v, "networkBytesIn", NULL);
		json_object_object_add(v, "networkBytesOut", NULL);
	} else {
		add_u64(v, "networkBytesIn", e->net_in);
		add_u64(v, "networkBytesOut", e->net_out);
	}
	return v;
}

/* What the run did: outcome, error, times, output sizes, usage and network counters. */
static void add_outcome(json_object *o, const struct exec_msg *e, bool host_net)
{
	json_object *v;

	add_str(o, "outcome", outcome_names[e->outcome]);
	json_object_object_add(o, "exitCode", json_object_new_int((int32_t)e->exit_code));
	if (e->err_code || e->outcome == AUDIT_REFUSED) {
		v = json_object_new_object();
		add_str(v, "code", isol8_err_code_name(e->err_code ? e->err_code : ISOL8_E_POLICY));
		add_str(v, "message", e->err_msg);
		json_object_object_add(o, "error", v);
	}
	add_u64(o, "durationMs", e->duration_ms);
	add_u64(o, "totalMs", e->total_ms);
	json_object_object_add(o, "timedOut", json_object_new_boolean(e->outcome == AUDIT_TIMEOUT));
	json_object_object_add(o, "oomKilled", json_object_new_boolean(e->outcome == AUDIT_OOM));
	add_u64(o, "stdoutBytes", e->out_bytes);
	add_u64(o, "stderrBytes", e->err_bytes);
	json_object_object_add(
		o, "truncated",
		json_object_new_boolean(e->flags & (ISOL8_AUDIT_R_STDOUT_TRUNC | ISOL8_AUDIT_R_STDERR_TRUNC)));
	if (e->flags & ISOL8_AUDIT_R_USAGE)
		json_object_object_add(o, "resourceUsage", usage_json(e, host_net));
	if (e->flags & ISOL8_AUDIT_R_NET) {
		v = json_object_new_object();
		add_u64(v, "requests", e->net_requests);
		add_u64(v, "blocked", e->net_blocked);
		json_object_object_add(o, "networkSummary", v);
	}
}

/* What was run: the code's hash, the caller's metadata, and (by policy) code and output heads. */
static void add_input(json_object *o, const struct exec_msg *e)
{
	if (*e->code_hash)
		add_str(o, "codeHash", e->code_hash);
	if (e->n_meta) {
		json_object *v = json_object_new_object();
		for (uint32_t i = 0; i < e->n_meta; i++)
			add_str(v, e->meta_k[i], e->meta_v[i]);
		json_object_object_add(o, "metadata", v);
	}
	if (*e->code)
		add_str(o, "code", e->code);
	if (pol.include_output) {
		add_str(o, "stdoutHead", e->out_head);
		add_str(o, "stderrHead", e->err_head);
	}
}

int audit_execution(struct broker *b, unsigned worker, uint32_t gen, struct isol8_msg *m, struct isol8_err *err)
{
	struct exec_msg e = {0};
	struct token_who w;
	struct owned_container oc;
	struct note nt = {0};
	bool have_note = false;
	json_object *o;
	int rc = -1;

	(void)b;
	if (exec_msg_parse(m, &e, err) < 0)
		goto out;
	if (table_token_who(e.token, worker, gen, &w) < 0 || w.uid == (uid_t)-1) {
		isol8_err_set(err, ISOL8_E_PROTO, 0, "audit: unknown or expired connection token %u", e.token);
		goto out;
	}
	if (*e.container) {
		if (table_container_owned(e.container, worker, gen, &oc) < 0 || oc.tenant != w.tenant) {
			isol8_err_set(err, ISOL8_E_POLICY, 0, "audit: sandbox %.12s is not this connection's",
				      e.container);
			goto out;
		}
		have_note = find_note(e.container, &nt);
	}
	metrics_run(w.tenant, have_note ? nt.runtime : -1, e.outcome, e.duration_ms);
	if (log_fd < 0) {
		rc = 0;
		goto out;
	}
	o = record("execution");
	add_str(o, "executionId", e.exec_id);
	add_who(o, w.tenant, w.principal, w.uid, w.gid);
	if (have_note)
		add_sandbox(o, &nt);
	else
		json_object_object_add(o, "container", NULL);
	add_outcome(o, &e, have_note && nt.net == ISOL8_NET_HOST);
	add_input(o, &e);
	write_record(o);
	rc = 0;
out:
	exec_msg_free(&e);
	return rc;
}

/* ---- isol8 audit show ---- */

struct show_job {
	int fd;
	bool all;
	char tenant[ISOL8_MAX_TENANT + 1];
};

static int show_collect(const char *want, int mfd, struct isol8_err *err)
{
	_cleanup_free_ char *path = NULL;
	FILE *f;
	char *line = NULL;
	size_t cap = 0, total = 0;
	ssize_t n;

	pthread_mutex_lock(&lock);
	path = log_path ? xstrdup(log_path) : NULL;
	pthread_mutex_unlock(&lock);
	if (!path)
		return isol8_err_set(err, ISOL8_E_NOTFOUND, 0, "this isol8d keeps no audit log (policy audit.enabled)");
	f = fopen(path, "re");
	if (!f)
		return isol8_err_set(err, ISOL8_E_IO, errno, "audit log %s", path);
	while ((n = getline(&line, &cap, f)) > 0) {
		bool keep = true;
		if (want) {
			/* The broker's own file, written by it alone; parsed only to pick the tenant. */
			json_object *o = json_tokener_parse(line), *t;
			keep = o && json_object_object_get_ex(o, "tenant", &t) &&
				json_object_is_type(t, json_type_string) &&
				strcmp(json_object_get_string(t), want) == 0;
			json_object_put(o);
		}
		if (!keep)
			continue;
		if (total + (size_t)n > SHOW_MAX)
			break;
		if (write(mfd, line, (size_t)n) != n) {
			isol8_err_set(err, ISOL8_E_IO, errno, "memfd");
			free(line);
			fclose(f);
			return -1;
		}
		total += (size_t)n;
	}
	free(line);
	fclose(f);
	return 0;
}

static void *show_main(void *arg)
{
	struct show_job *j = arg;
	struct isol8_err err = ISOL8_ERR_INIT;
	int mfd = memfd_create("isol8-audit", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (mfd < 0)
		isol8_err_set(&err, ISOL8_E_IO, errno, "memfd_create");
	if (mfd >= 0 && show_collect(j->all ? NULL : j->tenant, mfd, &err) == 0 && lseek(mfd, 0, SEEK_SET) == 0 &&
	    isol8_memfd_seal(mfd, &err) == 0) {
		isol8_ipc_send(j->fd, WK_FILE, 0, NULL, 0, &mfd, 1, &err);
	} else {
		struct isol8_buf p = ISOL8_BUF_INIT;
		struct isol8_err e2 = ISOL8_ERR_INIT;
		isol8_put_u16(&p, (uint16_t)(err.code ? err.code : ISOL8_E_INTERNAL));
		isol8_put_str(&p, err.msg);
		isol8_ipc_send_buf(j->fd, WK_ERROR, 0, &p, NULL, 0, &e2);
		isol8_buf_free(&p);
	}
	xclose(mfd);
	close(j->fd);
	free(j);
	return NULL;
}

void audit_serve_show(struct broker *b, int fd, const char *tenant)
{
	struct show_job *j = xcalloc(1, sizeof *j);
	pthread_attr_t attr;
	pthread_t th;

	(void)b;
	j->fd = fd;
	/* The name, not the index: a reload may renumber tenants while the thread reads. */
	j->all = !tenant;
	snprintf(j->tenant, sizeof j->tenant, "%s", tenant ? tenant : "");
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, show_main, j) != 0) {
		close(fd);
		free(j);
	}
	pthread_attr_destroy(&attr);
}
