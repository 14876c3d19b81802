/* The tools and the runtimes resource of `isol8 mcp` (contract in mcp.h).
 *
 * Each tool builds the same request body as POST /execute and goes through the HTTP server's
 * translation (http/translate.c), so both frontends check a request alike; the run itself is
 * http/run.c on a broker connection this process opened as the calling user. Tool failures are
 * results with isError and the reason as text, which is what a model can act on. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "cli/broker_conn.h"
#include "cli/broker_requests.h"
#include "cli/run_io.h"
#include "cli/run_result.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "common/proto.h"
#include "common/xalloc.h"
#include "http/run.h"
#include "http/text.h"
#include "http/translate.h"
#include "mcp/mcp.h"

#define OUTPUT_MAX (16u * 1024u * 1024u)
#define FILE_MAX (16u * 1024u * 1024u)
#define SESSIONS_MAX_TEXT (64u * 1024u)

static const struct {
	const char *name, *ext, *noop;
} runtimes[] = {
	{"python", ".py", "pass"}, {"node", ".mjs", ";"}, {"bun", ".ts", ";"},
	{"deno", ".mts", ";"},     {"bash", ".sh", ":"},  {"agent", NULL, NULL}, /* the prompt is the code */
};

/* ---- the tool list ------------------------------------------------------------------------ */

#define RT_ENUM "\"enum\":[\"python\",\"node\",\"bun\",\"deno\",\"bash\"]"
/* A one-off run may also be the coding agent (its prompt is the code); a session may not: a
 * session starts with a no-op program, and the agent's would be a call to its provider. */
#define RT_ENUM_RUN "\"enum\":[\"python\",\"node\",\"bun\",\"deno\",\"bash\",\"agent\"]"
/* Host patterns for network "filtered" (isol8-policy(5) HOST PATTERNS), narrowed by the policy. */
#define HOSTS_ITEMS "\"type\":\"array\",\"maxItems\":64,\"items\":{\"type\":\"string\",\"maxLength\":253}"
#define HOSTS_ALLOW "{" HOSTS_ITEMS ",\"description\":\"Hosts reachable with network filtered: names, *.domain or *\"}"
#define HOSTS_DENY "{" HOSTS_ITEMS ",\"description\":\"Hosts refused even if allowed\"}"
#define SID "{\"type\":\"string\",\"pattern\":\"^[A-Za-z0-9_.-]{1,64}$\",\"description\":\"The session's name\"}"

