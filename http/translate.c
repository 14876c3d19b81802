/* ExecutionRequest -> FE_RUN request (contract in translate.h). */
#include "config.h"
#include "http/translate.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "common/json.h"
#include "common/remote_code.h"
#include "common/parse.h"
#include "common/proto.h"
#include "common/xalloc.h"
#include "common/tar.h"
#include "cli/run_args.h"
#include "cli/run_request.h"

/* Bodies are capped by --max-body already; this bounds the JSON nesting work. */
#define BODY_PARSE_MAX (256u * 1024u * 1024u)
#define MAX_ENV 100u
#define MAX_INSTALL 64u
#define HTTP_INLINE_CODE_MAX (ISOL8_MAX_ARG / 2)

static const char *default_ext(const char *runtime)
{
	static const char *const map[][2] = {
		{"python", ".py"}, {"node", ".mjs"}, {"bun", ".ts"},
		{"deno", ".mts"},  {"bash", ".sh"},  {"agent", ".txt"},
	};

	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(runtime, map[i][0]) == 0)
			return map[i][1];
	return ".txt";
}

static const char *const root_keys[] = {"request", "options", "sessionId", NULL};
static const char *const request_keys[] = {"code",        "cmd",
					   "runtime",     "timeoutMs",
					   "env",         "fileExtension",
					   "stdin",       "files",
					   "outputPaths", "installPackages",
					   "metadata",    "codeUrl",
					   "codeHash",    "allowInsecureCodeUrl",
					   "workdir",     "setupScript",
					   "args",        "agentFlags",
					   NULL};
static const char *const option_keys[] = {
	"network",       "networkFilter", "cpuLimit",       "memoryLimit",  "sandboxSize", "tmpSize",
	"maxOutputSize", "pidsLimit",     "readonlyRootFs", "secrets",      "timeoutMs",   "image",
	"persist",       "debug",         "logNetwork",     "mode",         "security",    "audit",
	"poolStrategy",  "poolSize",      "remoteCode",     "persistTtlMs", "isolation",   NULL};
static const char *const filter_keys[] = {"whitelist", "blacklist", NULL};

static int copy_string(json_object *src, const char *key, const char *path, size_t max, json_object *dst,
		       struct isol8_err *err)
{
	json_object *v;
	const char *s;

	if (isol8_json_member(src, key, &v) != 1)
		return 0;
	if (isol8_json_as_string(v, path, &s, err) < 0)
		return -1;
	if (strlen(s) > max)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: longer than %zu bytes", path, max);
	json_object_object_add(dst, key, json_object_new_string(s));
	return 1;
}

static int copy_bool(json_object *src, const char *key, const char *path, json_object *dst, struct isol8_err *err)
{
	json_object *v;
	bool b;

	if (isol8_json_member(src, key, &v) != 1)
		return 0;
	if (isol8_json_as_bool(v, path, &b, err) < 0)
		return -1;
	json_object_object_add(dst, key, json_object_new_boolean(b));
	return 1;
}

/* A size given as bytes (number) or as "512m". */
static int copy_size(json_object *src, const char *key, const char *path, json_object *dst, struct isol8_err *err)
{
	json_object *v;
	uint64_t bytes;

	if (isol8_json_member(src, key, &v) != 1)
		return 0;
	if (json_object_is_type(v, json_type_string)) {
		if (isol8_parse_size(json_object_get_string(v), &bytes, err) < 0)
			return isol8_err_wrap(err, "%s", path);
	} else if (isol8_json_as_u64(v, path, 1, 1ull << 50, &bytes, err) < 0) {
		return -1;
	}
	json_object_object_add(dst, key, json_object_new_uint64(bytes));
	return 1;
}

static int copy_u64(json_object *src, const char *key, const char *path, uint64_t min, uint64_t max, json_object *dst,
		    struct isol8_err *err)
{
	json_object *v;
	uint64_t x;

	if (isol8_json_member(src, key, &v) != 1)
		return 0;
	if (isol8_json_as_u64(v, path, min, max, &x, err) < 0)
		return -1;
	json_object_object_add(dst, key, json_object_new_uint64(x));
	return 1;
}

