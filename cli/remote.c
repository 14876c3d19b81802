/* Remote client (contract in remote.h): libisol8's remote engine (lib/remote.c) carries every
 * request, so the CLI's remote tests exercise the library. */
#include "config.h"
#include "cli/remote.h"
#include "cli/credentials.h"

#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "common/proto.h"
#include "common/xalloc.h"
#include "cli/remote_nodes.h"
#include "lib/internal.h"
#include "lib/isol8.h"
#include "cli/run_io.h"
#include "cli/run_request.h"
#include "cli/run_result.h"

/* Answers other than the SSE stream are small JSON documents (results are capped by the
 * server's output limit). */
#define REMOTE_BODY_MAX (256u * 1024u * 1024u)

/* --key > ISOL8_API_KEY > the credentials `isol8 login` stored for this host. */
static const char *key_or_env(const char *key, const char *host, char **owned)
{
	return credentials_resolve(key, host, owned);
}

/* libisol8's remote engine on host (http and https only), or NULL with err. */
static isol8_engine *engine(const char *host, const char *key, struct isol8_err *err)
{
	isol8_error le = {0};
	isol8_engine *e;

	if (!host || !*host) {
		isol8_err_set(err, ISOL8_E_UNAVAIL, 0, "--host needs a URL such as http://127.0.0.1:3000");
		return NULL;
	}
	e = isol8_engine_new_remote(host, key ? key : "", &le);
	if (!e)
		isol8_err_set(err, ISOL8_E_UNAVAIL, 0,
			      "invalid --host URL '%.200s': expected http://HOST[:PORT] or https://...", host);
	return e;
}

/* lib_http_request with the library's error as ours. */
static int request(isol8_engine *e, const char *method, const char *path, const char *body, size_t len,
		   struct lib_http *x, struct isol8_err *err)
{
	isol8_error le = {0};

	if (lib_http_request(e, method, path, body, len, x, &le) < 0)
		return isol8_err_set(err, le.code, le.errnum, "%.250s", le.message);
	return 0;
}

static int to_fd(void *user, const char *data, size_t len)
{
	write_all((int)(intptr_t)user, data, len);
	return 0;
}

static int to_stderr(void *user, const char *data, size_t len)
{
	(void)user;
	write_all(STDERR_FILENO, data, len);
	return 0;
}

static void print_error_event(void *user, const char *msg)
{
	(void)user;
	fprintf(stderr, "[ERR] %s\n", msg);
}

/* A non-2xx answer as an error: the server's {"error": ...} message when it sent one. */
static int status_error(struct lib_http *x, struct isol8_err *err)
{
	struct isol8_err perr = ISOL8_ERR_INIT;
	json_object *o = x->body.len ? isol8_json_parse(x->body.data, x->body.len, REMOTE_BODY_MAX, &perr) : NULL, *m;
	int code = x->status == 401 || x->status == 403 ? ISOL8_E_AUTH
		: x->status == 404                      ? ISOL8_E_NOTFOUND
		: x->status == 400 || x->status == 413  ? ISOL8_E_USAGE
		: x->status == 429                      ? ISOL8_E_LIMIT
		: x->status == 503 || x->status == 421  ? ISOL8_E_UNAVAIL
							: ISOL8_E_INTERNAL;

	if (o && isol8_json_member(o, "error", &m) == 1 && json_object_is_type(m, json_type_string))
		isol8_err_set(err, code, 0, "server answered %ld: %s", x->status, json_object_get_string(m));
	else
		isol8_err_set(err, code, 0, "server answered %ld", x->status);
	if (o)
		json_object_put(o);
	/* A refused request is the server's verdict, not a usage error of this command line. */
	if (err->code == ISOL8_E_USAGE)
		err->code = ISOL8_E_INTERNAL;
	return -1;
}