static const char tools_json[] =
	"["
	"{\"name\":\"execute\",\"title\":\"Run code in a fresh sandbox\","
	"\"description\":\"Runs code in a new isol8 sandbox (no network unless your policy and the network argument "
	"allow it) "
	"and returns its stdout, stderr and exit code. The sandbox is removed afterwards.\","
	"\"inputSchema\":{\"type\":\"object\",\"required\":[\"runtime\",\"code\"],\"additionalProperties\":false,"
	"\"properties\":{"
	"\"runtime\":{\"type\":\"string\"," RT_ENUM_RUN "},"
	"\"code\":{\"type\":\"string\",\"description\":\"Source code to run (runtime agent: the prompt)\"},"
	"\"stdin\":{\"type\":\"string\"},"
	"\"args\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"description\":\"The program's arguments\"},"
	"\"env\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}},"
	"\"files\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"},"
	"\"description\":\"Text files to write under /sandbox first: path -> content\"},"
	"\"timeoutMs\":{\"type\":\"integer\",\"minimum\":1},"
	"\"network\":{\"type\":\"string\",\"enum\":[\"none\",\"filtered\",\"host\"]},"
	"\"allow\":" HOSTS_ALLOW ",\"deny\":" HOSTS_DENY ","
	"\"agentFlags\":{\"type\":\"string\",\"description\":\"runtime agent: extra flags for the agent, split into "
	"words without a shell\"}}}},"
	"{\"name\":\"session_create\",\"title\":\"Create a persistent session\","
	"\"description\":\"Creates a sandbox that keeps its files and interpreter state between session_run calls "
	"(one runtime per session). Stop it with session_stop.\","
	"\"inputSchema\":{\"type\":\"object\",\"required\":[\"runtime\"],\"additionalProperties\":false,\"properties\":"
	"{"
	"\"runtime\":{\"type\":\"string\"," RT_ENUM "},"
	"\"sessionId\":" SID ","
	"\"network\":{\"type\":\"string\",\"enum\":[\"none\",\"filtered\",\"host\"]},"
	"\"allow\":" HOSTS_ALLOW ",\"deny\":" HOSTS_DENY ","
	"\"timeoutMs\":{\"type\":\"integer\",\"minimum\":1}}}},"
	"{\"name\":\"session_run\",\"title\":\"Run code in a session\","
	"\"description\":\"Runs code in a session made by session_create; variables, imports and files persist.\","
	"\"inputSchema\":{\"type\":\"object\",\"required\":[\"sessionId\",\"code\"],\"additionalProperties\":false,"
	"\"properties\":{"
	"\"sessionId\":" SID ",\"code\":{\"type\":\"string\"},\"stdin\":{\"type\":\"string\"},"
	"\"timeoutMs\":{\"type\":\"integer\",\"minimum\":1}}}},"
	"{\"name\":\"session_stop\",\"title\":\"Stop a session\",\"description\":\"Removes a session and its "
	"sandbox.\","
	"\"inputSchema\":{\"type\":\"object\",\"required\":[\"sessionId\"],\"additionalProperties\":false,"
	"\"properties\":{"
	"\"sessionId\":" SID "}}},"
	"{\"name\":\"file_put\",\"title\":\"Write a file into a session\","
	"\"description\":\"Writes a file into a session's sandbox (relative paths are under /sandbox).\","
	"\"inputSchema\":{\"type\":\"object\",\"required\":[\"sessionId\",\"path\",\"content\"],"
	"\"additionalProperties\":false,"
	"\"properties\":{\"sessionId\":" SID ",\"path\":{\"type\":\"string\"},\"content\":{\"type\":\"string\"},"
	"\"encoding\":{\"type\":\"string\",\"enum\":[\"utf8\",\"base64\"],\"default\":\"utf8\"}}}},"
	"{\"name\":\"file_get\",\"title\":\"Read a file from a session\","
	"\"description\":\"Reads a file from a session's sandbox: as text when it is UTF-8, else base64.\","
	"\"inputSchema\":{\"type\":\"object\",\"required\":[\"sessionId\",\"path\"],\"additionalProperties\":false,"
	"\"properties\":{\"sessionId\":" SID ",\"path\":{\"type\":\"string\"},"
	"\"encoding\":{\"type\":\"string\",\"enum\":[\"utf8\",\"base64\"]}}}}"
	"]";

json_object *mcp_tools_list(void)
{
	return json_tokener_parse(tools_json);
}

/* ---- results ------------------------------------------------------------------------------ */

static json_object *result(const char *text, size_t len, bool is_error, json_object *structured)
{
	json_object *r = json_object_new_object(), *content = json_object_new_array(), *c = json_object_new_object();

	json_object_object_add(c, "type", json_object_new_string("text"));
	json_object_object_add(c, "text", json_object_new_string_len(text, (int)len));
	json_object_array_add(content, c);
	json_object_object_add(r, "content", content);
	json_object_object_add(r, "isError", json_object_new_boolean(is_error));
	if (structured)
		json_object_object_add(r, "structuredContent", structured);
	return r;
}

static json_object *fail(const char *msg)
{
	return result(msg, strlen(msg), true, NULL);
}

static json_object *fail_err(const struct isol8_err *err)
{
	return fail(err->msg[0] ? err->msg : isol8_err_code_name(err->code));
}

