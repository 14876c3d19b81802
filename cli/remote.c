/* Remote client over libcurl (contract in remote.h). */
#include "config.h"
#include "cli/remote.h"
#include "cli/credentials.h"

#include <curl/curl.h>
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
#include "cli/run_io.h"
#include "cli/run_request.h"
#include "cli/run_result.h"

/* Answers other than the SSE stream are small JSON documents (results are capped by the
 * server's output limit). */
#define REMOTE_BODY_MAX (256u * 1024u * 1024u)
#define SSE_EVENT_MAX (64u * 1024u * 1024u)

struct xfer {
	long status;
	bool sse;              /* parse as Server-Sent Events when the status is 200 */
	struct isol8_buf body; /* non-SSE body, or the SSE bytes not yet parsed */
	bool too_big;
	bool got_exit;
	bool got_error;
	int exit_code;
	CURL *curl;
	const char *session;              /* the session the request names: X-Isol8-Session */
	char *node_sent;                  /* X-Isol8-Node sent (remembered for the session), or NULL */
	char node[ISOL8_MAX_SESSION + 1]; /* X-Isol8-Node of the answer */
};

/* --key > ISOL8_API_KEY > the credentials `isol8 login` stored for this host. */
static const char *key_or_env(const char *key, const char *host, char **owned)
{
	return credentials_resolve(key, host, owned);
}

/* base URL without trailing slashes + path; only http and https. */
static char *endpoint(const char *host, const char *path, struct isol8_err *err)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *out = NULL;
	size_t n;

	if (!host || !*host) {
		isol8_err_set(err, ISOL8_E_UNAVAIL, 0, "--host needs a URL such as http://127.0.0.1:3000");
		goto done;
	}
	if (!u || curl_url_set(u, CURLUPART_URL, host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
		isol8_err_set(err, ISOL8_E_UNAVAIL, 0,
			      "invalid --host URL '%.200s': expected http://HOST[:PORT] or https://...", host);
		goto done;
	}
	n = strlen(host);
	while (n > 0 && host[n - 1] == '/')
		n--;
	out = xasprintf("%.*s%s", (int)n, host, path);
done:
	curl_free(scheme);
	curl_url_cleanup(u);
	return out;
}

static void sse_event(struct xfer *x, const char *block, size_t n)
{
	struct isol8_buf data = ISOL8_BUF_INIT;
	struct isol8_err err = ISOL8_ERR_INIT;
	size_t pos = 0;
	json_object *ev, *type, *d;
	bool any = false;

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
		return; /* comment (keepalive) or empty */
	ev = isol8_json_parse(data.data, data.len, SSE_EVENT_MAX, &err);
	isol8_buf_free(&data);
	if (!ev)
		return;
	if (isol8_json_member(ev, "type", &type) == 1 && json_object_is_type(type, json_type_string) &&
	    isol8_json_member(ev, "data", &d) == 1) {
		const char *t = json_object_get_string(type);
		if (strcmp(t, "stdout") == 0 || strcmp(t, "stderr") == 0) {
			if (json_object_is_type(d, json_type_string))
				write_all(t[3] == 'o' ? STDOUT_FILENO : STDERR_FILENO, json_object_get_string(d),
					  (size_t)json_object_get_string_len(d));
		} else if (strcmp(t, "exit") == 0) {
			x->got_exit = true;
			x->exit_code = json_object_is_type(d, json_type_string) ? atoi(json_object_get_string(d))
										: json_object_get_int(d);
		} else if (strcmp(t, "error") == 0) {
			x->got_error = true;
			fprintf(stderr, "[ERR] %s\n", json_object_get_string(d));
		}
	}
	json_object_put(ev);
}

static void sse_feed(struct xfer *x)
{
	for (;;) {
		char *sep = x->body.data ? strstr(x->body.data, "\n\n") : NULL;
		if (!sep) {
			if (x->body.len > SSE_EVENT_MAX)
				x->too_big = true;
			return;
		}
		sse_event(x, x->body.data, (size_t)(sep - x->body.data) + 1);
		isol8_buf_consume(&x->body, (size_t)(sep - x->body.data) + 2);
	}
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *cls)
{
	struct xfer *x = cls;
	size_t n = size * nmemb;

	if (!x->status)
		curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &x->status);
	if (x->body.len + n > REMOTE_BODY_MAX || x->too_big) {
		x->too_big = true;
		return 0; /* aborts the transfer */
	}
	isol8_buf_append(&x->body, p, n);
	if (x->sse && x->status == 200) {
		fflush(stdout);
		sse_feed(x);
	}
	return n;
}

/* Only X-Isol8-Node is read: the node that answered. */
static size_t on_header(char *p, size_t size, size_t nmemb, void *cls)
{
	struct xfer *x = cls;
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

/* One request. Returns 0 when an answer arrived (any status), -1 when the server could not
 * be reached or the transfer failed. */
static int request(const char *method, const char *url, const char *key, const char *body, size_t len, struct xfer *x,
		   struct isol8_err *err)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	char *auth;
	CURLcode rc;

	if (!c)
		return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "curl_easy_init failed");
	x->curl = c;
	auth = xasprintf("Authorization: Bearer %s", key);
	h = curl_slist_append(h, auth);
	h = curl_slist_append(h, "Content-Type: application/json");
	if (x->sse)
		h = curl_slist_append(h, "Accept: text/event-stream");
	if (x->session && *x->session) {
		char line[ISOL8_MAX_SESSION * 2 + 32];
		/* Where a balancer hashes without reading the body (deploy/haproxy); the server checks
		 * it against the body. */
		snprintf(line, sizeof line, "X-Isol8-Session: %s", x->session);
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
	explicit_bzero(auth, strlen(auth));
	free(auth);
	curl_easy_cleanup(c);
	x->curl = NULL;
	if (x->too_big)
		return isol8_err_set(err, ISOL8_E_LIMIT, 0, "answer from %s is too large", url);
	if (rc != CURLE_OK)
		return isol8_err_set(err, ISOL8_E_UNAVAIL, 0, "cannot reach %s: %s", url,
				     errbuf[0] ? errbuf : curl_easy_strerror(rc));
	return 0;
}

