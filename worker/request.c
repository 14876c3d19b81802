/* Parsing the frontend's FE_RUN request (JSON text + bundle fd). The frontend is less trusted
 * than the worker: every field is type-checked and bounded here; the broker re-checks limits
 * against policy anyway. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/run_defaults.h"
#include "common/cleanup.h"
#include "common/parse.h"
#include "common/proto.h"
#include "common/remote_code.h"
#include "common/xalloc.h"
#include "common/tar.h"
#include "worker/bundle.h"
#include "worker/worker.h"

#define BUNDLE_MAX BUNDLE_RAW_MAX
#define MAX_INSTALL 64

static json_object *get(json_object *o, const char *k)
{
	json_object *v = NULL;
	if (!o || !json_object_object_get_ex(o, k, &v) || json_object_is_type(v, json_type_null))
		return NULL;
	return v;
}

static int get_str(json_object *o, const char *k, const char *ctx, size_t max, char **out, struct isol8_err *err)
{
	json_object *v = get(o, k);
	size_t n;
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s.%s: expected string", ctx, k);
	n = (size_t)json_object_get_string_len(v);
	if (n > max)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s.%s: longer than %zu bytes", ctx, k, max);
	if (memchr(json_object_get_string(v), '\0', n))
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s.%s: contains a NUL byte", ctx, k);
	*out = xstrndup(json_object_get_string(v), n);
	return 1;
}

static int get_u64(json_object *o, const char *k, const char *ctx, uint64_t min, uint64_t max, uint64_t *out,
		   struct isol8_err *err)
{
	json_object *v = get(o, k);
	int64_t x;
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s.%s: expected integer", ctx, k);
	x = json_object_get_int64(v);
	if (x < 0 || (uint64_t)x < min || (uint64_t)x > max)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s.%s: %lld out of range", ctx, k, (long long)x);
	*out = (uint64_t)x;
	return 1;
}

/* options.networkFilter.{whitelist,blacklist}: arrays of patterns (checked again by the broker). */
static int get_patterns(json_object *f, const char *k, char ***out, size_t *n, struct isol8_err *err)
{
	json_object *v = get(f, k);
	size_t len;

	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) > ISOL8_NET_MAX_PATTERNS)
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "options.networkFilter.%s: expected an array of at most %u patterns", k,
				     ISOL8_NET_MAX_PATTERNS);
	len = json_object_array_length(v);
	*out = xcalloc(len + 1, sizeof **out);
	for (*n = 0; *n < len; (*n)++) {
		json_object *e = json_object_array_get_idx(v, *n);
		size_t sl;
		if (!json_object_is_type(e, json_type_string))
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "options.networkFilter.%s[%zu]: expected string", k,
					     *n);
		sl = (size_t)json_object_get_string_len(e);
		if (sl == 0 || sl > ISOL8_NET_MAX_PATTERN || memchr(json_object_get_string(e), '\0', sl))
			return isol8_err_set(err, ISOL8_E_USAGE, 0,
					     "options.networkFilter.%s[%zu]: 1 to %u bytes, no NUL", k, *n,
					     ISOL8_NET_MAX_PATTERN);
		(*out)[*n] = xstrndup(json_object_get_string(e), sl);
	}
	return 0;
}

static int get_bool(json_object *o, const char *k, const char *ctx, bool *out, struct isol8_err *err)
{
	json_object *v = get(o, k);
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s.%s: expected boolean", ctx, k);
	*out = json_object_get_boolean(v);
	return 1;
}

/* {"K":"V"} -> "K=V" lines, names validated. */
static int get_env_map(json_object *o, const char *k, const char *ctx, char ***out, size_t *n, char ***vals,
		       struct isol8_err *err)
{
	json_object *v = get(o, k);
	size_t cnt = 0;
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_object))
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s.%s: expected object", ctx, k);
	if (json_object_object_length(v) > 100)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s.%s: too many entries", ctx, k);
	*out = xcalloc((size_t)json_object_object_length(v) + 1, sizeof **out);
	if (vals)
		*vals = xcalloc((size_t)json_object_object_length(v) + 1, sizeof **vals);
	json_object_object_foreach(v, key, val)
	{
		if (!isol8_valid_env_name(key))
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s.%s: invalid variable name '%.64s'", ctx, k,
					     key);
		if (!json_object_is_type(val, json_type_string))
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s.%s.%s: expected string", ctx, k, key);
		if (json_object_get_string_len(val) > 16384 ||
		    memchr(json_object_get_string(val), '\0', (size_t)json_object_get_string_len(val)))
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s.%s.%s: value too long or contains NUL", ctx, k,
					     key);
		(*out)[cnt] = xasprintf("%s=%s", key, json_object_get_string(val));
		if (vals)
			(*vals)[cnt] = xstrdup(json_object_get_string(val));
		*n = ++cnt;
	}
	*n = cnt;
	return 1;
}

