/* Request core of the Docker client: one CURL easy handle over the engine's UNIX socket, response
 * capping, and the mapping of transport failures and engine answers to isol8 errors. */
#include "config.h"
#include "docker/http.h"
#include "docker/progress.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/xalloc.h"

/* Connecting to a local socket is immediate or fails; 10 s only guards a wedged daemon. */
#define DOCKER_CONNECT_TIMEOUT_MS 10000L

static int parse_host(const char *host, char **path_out, struct isol8_err *err)
{
	if (!host || !*host)
		host = getenv("DOCKER_HOST");
	if (!host || !*host) {
		*path_out = xstrdup(DOCKER_DEFAULT_SOCKET);
		return 0;
	}
	if (strncmp(host, "unix://", 7) == 0) {
		const char *p = host + 7;
		if (*p != '/')
			return isol8_err_set(err, ISOL8_E_USAGE, 0,
					     "invalid DOCKER_HOST %s: need an absolute socket path", host);
		*path_out = xstrdup(p);
		return 0;
	}
	if (strncmp(host, "tcp://", 6) == 0 || strncmp(host, "ssh://", 6) == 0 || strncmp(host, "npipe://", 8) == 0 ||
	    strncmp(host, "fd://", 5) == 0)
		return isol8_err_set(
			err, ISOL8_E_USAGE, 0,
			"DOCKER_HOST %s: only unix:// sockets are supported (tcp:// and others are not supported yet)",
			host);
	return isol8_err_set(err, ISOL8_E_USAGE, 0, "invalid DOCKER_HOST %s: expected unix:///path/to/docker.sock",
			     host);
}

struct docker *docker_open(const char *host, struct isol8_err *err)
{
	struct docker *d;
	char *path = NULL;
	static int global_done;

	if (parse_host(host, &path, err) < 0)
		return NULL;
	/* curl_global_init is not thread-safe in 7.74; callers open their first client before
	 * starting threads (the broker does it in main). 7.84+ makes this a no-op race-free. */
	if (!global_done) {
		if (curl_global_init(CURL_GLOBAL_NOTHING) != CURLE_OK) {
			free(path);
			isol8_err_set(err, ISOL8_E_INTERNAL, 0, "curl_global_init failed");
			return NULL;
		}
		global_done = 1;
	}
	d = xcalloc(1, sizeof *d);
	d->sock_path = path;
	d->curl = curl_easy_init();
	if (!d->curl) {
		docker_close(d);
		isol8_err_set(err, ISOL8_E_INTERNAL, 0, "curl_easy_init failed");
		return NULL;
	}
	return d;
}

void docker_close(struct docker *d)
{
	if (!d)
		return;
	if (d->curl)
		curl_easy_cleanup(d->curl);
	free(d->sock_path);
	free(d);
}

const char *docker_socket_path(const struct docker *d)
{
	return d->sock_path;
}

int docker_unreachable(const char *sock_path, int errnum, struct isol8_err *err)
{
	isol8_err_set(err, ISOL8_E_UNAVAIL, 0, "cannot reach Docker at %s: %s (is dockerd running?)", sock_path,
		      strerror(errnum ? errnum : ECONNREFUSED));
	if (err)
		err->errnum = errnum;
	return -1;
}