/* Optional string argument: 1 found, 0 absent, -1 wrong type (*bad set). */
static int arg_str(json_object *args, const char *key, const char **out, json_object **bad)
{
	json_object *v;

	*out = NULL;
	if (isol8_json_member(args, key, &v) != 1)
		return 0;
	if (!json_object_is_type(v, json_type_string)) {
		char msg[160];
		snprintf(msg, sizeof msg, "argument %s: expected a string", key);
		*bad = fail(msg);
		return -1;
	}
	*out = json_object_get_string(v);
	return 1;
}

static int need_str(json_object *args, const char *key, const char **out, json_object **bad)
{
	int r = arg_str(args, key, out, bad);
	char msg[160];

	if (r != 0)
		return r;
	snprintf(msg, sizeof msg, "argument %s is required", key);
	*bad = fail(msg);
	return -1;
}

/* allow/deny as the HTTP API's options.networkFilter {whitelist, blacklist}: translate checks
 * their items as it checks an HTTP client's, and the policy's ceiling still applies in isol8d;
 * a wrong type is named here by the tool's own argument name. */
static int copy_filter(json_object *args, json_object *opt, json_object **bad)
{
	static const char *const names[][2] = {{"allow", "whitelist"}, {"deny", "blacklist"}};
	json_object *v, *f = NULL;
	char msg[96];

	for (size_t i = 0; i < 2; i++) {
		if (isol8_json_member(args, names[i][0], &v) != 1)
			continue;
		if (!json_object_is_type(v, json_type_array)) {
			if (f)
				json_object_put(f);
			snprintf(msg, sizeof msg, "argument %s: expected an array of host patterns", names[i][0]);
			*bad = fail(msg);
			return -1;
		}
		if (!f)
			f = json_object_new_object();
		json_object_object_add(f, names[i][1], json_object_get(v));
	}
	if (f)
		json_object_object_add(opt, "networkFilter", f);
	return 0;
}

/* Copy args' members named in keys into dst, unchanged (translate checks their types). */
static void copy_members(json_object *args, json_object *dst, const char *const *keys)
{
	json_object *v;

	for (size_t i = 0; keys[i]; i++)
		if (isol8_json_member(args, keys[i], &v) == 1)
			json_object_object_add(dst, keys[i], json_object_get(v));
}

/* Unknown arguments are refused: a model that misspells one learns it at once. */
static int check_args(json_object *args, const char *const *allowed, json_object **bad)
{
	struct isol8_err err = ISOL8_ERR_INIT;

	if (isol8_json_check_keys(args, "arguments", allowed, &err) < 0) {
		*bad = fail_err(&err);
		return -1;
	}
	return 0;
}

/* ---- one run through isol8d --------------------------------------------------------------- */

struct collect {
	struct isol8_buf out, err;
	json_object *res;
	bool failed;
};

static void keep(struct isol8_buf *b, const char *data, size_t n)
{
	if (b->len + n > OUTPUT_MAX)
		n = OUTPUT_MAX - b->len;
	isol8_buf_append(b, data, n);
}

static void collect_emit(void *cls, enum http_ev kind, const char *data, size_t n)
{
	struct collect *c = cls;
	struct isol8_err err = ISOL8_ERR_INIT;

	switch (kind) {
	case HTTP_EV_STDOUT:
		keep(&c->out, data, n);
		break;
	case HTTP_EV_STDERR:
		keep(&c->err, data, n);
		break;
	case HTTP_EV_RESULT:
		c->res = isol8_json_parse(data, n, RUN_RESULT_MAX, &err);
		if (c->res && !json_object_is_type(c->res, json_type_object)) {
			json_object_put(c->res);
			c->res = NULL;
		}
		c->failed = !c->res;
		break;
	case HTTP_EV_ERROR:
		c->failed = true;
		break;
	case HTTP_EV_PHASE:
		break;
	}
}