/* A non-2xx answer as an error: the server's {"error": ...} message when it sent one. */
static int status_error(struct xfer *x, struct isol8_err *err)
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
	bool collect = o->no_stream || o->json;
	_cleanup_free_ char *url = NULL, *body = NULL;
	struct xfer x = {.sse = !collect, .session = o->session_id};
	size_t len;
	int r = -1;

	if (!key)
		return isol8_err_set(err, ISOL8_E_AUTH, 0, CREDENTIALS_REQUIRED_MSG);
	url = endpoint(o->host, collect ? "/execute" : "/execute/stream", err);
	if (!url)
		return -1;
	if (o->files_dir || o->out_file)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s is not supported with --host",
				     o->files_dir ? "--files" : "--out");
	if ((in->code && !run_text_is_json_safe(in->code, in->code_len)) ||
	    (in->stdin_data && !run_text_is_json_safe(in->stdin_data, in->stdin_len)))
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "with --host, code and stdin must be UTF-8 text");
	in->code_in_bundle = in->stdin_in_bundle = in->has_files = false;
	body = run_request_json(o, in, &len);
	if (o->debug)
		fprintf(stderr, "[DEBUG] remote: POST %s (%zu bytes)\n", url, len);
	fflush(stdout);
	if (o->session_id)
		x.node_sent = remote_node_get(o->host, o->session_id);
	if (request("POST", url, key, body, len, &x, err) < 0)
		goto out;
	if (x.status != 200) {
		status_error(&x, err);
		goto out;
	}
	/* The node that created the session holds it (remote_nodes.h). */
	if (o->session_id && !x.node_sent && x.node[0])
		remote_node_set(o->host, o->session_id, x.node);
	if (collect) {
		struct run_io io;
		json_object *res, *v;

		run_io_init(&io);
		res = isol8_json_parse(x.body.data, x.body.len, REMOTE_BODY_MAX, err);
		if (!res) {
			isol8_err_wrap(err, "malformed result from %s", url);
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
	if (x.body.len)
		sse_event(&x, x.body.data, x.body.len); /* a last event without its blank line */
	if (!x.got_exit) {
		isol8_err_set(err, ISOL8_E_PROTO, 0, "%s",
			      x.got_error ? "the run failed" : "stream ended without an exit event");
		if (x.got_error)
			err->msg[0] = '\0'; /* already printed as an [ERR] line */
		goto out;
	}
	*exit_code = x.exit_code & 0xff;
	r = 0;
out:
	free(x.node_sent);
	isol8_buf_free(&x.body);
	return r;
}

json_object *remote_session_list(const char *host, const char *key, struct isol8_err *err)
{
	_cleanup_free_ char *url = endpoint(host, "/sessions", err);
	struct xfer x = {0};
	json_object *o = NULL, *arr = NULL;

	_cleanup_free_ char *stored = NULL;

	key = key_or_env(key, host, &stored);
	if (!url)
		return NULL;
	if (!key) {
		isol8_err_set(err, ISOL8_E_AUTH, 0, CREDENTIALS_REQUIRED_MSG);
		return NULL;
	}
	if (request("GET", url, key, NULL, 0, &x, err) == 0) {
		if (x.status != 200)
			status_error(&x, err);
		else if ((o = isol8_json_parse(x.body.data, x.body.len, REMOTE_BODY_MAX, err)) &&
			 isol8_json_member(o, "sessions", &arr) == 1 && json_object_is_type(arr, json_type_array))
			json_object_get(arr);
		else {
			arr = NULL;
			isol8_err_set(err, ISOL8_E_PROTO, 0, "malformed session list from %s", url);
		}
	}
	if (o)
		json_object_put(o);
	isol8_buf_free(&x.body);
	return arr;
}

int remote_session_stop(const char *host, const char *key, const char *id, struct isol8_err *err)
{
	_cleanup_free_ char *path = xasprintf("/session/%s", id);
	_cleanup_free_ char *url = endpoint(host, path, err);
	struct xfer x = {.session = id};
	int r = -1;

	_cleanup_free_ char *stored = NULL;

	key = key_or_env(key, host, &stored);
	if (!url)
		return -1;
	if (!key)
		return isol8_err_set(err, ISOL8_E_AUTH, 0, CREDENTIALS_REQUIRED_MSG);
	x.node_sent = remote_node_get(host, id);
	if (request("DELETE", url, key, NULL, 0, &x, err) == 0)
		r = x.status == 200 ? 0 : status_error(&x, err);
	if (r == 0)
		remote_node_set(host, id, NULL);
	free(x.node_sent);
	isol8_buf_free(&x.body);
	return r;
}

int remote_login(const char *host, const char *master, const char *name, uint64_t ttl_ms, json_object **answer,
		 struct isol8_err *err)
{
	_cleanup_free_ char *url = endpoint(host, "/auth/login", err);
	json_object *body = json_object_new_object(), *m;
	struct xfer x = {0};
	const char *text;
	int r;

	*answer = NULL;
	if (!url) {
		json_object_put(body);
		return -1;
	}
	json_object_object_add(body, "name", json_object_new_string(name));
	if (ttl_ms)
		json_object_object_add(body, "ttlMs", json_object_new_uint64(ttl_ms));
	text = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
	r = request("POST", url, master, text, strlen(text), &x, err);
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
	return r;
}