/* Read the bundle tar (raw size capped, the worker-wide budget charged for it) and decode it
 * (worker/bundle.c: decoded sizes, entry types, counts and names capped). */
static int read_bundle(int fd, struct run_req *r, struct isol8_buf *code, struct isol8_buf *stdin_buf,
		       struct isol8_err *err)
{
	struct isol8_buf raw = ISOL8_BUF_INIT;
	struct bundle_limits lim;
	struct bundle b;
	struct stat st;
	uint64_t size, charge;
	char tmp[65536];
	int rc = -1;

	if (fd < 0)
		return 0;
	/* A sealed memfd (the fd kinds of FE_RUN): its size is what will be read. */
	if (fstat(fd, &st) < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "bundle: fstat");
	size = st.st_size > 0 ? (uint64_t)st.st_size : 0;
	if (size > BUNDLE_MAX)
		return isol8_err_set(err, ISOL8_E_LIMIT, 0, "request bundle larger than %u bytes", BUNDLE_MAX);
	charge = 2 * size;
	if (!bundle_budget_take(charge))
		return isol8_err_set(err, ISOL8_E_LIMIT, 0,
				     "this worker is decoding too many large bundles at once (%llu MiB); retry shortly",
				     (unsigned long long)(BUNDLE_BUDGET >> 20));
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof tmp);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			isol8_err_set(err, ISOL8_E_IO, errno, "read bundle");
			goto out;
		}
		if (n == 0)
			break;
		if (raw.len + (size_t)n > size) {
			isol8_err_set(err, ISOL8_E_LIMIT, 0, "request bundle grew past its %llu bytes while read",
				      (unsigned long long)size);
			goto out;
		}
		isol8_buf_append(&raw, tmp, (size_t)n);
	}
	bundle_limits_for(&lim, r->lim.sandbox_size);
	if (bundle_decode(&raw, &lim, &b, err) < 0)
		goto out;
	*code = b.code;
	*stdin_buf = b.stdin_data;
	r->files_tar = b.files_tar;
	r->has_files = b.n_files > 0;
	rc = 0;
out:
	isol8_buf_free(&raw);
	bundle_budget_give(charge);
	return rc;
}

/* request.metadata: {"key": "value"} for the audit record, checked as the broker will. */
static int get_metadata(json_object *v, struct run_req *r, struct isol8_err *err)
{
	if (!json_object_is_type(v, json_type_object))
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "request.metadata: expected an object of strings");
	if ((size_t)json_object_object_length(v) > ISOL8_AUDIT_META_MAX)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "request.metadata: at most %u keys", ISOL8_AUDIT_META_MAX);
	json_object_object_foreach(v, k, e)
	{
		if (!isol8_audit_meta_key_ok(k))
			return isol8_err_set(
				err, ISOL8_E_USAGE, 0,
				"request.metadata: keys are 1-%u of [A-Za-z0-9_.-], starting with a letter or digit",
				ISOL8_AUDIT_META_KEY);
		/* Numbers and booleans are kept as their JSON text: the record's values are strings. */
		if (!(json_object_is_type(e, json_type_string) || json_object_is_type(e, json_type_int) ||
		      json_object_is_type(e, json_type_double) || json_object_is_type(e, json_type_boolean)) ||
		    !isol8_audit_meta_value_ok(json_object_get_string(e)))
			return isol8_err_set(
				err, ISOL8_E_USAGE, 0,
				"request.metadata.%s: expected a string (or number) of at most %u bytes without "
				"control characters",
				k, ISOL8_AUDIT_META_VALUE);
		r->meta_k[r->n_meta] = xstrdup(k);
		r->meta_v[r->n_meta++] = xstrdup(json_object_get_string(e));
	}
	return 0;
}