/* Run the POST /execute body env; on success *res is the ExecutionResult with stdout/stderr. */
static int run_body(const struct mcp *m, json_object *env, json_object **res, struct isol8_err *err)
{
	struct http_run_spec spec;
	struct http_run run;
	struct collect c = {.out = ISOL8_BUF_INIT, .err = ISOL8_BUF_INIT};
	size_t n;
	const char *body = json_object_to_json_string_length(env, JSON_C_TO_STRING_PLAIN, &n);
	int sock, rc = -1;

	if (http_translate(body, n, &spec, err) < 0)
		return -1;
	sock = broker_open(m->socket, HELLO_RUN, spec.session ? spec.session : "", err);
	if (sock < 0 || http_run_start_on(sock, &spec, -1, &run, err) < 0) {
		http_spec_free(&spec);
		return -1;
	}
	while (!http_run_pump(&run, -1, collect_emit, &c))
		;
	if (c.failed) {
		*err = run.fail;
		if (!err->msg[0])
			isol8_err_set(err, ISOL8_E_PROTO, 0, "malformed result from isol8d");
	} else {
		json_object_object_add(c.res, "stdout", http_utf8_json(&c.out));
		json_object_object_add(c.res, "stderr", http_utf8_json(&c.err));
		*res = steal_ptr(&c.res);
		rc = 0;
	}
	if (c.res)
		json_object_put(c.res);
	isol8_buf_free(&c.out);
	isol8_buf_free(&c.err);
	http_run_close(&run);
	http_spec_free(&spec);
	return rc;
}

/* stdout, then stderr and the exit status under their own headings: what a model reads. */
static json_object *run_result(json_object *res)
{
	struct isol8_buf t = ISOL8_BUF_INIT;
	json_object *v;
	const char *out = "", *errs = "";
	int code = -1;
	json_object *r;

	if (isol8_json_member(res, "stdout", &v) == 1)
		out = json_object_get_string(v);
	if (isol8_json_member(res, "stderr", &v) == 1)
		errs = json_object_get_string(v);
	if (isol8_json_member(res, "exitCode", &v) == 1)
		code = json_object_get_int(v);
	isol8_buf_puts(&t, out);
	if (*errs) {
		if (t.len && t.data[t.len - 1] != '\n')
			isol8_buf_putc(&t, '\n');
		isol8_buf_puts(&t, "--- stderr ---\n");
		isol8_buf_puts(&t, errs);
	}
	if (t.len && t.data[t.len - 1] != '\n')
		isol8_buf_putc(&t, '\n');
	isol8_buf_printf(&t, "--- exit code %d%s ---", code,
			 isol8_json_member(res, "timedOut", &v) == 1 && json_object_get_boolean(v) ? " (timed out)"
												   : "");
	r = result(t.data, t.len, false, res);
	isol8_buf_free(&t);
	return r;
}

static json_object *envelope(json_object *request, json_object *options, const char *session)
{
	json_object *env = json_object_new_object();

	json_object_object_add(env, "request", request);
	if (options && json_object_object_length(options))
		json_object_object_add(env, "options", options);
	else if (options)
		json_object_put(options);
	if (session)
		json_object_object_add(env, "sessionId", json_object_new_string(session));
	return env;
}

/* ---- sessions and files ------------------------------------------------------------------- */

/* The runtime of the caller's session name, or NULL (not found) with err when listing failed. */
static char *session_runtime(const struct mcp *m, const char *name, struct isol8_err *err)
{
	_cleanup_close_ int sock = broker_open(m->socket, HELLO_SESSION_LIST, "", err);
	struct isol8_msg msg;
	json_object *arr;
	char *rt = NULL;

	if (sock < 0 || broker_send(sock, FE_SESSION_LIST, NULL, 0, NULL, 0, err) < 0 ||
	    broker_expect(sock, WK_SESSIONS, &msg, err) < 0)
		return NULL;
	arr = isol8_json_parse((const char *)msg.payload, msg.len, SESSIONS_MAX_TEXT, err);
	isol8_msg_free(&msg);
	for (size_t i = 0; arr && json_object_is_type(arr, json_type_array) && i < json_object_array_length(arr); i++) {
		json_object *s = json_object_array_get_idx(arr, i), *id, *r;
		if (isol8_json_member(s, "id", &id) == 1 && strcmp(json_object_get_string(id), name) == 0 &&
		    isol8_json_member(s, "runtime", &r) == 1)
			rt = xstrdup(json_object_get_string(r));
	}
	if (arr)
		json_object_put(arr);
	return rt;
}

