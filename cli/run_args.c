/* `isol8 run` flag parsing and validation (contract in run_args.h).
 *
 * A hand-written table parser instead of getopt_long: getopt accepts abbreviated long options
 * (`--pers` would silently pick one of --persist/--persistent) and prints its own messages; we
 * want exact names and exact one-line errors. */
#include "config.h"
#include "cli/run_args.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "common/parse.h"
#include "common/proto.h"
#include "common/run_defaults.h"
#include "common/suggest.h"
#include "cli/registries.h"
#include "common/xalloc.h"

/* Docker refuses memory limits below 6 MiB; saying so here beats an engine error later. */
#define RUN_MIN_MEMORY (6ull * 1024 * 1024)
#define RUN_MAX_PACKAGE 214u     /* npm's name limit, also plenty for pip/apt specs */
#define RUN_MAX_SOCKET_PATH 107u /* sizeof(sun_path) - 1 */

enum opt_id {
	O_EVAL = 1,
	O_CMD,
	O_RUNTIME,
	O_NET,
	O_ISOLATION,
	O_ALLOW,
	O_DENY,
	O_OUT,
	O_NO_STREAM,
	O_PERSISTENT,
	O_PERSIST,
	O_PERSIST_TTL,
	O_DEBUG,
	O_TIMEOUT,
	O_MEMORY,
	O_CPU,
	O_IMAGE,
	O_PIDS,
	O_WRITABLE,
	O_MAX_OUTPUT,
	O_SECRET,
	O_ENV,
	O_SANDBOX_SIZE,
	O_TMP_SIZE,
	O_STDIN,
	O_INSTALL,
	O_SETUP,
	O_WORKDIR,
	O_URL,
	O_GITHUB,
	O_GIST,
	O_HASH,
	O_INSECURE_URL,
	O_LOG_NETWORK,
	O_FILES,
	O_HOST,
	O_KEY,
	O_SESSION_ID,
	O_JSON,
	O_TIMINGS,
	O_USAGE,
	O_SOCKET,
	O_AGENT_FLAGS,
	O_OUTPUT_PATH,
	O_OUTPUT_DIR,
	O_HELP,
	O_SECRET_FILE,
	O_ENV_FILE,
};

struct opt_def {
	const char *name; /* long name without "--" */
	char short_name;
	bool has_arg;
	enum opt_id id;
};

static const struct opt_def opts[] = {
	{"eval", 'e', true, O_EVAL},
	{"cmd", 0, true, O_CMD},
	{"runtime", 'r', true, O_RUNTIME},
	{"net", 0, true, O_NET},
	{"isolation", 0, true, O_ISOLATION},
	{"allow", 0, true, O_ALLOW},
	{"deny", 0, true, O_DENY},
	{"out", 0, true, O_OUT},
	{"no-stream", 0, false, O_NO_STREAM},
	{"persistent", 0, false, O_PERSISTENT},
	{"persist", 0, false, O_PERSIST},
	{"persist-ttl", 0, true, O_PERSIST_TTL},
	{"debug", 0, false, O_DEBUG},
	{"timeout", 0, true, O_TIMEOUT},
	{"memory", 0, true, O_MEMORY},
	{"cpu", 0, true, O_CPU},
	{"image", 0, true, O_IMAGE},
	{"pids-limit", 0, true, O_PIDS},
	{"writable", 0, false, O_WRITABLE},
	{"max-output", 0, true, O_MAX_OUTPUT},
	{"secret", 0, true, O_SECRET},
	{"env", 0, true, O_ENV},
	{"secret-file", 0, true, O_SECRET_FILE},
	{"env-file", 0, true, O_ENV_FILE},
	{"sandbox-size", 0, true, O_SANDBOX_SIZE},
	{"tmp-size", 0, true, O_TMP_SIZE},
	{"stdin", 0, true, O_STDIN},
	{"install", 0, true, O_INSTALL},
	{"setup", 0, true, O_SETUP},
	{"workdir", 0, true, O_WORKDIR},
	{"url", 0, true, O_URL},
	{"github", 0, true, O_GITHUB},
	{"gist", 0, true, O_GIST},
	{"hash", 0, true, O_HASH},
	{"allow-insecure-code-url", 0, false, O_INSECURE_URL},
	{"log-network", 0, false, O_LOG_NETWORK},
	{"files", 0, true, O_FILES},
	{"host", 0, true, O_HOST},
	{"key", 0, true, O_KEY},
	{"session-id", 0, true, O_SESSION_ID},
	{"json", 0, false, O_JSON},
	{"timings", 0, false, O_TIMINGS},
	{"usage", 0, false, O_USAGE},
	{"socket", 0, true, O_SOCKET},
	{"agent-flags", 0, true, O_AGENT_FLAGS},
	{"output-path", 0, true, O_OUTPUT_PATH},
	{"output-dir", 0, true, O_OUTPUT_DIR},
	{"help", 'h', false, O_HELP},
};