char *docker_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = xmalloc(n * 3 + 1), *o = out;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '.' || c == '_' || c == '~') {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

char *docker_path_arg(const char *what, const char *s, struct isol8_err *err)
{
	/* Escaping keeps '.', so "." and ".." would survive as dot-segments and move the request
	 * to another endpoint; nothing legitimate is named like that. */
	if (!s || !*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0) {
		isol8_err_set(err, ISOL8_E_USAGE, 0, "invalid %s name \"%s\"", what, s ? s : "");
		return NULL;
	}
	if (strlen(s) > 4096) {
		isol8_err_set(err, ISOL8_E_USAGE, 0, "%s name too long", what);
		return NULL;
	}
	return docker_escape(s);
}

char *docker_label_filter(const char *label)
{
	json_object *f, *arr;
	char *esc, *out;

	if (!label)
		return xstrdup("");
	f = json_object_new_object();
	arr = json_object_new_array();
	json_object_array_add(arr, json_object_new_string(label));
	json_object_object_add(f, "label", arr);
	esc = docker_escape(json_object_to_json_string_ext(f, JSON_C_TO_STRING_PLAIN));
	json_object_put(f);
	out = xasprintf("&filters=%s", esc);
	free(esc);
	return out;
}

int docker_copy_id(json_object *obj, char id_out[65], struct isol8_err *err)
{
	json_object *v;
	const char *s;

	if (!obj || !json_object_object_get_ex(obj, "Id", &v) || !json_object_is_type(v, json_type_string))
		return isol8_err_set(err, ISOL8_E_DOCKER, 0, "Docker answer has no Id");
	s = json_object_get_string(v);
	if (strlen(s) != 64 || strspn(s, "0123456789abcdef") != 64)
		return isol8_err_set(err, ISOL8_E_DOCKER, 0, "Docker answer has a malformed Id");
	memcpy(id_out, s, 65);
	return 0;
}

int docker_status_error(int status, const char *body, size_t len, struct isol8_err *err)
{
	char msg[400];
	json_object *obj = NULL, *v;
	int code = status == 404 ? ISOL8_E_NOTFOUND : ISOL8_E_DOCKER;

	msg[0] = '\0';
	if (body && len) {
		json_tokener *tok = json_tokener_new();
		obj = json_tokener_parse_ex(tok, body, len > 65536 ? 65536 : (int)len);
		json_tokener_free(tok);
	}
	if (obj && json_object_is_type(obj, json_type_object) && json_object_object_get_ex(obj, "message", &v) &&
	    json_object_is_type(v, json_type_string)) {
		snprintf(msg, sizeof msg, "%s", json_object_get_string(v));
	} else if (body && len) {
		/* Not JSON (a proxy, an old engine): keep the first line of text. */
		size_t n = strcspn(body, "\r\n");
		if (n > len)
			n = len;
		if (n >= sizeof msg)
			n = sizeof msg - 1;
		memcpy(msg, body, n);
		msg[n] = '\0';
	}
	json_object_put(obj);
	/* The engine's message is text from a trusted peer, but it ends up in logs and terminals. */
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	if (!msg[0])
		return isol8_err_set(err, code, 0, "Docker answered HTTP %d", status);
	return isol8_err_set(err, code, 0, "%s", msg);
}

struct sink {
	struct docker_call *call;
	struct docker *d;
	size_t max;
	bool over;
	struct docker_progress prog;
	bool prog_used;
};

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct sink *s = userdata;
	size_t n = size * nmemb;
	long status = 0;

	curl_easy_getinfo(s->d->curl, CURLINFO_RESPONSE_CODE, &status);
	if (s->call->progress && status >= 200 && status < 300) {
		s->prog_used = true;
		return docker_progress_feed(&s->prog, ptr, n) < 0 ? 0 : n;
	}
	if (status >= 300) {
		/* Error answers are read for their message only; keep the head, drop the rest, so a
		 * small max (get_archive) does not turn a 404 into a size error. */
		size_t room = s->call->resp.len < 65536 ? 65536 - s->call->resp.len : 0;
		isol8_buf_append(&s->call->resp, ptr, n < room ? n : room);
		return n;
	}
	if (n > s->max - s->call->resp.len) {
		s->over = true;
		return 0;
	}
	isol8_buf_append(&s->call->resp, ptr, n);
	return n;
}

static size_t read_fd_cb(char *buf, size_t size, size_t nitems, void *userdata)
{
	int fd = *(int *)userdata;
	size_t want = size * nitems;
	ssize_t r;

	do
		r = read(fd, buf, want);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return CURL_READFUNC_ABORT;
	return (size_t)r;
}

static int transport_error(struct docker *d, CURLcode rc, struct isol8_err *err)
{
	long os_errno = 0;

	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(d->curl, CURLINFO_OS_ERRNO, &os_errno);
		return docker_unreachable(d->sock_path, (int)os_errno, err);
	case CURLE_OPERATION_TIMEDOUT:
		return isol8_err_set(err, ISOL8_E_TIMEOUT, 0, "Docker at %s did not answer in time", d->sock_path);
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		return isol8_err_set(err, ISOL8_E_UNAVAIL, 0, "connection to Docker at %s failed: %s", d->sock_path,
				     d->curl_err[0] ? d->curl_err : curl_easy_strerror(rc));
	default:
		return isol8_err_set(err, ISOL8_E_DOCKER, 0, "Docker request failed: %s",
				     d->curl_err[0] ? d->curl_err : curl_easy_strerror(rc));
	}
}