static int session_stop(const struct mcp *m, const char *name, struct isol8_err *err)
{
	_cleanup_close_ int sock = broker_open(m->socket, HELLO_SESSION_STOP, name, err);

	if (sock < 0)
		return -1;
	return broker_session_stop(sock, name, err);
}

/* FE_FILE_PUT (fd: the content) or FE_FILE_GET (*got: the file's fd). */
static int file_call(const struct mcp *m, uint8_t type, const char *session, const char *path, int fd, int *got,
		     struct isol8_err *err)
{
	_cleanup_close_ int sock = broker_open(m->socket, HELLO_FILE, session, err);
	struct isol8_buf b = ISOL8_BUF_INIT;
	struct isol8_msg msg;
	int r;

	if (sock < 0)
		return -1;
	isol8_put_str(&b, session);
	isol8_put_str(&b, path);
	r = broker_send_buf(sock, type, &b, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0, err);
	isol8_buf_free(&b);
	if (r < 0 || broker_expect(sock, type == FE_FILE_PUT ? WK_OK : WK_FILE, &msg, err) < 0)
		return -1;
	if (got)
		*got = isol8_msg_take_fd(&msg, 0);
	isol8_msg_free(&msg);
	return 0;
}

static bool valid_session(const char *s, json_object **bad)
{
	if (isol8_valid_session_name(s))
		return true;
	*bad = fail("argument sessionId: use 1-64 of [A-Za-z0-9_.-]");
	return false;
}

/* ---- the tools ---------------------------------------------------------------------------- */

static json_object *tool_execute(const struct mcp *m, json_object *args)
{
	static const char *const allowed[] = {"runtime",   "code",    "stdin", "args", "env",        "files",
					      "timeoutMs", "network", "allow", "deny", "agentFlags", NULL};
	static const char *const req_keys[] = {"runtime", "code",      "stdin",      "args", "env",
					       "files",   "timeoutMs", "agentFlags", NULL};
	struct isol8_err err = ISOL8_ERR_INIT;
	json_object *bad = NULL, *req, *opt, *env, *res = NULL;
	const char *s;

	if (check_args(args, allowed, &bad) < 0 || need_str(args, "runtime", &s, &bad) < 0 ||
	    need_str(args, "code", &s, &bad) < 0)
		return bad;
	req = json_object_new_object();
	copy_members(args, req, req_keys);
	opt = json_object_new_object();
	copy_members(args, opt, (const char *const[]){"network", NULL});
	if (copy_filter(args, opt, &bad) < 0) {
		json_object_put(req);
		json_object_put(opt);
		return bad;
	}
	env = envelope(req, opt, NULL);
	if (run_body(m, env, &res, &err) < 0)
		bad = fail_err(&err);
	json_object_put(env);
	return bad ? bad : run_result(res);
}