static const char *const runtimes[] = {"python", "node", "bun", "deno", "bash", "agent"};

void run_defaults_builtin(struct run_defaults *d)
{
	memset(d, 0, sizeof *d);
	d->timeout_ms = 30000;
	d->memory = 512ull * 1024 * 1024;
	d->cpu = 1.0;
	d->network = "none";
	d->sandbox_size = 512ull * 1024 * 1024;
	d->tmp_size = 256ull * 1024 * 1024;
}

void strv_push(struct strv *s, const char *v)
{
	s->v = xrealloc(s->v, (s->n + 2) * sizeof *s->v);
	s->v[s->n++] = xstrdup(v);
	s->v[s->n] = NULL;
}

static bool strv_has(const struct strv *s, const char *v)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], v) == 0)
			return true;
	return false;
}

void strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static void kv_set(struct kvlist *l, char *key, char *value)
{
	for (size_t i = 0; i < l->n; i++) {
		if (strcmp(l->keys[i], key) == 0) {
			free(key);
			free(l->values[i]);
			l->values[i] = value;
			return;
		}
	}
	l->keys = xrealloc(l->keys, (l->n + 1) * sizeof *l->keys);
	l->values = xrealloc(l->values, (l->n + 1) * sizeof *l->values);
	l->keys[l->n] = key;
	l->values[l->n] = value;
	l->n++;
}

static void kv_free(struct kvlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->keys[i]);
		free(l->values[i]);
	}
	free(l->keys);
	free(l->values);
	memset(l, 0, sizeof *l);
}

void run_opts_free(struct run_opts *o)
{
	char **strs[] = {&o->file,        &o->eval,    &o->cmd,         &o->runtime,    &o->file_ext,   &o->stdin_data,
			 &o->files_dir,   &o->workdir, &o->image,       &o->network,    &o->session_id, &o->out_file,
			 &o->socket_path, &o->url,     &o->github,      &o->gist,       &o->hash,       &o->code_url,
			 &o->host,        &o->key,     &o->agent_flags, &o->output_dir, &o->isolation};

	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
	strv_free(&o->args);
	strv_free(&o->output_paths);
	strv_free(&o->setup);
	strv_free(&o->install);
	strv_free(&o->allow);
	strv_free(&o->deny);
	kv_free(&o->secrets);
	kv_free(&o->env);
}

bool run_valid_runtime(const char *name)
{
	for (size_t i = 0; i < sizeof runtimes / sizeof runtimes[0]; i++)
		if (strcmp(name, runtimes[i]) == 0)
			return true;
	return false;
}

const char *run_runtime_from_path(const char *path)
{
	static const struct {
		const char *ext, *rt;
	} map[] = {
		{"py", "python"}, {"js", "node"},  {"mjs", "node"}, {"cjs", "node"},
		{"ts", "bun"},    {"mts", "deno"}, {"sh", "bash"},  {"txt", "agent"},
	};
	const char *base = strrchr(path, '/');
	const char *dot;

	base = base ? base + 1 : path;
	dot = strrchr(base, '.');
	if (!dot)
		return NULL;
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(dot + 1, map[i].ext) == 0)
			return map[i].rt;
	return NULL;
}

