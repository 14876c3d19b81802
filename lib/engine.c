/* libisol8: the local engine (contract in isol8.h).
 *
 * A run is what `isol8 run` does: FE_HELLO on isol8d's socket (the kernel tells isol8d who we
 * are), FE_RUN with the request text and three fds (the write ends of two pipes for the
 * program's stdout and stderr, and an empty bundle memfd), then the output as it arrives on the
 * pipes and WK_RESULT (or WK_ERROR) on the socket. Output is never copied through isol8d: the
 * worker writes into our pipes. Every reply is checked against the protocol table. Code and
 * stdin that do not fit the 60 KiB request text travel in the bundle memfd (a tar with the
 * entries `code` and `stdin`, as `isol8 run` sends them). A remote engine (isol8_engine_new_remote)
 * hands every call to lib/remote.c. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli/broker_conn.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "common/proto.h"
#include "common/xalloc.h"
#include "lib/internal.h"
#include "lib/isol8.h"

#define API __attribute__((visibility("default")))
/* The request text must fit one frame with room to spare; larger code and stdin go in the
 * bundle, up to the worker's limits (worker/bundle.h). */
#define REQUEST_MAX (60u * 1024u)
#define CODE_MAX (16u << 20)
#define STDIN_MAX (64u << 20)
#define RESULT_MAX (64u * 1024u)
#define SESSIONS_MAX (64u * 1024u)

void lib_set_err(isol8_error *e, int code, int errnum, const char *msg)
{
	if (!e)
		return;
	e->code = code;
	e->errnum = errnum;
	snprintf(e->message, sizeof e->message, "%s", msg);
}

/* Internal error codes are the public ones (same order, checked at build time). */
_Static_assert(ISOL8_ERR_USAGE == (int)ISOL8_E_USAGE && ISOL8_ERR_TIMEOUT == (int)ISOL8_E_TIMEOUT &&
		       ISOL8_ERR_NOTFOUND == (int)ISOL8_E_NOTFOUND && ISOL8_ERR_LIMIT == (int)ISOL8_E_LIMIT,
	       "isol8.h error codes follow common/err.h");

static int from_err(isol8_error *e, const struct isol8_err *in)
{
	lib_set_err(e, in->code ? in->code : ISOL8_ERR_INTERNAL, in->errnum,
		    in->msg[0] ? in->msg : isol8_err_code_name(in->code));
	return -1;
}

API const char *isol8_version(void)
{
	return PACKAGE_VERSION;
}

/* ---- engine ------------------------------------------------------------------------------ */

API isol8_engine *isol8_engine_new(const char *socket_path, isol8_error *err)
{
	isol8_engine *e = xcalloc(1, sizeof *e);

	(void)err;
	e->socket = xstrdup(broker_socket_path(socket_path));
	return e;
}

API int isol8_engine_start(isol8_engine *e, isol8_error *err)
{
	struct isol8_err ie = ISOL8_ERR_INIT;
	int fd;

	if (e->url)
		return lib_remote_start(e, err);
	fd = broker_connect(e->socket, &ie);

	if (fd < 0)
		return from_err(err, &ie);
	close(fd);
	return 0;
}

API void isol8_engine_free(isol8_engine *e)
{
	if (!e)
		return;
	free(e->socket);
	free(e->url);
	if (e->key)
		explicit_bzero(e->key, strlen(e->key));
	free(e->key);
	if (e->nodes)
		json_object_put(e->nodes);
	free(e);
}

/* ---- requests ---------------------------------------------------------------------------- */

API isol8_request *isol8_request_new(const char *runtime, const char *code)
{
	isol8_request *q = xcalloc(1, sizeof *q);

	q->runtime = xstrdup(runtime ? runtime : "");
	q->code = xstrdup(code ? code : "");
	return q;
}

API int isol8_request_set_stdin(isol8_request *q, const void *data, size_t len, isol8_error *err)
{
	if (len > STDIN_MAX || (len && memchr(data, '\0', len))) {
		lib_set_err(err, ISOL8_ERR_LIMIT, 0, "stdin: at most 64 MiB of text without NUL bytes");
		return -1;
	}
	free(q->stdin_data);
	q->stdin_data = xstrndup(data ? data : "", len);
	q->stdin_len = len;
	q->has_stdin = true;
	return 0;
}