static int copy_strv(json_object *src, const char *key, const char *path, size_t max_n, size_t max_len,
		     json_object *dst, struct isol8_err *err)
{
	json_object *v, *a;
	char **sv = NULL;
	size_t n = 0;

	if (isol8_json_member(src, key, &v) != 1)
		return 0;
	if (isol8_json_as_strv(v, path, &sv, &n, err) < 0)
		return -1;
	if (n > max_n) {
		isol8_strv_free(sv);
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: more than %zu entries", path, max_n);
	}
	a = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		if (strlen(sv[i]) > max_len) {
			isol8_strv_free(sv);
			json_object_put(a);
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s[%zu]: longer than %zu bytes", path, i, max_len);
		}
		json_object_array_add(a, json_object_new_string(sv[i]));
	}
	isol8_strv_free(sv);
	json_object_object_add(dst, key, a);
	return 1;
}

/* request.outputPaths: each a file below /sandbox, refused here with the path's index so a
 * client learns which one is wrong before anything runs (the worker checks again). */
static int copy_output_paths(json_object *req, json_object *out, struct isol8_err *err)
{
	json_object *v;
	int r = copy_strv(req, "outputPaths", "request.outputPaths", ISOL8_MAX_OUTPUT_PATHS, ISOL8_MAX_PATH, out, err);

	if (r <= 0)
		return r;
	json_object_object_get_ex(out, "outputPaths", &v);
	for (size_t i = 0; i < json_object_array_length(v); i++) {
		char what[48], rel[ISOL8_MAX_PATH + 1];
		snprintf(what, sizeof what, "request.outputPaths[%zu]", i);
		if (isol8_sandbox_relpath(json_object_get_string(json_object_array_get_idx(v, i)), what, rel,
					  sizeof rel, err) < 0)
			return -1;
	}
	return 1;
}

/* {NAME: "value"} with environment-variable names. */
static int copy_env(json_object *src, const char *key, const char *path, json_object *dst, struct isol8_err *err)
{
	json_object *v, *o;

	if (isol8_json_member(src, key, &v) != 1)
		return 0;
	if (isol8_json_expect_type(v, json_type_object, path, err) < 0)
		return -1;
	if ((size_t)json_object_object_length(v) > MAX_ENV)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: more than %u entries", path, MAX_ENV);
	o = json_object_new_object();
	json_object_object_foreach(v, name, val)
	{
		char p[ISOL8_JSON_PATH_MAX];
		const char *s;

		isol8_json_path_key(p, sizeof p, path, name);
		if (!isol8_valid_env_name(name)) {
			json_object_put(o);
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: invalid variable name", p);
		}
		if (isol8_json_as_string(val, p, &s, err) < 0) {
			json_object_put(o);
			return -1;
		}
		json_object_object_add(o, name, json_object_new_string(s));
	}
	json_object_object_add(dst, key, o);
	return 1;
}

/* Text that may hold any byte json-c accepts (including \u0000): kept with its length. */
static int take_text(json_object *src, const char *key, const char *path, char **out, size_t *len,
		     struct isol8_err *err)
{
	json_object *v;

	if (isol8_json_member(src, key, &v) != 1)
		return 0;
	if (isol8_json_expect_type(v, json_type_string, path, err) < 0)
		return -1;
	*len = (size_t)json_object_get_string_len(v);
	*out = xmalloc(*len + 1);
	memcpy(*out, json_object_get_string(v), *len);
	(*out)[*len] = '\0';
	return 1;
}

static int take_files(json_object *req, struct http_run_spec *s, struct isol8_err *err)
{
	json_object *v;

	if (isol8_json_member(req, "files", &v) != 1)
		return 0;
	if (isol8_json_expect_type(v, json_type_object, "request.files", err) < 0)
		return -1;
	if ((size_t)json_object_object_length(v) > HTTP_MAX_FILES)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "request.files: more than %u files", HTTP_MAX_FILES);
	s->files = xcalloc((size_t)json_object_object_length(v) + 1, sizeof *s->files);
	json_object_object_foreach(v, name, val)
	{
		char p[ISOL8_JSON_PATH_MAX];
		char *abs = NULL;
		struct http_file *f = &s->files[s->n_files];

		isol8_json_path_key(p, sizeof p, "request.files", name);
		if (isol8_json_expect_type(val, json_type_string, p, err) < 0)
			return -1;
		if (strlen(name) > ISOL8_MAX_PATH)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: path too long", p);
		if (run_resolve_sandbox_path(name, "request.files path", &abs, err) < 0)
			return -1;
		if (strcmp(abs, RUN_SANDBOX_ROOT) == 0) {
			free(abs);
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: must name a file inside /sandbox", p);
		}
		f->path = xstrdup(abs + sizeof RUN_SANDBOX_ROOT); /* past "/sandbox/" */
		free(abs);
		f->len = (size_t)json_object_get_string_len(val);
		f->data = xmalloc(f->len + 1);
		memcpy(f->data, json_object_get_string(val), f->len);
		s->n_files++;
	}
	return 1;
}