int run_resolve_sandbox_path(const char *p, const char *what, char **out, struct isol8_err *err)
{
	_Static_assert(sizeof RUN_SANDBOX_ROOT == 9, "root is /sandbox");
	size_t plen = strlen(p);
	char *full, *res, *seg, *save = NULL;
	size_t rlen = 0;

	if (plen > ISOL8_MAX_PATH)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s is too long (max %u bytes)", what, ISOL8_MAX_PATH);
	full = p[0] == '/' ? xstrdup(p) : xasprintf(RUN_SANDBOX_ROOT "/%s", p);
	res = xmalloc(strlen(full) + 2);
	res[0] = '\0';
	for (seg = strtok_r(full, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
		if (strcmp(seg, ".") == 0)
			continue;
		if (strcmp(seg, "..") == 0) {
			char *slash = strrchr(res, '/');
			rlen = slash ? (size_t)(slash - res) : 0;
			res[rlen] = '\0';
			continue;
		}
		res[rlen++] = '/';
		strcpy(res + rlen, seg);
		rlen += strlen(seg);
	}
	free(full);
	if (rlen == 0)
		strcpy(res, "/");
	if (strcmp(res, RUN_SANDBOX_ROOT) != 0 && strncmp(res, RUN_SANDBOX_ROOT "/", 9) != 0) {
		free(res);
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s must be inside " RUN_SANDBOX_ROOT, what);
	}
	*out = res;
	return 0;
}

/* Package specs go to pip/npm/bun/apt as argv elements, never through a shell, but a leading '-'
 * would still be read as an option by those tools, and control bytes only hide intent. */
static bool valid_package(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > RUN_MAX_PACKAGE || !(isalnum((unsigned char)s[0]) || s[0] == '@'))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && !strchr("._-+@/:=<>~![],", c))
			return false;
	}
	return true;
}

static bool valid_image(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > ISOL8_MAX_IMAGE || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isgraph((unsigned char)s[i]))
			return false;
	return true;
}

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

static int parse_size_flag(const char *flag, const char *v, uint64_t min, uint64_t *out, struct isol8_err *err)
{
	if (isol8_parse_size(v, out, err) < 0)
		return isol8_err_wrap(err, "--%s", flag);
	if (*out < min) {
		char buf[32];
		isol8_format_size(min, buf, sizeof buf);
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "--%s must be at least %s", flag, buf);
	}
	return 0;
}

#define RUN_MAX_KV_FILE (1u << 20)

/* --secret NAME / --env NAME: the value from the caller's environment, as `docker run -e NAME`
 * does, so that it never has to be on a command line (every local user can read
 * /proc/PID/cmdline). */
static int add_from_environ(struct kvlist *l, const char *flag, const char *name, bool secret, struct isol8_err *err)
{
	const char *val = getenv(name);

	/* A secret's name is not repeated: a value typed where its name belongs must not be. */
	if (!val && secret)
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "--%s NAME: no variable of that name is set in the environment (export it, or use "
				     "--%s-file FILE)",
				     flag, flag);
	if (!val)
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "--%s %s: %s is not set in the environment (export it, or use --%s-file FILE)",
				     flag, name, name, flag);
	kv_set(l, xstrdup(name), xstrdup(val));
	return 0;
}

static int add_kv(struct kvlist *l, const char *flag, const char *v, bool secret, struct isol8_err *err)
{
	char *k = NULL, *val = NULL;

	if (v && !strchr(v, '=') && isol8_valid_env_name(v))
		return add_from_environ(l, flag, v, secret, err);
	if (isol8_parse_kv(v, &k, &val, err) < 0) {
		/* The parser quotes its input; a secret's value must not end up on a terminal or in logs. */
		if (secret)
			return isol8_err_set(err, ISOL8_E_USAGE, 0,
					     "--%s expects KEY=VALUE with KEY matching [A-Za-z_][A-Za-z0-9_]*", flag);
		return isol8_err_wrap(err, "--%s", flag);
	}
	kv_set(l, k, val);
	return 0;
}

/* --env-file / --secret-file: KEY=VALUE lines (docker's --env-file format: blank lines and
 * lines starting with '#' skipped, the value taken verbatim up to the end of the line). Errors
 * name the file and the line, never a value. */