static json_object *tool_session_create(const struct mcp *m, json_object *args)
{
	static const char *const allowed[] = {"runtime", "sessionId", "network", "allow", "deny", "timeoutMs", NULL};
	struct isol8_err err = ISOL8_ERR_INIT;
	json_object *bad = NULL, *req, *opt, *env, *res = NULL, *v, *st;
	const char *rt, *sid, *noop = NULL;
	char gen[32], text[200];
	unsigned char rnd[4];
	int code = -1;

	if (check_args(args, allowed, &bad) < 0 || need_str(args, "runtime", &rt, &bad) < 0 ||
	    arg_str(args, "sessionId", &sid, &bad) < 0)
		return bad;
	for (size_t i = 0; i < sizeof runtimes / sizeof runtimes[0]; i++)
		if (strcmp(rt, runtimes[i].name) == 0)
			noop = runtimes[i].noop;
	if (!noop)
		return fail(strcmp(rt, "agent") == 0 ? "argument runtime: the agent runs once, with execute; a session "
						       "takes python, node, bun, "
						       "deno or bash"
						     : "argument runtime: expected python, node, bun, deno or bash");
	if (!sid) {
		if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
			return fail("cannot pick a session name (getrandom)");
		snprintf(gen, sizeof gen, "mcp-%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);
		sid = gen;
	}
	if (!valid_session(sid, &bad))
		return bad;
	/* Sessions are made by their first run: run nothing in it. */
	req = json_object_new_object();
	json_object_object_add(req, "runtime", json_object_new_string(rt));
	json_object_object_add(req, "code", json_object_new_string(noop));
	copy_members(args, req, (const char *const[]){"timeoutMs", NULL});
	opt = json_object_new_object();
	copy_members(args, opt, (const char *const[]){"network", NULL});
	if (copy_filter(args, opt, &bad) < 0) {
		json_object_put(req);
		json_object_put(opt);
		return bad;
	}
	env = envelope(req, opt, sid);
	if (run_body(m, env, &res, &err) < 0) {
		json_object_put(env);
		return fail_err(&err);
	}
	json_object_put(env);
	if (isol8_json_member(res, "exitCode", &v) == 1)
		code = json_object_get_int(v);
	json_object_put(res);
	if (code != 0) {
		snprintf(text, sizeof text, "session %s: its first run exited %d", sid, code);
		return fail(text);
	}
	st = json_object_new_object();
	json_object_object_add(st, "sessionId", json_object_new_string(sid));
	json_object_object_add(st, "runtime", json_object_new_string(rt));
	snprintf(text, sizeof text, "Session %s (%s) is ready.", sid, rt);
	return result(text, strlen(text), false, st);
}

static json_object *tool_session_run(const struct mcp *m, json_object *args)
{
	static const char *const allowed[] = {"sessionId", "code", "stdin", "timeoutMs", NULL};
	struct isol8_err err = ISOL8_ERR_INIT;
	json_object *bad = NULL, *req, *env, *res = NULL;
	_cleanup_free_ char *rt = NULL;
	const char *sid, *s;
	char text[200];

	if (check_args(args, allowed, &bad) < 0 || need_str(args, "sessionId", &sid, &bad) < 0 ||
	    need_str(args, "code", &s, &bad) < 0 || !valid_session(sid, &bad))
		return bad;
	rt = session_runtime(m, sid, &err);
	if (!rt && err.code)
		return fail_err(&err);
	if (!rt) {
		snprintf(text, sizeof text, "no session '%s' (create it with session_create)", sid);
		return fail(text);
	}
	req = json_object_new_object();
	json_object_object_add(req, "runtime", json_object_new_string(rt));
	copy_members(args, req, (const char *const[]){"code", "stdin", "timeoutMs", NULL});
	env = envelope(req, NULL, sid);
	if (run_body(m, env, &res, &err) < 0)
		bad = fail_err(&err);
	json_object_put(env);
	return bad ? bad : run_result(res);
}

static json_object *tool_session_stop(const struct mcp *m, json_object *args)
{
	static const char *const allowed[] = {"sessionId", NULL};
	struct isol8_err err = ISOL8_ERR_INIT;
	json_object *bad = NULL;
	const char *sid;
	char text[200];

	if (check_args(args, allowed, &bad) < 0 || need_str(args, "sessionId", &sid, &bad) < 0 ||
	    !valid_session(sid, &bad))
		return bad;
	if (session_stop(m, sid, &err) < 0 && err.code != ISOL8_E_NOTFOUND)
		return fail_err(&err);
	snprintf(text, sizeof text, err.code ? "Session %s was not running." : "Session %s stopped.", sid);
	return result(text, strlen(text), false, NULL);
}

static json_object *tool_file_put(const struct mcp *m, json_object *args)
{
	static const char *const allowed[] = {"sessionId", "path", "content", "encoding", NULL};
	struct isol8_err err = ISOL8_ERR_INIT;
	json_object *bad = NULL;
	const char *sid, *path, *content, *enc;
	struct isol8_buf data = ISOL8_BUF_INIT;
	_cleanup_close_ int fd = -1;
	char text[ISOL8_MAX_PATH + 100];

	if (check_args(args, allowed, &bad) < 0 || need_str(args, "sessionId", &sid, &bad) < 0 ||
	    need_str(args, "path", &path, &bad) < 0 || need_str(args, "content", &content, &bad) < 0 ||
	    arg_str(args, "encoding", &enc, &bad) < 0 || !valid_session(sid, &bad))
		return bad;
	if (strlen(path) > ISOL8_MAX_PATH)
		return fail("argument path: too long");
	if (enc && strcmp(enc, "base64") == 0) {
		if (http_base64_decode(content, strlen(content), &data) < 0)
			return fail("argument content: not valid base64");
	} else if (enc && strcmp(enc, "utf8") != 0) {
		return fail("argument encoding: expected utf8 or base64");
	} else {
		isol8_buf_puts(&data, content);
	}
	fd = memfd_create("isol8-mcp-file", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || (data.len && write_all(fd, data.data, data.len) < 0) || lseek(fd, 0, SEEK_SET) < 0 ||
	    isol8_memfd_seal(fd, &err) < 0) {
		isol8_buf_free(&data);
		return fail("cannot stage the file (memfd)");
	}
	snprintf(text, sizeof text, "Wrote %zu bytes to %s.", data.len, path);
	isol8_buf_free(&data);
	if (file_call(m, FE_FILE_PUT, sid, path, fd, NULL, &err) < 0)
		return fail_err(&err);
	return result(text, strlen(text), false, NULL);
}

static bool is_text(const struct isol8_buf *b)
{
	struct isol8_buf u = ISOL8_BUF_INIT;
	bool same;

	if (b->len && memchr(b->data, '\0', b->len))
		return false;
	http_utf8_append(&u, b->data ? b->data : "", b->len, false);
	same = u.len == b->len;
	isol8_buf_free(&u);
	return same;
}

static json_object *tool_file_get(const struct mcp *m, json_object *args)
{
	static const char *const allowed[] = {"sessionId", "path", "encoding", NULL};
	struct isol8_err err = ISOL8_ERR_INIT;
	json_object *bad = NULL, *st, *r;
	const char *sid, *path, *enc;
	struct isol8_buf data = ISOL8_BUF_INIT, b64 = ISOL8_BUF_INIT;
	_cleanup_close_ int fd = -1;
	char buf[65536];
	bool text;

	if (check_args(args, allowed, &bad) < 0 || need_str(args, "sessionId", &sid, &bad) < 0 ||
	    need_str(args, "path", &path, &bad) < 0 || arg_str(args, "encoding", &enc, &bad) < 0 ||
	    !valid_session(sid, &bad))
		return bad;
	if (enc && strcmp(enc, "utf8") != 0 && strcmp(enc, "base64") != 0)
		return fail("argument encoding: expected utf8 or base64");
	if (strlen(path) > ISOL8_MAX_PATH)
		return fail("argument path: too long");
	if (file_call(m, FE_FILE_GET, sid, path, -1, &fd, &err) < 0)
		return fail_err(&err);
	for (;;) {
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf) : 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || data.len + (size_t)(n > 0 ? n : 0) > FILE_MAX) {
			isol8_buf_free(&data);
			return fail(n < 0 ? "reading the file from isol8d failed" : "file too large (over 16 MiB)");
		}
		if (n == 0)
			break;
		isol8_buf_append(&data, buf, (size_t)n);
	}
	text = enc ? strcmp(enc, "utf8") == 0 : is_text(&data);
	if (text && !is_text(&data)) {
		isol8_buf_free(&data);
		return fail("the file is not UTF-8 text (ask for encoding base64)");
	}
	st = json_object_new_object();
	json_object_object_add(st, "path", json_object_new_string(path));
	json_object_object_add(st, "encoding", json_object_new_string(text ? "utf8" : "base64"));
	json_object_object_add(st, "size", json_object_new_int64((int64_t)data.len));
	if (!text)
		http_base64_encode(&b64, data.data ? data.data : "", data.len);
	r = text ? result(data.data ? data.data : "", data.len, false, st)
		 : result(b64.data ? b64.data : "", b64.len, false, st);
	isol8_buf_free(&data);
	isol8_buf_free(&b64);
	return r;
}