static int build_request(json_object *req, uint64_t default_timeout, bool have_default_timeout, struct http_run_spec *s,
			 json_object *out, struct isol8_err *err)
{
	json_object *v;
	const char *rt;
	int has_code, has_cmd, has_url;

	if (isol8_json_check_keys(req, "request", request_keys, err) < 0)
		return -1;
	if (isol8_json_member(req, "metadata", &v) == 1) {
		/* For the audit record; the worker checks the pairs against common/audit.h's rules. */
		if (isol8_json_expect_type(v, json_type_object, "request.metadata", err) < 0)
			return -1;
		json_object_object_add(out, "metadata", json_object_get(v));
	}
	if (isol8_json_member(req, "runtime", &v) != 1)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "request.runtime: required");
	if (isol8_json_as_string(v, "request.runtime", &rt, err) < 0)
		return -1;
	if (!run_valid_runtime(rt))
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "Unknown runtime: \"%.32s\". Available: python, node, bun, deno, bash, agent", rt);
	s->runtime = xstrdup(rt);
	json_object_object_add(out, "runtime", json_object_new_string(rt));

	has_code = take_text(req, "code", "request.code", &s->code, &s->code_len, err);
	if (has_code < 0)
		return -1;
	has_cmd = copy_string(req, "cmd", "request.cmd", 1u << 20, out, err);
	if (has_cmd < 0)
		return -1;
	/* Remote code: passed on as asked; whether it may be fetched at all is the tenant's policy
	 * (isol8d, V_FETCH), never the request's (options.remoteCode is ignored). */
	has_url = copy_string(req, "codeUrl", "request.codeUrl", ISOL8_REMOTE_MAX_URL, out, err);
	if (has_url < 0)
		return -1;
	if (isol8_json_member(req, "codeHash", &v) == 1) {
		const char *h;
		if (isol8_json_as_string(v, "request.codeHash", &h, err) < 0 ||
		    remote_hash_check_format(h, "request.codeHash", err) < 0)
			return -1;
		if (!has_url)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "request.codeHash needs request.codeUrl");
		json_object_object_add(out, "codeHash", json_object_new_string(h));
	}
	if (copy_bool(req, "allowInsecureCodeUrl", "request.allowInsecureCodeUrl", out, err) < 0)
		return -1;
	if (has_code + has_cmd + has_url > 1)
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "ExecutionRequest.code, ExecutionRequest.codeUrl, and ExecutionRequest.cmd are "
				     "mutually exclusive \u2014 provide exactly one.");
	if (!has_code && !has_cmd && !has_url)
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "ExecutionRequest must include exactly one of: code, codeUrl, or cmd.");
	if (take_text(req, "stdin", "request.stdin", &s->stdin_data, &s->stdin_len, err) < 0)
		return -1;

	if (isol8_json_member(req, "timeoutMs", &v) == 1) {
		if (copy_u64(req, "timeoutMs", "request.timeoutMs", 1, 24ull * 3600 * 1000, out, err) < 0)
			return -1;
	} else if (have_default_timeout) {
		json_object_object_add(out, "timeoutMs", json_object_new_uint64(default_timeout));
	}
	if (copy_env(req, "env", "request.env", out, err) < 0 ||
	    copy_string(req, "fileExtension", "request.fileExtension", 16, out, err) < 0 ||
	    copy_strv(req, "installPackages", "request.installPackages", MAX_INSTALL, 214, out, err) < 0 ||
	    copy_string(req, "setupScript", "request.setupScript", 1u << 16, out, err) < 0 ||
	    copy_string(req, "agentFlags", "request.agentFlags", ISOL8_AGENT_FLAGS_MAX, out, err) < 0 ||
	    copy_strv(req, "args", "request.args", ISOL8_MAX_SCRIPT_ARGS, ISOL8_MAX_SCRIPT_ARGS_BYTES, out, err) < 0 ||
	    copy_output_paths(req, out, err) < 0 || take_files(req, s, err) < 0)
		return -1;
	if (isol8_json_member(req, "workdir", &v) == 1) {
		const char *w;
		char *abs = NULL;
		if (isol8_json_as_string(v, "request.workdir", &w, err) < 0 ||
		    run_resolve_sandbox_path(w, "request.workdir", &abs, err) < 0)
			return -1;
		json_object_object_add(out, "workdir", json_object_new_string(abs));
		free(abs);
	}
	if (s->n_files)
		json_object_object_add(out, "hasFiles", json_object_new_boolean(1));
	/* The original's events carry phase setup/code: the worker marks the setup scripts' output
	 * (WK_PHASE, WK_OUTPUT; http/run.c). */
	json_object_object_add(out, "phaseEvents", json_object_new_boolean(1));
	return 0;
}