static int add_kv_file(struct kvlist *l, const char *flag, const char *path, bool secret, struct isol8_err *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct isol8_buf b = ISOL8_BUF_INIT;
	char tmp[4096];
	size_t line = 0, pos = 0;
	int r = 0;

	if (fd < 0)
		return isol8_err_set(err, ISOL8_E_USAGE, errno, "--%s: cannot open %s", flag, path);
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof tmp);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || b.len + (size_t)n > RUN_MAX_KV_FILE) {
			r = n < 0 ? isol8_err_set(err, ISOL8_E_IO, errno, "--%s: cannot read %s", flag, path)
				  : isol8_err_set(err, ISOL8_E_USAGE, 0, "--%s: %s is larger than 1 MiB", flag, path);
			goto out;
		}
		if (n == 0)
			break;
		isol8_buf_append(&b, tmp, (size_t)n);
	}
	while (pos < b.len) {
		const char *s = b.data + pos, *nl = memchr(s, '\n', b.len - pos);
		size_t n = nl ? (size_t)(nl - s) : b.len - pos;
		char *k = NULL, *val = NULL, *text;

		pos += n + (nl ? 1 : 0);
		line++;
		if (n && s[n - 1] == '\r')
			n--;
		if (n == 0 || s[0] == '#')
			continue;
		if (memchr(s, '\0', n)) {
			r = isol8_err_set(err, ISOL8_E_USAGE, 0, "--%s: %s line %zu: contains a NUL byte", flag, path,
					  line);
			goto out;
		}
		text = xstrndup(s, n);
		if (!strchr(text, '=') || isol8_parse_kv(text, &k, &val, err) < 0) {
			explicit_bzero(text, n);
			free(text);
			r = isol8_err_set(
				err, ISOL8_E_USAGE, 0,
				"--%s: %s line %zu: expected KEY=VALUE with KEY matching [A-Za-z_][A-Za-z0-9_]*", flag,
				path, line);
			goto out;
		}
		explicit_bzero(text, n);
		free(text);
		kv_set(l, k, val);
	}
out:
	if (secret)
		explicit_bzero(b.data, b.len);
	explicit_bzero(tmp, sizeof tmp);
	isol8_buf_free(&b);
	return r;
}

