/* libisol8: the remote engine, an `isol8 serve` over HTTP (contract in isol8.h).
 *
 * Each call is one libcurl request (the system libcurl) on the server's API: GET /health,
 * POST /execute (the result JSON), POST /execute/stream (Server-Sent Events: stdout, stderr,
 * error, exit), POST and GET /file (base64 content), GET /sessions, DELETE /session/<id>.
 * Backpressure: SSE events are handed to the callbacks from curl's write callback, so nothing
 * more is read from the socket until they return; the server's send buffer fills and it stops
 * reading the program's output, as the local engine's pipes do. A non-2xx answer is an error
 * value carrying the server's {"error": ...} message. Every call of a session sends
 * X-Isol8-Session, and X-Isol8-Node once a node has answered one (the engine's pins). */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/base64.h"
#include "common/buf.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "common/proto.h"
#include "common/xalloc.h"
#include "lib/internal.h"
#include "lib/isol8.h"

#define API __attribute__((visibility("default")))
#define BODY_MAX (256u * 1024u * 1024u)
#define SSE_EVENT_MAX (64u * 1024u * 1024u)
/* The exit code reported for a run a callback stopped (as the local engine's interrupted run). */
#define STOPPED_EXIT 130

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

API isol8_engine *isol8_engine_new_remote(const char *base_url, const char *api_key, isol8_error *err)
{
	CURLU *u;
	char *scheme = NULL;
	bool ok;
	isol8_engine *e;
	size_t n;

	pthread_once(&curl_once, curl_init_once);
	if (!base_url || !*base_url) {
		lib_set_err(err, ISOL8_ERR_USAGE, 0,
			    "remote engine: a base URL such as http://127.0.0.1:3000 is needed");
		return NULL;
	}
	u = curl_url();
	ok = u && curl_url_set(u, CURLUPART_URL, base_url, 0) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
		(strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0);
	curl_free(scheme);
	curl_url_cleanup(u);
	if (!ok) {
		char msg[400];
		snprintf(msg, sizeof msg, "invalid base URL '%.200s': expected http://HOST[:PORT] or https://...",
			 base_url);
		lib_set_err(err, ISOL8_ERR_USAGE, 0, msg);
		return NULL;
	}
	if (!api_key)
		api_key = getenv("ISOL8_API_KEY");
	e = xcalloc(1, sizeof *e);
	n = strlen(base_url);
	while (n > 0 && base_url[n - 1] == '/')
		n--;
	e->url = xstrndup(base_url, n);
	e->key = api_key && *api_key ? xstrdup(api_key) : NULL;
	return e;
}

/* ---- SSE --------------------------------------------------------------------------------- */