int remote_run(const struct run_opts *o, struct run_input *in, int *exit_code, struct isol8_err *err)
{
	_cleanup_free_ char *stored = NULL;
	const char *key = key_or_env(o->key, o->host, &stored);
	bool collect = o->no_stream || o->json, got_error = false;
	const char *path = collect ? "/execute" : "/execute/stream";
	_cleanup_free_ char *body = NULL;
	static const isol8_stream_callbacks cb = {.on_stdout = to_fd, .on_stderr = to_stderr};
	struct lib_sink sink = {.cb = &cb, .user = (void *)(intptr_t)STDOUT_FILENO};
	struct lib_http x = {.session = o->session_id, .on_error_event = print_error_event, .user = &got_error};
	char *node_sent = NULL;
	isol8_engine *e;
	size_t len;
	int r = -1;

	if (!key)
		return isol8_err_set(err, ISOL8_E_AUTH, 0, CREDENTIALS_REQUIRED_MSG);
	e = engine(o->host, key, err);
	if (!e)
		return -1;
	if (o->files_dir || o->out_file) {
		isol8_engine_free(e);
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s is not supported with --host",
				     o->files_dir ? "--files" : "--out");
	}
	if ((in->code && !run_text_is_json_safe(in->code, in->code_len)) ||
	    (in->stdin_data && !run_text_is_json_safe(in->stdin_data, in->stdin_len))) {
		isol8_engine_free(e);
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "with --host, code and stdin must be UTF-8 text");
	}
	if (!collect)
		x.sink = &sink;
	in->code_in_bundle = in->stdin_in_bundle = in->has_files = false;
	body = run_request_json(o, in, &len);
	if (o->debug)
		fprintf(stderr, "[DEBUG] remote: POST %s%s (%zu bytes)\n", e->url, path, len);
	fflush(stdout);
	if (o->session_id)
		x.node_sent = node_sent = remote_node_get(o->host, o->session_id);
	if (request(e, "POST", path, body, len, &x, err) < 0)
		goto out;
	if (x.status != 200) {
		status_error(&x, err);
		goto out;
	}
	/* The node that created the session holds it (remote_nodes.h). */
	if (o->session_id && !node_sent && x.node[0])
		remote_node_set(o->host, o->session_id, x.node);
	if (collect) {
		struct run_io io;
		json_object *res, *v;

		run_io_init(&io);
		res = isol8_json_parse(x.body.data, x.body.len, REMOTE_BODY_MAX, err);
		if (!res) {
			isol8_err_wrap(err, "malformed result from %s%s", e->url, path);
			goto out;
		}
		if (isol8_json_member(res, "stdout", &v) == 1 && json_object_is_type(v, json_type_string))
			isol8_buf_append(&io.out, json_object_get_string(v), (size_t)json_object_get_string_len(v));
		if (isol8_json_member(res, "stderr", &v) == 1 && json_object_is_type(v, json_type_string))
			isol8_buf_append(&io.err, json_object_get_string(v), (size_t)json_object_get_string_len(v));
		json_object_put(res);
		r = run_result_report(o, &io, x.body.data, x.body.len, exit_code, err);
		run_io_free(&io);
		goto out;
	}
	lib_http_finish(&x); /* a last event without its blank line */
	if (!x.got_exit) {
		isol8_err_set(err, ISOL8_E_PROTO, 0, "%s",
			      got_error ? "the run failed" : "stream ended without an exit event");
		if (got_error)
			err->msg[0] = '\0'; /* already printed as an [ERR] line */
		goto out;
	}
	*exit_code = x.exit_code & 0xff;
	r = 0;
out:
	free(node_sent);
	if (x.usage)
		json_object_put(x.usage);
	isol8_buf_free(&x.body);
	isol8_engine_free(e);
	return r;
}

json_object *remote_session_list(const char *host, const char *key, struct isol8_err *err)
{
	_cleanup_free_ char *stored = NULL;
	struct lib_http x = {0};
	json_object *o = NULL, *arr = NULL;
	isol8_engine *e;

	key = key_or_env(key, host, &stored);
	if (!(e = engine(host, key, err)))
		return NULL;
	if (!key) {
		isol8_engine_free(e);
		isol8_err_set(err, ISOL8_E_AUTH, 0, CREDENTIALS_REQUIRED_MSG);
		return NULL;
	}
	if (request(e, "GET", "/sessions", NULL, 0, &x, err) == 0) {
		if (x.status != 200)
			status_error(&x, err);
		else if ((o = isol8_json_parse(x.body.data, x.body.len, REMOTE_BODY_MAX, err)) &&
			 isol8_json_member(o, "sessions", &arr) == 1 && json_object_is_type(arr, json_type_array))
			json_object_get(arr);
		else {
			arr = NULL;
			isol8_err_set(err, ISOL8_E_PROTO, 0, "malformed session list from %s/sessions", e->url);
		}
	}
	if (o)
		json_object_put(o);
	isol8_buf_free(&x.body);
	isol8_engine_free(e);
	return arr;
}

int remote_session_stop(const char *host, const char *key, const char *id, struct isol8_err *err)
{
	_cleanup_free_ char *path = xasprintf("/session/%s", id);
	_cleanup_free_ char *stored = NULL;
	struct lib_http x = {.session = id};
	char *node_sent;
	isol8_engine *e;
	int r = -1;

	key = key_or_env(key, host, &stored);
	if (!(e = engine(host, key, err)))
		return -1;
	if (!key) {
		isol8_engine_free(e);
		return isol8_err_set(err, ISOL8_E_AUTH, 0, CREDENTIALS_REQUIRED_MSG);
	}
	x.node_sent = node_sent = remote_node_get(host, id);
	if (request(e, "DELETE", path, NULL, 0, &x, err) == 0)
		r = x.status == 200 ? 0 : status_error(&x, err);
	if (r == 0)
		remote_node_set(host, id, NULL);
	free(node_sent);
	isol8_buf_free(&x.body);
	isol8_engine_free(e);
	return r;
}