static int apply(struct run_opts *o, const struct opt_def *d, const char *v, struct isol8_err *err)
{
	switch (d->id) {
	case O_EVAL:
		set_str(&o->eval, v);
		break;
	case O_CMD:
		set_str(&o->cmd, v);
		break;
	case O_RUNTIME:
		if (!run_valid_runtime(v))
			return isol8_err_set(err, ISOL8_E_USAGE, 0,
					     "Unknown runtime: \"%s\". Available: python, node, bun, deno, bash, agent",
					     v);
		set_str(&o->runtime, v);
		o->runtime_explicit = true;
		break;
	case O_NET:
		if (strcmp(v, "none") != 0 && strcmp(v, "host") != 0 && strcmp(v, "filtered") != 0)
			return isol8_err_set(err, ISOL8_E_USAGE, 0,
					     "Invalid --net value '%s': expected none, host or filtered", v);
		set_str(&o->network, v);
		o->network_explicit = true;
		break;
	case O_ISOLATION:
		/* Only a stronger tier than the policy's is granted; isol8d decides. */
		if (strcmp(v, "runc") != 0 && strcmp(v, "runsc") != 0)
			return isol8_err_set(err, ISOL8_E_USAGE, 0,
					     "Invalid --isolation value '%s': expected runc or runsc", v);
		set_str(&o->isolation, v);
		break;
	case O_ALLOW:
	case O_DENY:
		if (!*v)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "--%s needs a non-empty pattern", d->name);
		strv_push(d->id == O_ALLOW ? &o->allow : &o->deny, v);
		break;
	case O_OUT:
		if (!*v)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "--out needs a file name");
		set_str(&o->out_file, v);
		break;
	case O_NO_STREAM:
		o->no_stream = true;
		break;
	case O_PERSISTENT:
		o->persistent = true;
		break;
	case O_PERSIST:
		o->persist = true;
		break;
	case O_PERSIST_TTL:
		if (isol8_parse_duration_ms(v, &o->persist_ttl_ms, err) < 0)
			return isol8_err_wrap(err, "--persist-ttl");
		if (o->persist_ttl_ms < 1000)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "--persist-ttl must be at least 1s");
		break;
	case O_DEBUG:
		o->debug = true;
		break;
	case O_TIMEOUT:
		if (isol8_parse_duration_ms(v, &o->timeout_ms, err) < 0)
			return isol8_err_wrap(err, "--timeout");
		if (o->timeout_ms < 1)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "--timeout must be at least 1 ms");
		break;
	case O_MEMORY:
		return parse_size_flag("memory", v, RUN_MIN_MEMORY, &o->memory, err);
	case O_CPU:
		if (isol8_parse_cpu(v, &o->cpu, err) < 0)
			return isol8_err_wrap(err, "--cpu");
		break;
	case O_IMAGE:
		if (!valid_image(v))
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "Invalid --image value '%s'", v);
		set_str(&o->image, v);
		break;
	case O_PIDS:
		if (isol8_parse_u64(v, RUN_MAX_PIDS, &o->pids, err) < 0 || o->pids < 1)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "--pids-limit must be an integer between 1 and %u",
					     RUN_MAX_PIDS);
		o->pids_explicit = true;
		break;
	case O_WRITABLE:
		o->writable = true;
		break;
	case O_MAX_OUTPUT:
		return parse_size_flag("max-output", v, 1, &o->max_output, err);
	case O_SECRET:
		return add_kv(&o->secrets, d->name, v, true, err);
	case O_ENV:
		return add_kv(&o->env, d->name, v, false, err);
	case O_SECRET_FILE:
		return add_kv_file(&o->secrets, d->name, v, true, err);
	case O_ENV_FILE:
		return add_kv_file(&o->env, d->name, v, false, err);
	case O_SANDBOX_SIZE:
		o->sandbox_size_explicit = true;
		return parse_size_flag("sandbox-size", v, 1024 * 1024, &o->sandbox_size, err);
	case O_TMP_SIZE:
		return parse_size_flag("tmp-size", v, 1024 * 1024, &o->tmp_size, err);
	case O_STDIN:
		set_str(&o->stdin_data, v);
		break;
	case O_INSTALL:
		if (!valid_package(v))
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "Invalid package name '%s'", v);
		strv_push(&o->install, v);
		break;
	case O_SETUP:
		strv_push(&o->setup, v);
		break;
	case O_WORKDIR:
		free(o->workdir);
		o->workdir = NULL;
		return run_resolve_sandbox_path(v, "Working directory", &o->workdir, err);
	case O_URL:
		set_str(&o->url, v);
		break;
	case O_GITHUB:
		set_str(&o->github, v);
		break;
	case O_GIST:
		set_str(&o->gist, v);
		break;
	case O_HASH:
		set_str(&o->hash, v);
		break;
	case O_INSECURE_URL:
		o->allow_insecure_code_url = true;
		break;
	case O_LOG_NETWORK:
		o->log_network = true;
		break;
	case O_FILES:
		if (!*v)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "--files needs a directory");
		set_str(&o->files_dir, v);
		break;
	case O_HOST:
		set_str(&o->host, v);
		break;
	case O_KEY:
		set_str(&o->key, v);
		break;
	case O_SESSION_ID:
		if (!isol8_valid_session_name(v))
			return isol8_err_set(err, ISOL8_E_USAGE, 0,
					     "Invalid session id '%s': use 1-%u characters from A-Z a-z 0-9 _ . - (not "
					     "starting with . or -)",
					     v, ISOL8_MAX_SESSION);
		set_str(&o->session_id, v);
		break;
	case O_JSON:
		o->json = true;
		break;
	case O_TIMINGS:
		o->timings = true;
		break;
	case O_USAGE:
		o->usage = true;
		break;
	case O_SOCKET:
		if (!*v || strlen(v) > RUN_MAX_SOCKET_PATH)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "--socket needs a path of 1-%u bytes",
					     RUN_MAX_SOCKET_PATH);
		set_str(&o->socket_path, v);
		break;
	case O_AGENT_FLAGS: {
		/* Split here only to refuse a bad line before anything runs; the worker splits the
		 * same string again, for every frontend. */
		char **w = NULL;
		size_t nw = 0;
		if (isol8_split_words(v, "--agent-flags", &w, &nw, err) < 0)
			return -1;
		isol8_strv_free(w);
		set_str(&o->agent_flags, v);
		break;
	}
	case O_OUTPUT_PATH: {
		char rel[ISOL8_MAX_PATH + 1];
		if (isol8_sandbox_relpath(v, "--output-path", rel, sizeof rel, err) < 0)
			return -1;
		if (o->output_paths.n >= ISOL8_MAX_OUTPUT_PATHS)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "--output-path: at most %u paths",
					     ISOL8_MAX_OUTPUT_PATHS);
		strv_push(&o->output_paths, v);
		break;
	}
	case O_OUTPUT_DIR:
		if (!*v)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "--output-dir needs a directory");
		set_str(&o->output_dir, v);
		break;
	case O_HELP:
		o->help = true;
		break;
	}
	return 0;
}