static int build_options(json_object *opt, json_object *out, struct isol8_err *err)
{
	json_object *v;

	if (isol8_json_check_keys(opt, "options", option_keys, err) < 0)
		return -1;
	if (isol8_json_member(opt, "network", &v) == 1) {
		const char *n;
		if (isol8_json_as_string(v, "options.network", &n, err) < 0)
			return -1;
		if (strcmp(n, "none") != 0 && strcmp(n, "host") != 0 && strcmp(n, "filtered") != 0)
			return isol8_err_set(err, ISOL8_E_USAGE, 0,
					     "options.network: expected none, host or filtered, got \"%.32s\"", n);
		json_object_object_add(out, "network", json_object_new_string(n));
	}
	if (isol8_json_member(opt, "isolation", &v) == 1) {
		const char *n;
		if (isol8_json_as_string(v, "options.isolation", &n, err) < 0)
			return -1;
		if (strcmp(n, "runc") != 0 && strcmp(n, "runsc") != 0)
			return isol8_err_set(err, ISOL8_E_USAGE, 0,
					     "options.isolation: expected runc or runsc, got \"%.32s\"", n);
		json_object_object_add(out, "isolation", json_object_new_string(n));
	}
	if (isol8_json_member(opt, "networkFilter", &v) == 1) {
		json_object *f = json_object_new_object();
		json_object_object_add(out, "networkFilter", f);
		if (isol8_json_check_keys(v, "options.networkFilter", filter_keys, err) < 0 ||
		    copy_strv(v, "whitelist", "options.networkFilter.whitelist", 256, 1024, f, err) < 0 ||
		    copy_strv(v, "blacklist", "options.networkFilter.blacklist", 256, 1024, f, err) < 0)
			return -1;
	}
	if (isol8_json_member(opt, "cpuLimit", &v) == 1) {
		double cpu;
		if (isol8_json_as_double(v, "options.cpuLimit", 0.001, 1024, &cpu, err) < 0)
			return -1;
		json_object_object_add(out, "cpuLimit", json_object_new_double(cpu));
	}
	if (copy_size(opt, "memoryLimit", "options.memoryLimit", out, err) < 0 ||
	    copy_size(opt, "sandboxSize", "options.sandboxSize", out, err) < 0 ||
	    copy_size(opt, "tmpSize", "options.tmpSize", out, err) < 0 ||
	    copy_size(opt, "maxOutputSize", "options.maxOutputSize", out, err) < 0 ||
	    copy_u64(opt, "pidsLimit", "options.pidsLimit", 1, RUN_MAX_PIDS, out, err) < 0 ||
	    copy_bool(opt, "readonlyRootFs", "options.readonlyRootFs", out, err) < 0 ||
	    copy_env(opt, "secrets", "options.secrets", out, err) < 0 ||
	    copy_string(opt, "image", "options.image", ISOL8_MAX_IMAGE, out, err) < 0 ||
	    copy_bool(opt, "persist", "options.persist", out, err) < 0 ||
	    copy_u64(opt, "persistTtlMs", "options.persistTtlMs", 1000, 30ull * 24 * 3600 * 1000, out, err) < 0 ||
	    copy_bool(opt, "debug", "options.debug", out, err) < 0 ||
	    copy_bool(opt, "logNetwork", "options.logNetwork", out, err) < 0)
		return -1;
	return 0;
}

/* The agent runtime's rules, answered with a 400 before anything reaches isol8d (the worker
 * checks the same for every frontend): its network is the filtering proxy with at least one
 * allowed host, and agentFlags are its own and must split into words (common/parse.h). */