static void sse_event(struct lib_http *x, const char *block, size_t n)
{
	struct isol8_buf data = ISOL8_BUF_INIT;
	struct isol8_err ie = ISOL8_ERR_INIT;
	json_object *ev, *type, *d, *ph, *u;
	bool any = false;
	size_t pos = 0;

	while (pos < n) {
		const char *l = block + pos, *nl = memchr(l, '\n', n - pos);
		size_t len = nl ? (size_t)(nl - l) : n - pos;
		pos += len + 1;
		if (len && l[len - 1] == '\r')
			len--;
		if (len >= 5 && memcmp(l, "data:", 5) == 0) {
			size_t skip = (len > 5 && l[5] == ' ') ? 6 : 5;
			if (any)
				isol8_buf_putc(&data, '\n');
			isol8_buf_append(&data, l + skip, len - skip);
			any = true;
		}
	}
	if (!any)
		return; /* a comment (keepalive) */
	ev = isol8_json_parse(data.data, data.len, SSE_EVENT_MAX, &ie);
	isol8_buf_free(&data);
	if (!ev)
		return;
	if (isol8_json_member(ev, "type", &type) == 1 && json_object_is_type(type, json_type_string) &&
	    isol8_json_member(ev, "data", &d) == 1) {
		const char *t = json_object_get_string(type);
		bool setup = isol8_json_member(ev, "phase", &ph) == 1 && json_object_is_type(ph, json_type_string) &&
			strcmp(json_object_get_string(ph), "setup") == 0;
		if ((strcmp(t, "stdout") == 0 || strcmp(t, "stderr") == 0) &&
		    json_object_is_type(d, json_type_string)) {
			if (!x->sink->stop)
				lib_deliver(x->sink, t[3] == 'o' ? 1 : 2, json_object_get_string(d),
					    (size_t)json_object_get_string_len(d));
		} else if (strcmp(t, "exit") == 0 && !setup) {
			x->got_exit = true;
			x->exit_code = json_object_is_type(d, json_type_string) ? atoi(json_object_get_string(d))
										: json_object_get_int(d);
			if (isol8_json_member(ev, "resourceUsage", &u) == 1 &&
			    json_object_is_type(u, json_type_object)) {
				if (x->usage)
					json_object_put(x->usage);
				x->usage = json_object_get(u);
			}
		} else if (strcmp(t, "error") == 0) {
			const char *m = json_object_get_string(d);
			if (x->on_error_event)
				x->on_error_event(x->user, m);
			if (strcmp(m, "EXECUTION TIMED OUT") == 0)
				x->timed_out = true;
			else
				snprintf(x->error, sizeof x->error, "%s", m);
		}
	}
	json_object_put(ev);
}

static void sse_feed(struct lib_http *x)
{
	while (!x->sink->stop) {
		char *sep = x->body.len ? memmem(x->body.data, x->body.len, "\n\n", 2) : NULL;
		if (!sep) {
			if (x->body.len > SSE_EVENT_MAX)
				x->too_big = true;
			return;
		}
		sse_event(x, x->body.data, (size_t)(sep - x->body.data) + 1);
		isol8_buf_consume(&x->body, (size_t)(sep - x->body.data) + 2);
	}
}

/* ---- transport --------------------------------------------------------------------------- */

static size_t on_data(char *p, size_t size, size_t nmemb, void *cls)
{
	struct lib_http *x = cls;
	size_t n = size * nmemb;

	if (!x->status)
		curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &x->status);
	if (x->too_big || x->body.len + n > BODY_MAX) {
		x->too_big = true;
		return 0; /* aborts the transfer */
	}
	isol8_buf_append(&x->body, p, n);
	if (x->sink && x->status == 200) {
		sse_feed(x);
		if (x->sink->stop)
			return 0; /* hang up: the server interrupts the run when the client is gone */
	}
	return n;
}

/* Only X-Isol8-Node is read: the node that answered. */
static size_t on_header(char *p, size_t size, size_t nmemb, void *cls)
{
	struct lib_http *x = cls;
	size_t n = size * nmemb;
	static const char name[] = "x-isol8-node:";

	if (n > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
		size_t a = sizeof name - 1, e = n;
		while (a < e && (p[a] == ' ' || p[a] == '\t'))
			a++;
		while (e > a && (p[e - 1] == '\r' || p[e - 1] == '\n' || p[e - 1] == ' '))
			e--;
		if (e - a < sizeof x->node) {
			memcpy(x->node, p + a, e - a);
			x->node[e - a] = '\0';
		}
	}
	return n;
}

void lib_http_finish(struct lib_http *x)
{
	if (x->sink && !x->sink->stop && x->status == 200 && x->body.len)
		sse_event(x, x->body.data, x->body.len);
}

int lib_http_request(isol8_engine *e, const char *method, const char *path, const char *body, size_t len,
		     struct lib_http *x, isol8_error *err)
{
	const char *session = x->session;
	_cleanup_free_ char *url = xasprintf("%s%s", e->url, path);
	char errbuf[CURL_ERROR_SIZE] = "", msg[512];
	struct curl_slist *h = NULL;
	char *auth = NULL;
	CURLcode rc;
	CURL *c;