json_object *mcp_tools_call(const struct mcp *m, const char *name, json_object *args, struct isol8_err *err)
{
	static const struct {
		const char *name;
		json_object *(*fn)(const struct mcp *m, json_object *args);
	} tab[] = {
		{"execute", tool_execute},         {"session_create", tool_session_create},
		{"session_run", tool_session_run}, {"session_stop", tool_session_stop},
		{"file_put", tool_file_put},       {"file_get", tool_file_get},
	};
	json_object *empty = NULL, *r;

	if (args && !json_object_is_type(args, json_type_object))
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "tools/call: arguments must be an object"), NULL;
	for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
		if (strcmp(name, tab[i].name) != 0)
			continue;
		if (!args)
			args = empty = json_object_new_object();
		r = tab[i].fn(m, args);
		if (empty)
			json_object_put(empty);
		return r;
	}
	return isol8_err_set(err, ISOL8_E_USAGE, 0, "Unknown tool: %.64s", name), NULL;
}

/* ---- the runtimes resource ---------------------------------------------------------------- */

#define RUNTIMES_URI "isol8://runtimes"

json_object *mcp_resources_list(void)
{
	json_object *arr = json_object_new_array(), *r = json_object_new_object();

	json_object_object_add(r, "uri", json_object_new_string(RUNTIMES_URI));
	json_object_object_add(r, "name", json_object_new_string("runtimes"));
	json_object_object_add(r, "title", json_object_new_string("isol8 runtimes"));
	json_object_object_add(r, "description",
			       json_object_new_string("The runtimes code can run in, with their file extension and "
						      "image. Your policy may allow fewer."));
	json_object_object_add(r, "mimeType", json_object_new_string("application/json"));
	json_object_array_add(arr, r);
	return arr;
}