/* The agent runtime talks to its LLM provider, and only through the filtering proxy: a sandbox
 * without network cannot reach it, and host networking would let the agent (and whatever it
 * runs) reach anything. Checked before any sandbox exists. */
static int agent_check(struct run_req *r, const char *flags, struct isol8_err *err)
{
	if (r->net_mode == ISOL8_NET_NONE)
		return isol8_err_set(
			err, ISOL8_E_USAGE, 0,
			"Agent runtime requires network access. The AI coding agent needs to reach its LLM provider "
			"API. "
			"Use options.network \"filtered\" with options.networkFilter.whitelist [\"api.anthropic.com\"] "
			"(or your provider's host).");
	if (r->net_mode != ISOL8_NET_FILTERED)
		return isol8_err_set(
			err, ISOL8_E_USAGE, 0,
			"Agent runtime requires options.network \"filtered\" (not \"%s\"): the agent reaches its LLM "
			"provider only through the filtering proxy. Use options.networkFilter.whitelist "
			"[\"api.anthropic.com\"] (or your provider's host).",
			isol8_net_mode_name(r->net_mode));
	if (r->n_net_allow == 0)
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "Agent runtime requires at least one network whitelist entry. The AI coding agent "
				     "needs to reach "
				     "its LLM provider API: set options.networkFilter.whitelist, e.g. "
				     "[\"api.anthropic.com\"] (or your "
				     "provider's host).");
	if (flags && isol8_split_words(flags, "request.agentFlags", &r->agent_flags, &r->n_agent_flags, err) < 0)
		return -1;
	return 0;
}

/* The code is pi's prompt, one argument after -p. pi reads an argument that starts with '-'
 * as an option and one that starts with '@' as a file to attach (it knows no "--"): such a
 * prompt gets a leading blank, which keeps it a message and means nothing to the model. */
static int agent_prompt(struct run_req *r, struct isol8_err *err)
{
	const char *p = r->code;
	size_t n;

	if (!p)
		return 0; /* --cmd in the agent's image */
	n = strlen(p);
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (!*p)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "Agent runtime: the prompt (the request's code) is empty");
	if (n > ISOL8_AGENT_PROMPT_MAX)
		return isol8_err_set(
			err, ISOL8_E_USAGE, 0,
			"Agent runtime: the prompt is %zu bytes, at most %u: put long instructions in a file "
			"(--files) and name it in the prompt",
			n, ISOL8_AGENT_PROMPT_MAX);
	if (r->code[0] == '-' || r->code[0] == '@') {
		char *q = xasprintf(" %s", r->code);
		free(r->code);
		r->code = q;
	}
	return 0;
}

void sandbox_limits_default(struct sandbox_limits *l)
{
	*l = (struct sandbox_limits){.memory = ISOL8_DEFAULT_MEMORY,
				     .cpu_millis = ISOL8_DEFAULT_CPU_MILLIS,
				     .timeout_ms = ISOL8_DEFAULT_TIMEOUT_MS,
				     .sandbox_size = ISOL8_DEFAULT_SANDBOX_SIZE,
				     .tmp_size = ISOL8_DEFAULT_TMP_SIZE,
				     .max_output = ISOL8_DEFAULT_MAX_OUTPUT,
				     .pids = ISOL8_DEFAULT_PIDS};
}

/* request.stdin: inline standard input (the bundle may replace it, read_bundle). */
static int parse_stdin(json_object *req, struct run_req *r, struct isol8_err *err)
{
	char *s = NULL;
	int g = get_str(req, "stdin", "request", 1u << 20, &s, err);

	if (g > 0) {
		r->stdin_data = s;
		r->stdin_len = strlen(s);
		r->has_stdin = true;
	}
	return g < 0 ? -1 : 0;
}