static int check_agent(json_object *oreq, json_object *oopt, struct isol8_err *err)
{
	json_object *v, *f, *wl = NULL;
	const char *rt = NULL, *net = "none";
	char **words = NULL;
	size_t n = 0;

	if (isol8_json_member(oreq, "runtime", &v) == 1)
		rt = json_object_get_string(v);
	if (isol8_json_member(oreq, "agentFlags", &v) == 1) {
		if (!rt || strcmp(rt, "agent") != 0)
			return isol8_err_set(err, ISOL8_E_USAGE, 0,
					     "request.agentFlags: only for runtime \"agent\" (runtime is %s)",
					     rt ? rt : "?");
		if (isol8_split_words(json_object_get_string(v), "request.agentFlags", &words, &n, err) < 0)
			return -1;
		isol8_strv_free(words);
	}
	if (!rt || strcmp(rt, "agent") != 0)
		return 0;
	if (isol8_json_member(oopt, "network", &v) == 1)
		net = json_object_get_string(v);
	if (isol8_json_member(oopt, "networkFilter", &f) == 1)
		isol8_json_member(f, "whitelist", &wl);
	if (strcmp(net, "none") == 0)
		return isol8_err_set(
			err, ISOL8_E_USAGE, 0,
			"Agent runtime requires network access. The AI coding agent needs to reach its LLM provider "
			"API. "
			"Use options.network \"filtered\" with options.networkFilter.whitelist [\"api.anthropic.com\"] "
			"(or your provider's host).");
	if (strcmp(net, "filtered") != 0)
		return isol8_err_set(
			err, ISOL8_E_USAGE, 0,
			"Agent runtime requires options.network \"filtered\" (not \"%s\"): the agent reaches its LLM "
			"provider only through the filtering proxy. Use options.networkFilter.whitelist "
			"[\"api.anthropic.com\"] (or your provider's host).",
			net);
	if (!wl || json_object_array_length(wl) == 0)
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "Agent runtime requires at least one network whitelist entry. The AI coding agent "
				     "needs to reach "
				     "its LLM provider API: set options.networkFilter.whitelist, e.g. "
				     "[\"api.anthropic.com\"] (or your "
				     "provider's host).");
	return 0;
}

/* Serialise with code/stdin inline where they fit (JSON-safe text, under the frame cap). */
static void serialise(json_object *root, json_object *req, struct http_run_spec *s)
{
	for (;;) {
		const char *text;
		size_t n;

		json_object_object_del(req, "code");
		json_object_object_del(req, "stdin");
		json_object_object_del(req, "codeInBundle");
		json_object_object_del(req, "stdinInBundle");
		if (s->code && !s->code_in_bundle)
			json_object_object_add(req, "code", json_object_new_string_len(s->code, (int)s->code_len));
		if (s->code_in_bundle)
			json_object_object_add(req, "codeInBundle", json_object_new_boolean(1));
		if (s->stdin_data && !s->stdin_in_bundle)
			json_object_object_add(req, "stdin",
					       json_object_new_string_len(s->stdin_data, (int)s->stdin_len));
		if (s->stdin_in_bundle)
			json_object_object_add(req, "stdinInBundle", json_object_new_boolean(1));
		text = json_object_to_json_string_length(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
							 &n);
		if (n <= RUN_REQUEST_MAX ||
		    ((s->code_in_bundle || !s->code) && (s->stdin_in_bundle || !s->stdin_data))) {
			free(s->json);
			s->json = xstrndup(text, n);
			s->json_len = n;
			return;
		}
		if (s->stdin_data && !s->stdin_in_bundle)
			s->stdin_in_bundle = true;
		else
			s->code_in_bundle = true;
	}
}