	pthread_once(&curl_once, curl_init_once);
	c = curl_easy_init();
	if (!c) {
		lib_set_err(err, ISOL8_ERR_INTERNAL, 0, "curl_easy_init failed");
		return -1;
	}
	x->curl = c;
	if (e->key) {
		auth = xasprintf("Authorization: Bearer %s", e->key);
		h = curl_slist_append(h, auth);
	}
	h = curl_slist_append(h, "Content-Type: application/json");
	if (x->sink)
		h = curl_slist_append(h, "Accept: text/event-stream");
	if (session) {
		/* For a balancer that hashes without reading the body (deploy/haproxy). */
		char line[ISOL8_MAX_SESSION + 32];
		snprintf(line, sizeof line, "X-Isol8-Session: %s", session);
		h = curl_slist_append(h, line);
		if (x->node_sent) {
			snprintf(line, sizeof line, "X-Isol8-Node: %s", x->node_sent);
			h = curl_slist_append(h, line);
		}
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	rc = curl_easy_perform(c);
	if (!x->status)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x->status);
	curl_slist_free_all(h);
	if (auth) {
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	curl_easy_cleanup(c);
	x->curl = NULL;
	if (x->sink && x->sink->stop)
		return 0;
	if (x->too_big) {
		snprintf(msg, sizeof msg, "answer from %.300s is too large", url);
		lib_set_err(err, ISOL8_ERR_LIMIT, 0, msg);
		return -1;
	}
	if (rc != CURLE_OK) {
		snprintf(msg, sizeof msg, "cannot reach %.200s: %.250s", url,
			 errbuf[0] ? errbuf : curl_easy_strerror(rc));
		lib_set_err(err, ISOL8_ERR_UNAVAIL, 0, msg);
		return -1;
	}
	return 0;
}

/* A non-2xx answer as an error value: the server's {"error": ...} message when it sent one. */
static int status_error(const struct lib_http *x, isol8_error *err)
{
	struct isol8_err ie = ISOL8_ERR_INIT;
	json_object *o = x->body.len ? isol8_json_parse(x->body.data, x->body.len, BODY_MAX, &ie) : NULL, *m;
	int code = x->status == 401                    ? ISOL8_ERR_AUTH
		: x->status == 403                     ? ISOL8_ERR_POLICY
		: x->status == 404                     ? ISOL8_ERR_NOTFOUND
		: x->status == 400                     ? ISOL8_ERR_USAGE
		: x->status == 413 || x->status == 429 ? ISOL8_ERR_LIMIT
		: x->status == 502                     ? ISOL8_ERR_DOCKER
		: x->status == 503 || x->status == 421 ? ISOL8_ERR_UNAVAIL
		: x->status == 504                     ? ISOL8_ERR_TIMEOUT
						       : ISOL8_ERR_INTERNAL;
	char msg[512];

	if (o && isol8_json_member(o, "error", &m) == 1 && json_object_is_type(m, json_type_string))
		snprintf(msg, sizeof msg, "%s", json_object_get_string(m));
	else
		snprintf(msg, sizeof msg, "server answered %ld", x->status);
	if (o)
		json_object_put(o);
	lib_set_err(err, code, 0, msg);
	return -1;
}

void lib_remote_pin(isol8_engine *e, const char *session, const char *node)
{
	if (!session)
		return;
	if (!node) {
		if (e->nodes)
			json_object_object_del(e->nodes, session);
		return;
	}
	if (!e->nodes)
		e->nodes = json_object_new_object();
	json_object_object_add(e->nodes, session, json_object_new_string(node));
}

static const char *pinned(isol8_engine *e, const char *session)
{
	json_object *v;

	return session && e->nodes && json_object_object_get_ex(e->nodes, session, &v) ? json_object_get_string(v)
										       : NULL;
}

/* request() and a 200 check; a session's call carries its pin and the first answer sets it. */
static int call(isol8_engine *e, const char *method, const char *path, const char *session, const char *body,
		size_t len, struct lib_http *x, isol8_error *err)
{
	const char *pin = pinned(e, session);
	_cleanup_free_ char *node = pin ? xstrdup(pin) : NULL;

	x->session = session;
	x->node_sent = node;
	if (lib_http_request(e, method, path, body, len, x, err) < 0)
		return -1;
	if (session && !node && x->node[0] && x->status == 200)
		lib_remote_pin(e, session, x->node);
	if (x->sink && x->sink->stop)
		return 0;
	return x->status == 200 ? 0 : status_error(x, err);
}

static json_object *body_json(struct lib_http *x, const char *what, isol8_error *err)
{
	struct isol8_err ie = ISOL8_ERR_INIT;
	json_object *o = isol8_json_parse(x->body.data ? x->body.data : "", x->body.len, BODY_MAX, &ie);
	char msg[128];

	if (o && json_object_is_type(o, json_type_object))
		return o;
	if (o)
		json_object_put(o);
	snprintf(msg, sizeof msg, "malformed %s from the server", what);
	lib_set_err(err, ISOL8_ERR_PROTO, 0, msg);
	return NULL;
}

/* ---- calls ------------------------------------------------------------------------------- */

int lib_remote_start(isol8_engine *e, isol8_error *err)
{
	struct lib_http x = {0};
	int r = call(e, "GET", "/health", NULL, NULL, 0, &x, err);

	isol8_buf_free(&x.body);
	return r;
}

int lib_remote_run(isol8_engine *e, const isol8_request *q, struct lib_sink *s, isol8_error *err)
{
	json_object *root = lib_request_obj(q, false, false), *res = NULL, *v;
	struct lib_http x = {.sink = s->cb ? s : NULL};
	const char *text;
	size_t len;
	int r = -1;

	text = json_object_to_json_string_length(root, JSON_C_TO_STRING_PLAIN, &len);
	if (call(e, "POST", s->cb ? "/execute/stream" : "/execute", q->session, text, len, &x, err) < 0)
		goto out;
	if (!s->cb) {
		/* The ExecutionResult: stdout and stderr to the buffers, the rest kept as JSON. */
		if (!(res = body_json(&x, "result", err)))
			goto out;
		if (isol8_json_member(res, "stdout", &v) == 1 && json_object_is_type(v, json_type_string))
			isol8_buf_append(&s->res->out, json_object_get_string(v),
					 (size_t)json_object_get_string_len(v));
		if (isol8_json_member(res, "stderr", &v) == 1 && json_object_is_type(v, json_type_string))
			isol8_buf_append(&s->res->err, json_object_get_string(v),
					 (size_t)json_object_get_string_len(v));
		json_object_object_del(res, "stdout");
		json_object_object_del(res, "stderr");
		s->res->json = res;
		r = 0;
		goto out;
	}
	lib_http_finish(&x); /* a last event without its blank line */
	if (s->stop) {
		x.got_exit = true;
		x.exit_code = STOPPED_EXIT;
	}
	if (!x.got_exit) {
		lib_set_err(err, ISOL8_ERR_PROTO, 0, x.error[0] ? x.error : "stream ended without an exit event");
		goto out;
	}
	/* What the stream tells of the ExecutionResult. */
	res = json_object_new_object();
	json_object_object_add(res, "exitCode", json_object_new_int(x.exit_code));
	json_object_object_add(res, "timedOut", json_object_new_boolean(x.timed_out));
	json_object_object_add(res, "runtime", json_object_new_string(q->runtime));
	if (x.usage)
		json_object_object_add(res, "resourceUsage", json_object_get(x.usage));
	s->res->json = res;
	r = 0;
out:
	if (x.usage)
		json_object_put(x.usage);
	json_object_put(root);
	isol8_buf_free(&x.body);
	return r;
}

char *lib_remote_session_list(isol8_engine *e, isol8_error *err)
{
	struct lib_http x = {0};
	json_object *o = NULL, *arr;
	char *out = NULL;

	if (call(e, "GET", "/sessions", NULL, NULL, 0, &x, err) == 0 && (o = body_json(&x, "session list", err))) {
		if (isol8_json_member(o, "sessions", &arr) == 1 && json_object_is_type(arr, json_type_array))
			out = xstrdup(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
		else
			lib_set_err(err, ISOL8_ERR_PROTO, 0, "malformed session list from the server");
	}
	if (o)
		json_object_put(o);
	isol8_buf_free(&x.body);
	return out;
}

int lib_remote_session_stop(isol8_engine *e, const char *session, isol8_error *err)
{
	_cleanup_free_ char *path = xasprintf("/session/%s", session);
	struct lib_http x = {0};
	int r = call(e, "DELETE", path, session, NULL, 0, &x, err);

	if (r == 0)
		lib_remote_pin(e, session, NULL);
	isol8_buf_free(&x.body);
	return r;
}

static int file_args_ok(const char *session, const char *path, isol8_error *err)
{
	if (!session || !isol8_valid_session_name(session) || !path || !*path || strlen(path) > ISOL8_MAX_PATH) {
		lib_set_err(err, ISOL8_ERR_USAGE, 0, "session: use 1-64 of [A-Za-z0-9_.-]; path: 1-1024 bytes");
		return 0;
	}
	return 1;
}

int lib_remote_file_put(isol8_engine *e, const char *session, const char *path, const void *data, size_t len,
			isol8_error *err)
{
	struct isol8_buf b64 = ISOL8_BUF_INIT;
	json_object *o;
	struct lib_http x = {0};
	const char *text;
	size_t n;
	int r;

	if (!file_args_ok(session, path, err))
		return -1;
	isol8_base64_encode(&b64, data ? data : "", len);
	o = json_object_new_object();
	json_object_object_add(o, "sessionId", json_object_new_string(session));
	json_object_object_add(o, "path", json_object_new_string(path));
	json_object_object_add(o, "content", json_object_new_string_len(b64.data ? b64.data : "", (int)b64.len));
	isol8_buf_free(&b64);
	text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &n);
	r = call(e, "POST", "/file", session, text, n, &x, err);
	json_object_put(o);
	isol8_buf_free(&x.body);
	return r;
}

int lib_remote_file_get(isol8_engine *e, const char *session, const char *path, void **data, size_t *len,
			isol8_error *err)
{
	struct isol8_buf raw = ISOL8_BUF_INIT;
	struct lib_http x = {0};
	json_object *o = NULL, *c;
	char *qs = NULL, *qp = NULL, *url = NULL;
	CURL *h;
	int r = -1;

	if (!file_args_ok(session, path, err))
		return -1;
	pthread_once(&curl_once, curl_init_once);
	h = curl_easy_init();
	if (h) {
		qs = curl_easy_escape(h, session, 0);
		qp = curl_easy_escape(h, path, 0);
	}
	if (!qs || !qp) {
		lib_set_err(err, ISOL8_ERR_INTERNAL, 0, "curl_easy_escape failed");
		goto out;
	}
	url = xasprintf("/file?sessionId=%s&path=%s", qs, qp);
	if (call(e, "GET", url, session, NULL, 0, &x, err) < 0 || !(o = body_json(&x, "file", err)))
		goto out;
	if (isol8_json_member(o, "content", &c) != 1 || !json_object_is_type(c, json_type_string) ||
	    isol8_base64_decode(json_object_get_string(c), (size_t)json_object_get_string_len(c), &raw) < 0) {
		lib_set_err(err, ISOL8_ERR_PROTO, 0, "malformed file from the server: content is not base64");
		goto out;
	}
	isol8_buf_putc(&raw, '\0');
	*len = raw.len - 1;
	*data = isol8_buf_steal(&raw, NULL);
	r = 0;
out:
	isol8_buf_free(&raw);
	if (o)
		json_object_put(o);
	free(url);
	curl_free(qs);
	curl_free(qp);
	if (h)
		curl_easy_cleanup(h);
	isol8_buf_free(&x.body);
	return r;
}