static int parse_install(json_object *v, struct run_req *r, struct isol8_err *err)
{
	if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) > MAX_INSTALL)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "request.installPackages: expected array of at most %d",
				     MAX_INSTALL);
	r->install = xcalloc(json_object_array_length(v) + 1, sizeof *r->install);
	for (size_t i = 0; i < json_object_array_length(v); i++) {
		json_object *e = json_object_array_get_idx(v, i);
		if (!json_object_is_type(e, json_type_string) || json_object_get_string_len(e) > 214)
			return isol8_err_set(err, ISOL8_E_USAGE, 0,
					     "request.installPackages[%zu]: expected package name", i);
		r->install[r->n_install++] = xstrdup(json_object_get_string(e));
	}
	return 0;
}

/* request.args: the program's argv after its name; no NUL, bounded in count and bytes. */
static int parse_args(json_object *v, struct run_req *r, struct isol8_err *err)
{
	size_t bytes = 0;

	if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) > ISOL8_MAX_SCRIPT_ARGS)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "request.args: expected an array of at most %u strings",
				     ISOL8_MAX_SCRIPT_ARGS);
	r->args = xcalloc(json_object_array_length(v) + 1, sizeof *r->args);
	for (size_t i = 0; i < json_object_array_length(v); i++) {
		json_object *e = json_object_array_get_idx(v, i);
		size_t sl;
		if (!json_object_is_type(e, json_type_string))
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "request.args[%zu]: expected string", i);
		sl = (size_t)json_object_get_string_len(e);
		bytes += sl + 1;
		if (memchr(json_object_get_string(e), '\0', sl) || bytes > ISOL8_MAX_SCRIPT_ARGS_BYTES)
			return isol8_err_set(err, ISOL8_E_USAGE, 0,
					     "request.args[%zu]: contains a NUL byte or the arguments exceed %u bytes",
					     i, ISOL8_MAX_SCRIPT_ARGS_BYTES);
		r->args[r->n_args++] = xstrndup(json_object_get_string(e), sl);
	}
	return 0;
}

/* request.outputPaths: each confined to /sandbox here (isol8_sandbox_relpath); the agent
 * checks again inside the sandbox, where symlinks are resolved. */
static int parse_output_paths(json_object *v, struct run_req *r, struct isol8_err *err)
{
	size_t cnt;

	if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) > ISOL8_MAX_OUTPUT_PATHS)
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "request.outputPaths: expected an array of at most %u paths",
				     ISOL8_MAX_OUTPUT_PATHS);
	cnt = json_object_array_length(v);
	r->out_paths = xcalloc(cnt + 1, sizeof *r->out_paths);
	r->out_rel = xcalloc(cnt + 1, sizeof *r->out_rel);
	for (size_t i = 0; i < cnt; i++) {
		json_object *e = json_object_array_get_idx(v, i);
		char what[48], rel[ISOL8_MAX_PATH + 1];
		snprintf(what, sizeof what, "request.outputPaths[%zu]", i);
		if (!json_object_is_type(e, json_type_string) ||
		    memchr(json_object_get_string(e), '\0', (size_t)json_object_get_string_len(e)))
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: expected a path", what);
		if (isol8_sandbox_relpath(json_object_get_string(e), what, rel, sizeof rel, err) < 0)
			return -1;
		r->out_paths[i] = xstrdup(json_object_get_string(e));
		r->out_rel[i] = xstrdup(rel);
		r->n_out = i + 1;
	}
	return 0;
}

/* The members of "request": scalars first, then the lists. */
static int parse_request_fields(json_object *req, struct run_req *r, char **runtime, char **agent_flags,
				struct isol8_err *err)
{
	json_object *v;