int docker_call_run(struct docker *d, struct docker_call *call, struct isol8_err *err)
{
	struct curl_slist *hdrs = NULL;
	struct sink s = {.call = call, .d = d};
	_cleanup_free_ char *url = NULL;
	_cleanup_free_ char *ctype = NULL;
	CURLcode rc;
	int ret = -1;
	CURL *c = d->curl;

	s.max = call->max_response ? call->max_response : DOCKER_MAX_RESPONSE;
	if (call->progress)
		docker_progress_init(&s.prog, call->log_cb, call->log_ctx);
	call->status = 0;
	isol8_buf_reset(&call->resp);

	url = xasprintf("http://docker" DOCKER_API_PREFIX "%s", call->path);
	/* Reset keeps the connection cache but drops every option of the previous call. */
	curl_easy_reset(c);
	d->curl_err[0] = '\0';
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, d->curl_err);
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, d->sock_path);
	curl_easy_setopt(c, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTP);
#endif
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, DOCKER_CONNECT_TIMEOUT_MS);
	if (call->timeout_ms > 0)
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, call->timeout_ms);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, call->method);
	/* Docker never answers with a body we would want decompressed or redirected. */
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);

	if (call->body || call->body_fd >= 0) {
		ctype = xasprintf("Content-Type: %s", call->content_type ? call->content_type : "application/json");
		hdrs = curl_slist_append(hdrs, ctype);
		/* No "Expect: 100-continue" round trip for uploads. */
		hdrs = curl_slist_append(hdrs, "Expect:");
	}
	if (call->body_fd >= 0) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, read_fd_cb);
		curl_easy_setopt(c, CURLOPT_READDATA, &call->body_fd);
		hdrs = curl_slist_append(hdrs, "Transfer-Encoding: chunked");
	} else if (call->body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, call->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_len);
	} else if (strcmp(call->method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	}
	if (hdrs)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);

	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &call->status);

	if (s.over) {
		isol8_err_set(err, call->limit_code ? call->limit_code : ISOL8_E_LIMIT, 0,
			      "Docker answer larger than %zu bytes", s.max);
		goto out;
	}
	if (call->progress && s.prog.failed) {
		docker_progress_finish(&s.prog, err);
		goto out;
	}
	if (rc != CURLE_OK) {
		transport_error(d, rc, err);
		goto out;
	}
	if (call->status >= 400) {
		docker_status_error((int)call->status, call->resp.data, call->resp.len, err);
		goto out;
	}
	if (call->progress && docker_progress_finish(&s.prog, err) < 0)
		goto out;
	ret = 0;
out:
	if (call->progress)
		docker_progress_free(&s.prog);
	curl_slist_free_all(hdrs);
	return ret;
}

void docker_call_free(struct docker_call *call)
{
	isol8_buf_free(&call->resp);
}

int docker_call_json(struct docker *d, const char *method, const char *path, json_object *body, json_object **out,
		     struct isol8_err *err)
{
	struct docker_call call = {.method = method, .path = path, .body_fd = -1, .timeout_ms = DOCKER_JSON_TIMEOUT_MS};
	const char *b = NULL;
	int r;

	if (out)
		*out = NULL;
	if (body) {
		b = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
		call.body = b;
		call.body_len = strlen(b);
	}
	r = docker_call_run(d, &call, err);
	if (r == 0 && out) {
		json_tokener *tok = json_tokener_new();
		json_object *o = NULL;

		if (call.resp.len > 0 && call.resp.len <= DOCKER_MAX_RESPONSE)
			o = json_tokener_parse_ex(tok, call.resp.data, (int)call.resp.len);
		if (!o || json_tokener_get_error(tok) != json_tokener_success) {
			json_object_put(o);
			r = isol8_err_set(err, ISOL8_E_DOCKER, 0, "malformed JSON answer from Docker for %s %s", method,
					  path);
		} else {
			*out = o;
		}
		json_tokener_free(tok);
	}
	docker_call_free(&call);
	return r;
}

int docker_ping(struct docker *d, struct isol8_err *err)
{
	struct docker_call call = {
		.method = "GET", .path = "/_ping", .body_fd = -1, .max_response = 4096, .timeout_ms = 30000};
	int r = docker_call_run(d, &call, err);

	docker_call_free(&call);
	return r;
}

int docker_version(struct docker *d, json_object **out, struct isol8_err *err)
{
	return docker_call_json(d, "GET", "/version", NULL, out, err);
}

int docker_info(struct docker *d, json_object **out, struct isol8_err *err)
{
	return docker_call_json(d, "GET", "/info", NULL, out, err);
}