json_object *mcp_resource_read(const char *uri, struct isol8_err *err)
{
	json_object *list, *res, *contents, *c;
	const char *text;

	if (strcmp(uri, RUNTIMES_URI) != 0)
		return isol8_err_set(err, ISOL8_E_NOTFOUND, 0, "Unknown resource: %.200s", uri), NULL;
	list = json_object_new_array();
	for (size_t i = 0; i < sizeof runtimes / sizeof runtimes[0]; i++) {
		json_object *o = json_object_new_object();
		char image[32];
		snprintf(image, sizeof image, "isol8:%s", runtimes[i].name);
		json_object_object_add(o, "name", json_object_new_string(runtimes[i].name));
		json_object_object_add(o, "extension",
				       runtimes[i].ext ? json_object_new_string(runtimes[i].ext) : NULL);
		json_object_object_add(o, "image", json_object_new_string(image));
		json_object_array_add(list, o);
	}
	text = json_object_to_json_string_ext(list, JSON_C_TO_STRING_PLAIN);
	c = json_object_new_object();
	json_object_object_add(c, "uri", json_object_new_string(RUNTIMES_URI));
	json_object_object_add(c, "mimeType", json_object_new_string("application/json"));
	json_object_object_add(c, "text", json_object_new_string(text));
	json_object_put(list);
	contents = json_object_new_array();
	json_object_array_add(contents, c);
	res = json_object_new_object();
	json_object_object_add(res, "contents", contents);
	return res;
}