	if (get_str(req, "code", "request", 1u << 20, &r->code, err) < 0 ||
	    get_str(req, "cmd", "request", 1u << 20, &r->cmd, err) < 0 ||
	    get_str(req, "runtime", "request", 32, runtime, err) < 0 ||
	    get_u64(req, "timeoutMs", "request", 1, 24ull * 3600 * 1000, &r->timeout_ms, err) < 0 ||
	    get_env_map(req, "env", "request", &r->env, &r->n_env, NULL, err) < 0 ||
	    get_str(req, "fileExtension", "request", 16, &r->file_ext, err) < 0 ||
	    get_str(req, "workdir", "request", ISOL8_MAX_PATH, &r->workdir, err) < 0 ||
	    get_str(req, "setupScript", "request", 1u << 16, &r->setup_script, err) < 0 ||
	    get_str(req, "agentFlags", "request", ISOL8_AGENT_FLAGS_MAX, agent_flags, err) < 0 ||
	    get_bool(req, "stdinStream", "request", &r->stdin_stream, err) < 0 ||
	    get_bool(req, "phaseEvents", "request", &r->phase_events, err) < 0 ||
	    get_str(req, "codeUrl", "request", ISOL8_REMOTE_MAX_URL, &r->code_url, err) < 0 ||
	    get_str(req, "codeHash", "request", 64, &r->code_hash, err) < 0 ||
	    get_bool(req, "allowInsecureCodeUrl", "request", &r->code_insecure, err) < 0 ||
	    get_u64(req, "codeMaxSize", "request", 1, ISOL8_REMOTE_MAX_CODE, &r->code_max, err) < 0 ||
	    get_u64(req, "codeFetchTimeoutMs", "request", 1, ISOL8_REMOTE_MAX_TIMEOUT_MS, &r->code_timeout, err) < 0 ||
	    parse_stdin(req, r, err) < 0)
		return -1;
	if ((v = get(req, "metadata")) && get_metadata(v, r, err) < 0)
		return -1;
	if ((v = get(req, "installPackages")) && parse_install(v, r, err) < 0)
		return -1;
	if ((v = get(req, "args")) && parse_args(v, r, err) < 0)
		return -1;
	if ((v = get(req, "outputPaths")) && parse_output_paths(v, r, err) < 0)
		return -1;
	return 0;
}

static int parse_cpu(json_object *v, struct run_req *r, struct isol8_err *err)
{
	double cpu;

	if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "options.cpuLimit: expected number");
	cpu = json_object_get_double(v);
	if (!(cpu > 0.0 && cpu <= 1024.0))
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "options.cpuLimit: out of range");
	r->lim.cpu_millis = (uint64_t)(cpu * 1000.0 + 0.5);
	if (!r->lim.cpu_millis)
		r->lim.cpu_millis = 1;
	return 0;
}

/* The members of "options"; net and iso are checked against their names by the caller. */
static int parse_options(json_object *opt, struct run_req *r, char **net, char **iso, bool *ro, struct isol8_err *err)
{
	json_object *v;
	uint64_t x;

	if ((v = get(opt, "cpuLimit")) && parse_cpu(v, r, err) < 0)
		return -1;
	if (get_u64(opt, "memoryLimit", "options", 4u << 20, 1ull << 50, &r->lim.memory, err) < 0 ||
	    get_u64(opt, "sandboxSize", "options", 1u << 20, 1ull << 50, &r->lim.sandbox_size, err) < 0 ||
	    get_u64(opt, "tmpSize", "options", 1u << 20, 1ull << 50, &r->lim.tmp_size, err) < 0 ||
	    get_u64(opt, "maxOutputSize", "options", 1, 1ull << 40, &r->lim.max_output, err) < 0 ||
	    get_str(opt, "network", "options", 16, net, err) < 0 ||
	    get_str(opt, "isolation", "options", 16, iso, err) < 0 ||
	    get_bool(opt, "readonlyRootFs", "options", ro, err) < 0 ||
	    get_str(opt, "image", "options", ISOL8_MAX_IMAGE, &r->image, err) < 0 ||
	    get_str(opt, "preferredImage", "options", ISOL8_MAX_IMAGE, &r->preferred_image, err) < 0 ||
	    get_bool(opt, "persist", "options", &r->persist, err) < 0 ||
	    get_bool(opt, "debug", "options", &r->debug, err) < 0 ||
	    get_env_map(opt, "secrets", "options", &r->secret_env, &r->n_secret, &r->secret_vals, err) < 0)
		return -1;
	if ((v = get(opt, "networkFilter"))) {
		if (!json_object_is_type(v, json_type_object))
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "options.networkFilter: expected object");
		if (get_patterns(v, "whitelist", &r->net_allow, &r->n_net_allow, err) < 0 ||
		    get_patterns(v, "blacklist", &r->net_deny, &r->n_net_deny, err) < 0)
			return -1;
	}
	if (get_bool(opt, "logNetwork", "options", &r->log_network, err) < 0 ||
	    get_u64(opt, "pidsLimit", "options", 1, 1000000, &x, err) < 0)
		return -1;
	if (get(opt, "pidsLimit"))
		r->lim.pids = (uint32_t)x;
	/* Lower than the policy's limits.persistTtlMs, which the broker applies. */
	if (get_u64(opt, "persistTtlMs", "options", 1000, 30ull * 24 * 3600 * 1000, &r->lim.persist_ttl_ms, err) < 0)
		return -1;
	if (r->lim.persist_ttl_ms && !r->persist)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "options.persistTtlMs needs options.persist");
	return 0;
}