static const struct opt_def *find_long(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
		if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
			return &opts[i];
	return NULL;
}

static const struct opt_def *find_short(char c)
{
	for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
		if (opts[i].short_name && opts[i].short_name == c)
			return &opts[i];
	return NULL;
}

/* Walk argv once; values are validated as they are seen, so the first bad one is reported.
 * Positional arguments go to pos; *n_before_dd counts those before a `--`. */
static int parse_argv(int argc, char **argv, struct run_opts *o, struct strv *pos, size_t *n_before_dd,
		      struct isol8_err *err)
{
	bool only_positional = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		const struct opt_def *d;

		if (only_positional || a[0] != '-' || a[1] == '\0') {
			strv_push(pos, a);
			if (!only_positional)
				*n_before_dd = pos->n;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_positional = true;
			continue;
		}
		if (a[1] == '-') {
			const char *eq = strchr(a + 2, '=');
			d = find_long(a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
			if (!d) {
				const char *names[sizeof opts / sizeof opts[0]], *sugg;
				char word[64];
				for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++)
					names[k] = opts[k].name;
				snprintf(word, sizeof word, "%.*s", (int)(eq ? (size_t)(eq - a - 2) : strlen(a + 2)),
					 a + 2);
				sugg = isol8_suggest(word, names, sizeof opts / sizeof opts[0]);
				if (sugg)
					return isol8_err_set(err, ISOL8_E_USAGE, 0,
							     "unknown option '--%s' (did you mean --%s?)", word, sugg);
				return isol8_err_set(err, ISOL8_E_USAGE, 0, "unknown option '%.*s'",
						     (int)(eq ? (size_t)(eq - a) : strlen(a)), a);
			}
			if (eq && !d->has_arg)
				return isol8_err_set(err, ISOL8_E_USAGE, 0, "option '--%s' does not take a value",
						     d->name);
			val = eq ? eq + 1 : NULL;
		} else {
			d = find_short(a[1]);
			if (!d || (!d->has_arg && a[2]))
				return isol8_err_set(err, ISOL8_E_USAGE, 0, "unknown option '%s'", a);
			val = a[2] ? a + 2 : NULL;
		}
		if (d->has_arg && !val) {
			if (i + 1 >= argc)
				return isol8_err_set(err, ISOL8_E_USAGE, 0, "option '%s' requires a value", a);
			val = argv[++i];
		}
		if (apply(o, d, val, err) < 0)
			return -1;
	}
	return 0;
}

/* The file is the first positional argument and the program's arguments follow it; with -e or
 * --cmd there is no file, and the arguments come after `--` (a bare word before it is taken
 * for a file, which those flags refuse below). Options are recognised anywhere before `--`, so
 * an argument that starts with '-' needs the `--`. */
static int split_positionals(struct run_opts *o, struct strv *pos, size_t n_before_dd, struct isol8_err *err)
{
	size_t first = 0, bytes = 0;

	if (o->eval || o->cmd) {
		if (n_before_dd > 0)
			o->file = xstrdup(pos->v[0]);
		first = n_before_dd;
	} else if (pos->n > 0) {
		o->file = xstrdup(pos->v[0]);
		first = 1;
	}
	for (size_t i = first; i < pos->n; i++)
		strv_push(&o->args, pos->v[i]);
	if (o->args.n > ISOL8_MAX_SCRIPT_ARGS)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "too many program arguments: %zu (at most %u)", o->args.n,
				     ISOL8_MAX_SCRIPT_ARGS);
	for (size_t i = 0; i < o->args.n; i++)
		bytes += strlen(o->args.v[i]) + 1;
	if (bytes > ISOL8_MAX_SCRIPT_ARGS_BYTES)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "program arguments too long: %zu bytes (at most %u)", bytes,
				     ISOL8_MAX_SCRIPT_ARGS_BYTES);
	return 0;
}