int http_translate(const char *body, size_t len, struct http_run_spec *s, struct isol8_err *err)
{
	json_object *root, *req, *opt, *v, *out = NULL, *oreq = NULL, *oopt;
	uint64_t default_timeout = 0;
	bool have_default_timeout = false;
	int rc = -1;

	memset(s, 0, sizeof *s);
	root = isol8_json_parse(body, len, BODY_PARSE_MAX, err);
	if (!root)
		return isol8_err_wrap(err, "invalid JSON body");
	if (isol8_json_check_keys(root, "", root_keys, err) < 0)
		goto out;
	if (isol8_json_member(root, "request", &req) != 1) {
		isol8_err_set(err, ISOL8_E_USAGE, 0, "request: required");
		goto out;
	}
	if (isol8_json_expect_type(req, json_type_object, "request", err) < 0)
		goto out;
	out = json_object_new_object();
	oreq = json_object_new_object();
	oopt = json_object_new_object();
	json_object_object_add(out, "request", oreq);
	json_object_object_add(out, "options", oopt);
	if (isol8_json_member(root, "options", &opt) == 1) {
		if (isol8_json_expect_type(opt, json_type_object, "options", err) < 0 ||
		    build_options(opt, oopt, err) < 0)
			goto out;
		if (isol8_json_member(opt, "timeoutMs", &v) == 1) {
			if (isol8_json_as_u64(v, "options.timeoutMs", 1, 24ull * 3600 * 1000, &default_timeout, err) <
			    0)
				goto out;
			have_default_timeout = true;
		}
	}
	if (build_request(req, default_timeout, have_default_timeout, s, oreq, err) < 0 ||
	    check_agent(oreq, oopt, err) < 0)
		goto out;
	if (isol8_json_member(root, "sessionId", &v) == 1) {
		const char *id;
		if (isol8_json_as_string(v, "sessionId", &id, err) < 0)
			goto out;
		if (!isol8_valid_session_name(id)) {
			isol8_err_set(err, ISOL8_E_USAGE, 0, "sessionId: use 1-64 of [A-Za-z0-9_.-]");
			goto out;
		}
		s->session = xstrdup(id);
		json_object_object_add(out, "sessionId", json_object_new_string(id));
	}
	/* The worker passes code without a file extension as one exec argument, which the broker
	 * caps at ISOL8_MAX_ARG; with an extension it writes a file. Large code therefore gets the
	 * runtime's default extension and travels in the bundle. */
	if (s->code && s->code_len > HTTP_INLINE_CODE_MAX && isol8_json_member(oreq, "fileExtension", &v) != 1)
		json_object_object_add(oreq, "fileExtension", json_object_new_string(default_ext(s->runtime)));
	s->code_in_bundle = s->code &&
		(s->code_len > HTTP_INLINE_CODE_MAX || !run_text_is_json_safe(s->code, s->code_len));
	s->stdin_in_bundle = s->stdin_data && !run_text_is_json_safe(s->stdin_data, s->stdin_len);
	serialise(out, oreq, s);
	if (s->json_len > RUN_REQUEST_MAX) {
		isol8_err_set(err, ISOL8_E_LIMIT, 0, "request too large: env, secrets and setup must fit in %u bytes",
			      RUN_REQUEST_MAX);
		goto out;
	}
	rc = 0;
out:
	if (out)
		json_object_put(out);
	json_object_put(root);
	if (rc < 0)
		http_spec_free(s);
	return rc;
}

int http_spec_bundle(const struct http_run_spec *s, struct isol8_buf *tar, struct isol8_err *err)
{
	struct isol8_tar_entry *e = xcalloc(s->n_files + 2, sizeof *e);
	char **names = xcalloc(s->n_files + 1, sizeof *names);
	size_t n = 0;
	int r = 0;

	if (s->code_in_bundle)
		e[n++] = (struct isol8_tar_entry){"code", s->code, s->code_len, 0644, 100, 101};
	if (s->stdin_in_bundle)
		e[n++] = (struct isol8_tar_entry){"stdin", s->stdin_data, s->stdin_len, 0644, 100, 101};
	for (size_t i = 0; i < s->n_files; i++) {
		names[i] = xasprintf("files/%s", s->files[i].path);
		e[n++] = (struct isol8_tar_entry){names[i], s->files[i].data, s->files[i].len, 0644, 100, 101};
	}
	isol8_buf_reset(tar);
	if (n)
		r = isol8_tar_build(e, n, tar, err);
	for (size_t i = 0; i < s->n_files; i++)
		free(names[i]);
	free(names);
	free(e);
	return r;
}

void http_spec_free(struct http_run_spec *s)
{
	free(s->json);
	free(s->session);
	free(s->runtime);
	free(s->code);
	free(s->stdin_data);
	for (size_t i = 0; i < s->n_files; i++) {
		free(s->files[i].path);
		free(s->files[i].data);
	}
	free(s->files);
	memset(s, 0, sizeof *s);
}