/* Names to enums: runtime, network mode, isolation tier; the agent's own rules and defaults. */
static int resolve_choices(struct run_req *r, json_object *opt, const char *runtime, const char *net, const char *iso,
			   const char *agent_flags, struct isol8_err *err)
{
	r->runtime = isol8_runtime_parse(runtime ? runtime : "python");
	if (r->runtime < 0)
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "Unknown runtime: \"%s\". Available: python, node, bun, deno, bash, agent",
				     runtime);
	r->net_mode = isol8_net_mode_parse(net ? net : "none");
	if (r->net_mode < 0)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "unknown network mode '%s' (none, host, filtered)", net);
	if (iso) {
		/* Whether the tenant may have it is the broker's decision (V_CREATE). */
		if (strcmp(iso, "runc") == 0)
			r->isolation = ISOL8_ISO_RUNC;
		else if (strcmp(iso, "runsc") == 0)
			r->isolation = ISOL8_ISO_RUNSC;
		else
			return isol8_err_set(err, ISOL8_E_USAGE, 0,
					     "options.isolation: unknown tier '%.16s' (runc, runsc)", iso);
	}
	if (agent_flags && r->runtime != ISOL8_RT_AGENT)
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "request.agentFlags: only for runtime \"agent\" (runtime is %s)",
				     isol8_runtime_name(r->runtime));
	if (r->runtime == ISOL8_RT_AGENT) {
		if (agent_check(r, agent_flags, err) < 0)
			return -1;
		/* The original's defaults for the agent: pi, its tools and the programs it builds
		 * need more processes and room than a snippet (the policy's ceilings still apply). */
		if (!(opt && get(opt, "pidsLimit")))
			r->lim.pids = ISOL8_AGENT_DEFAULT_PIDS;
		if (!(opt && get(opt, "sandboxSize")))
			r->lim.sandbox_size = ISOL8_AGENT_DEFAULT_SANDBOX_SIZE;
	}
	return 0;
}

/* Code and stdin past the frame come in the bundle; then exactly one source of code. */
static int take_bundle(int bundle_fd, json_object *req, struct run_req *r, struct isol8_buf *code,
		       struct isol8_buf *sin, struct isol8_err *err)
{
	json_object *v;

	if (read_bundle(bundle_fd, r, code, sin, err) < 0)
		return -1;
	if (code->len) {
		if (r->code)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "code given both inline and in the bundle");
		r->code = isol8_buf_steal(code, NULL);
	}
	if (sin->len || (v = get(req, "stdinInBundle"), v && json_object_get_boolean(v))) {
		free(r->stdin_data);
		r->stdin_len = sin->len;
		r->stdin_data = isol8_buf_steal(sin, NULL);
		r->has_stdin = true;
	}
	return 0;
}

/* The rules across fields, after everything is read. */
static int check_sources(struct run_req *r, struct isol8_err *err)
{
	/* The original's rule and messages (original-reference.md §4.2): exactly one source. */
	if ((r->code != NULL) + (r->cmd != NULL) + (r->code_url != NULL) != 1)
		return isol8_err_set(
			err, ISOL8_E_USAGE, 0,
			r->code || r->cmd || r->code_url
				? "ExecutionRequest.code, ExecutionRequest.codeUrl, and ExecutionRequest.cmd are "
				  "mutually exclusive \u2014 provide exactly one."
				: "ExecutionRequest must include exactly one of: code, codeUrl, or cmd.");
	if (r->code_url && !r->code_url[0])
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "request.codeUrl: empty");
	if (r->code_hash && remote_hash_check_format(r->code_hash, "request.codeHash", err) < 0)
		return -1;
	if (r->stdin_stream && r->has_stdin)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "request: stdin and stdinStream are mutually exclusive");
	return 0;
}