API int isol8_request_set_timeout_ms(isol8_request *q, uint64_t ms, isol8_error *err)
{
	if (ms < 1 || ms > 24ull * 3600 * 1000) {
		lib_set_err(err, ISOL8_ERR_USAGE, 0, "timeout: 1 ms to 24 h");
		return -1;
	}
	q->timeout_ms = ms;
	return 0;
}

API int isol8_request_add_env(isol8_request *q, const char *name, const char *value, isol8_error *err)
{
	if (!name || !*name ||
	    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") != strlen(name) ||
	    (*name >= '0' && *name <= '9') || !value) {
		lib_set_err(err, ISOL8_ERR_USAGE, 0, "env: the name must be [A-Za-z_][A-Za-z0-9_]*, with a value");
		return -1;
	}
	if (!q->env)
		q->env = json_object_new_object();
	json_object_object_add(q->env, name, json_object_new_string(value));
	return 0;
}

API int isol8_request_add_arg(isol8_request *q, const char *arg, isol8_error *err)
{
	if (!arg) {
		lib_set_err(err, ISOL8_ERR_USAGE, 0, "arg: NULL");
		return -1;
	}
	if (!q->args)
		q->args = json_object_new_array();
	json_object_array_add(q->args, json_object_new_string(arg));
	return 0;
}

API int isol8_request_set_session(isol8_request *q, const char *session, isol8_error *err)
{
	if (!session || !isol8_valid_session_name(session)) {
		lib_set_err(err, ISOL8_ERR_USAGE, 0, "session: use 1-64 of [A-Za-z0-9_.-]");
		return -1;
	}
	free(q->session);
	q->session = xstrdup(session);
	return 0;
}

API void isol8_request_free(isol8_request *q)
{
	if (!q)
		return;
	free(q->runtime);
	free(q->code);
	free(q->session);
	free(q->stdin_data);
	if (q->env)
		json_object_put(q->env);
	if (q->args)
		json_object_put(q->args);
	free(q);
}

json_object *lib_request_obj(const isol8_request *q, bool omit_code, bool omit_stdin)
{
	json_object *root = json_object_new_object(), *req = json_object_new_object();

	json_object_object_add(req, "runtime", json_object_new_string(q->runtime));
	if (!omit_code)
		json_object_object_add(req, "code", json_object_new_string(q->code));
	json_object_object_add(req, "timeoutMs", json_object_new_uint64(q->timeout_ms ? q->timeout_ms : 30000));
	if (q->env)
		json_object_object_add(req, "env", json_object_get(q->env));
	if (q->args)
		json_object_object_add(req, "args", json_object_get(q->args));
	if (q->has_stdin && !omit_stdin)
		json_object_object_add(req, "stdin", json_object_new_string_len(q->stdin_data, (int)q->stdin_len));
	if (omit_code)
		json_object_object_add(req, "codeInBundle", json_object_new_boolean(1));
	if (q->has_stdin && omit_stdin)
		json_object_object_add(req, "stdinInBundle", json_object_new_boolean(1));
	json_object_object_add(root, "request", req);
	if (q->session)
		json_object_object_add(root, "sessionId", json_object_new_string(q->session));
	return root;
}

/* The FE_RUN text (shape in cli/run_request.h): stdin, then code, move to the bundle until the
 * text fits (*code_out, *stdin_out say which did). */