int remote_login(const char *host, const char *master, const char *name, uint64_t ttl_ms, json_object **answer,
		 struct isol8_err *err)
{
	isol8_engine *e = engine(host, master, err);
	json_object *body, *m;
	struct lib_http x = {0};
	const char *text;
	int r;

	*answer = NULL;
	if (!e)
		return -1;
	body = json_object_new_object();
	json_object_object_add(body, "name", json_object_new_string(name));
	if (ttl_ms)
		json_object_object_add(body, "ttlMs", json_object_new_uint64(ttl_ms));
	text = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
	r = request(e, "POST", "/auth/login", text, strlen(text), &x, err);
	json_object_put(body);
	if (r == 0 && (x.status < 200 || x.status > 299)) {
		json_object *o = x.body.len ? isol8_json_parse(x.body.data, x.body.len, REMOTE_BODY_MAX, err) : NULL;
		isol8_err_set(err, ISOL8_E_AUTH, 0, "Authentication failed: %s",
			      o && isol8_json_member(o, "error", &m) == 1 && json_object_is_type(m, json_type_string)
				      ? json_object_get_string(m)
				      : "the server refused the key");
		if (o)
			json_object_put(o);
		r = -1;
	} else if (r == 0) {
		*answer = isol8_json_parse(x.body.data, x.body.len, REMOTE_BODY_MAX, err);
		r = *answer ? 0 : -1;
	}
	isol8_buf_free(&x.body);
	isol8_engine_free(e);
	return r;
}

/* The engine for a file call of session id: credentials as for runs, and the node that holds
 * the session (remote_nodes.h) pinned, so that a balancer's other node refuses the call (421)
 * instead of answering for a session it does not have. */
static isol8_engine *file_engine(const char *host, const char *key, const char *id, char **stored,
				 struct isol8_err *err)
{
	isol8_engine *e;
	char *node;

	key = key_or_env(key, host, stored);
	if (!key) {
		isol8_err_set(err, ISOL8_E_AUTH, 0, CREDENTIALS_REQUIRED_MSG);
		return NULL;
	}
	e = engine(host, key, err);
	if (e && (node = remote_node_get(host, id))) {
		lib_remote_pin(e, id, node);
		free(node);
	}
	return e;
}

int remote_file_put(const char *host, const char *key, const char *id, const char *path, int fd, struct isol8_err *err)
{
	_cleanup_free_ char *stored = NULL;
	struct isol8_buf b = ISOL8_BUF_INIT;
	isol8_engine *e = file_engine(host, key, id, &stored, err);
	isol8_error le = {0};
	char buf[65536];
	int r = -1;

	if (!e)
		return -1;
	lseek(fd, 0, SEEK_SET);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			isol8_err_set(err, ISOL8_E_IO, errno, "reading the file to upload");
			goto out;
		}
		if (n == 0)
			break;
		isol8_buf_append(&b, buf, (size_t)n);
	}
	if (isol8_file_put(e, id, path, b.data ? b.data : "", b.len, &le) < 0)
		isol8_err_set(err, le.code, le.errnum, "%.250s", le.message);
	else
		r = 0;
out:
	isol8_buf_free(&b);
	isol8_engine_free(e);
	return r;
}

int remote_file_get(const char *host, const char *key, const char *id, const char *path, int *fd_out,
		    struct isol8_err *err)
{
	_cleanup_free_ char *stored = NULL;
	isol8_engine *e = file_engine(host, key, id, &stored, err);
	isol8_error le = {0};
	void *data = NULL;
	size_t len = 0;
	int fd = -1;

	*fd_out = -1;
	if (!e)
		return -1;
	if (isol8_file_get(e, id, path, &data, &len, &le) < 0) {
		isol8_engine_free(e);
		return isol8_err_set(err, le.code, le.errnum, "%.250s", le.message);
	}
	isol8_engine_free(e);
	fd = memfd_create("isol8-remote-file", MFD_CLOEXEC);
	if (fd < 0 || write_all(fd, data, len) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
		free(data);
		if (fd >= 0)
			close(fd);
		return isol8_err_set(err, ISOL8_E_IO, errno, "cannot stage the downloaded file (memfd)");
	}
	free(data);
	*fd_out = fd;
	return 0;
}