/* The original adds the runtime's package registry to the allowlist so that --install works
 * under the filtered network without the user knowing registry host names. We do not hard-code
 * the hosts: the user's config names them, else the host's own package-manager configuration
 * does (cli/registries.c), so a mirror or private registry just works. */
static int add_registry_patterns(struct run_opts *o, const struct run_defaults *def, struct isol8_err *err)
{
	static const char *const rts[RUN_NREG] = {"python", "node", "bun", "deno", "bash"};
	/* The agent's image installs npm packages, as node does. */
	const char *rt = strcmp(o->runtime, "agent") == 0 ? "node" : o->runtime;
	char **found = NULL;
	char *const *pat = NULL;
	size_t n = 0, i;

	for (i = 0; i < RUN_NREG && strcmp(rts[i], rt) != 0; i++)
		;
	if (i < RUN_NREG && def->registries[i]) {
		pat = def->registries[i];
		n = def->n_registries[i];
	} else if (i < RUN_NREG && def->reg_paths) {
		n = isol8_reg_host_defaults(rt, def->reg_paths, &found);
		pat = found;
	}
	for (size_t j = 0; j < n; j++)
		if (!strv_has(&o->allow, pat[j]))
			strv_push(&o->allow, pat[j]);
	isol8_strv_free(found);
	/* An explicit --net filtered keeps the user's own allowlist as the answer; bash installs are
	 * refused by the worker with a better message than this one. */
	if (n == 0 && !o->network_explicit && strcmp(o->runtime, "bash") != 0)
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "--install: no package registry known for %s: set network.registries.%s in "
				     "isol8.config.json",
				     o->runtime, o->runtime);
	return 0;
}

/* The agent runtime (the original's validateAgentRuntime, stricter: no host network). Its
 * traffic goes to the LLM provider through the filtering proxy and nowhere else; checked here
 * to name the flags, and by the worker again for every frontend. */
static int check_agent(struct run_opts *o, struct isol8_err *err)
{
	bool agent = strcmp(o->runtime, "agent") == 0;

	if (o->agent_flags && !agent)
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "--agent-flags is for the agent runtime only (runtime is %s; add -r agent)",
				     o->runtime);
	if (!agent)
		return 0;
	if (strcmp(o->network, "none") == 0)
		return isol8_err_set(
			err, ISOL8_E_USAGE, 0,
			"Agent runtime requires network access. The AI coding agent needs to reach its LLM "
			"provider API. Use --net filtered --allow \"api.anthropic.com\" (or your provider's "
			"domain).");
	if (strcmp(o->network, "filtered") != 0)
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "Agent runtime requires --net filtered (not --net %s): the agent reaches its LLM "
				     "provider only through the filtering proxy. Use --net filtered --allow "
				     "\"api.anthropic.com\" (or your provider's domain).",
				     o->network);
	if (o->allow.n == 0)
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "Agent runtime requires at least one network whitelist entry. Use --allow "
				     "\"api.anthropic.com\" (or your provider's domain).");
	/* The original's defaults for the agent, unless given as flags. */
	if (!o->pids_explicit)
		o->pids = ISOL8_AGENT_DEFAULT_PIDS;
	if (!o->sandbox_size_explicit)
		o->sandbox_size = ISOL8_AGENT_DEFAULT_SANDBOX_SIZE;
	return 0;
}

static bool file_missing(const char *path)
{
	return access(path, F_OK) < 0 && errno == ENOENT;
}