static char *request_json(const isol8_request *q, size_t *len, bool *code_out, bool *stdin_out, isol8_error *err)
{
	if (strlen(q->code) > CODE_MAX) {
		lib_set_err(err, ISOL8_ERR_LIMIT, 0, "code: at most 16 MiB");
		return NULL;
	}
	*code_out = *stdin_out = false;
	for (;;) {
		json_object *root = lib_request_obj(q, *code_out, *stdin_out);
		const char *t = json_object_to_json_string_length(root, JSON_C_TO_STRING_PLAIN, len);
		char *out = *len <= REQUEST_MAX ? xstrndup(t, *len) : NULL;

		json_object_put(root);
		if (out)
			return out;
		if (q->has_stdin && !*stdin_out)
			*stdin_out = true;
		else if (!*code_out)
			*code_out = true;
		else {
			lib_set_err(err, ISOL8_ERR_LIMIT, 0, "request too large: env and args must fit in 60 KiB");
			return NULL;
		}
	}
}

/* One ustar entry (header, data, padding) of the bundle, owned by the sandbox user 100:101. */
static void tar_entry(struct isol8_buf *b, const char *name, const char *data, size_t len)
{
	unsigned char h[512] = {0};
	static const char zero[512];
	unsigned sum = 0;

	snprintf((char *)h, 100, "%s", name);
	snprintf((char *)h + 100, 8, "%07o", 0644);
	snprintf((char *)h + 108, 8, "%07o", 100);
	snprintf((char *)h + 116, 8, "%07o", 101);
	snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)len);
	snprintf((char *)h + 136, 12, "%011o", 0);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	for (size_t i = 0; i < sizeof h; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	isol8_buf_append(b, h, sizeof h);
	isol8_buf_append(b, data, len);
	if (len % 512)
		isol8_buf_append(b, zero, 512 - len % 512);
}