int request_parse(const char *json, size_t len, int bundle_fd, struct run_req *r, struct isol8_err *err)
{
	json_tokener *tok = json_tokener_new_ex(32);
	json_object *root = NULL, *req, *opt;
	_cleanup_free_ char *runtime = NULL, *net = NULL, *agent_flags = NULL, *iso = NULL;
	struct isol8_buf code = ISOL8_BUF_INIT, sin = ISOL8_BUF_INIT;
	bool ro = true;
	int rc = -1;

	memset(r, 0, sizeof *r);
	r->stdin_fd = -1;
	r->timeout_ms = ISOL8_DEFAULT_TIMEOUT_MS;
	r->isolation = ISOL8_ISO_POLICY;
	sandbox_limits_default(&r->lim);
	root = json_tokener_parse_ex(tok, json, (int)len);
	if (!root || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(root, json_type_object)) {
		isol8_err_set(err, ISOL8_E_USAGE, 0, "request: malformed JSON");
		goto out;
	}
	req = get(root, "request");
	opt = get(root, "options");
	if (!req || !json_object_is_type(req, json_type_object) ||
	    (opt && !json_object_is_type(opt, json_type_object))) {
		isol8_err_set(err, ISOL8_E_USAGE, 0, "request: 'request' object missing");
		goto out;
	}
	if (parse_request_fields(req, r, &runtime, &agent_flags, err) < 0 ||
	    (opt && parse_options(opt, r, &net, &iso, &ro, err) < 0))
		goto out;
	r->lim.writable = !ro;
	r->lim.timeout_ms = r->timeout_ms;
	if (get_str(root, "sessionId", "", ISOL8_MAX_SESSION, &r->session, err) < 0)
		goto out;
	if (r->session && !isol8_valid_session_name(r->session)) {
		isol8_err_set(err, ISOL8_E_USAGE, 0, "invalid session id '%s': use 1-64 of [A-Za-z0-9_.-]", r->session);
		goto out;
	}
	if (resolve_choices(r, opt, runtime, net, iso, agent_flags, err) < 0 ||
	    take_bundle(bundle_fd, req, r, &code, &sin, err) < 0 || check_sources(r, err) < 0)
		goto out;
	if (!r->workdir)
		r->workdir = xstrdup("/sandbox");
	if (r->runtime == ISOL8_RT_AGENT && agent_prompt(r, err) < 0)
		goto out;
	rc = 0;
out:
	/* A refused request keeps nothing: its files, env and lists would otherwise stay in the
	 * shared worker for good (8 refused 40 MB bundles took it from 5 to 334 MB RSS). */
	if (rc < 0)
		request_free(r);
	isol8_buf_free(&code);
	isol8_buf_free(&sin);
	if (root)
		json_object_put(root);
	json_tokener_free(tok);
	return rc;
}

static void free_list(char **l, size_t n)
{
	if (!l)
		return;
	for (size_t i = 0; i < n || (n == (size_t)-1 && l[i]); i++)
		free(l[i]);
	free(l);
}

void request_free(struct run_req *r)
{
	free(r->code);
	free(r->cmd);
	free(r->code_url);
	free(r->code_hash);
	free_list(r->env, r->n_env);
	free_list(r->secret_env, r->n_secret);
	free_list(r->secret_vals, r->n_secret);
	free(r->file_ext);
	free(r->stdin_data);
	free(r->workdir);
	free_list(r->install, r->n_install);
	free_list(r->args, r->n_args);
	free_list(r->agent_flags, r->n_agent_flags);
	free_list(r->out_paths, r->n_out);
	free_list(r->out_rel, r->n_out);
	free(r->setup_script);
	free(r->image);
	free(r->preferred_image);
	free(r->session);
	free_list(r->net_allow, r->n_net_allow);
	free_list(r->net_deny, r->n_net_deny);
	for (size_t i = 0; i < r->n_meta; i++) {
		free(r->meta_k[i]);
		free(r->meta_v[i]);
	}
	isol8_buf_free(&r->files_tar);
	if (r->stdin_fd >= 0)
		close(r->stdin_fd);
	memset(r, 0, sizeof *r);
	r->stdin_fd = -1;
}