static int finish(struct run_opts *o, const struct run_defaults *def, struct isol8_err *err)
{
	if (o->cmd && (o->eval || o->file || o->url || o->github || o->gist))
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "--cmd cannot be combined with file input, --eval, --url, --github, or --gist.");
	if (o->eval && o->file)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "--eval cannot be combined with a file argument");
	if (run_remote_resolve(o, def, err) < 0)
		return -1;
	if (o->output_dir && !o->output_paths.n)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "--output-dir needs at least one --output-path");
	/* The files come back in the result: somewhere to put them, or the --json to show them. */
	if (o->output_paths.n && !o->output_dir && !o->json)
		return isol8_err_set(
			err, ISOL8_E_USAGE, 0,
			"--output-path needs --output-dir DIR (to write the files) or --json (to print them)");
	if (o->persist_ttl_ms && !o->persist)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "--persist-ttl needs --persist");
	/* http: --host runs through cli/remote.c (cmd_run.c); --key alone means nothing. */
	if (o->key && !o->host)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "--key needs --host");

	/* Whether the runtime comes from the file's name: then a rule of that runtime failing on a
	 * file that is not there ("isol8 run notes.txt" mistyped) is the absence, not the rule. */
	bool by_name = !o->runtime && !o->cmd && o->file && strcmp(o->file, "-") != 0;
	if (!o->runtime) {
		const char *rt = "python";
		if (o->cmd)
			rt = "bash";
		else if (o->image && strncmp(o->image, "isol8:", 6) == 0 && !o->file) {
			/* --image isol8:node -e ...: the image says which runtime it is for; running
			 * python3 in it would only fail with "python3: No such file or directory". */
			for (size_t i = 0; i < sizeof runtimes / sizeof runtimes[0]; i++) {
				size_t n = strlen(runtimes[i]);
				if (strncmp(o->image + 6, runtimes[i], n) == 0 &&
				    (!o->image[6 + n] || o->image[6 + n] == '-'))
					rt = runtimes[i];
			}
		} else if (o->file && !(rt = run_runtime_from_path(o->file))) {
			if (file_missing(o->file))
				return isol8_err_set(err, ISOL8_E_NOTFOUND, 0, "File not found: %s", o->file);
			return isol8_err_set(err, ISOL8_E_USAGE, 0,
					     "Cannot detect runtime for %s. Use --runtime to specify.", o->file);
		}
		o->runtime = xstrdup(rt);
	}
	if (o->file) {
		const char *base = strrchr(o->file, '/');
		const char *dot = strrchr(base ? base + 1 : o->file, '.');
		if (dot && dot[1])
			o->file_ext = xstrdup(dot);
	}
	if (!o->workdir)
		o->workdir = xstrdup(RUN_SANDBOX_ROOT);
	if (o->session_id)
		o->persistent = true;

	if (!o->network) {
		/* --install needs a registry; filtered (not host) keeps everything else closed. */
		o->network = xstrdup(o->install.n ? "filtered" : def->network ? def->network : "none");
	}
	if (o->allow.n == 0)
		for (size_t i = 0; i < def->n_whitelist; i++)
			strv_push(&o->allow, def->whitelist[i]);
	if (o->deny.n == 0)
		for (size_t i = 0; i < def->n_blacklist; i++)
			strv_push(&o->deny, def->blacklist[i]);
	if (o->install.n && strcmp(o->network, "filtered") == 0 && add_registry_patterns(o, def, err) < 0)
		return -1;
	if (check_agent(o, err) < 0) {
		if (by_name && file_missing(o->file))
			return isol8_err_set(err, ISOL8_E_NOTFOUND, 0, "File not found: %s", o->file);
		return -1;
	}
	return 0;
}

int run_args_parse(int argc, char **argv, const struct run_defaults *def, struct run_opts *o, struct isol8_err *err)
{
	struct strv pos = {0};
	size_t n_before_dd = 0;

	memset(o, 0, sizeof *o);
	o->timeout_ms = def->timeout_ms;
	o->memory = def->memory;
	o->cpu = def->cpu;
	o->sandbox_size = def->sandbox_size;
	o->tmp_size = def->tmp_size;
	o->pids = RUN_DEFAULT_PIDS;
	o->max_output = RUN_DEFAULT_MAX_OUTPUT;
	o->debug = def->debug;

	/* --help wins over everything else on the line, as users expect. */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			o->help = true;
			return 0;
		}
	}
	if (parse_argv(argc, argv, o, &pos, &n_before_dd, err) < 0 ||
	    split_positionals(o, &pos, n_before_dd, err) < 0 || finish(o, def, err) < 0) {
		strv_free(&pos);
		run_opts_free(o);
		return -1;
	}
	strv_free(&pos);
	return 0;
}