/* The bundle memfd, sealed: empty, or a tar of what did not fit the request text. */
static int bundle_fd(const isol8_request *q, bool code, bool in, struct isol8_err *ie)
{
	static const char zero[1024];
	struct isol8_buf b = ISOL8_BUF_INIT;
	int fd = memfd_create("isol8-lib-bundle", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	size_t off = 0, total;

	if (fd < 0)
		return isol8_err_set(ie, ISOL8_E_IO, errno, "memfd");
	if (code)
		tar_entry(&b, "code", q->code, strlen(q->code));
	if (in)
		tar_entry(&b, "stdin", q->stdin_data, q->stdin_len);
	if (code || in)
		isol8_buf_append(&b, zero, sizeof zero);
	total = b.len;
	while (off < b.len) {
		ssize_t n = write(fd, b.data + off, b.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	isol8_buf_free(&b);
	if (off != total || lseek(fd, 0, SEEK_SET) < 0) {
		close(fd);
		return isol8_err_set(ie, ISOL8_E_IO, errno, "cannot write the request bundle (memfd)");
	}
	if (isol8_memfd_seal(fd, ie) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- running ----------------------------------------------------------------------------- */

void lib_deliver(struct lib_sink *s, int stream, const char *data, size_t n)
{
	int (*fn)(void *, const char *, size_t) = NULL;

	if (s->cb)
		fn = stream == 1 ? s->cb->on_stdout : s->cb->on_stderr;
	if (s->cb) {
		if (fn && !s->stop && fn(s->user, data, n) != 0)
			s->stop = true;
		return;
	}
	isol8_buf_append(stream == 1 ? &s->res->out : &s->res->err, data, n);
}

/* Read what is queued on one pipe; -1 once at EOF. */
static int drain(int *fd, int stream, struct lib_sink *s)
{
	char buf[16384];

	while (*fd >= 0) {
		ssize_t n = read(*fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0) {
			*fd = xclose(*fd);
			return -1;
		}
		lib_deliver(s, stream, buf, (size_t)n);
	}
	return -1;
}

static int run(isol8_engine *e, const isol8_request *q, struct lib_sink *s, isol8_error *err)
{
	struct isol8_err ie = ISOL8_ERR_INIT;
	_cleanup_free_ char *json = NULL;
	_cleanup_close_ int sock = -1, bundle = -1;
	int po[2] = {-1, -1}, pe[2] = {-1, -1}, fds[3], rc = -1;
	bool code_in_bundle, stdin_in_bundle;
	struct isol8_msg m;
	size_t len;

	if (e->url)
		return lib_remote_run(e, q, s, err);
	json = request_json(q, &len, &code_in_bundle, &stdin_in_bundle, err);
	if (!json)
		return -1;
	bundle = bundle_fd(q, code_in_bundle, stdin_in_bundle, &ie);
	if (bundle < 0 || pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
		if (!ie.code)
			isol8_err_set(&ie, ISOL8_E_IO, errno, "memfd or pipe");
		goto out;
	}
	sock = broker_open(e->socket, HELLO_RUN, q->session ? q->session : "", &ie);
	if (sock < 0)
		goto out;
	fds[0] = po[1];
	fds[1] = pe[1];
	fds[2] = bundle;
	if (broker_send(sock, FE_RUN, json, len, fds, 3, &ie) < 0)
		goto out;
	/* Only the worker holds the write ends now: EOF on a pipe means it is done with it. */
	po[1] = xclose(po[1]);
	pe[1] = xclose(pe[1]);
	fcntl(po[0], F_SETFL, O_NONBLOCK);
	fcntl(pe[0], F_SETFL, O_NONBLOCK);
	for (;;) {
		struct pollfd p[3] = {{.fd = sock, .events = POLLIN},
				      {.fd = po[0], .events = POLLIN},
				      {.fd = pe[0], .events = POLLIN}};
		/* Backpressure: until the callbacks return, nothing is read, so the pipes fill and
		 * the worker, then the program, wait. */
		if (poll(p, 3, -1) < 0 && errno != EINTR) {
			isol8_err_set(&ie, ISOL8_E_IO, errno, "poll");
			goto out;
		}
		drain(&po[0], 1, s);
		drain(&pe[0], 2, s);
		if (s->stop) {
			uint8_t sig = SIGKILL;
			isol8_ipc_send(sock, FE_SIGNAL, 0, &sig, 1, NULL, 0, &ie);
			isol8_err_clear(&ie);
			s->stop = false;
			s->cb = NULL; /* the rest of the output is dropped into the result */
		}
		if (p[0].revents)
			break;
	}
	/* Everything written before the result is queued in the pipes. */
	drain(&po[0], 1, s);
	drain(&pe[0], 2, s);
	if (broker_expect_result(sock, &m, &ie) < 0)
		goto out;
	s->res->json = isol8_json_parse((const char *)m.payload, m.len, RESULT_MAX + (64u << 20), &ie);
	isol8_msg_free(&m);
	if (!s->res->json || !json_object_is_type(s->res->json, json_type_object)) {
		isol8_err_set(&ie, ISOL8_E_PROTO, 0, "malformed result from isol8d");
		goto out;
	}
	rc = 0;
out:
	xclose(po[0]);
	xclose(po[1]);
	xclose(pe[0]);
	xclose(pe[1]);
	if (rc < 0 && ie.code)
		from_err(err, &ie);
	return rc;
}

static isol8_result *result_new(void)
{
	isol8_result *r = xcalloc(1, sizeof *r);

	r->out = (struct isol8_buf)ISOL8_BUF_INIT;
	r->err = (struct isol8_buf)ISOL8_BUF_INIT;
	return r;
}

API int isol8_execute(isol8_engine *e, const isol8_request *q, isol8_result **out, isol8_error *err)
{
	struct lib_sink s = {.res = result_new()};

	*out = NULL;
	if (run(e, q, &s, err) < 0) {
		isol8_result_free(s.res);
		return -1;
	}
	*out = s.res;
	return 0;
}

API int isol8_execute_stream(isol8_engine *e, const isol8_request *q, const isol8_stream_callbacks *cb, void *user,
			     isol8_result **out, isol8_error *err)
{
	static const isol8_stream_callbacks none;
	struct lib_sink s = {.cb = cb ? cb : &none, .user = user, .res = result_new()};
	isol8_error local;

	if (out)
		*out = NULL;
	if (run(e, q, &s, err ? err : &local) < 0) {
		if (cb && cb->on_error)
			cb->on_error(user, err ? err : &local);
		isol8_result_free(s.res);
		return -1;
	}
	if (cb && cb->on_exit)
		cb->on_exit(user, isol8_result_exit_code(s.res));
	if (out)
		*out = s.res;
	else
		isol8_result_free(s.res);
	return 0;
}

/* ---- results ----------------------------------------------------------------------------- */

static json_object *member(const isol8_result *r, const char *key)
{
	json_object *v;

	return r && r->json && isol8_json_member(r->json, key, &v) == 1 ? v : NULL;
}

static const char *str_member(const isol8_result *r, const char *key)
{
	json_object *v = member(r, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

API const char *isol8_result_stdout(const isol8_result *r, size_t *len)
{
	if (len)
		*len = r->out.len;
	return r->out.data ? r->out.data : "";
}

API const char *isol8_result_stderr(const isol8_result *r, size_t *len)
{
	if (len)
		*len = r->err.len;
	return r->err.data ? r->err.data : "";
}

API int isol8_result_exit_code(const isol8_result *r)
{
	json_object *v = member(r, "exitCode");

	return v ? json_object_get_int(v) : -1;
}

API int64_t isol8_result_duration_ms(const isol8_result *r)
{
	json_object *v = member(r, "durationMs");

	return v ? json_object_get_int64(v) : 0;
}

API int isol8_result_truncated(const isol8_result *r)
{
	json_object *v = member(r, "truncated");

	return v && json_object_get_boolean(v);
}

API int isol8_result_timed_out(const isol8_result *r)
{
	json_object *v = member(r, "timedOut");

	return v && json_object_get_boolean(v);
}

API const char *isol8_result_execution_id(const isol8_result *r)
{
	return str_member(r, "executionId");
}
API const char *isol8_result_runtime(const isol8_result *r)
{
	return str_member(r, "runtime");
}
API const char *isol8_result_timestamp(const isol8_result *r)
{
	return str_member(r, "timestamp");
}
API const char *isol8_result_container_id(const isol8_result *r)
{
	return str_member(r, "containerId");
}

API const char *isol8_result_json(const isol8_result *r)
{
	return r->json ? json_object_to_json_string_ext(r->json, JSON_C_TO_STRING_PLAIN) : "{}";
}

API void isol8_result_free(isol8_result *r)
{
	if (!r)
		return;
	if (r->json)
		json_object_put(r->json);
	isol8_buf_free(&r->out);
	isol8_buf_free(&r->err);
	free(r);
}

/* ---- sessions ---------------------------------------------------------------------------- */

API char *isol8_session_list(isol8_engine *e, isol8_error *err)
{
	struct isol8_err ie = ISOL8_ERR_INIT;
	_cleanup_close_ int sock = -1;
	struct isol8_msg m;
	json_object *arr;
	char *out;

	if (e->url)
		return lib_remote_session_list(e, err);
	sock = broker_open(e->socket, HELLO_SESSION_LIST, "", &ie);
	if (sock < 0 || broker_send(sock, FE_SESSION_LIST, NULL, 0, NULL, 0, &ie) < 0 ||
	    broker_expect(sock, WK_SESSIONS, &m, &ie) < 0)
		return from_err(err, &ie), NULL;
	arr = isol8_json_parse((const char *)m.payload, m.len, SESSIONS_MAX, &ie);
	isol8_msg_free(&m);
	if (!arr || !json_object_is_type(arr, json_type_array)) {
		if (arr)
			json_object_put(arr);
		lib_set_err(err, ISOL8_ERR_PROTO, 0, "malformed session list from isol8d");
		return NULL;
	}
	out = xstrdup(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
	json_object_put(arr);
	return out;
}

API int isol8_session_stop(isol8_engine *e, const char *session, isol8_error *err)
{
	struct isol8_err ie = ISOL8_ERR_INIT;
	_cleanup_close_ int sock = -1;
	struct isol8_buf b = ISOL8_BUF_INIT;
	struct isol8_msg m;
	int r;

	if (!session || !isol8_valid_session_name(session)) {
		lib_set_err(err, ISOL8_ERR_USAGE, 0, "session: use 1-64 of [A-Za-z0-9_.-]");
		return -1;
	}
	if (e->url)
		return lib_remote_session_stop(e, session, err);
	sock = broker_open(e->socket, HELLO_SESSION_STOP, session, &ie);
	if (sock < 0)
		return from_err(err, &ie);
	isol8_put_str(&b, session);
	r = broker_send_buf(sock, FE_SESSION_STOP, &b, NULL, 0, &ie);
	isol8_buf_free(&b);
	if (r < 0 || broker_expect(sock, WK_OK, &m, &ie) < 0)
		return from_err(err, &ie);
	isol8_msg_free(&m);
	return 0;
}

/* ---- files ------------------------------------------------------------------------------- */

#define FILE_MAX (64u * 1024u * 1024u)

/* FE_FILE_PUT with fd (the content) or FE_FILE_GET (*got: the file, a sealed memfd). */
static int file_call(isol8_engine *e, uint8_t type, const char *session, const char *path, int fd, int *got,
		     isol8_error *err)
{
	struct isol8_err ie = ISOL8_ERR_INIT;
	_cleanup_close_ int sock = -1;
	struct isol8_buf b = ISOL8_BUF_INIT;
	struct isol8_msg m;
	int r;

	if (!session || !isol8_valid_session_name(session) || !path || !*path || strlen(path) > ISOL8_MAX_PATH) {
		lib_set_err(err, ISOL8_ERR_USAGE, 0, "session: use 1-64 of [A-Za-z0-9_.-]; path: 1-1024 bytes");
		return -1;
	}
	sock = broker_open(e->socket, HELLO_FILE, session, &ie);
	if (sock < 0)
		return from_err(err, &ie);
	isol8_put_str(&b, session);
	isol8_put_str(&b, path);
	r = broker_send_buf(sock, type, &b, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0, &ie);
	isol8_buf_free(&b);
	if (r < 0 || broker_expect(sock, type == FE_FILE_PUT ? WK_OK : WK_FILE, &m, &ie) < 0)
		return from_err(err, &ie);
	if (got)
		*got = isol8_msg_take_fd(&m, 0);
	isol8_msg_free(&m);
	return 0;
}

API int isol8_file_put(isol8_engine *e, const char *session, const char *path, const void *data, size_t len,
		       isol8_error *err)
{
	struct isol8_err ie = ISOL8_ERR_INIT;
	_cleanup_close_ int fd = memfd_create("isol8-lib-file", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	const char *p = data;
	size_t off = 0;

	if (e->url)
		return lib_remote_file_put(e, session, path, data, len, err);
	while (fd >= 0 && off < len) {
		ssize_t n = write(fd, p + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (fd < 0 || off != len || lseek(fd, 0, SEEK_SET) < 0 || isol8_memfd_seal(fd, &ie) < 0) {
		lib_set_err(err, ISOL8_ERR_IO, errno, "cannot stage the file (memfd)");
		return -1;
	}
	return file_call(e, FE_FILE_PUT, session, path, fd, NULL, err);
}

API int isol8_file_get(isol8_engine *e, const char *session, const char *path, void **data, size_t *len,
		       isol8_error *err)
{
	_cleanup_close_ int fd = -1;
	struct isol8_buf b = ISOL8_BUF_INIT;
	char buf[65536];

	*data = NULL;
	*len = 0;
	if (e->url)
		return lib_remote_file_get(e, session, path, data, len, err);
	if (file_call(e, FE_FILE_GET, session, path, -1, &fd, err) < 0)
		return -1;
	for (;;) {
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf) : 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || b.len + (size_t)(n > 0 ? n : 0) > FILE_MAX) {
			isol8_buf_free(&b);
			lib_set_err(err, n < 0 ? ISOL8_ERR_IO : ISOL8_ERR_LIMIT, n < 0 ? errno : 0,
				    n < 0 ? "reading the file from isol8d failed" : "file larger than 64 MiB");
			return -1;
		}
		if (n == 0)
			break;
		isol8_buf_append(&b, buf, (size_t)n);
	}
	isol8_buf_putc(&b, '\0');
	*len = b.len - 1;
	*data = isol8_buf_steal(&b, NULL);
	return 0;
}
