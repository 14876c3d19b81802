/* Runs through isol8d for the HTTP frontend (contract in run.h). */
#include "config.h"
#include "http/run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/cleanup.h"
#include "common/json.h"
#include "common/xalloc.h"
#include "common/proto.h"
#include "cli/broker_conn.h"
#include "cli/run_io.h"

static int bundle_memfd(const struct http_run_spec *spec, struct isol8_err *err)
{
	_cleanup_close_ int fd = memfd_create("isol8-http-bundle", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	struct isol8_buf tar = ISOL8_BUF_INIT;
	int r;

	if (fd < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "memfd_create");
	if (http_spec_bundle(spec, &tar, err) < 0)
		return -1;
	r = tar.len ? write_all(fd, tar.data, tar.len) : 0;
	isol8_buf_free(&tar);
	if (r < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "write bundle");
	/* The worker reads it; nobody may change it under the worker's feet. */
	if (lseek(fd, 0, SEEK_SET) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "seal bundle");
	return steal_fd(&fd);
}

/* The request text with request.stdinStream set (the worker then waits for FE_STDIN). */
static char *with_stdin_stream(const struct http_run_spec *spec, size_t *len, struct isol8_err *err)
{
	json_object *root = json_tokener_parse(spec->json), *req = NULL;
	const char *txt;
	char *out;

	if (!root || !json_object_object_get_ex(root, "request", &req) || !json_object_is_type(req, json_type_object)) {
		json_object_put(root);
		isol8_err_set(err, ISOL8_E_INTERNAL, 0, "request text without a request object");
		return NULL;
	}
	json_object_object_add(req, "stdinStream", json_object_new_boolean(1));
	txt = json_object_to_json_string_length(root, JSON_C_TO_STRING_PLAIN, len);
	out = xstrndup(txt, *len);
	json_object_put(root);
	return out;
}

/* Through the server's broker connection (http/server.c): not in a --disable-http build, where
 * isol8 mcp starts its runs with http_run_start_on. */
#ifdef ISOL8_HTTP
int http_run_start(const struct http_server_conf *conf, const struct http_key *key, const struct http_run_spec *spec,
		   struct http_run *r, struct isol8_err *err)
{
	return http_run_start_stdin(conf, key, spec, -1, r, err);
}

int http_run_start_stdin(const struct http_server_conf *conf, const struct http_key *key,
			 const struct http_run_spec *spec, int stdin_fd, struct http_run *r, struct isol8_err *err)
{
	int sock = http_broker_open(conf, HELLO_RUN, spec->session, key, err);

	if (sock < 0) {
		memset(r, 0, sizeof *r);
		r->sock = r->out = r->err = -1;
		return -1;
	}
	return http_run_start_on(sock, spec, stdin_fd, r, err);
}
#endif

int http_run_start_on(int sock_in, const struct http_run_spec *spec, int stdin_fd, struct http_run *r,
		      struct isol8_err *err)
{
	_cleanup_free_ char *json = NULL;
	size_t json_len = spec->json_len;
	_cleanup_close_ int bundle = -1, sock = sock_in;
	int po[2] = {-1, -1}, pe[2] = {-1, -1}, fds[3], rc = -1;

	memset(r, 0, sizeof *r);
	r->sock = r->out = r->err = -1;
	bundle = bundle_memfd(spec, err);
	if (bundle < 0)
		return -1;
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
		isol8_err_set(err, ISOL8_E_IO, errno, "pipe");
		goto out;
	}
	fds[0] = po[1];
	fds[1] = pe[1];
	fds[2] = bundle;
	if (stdin_fd >= 0 && !(json = with_stdin_stream(spec, &json_len, err)))
		goto out;
	if (broker_send(sock, FE_RUN, json ? json : spec->json, json_len, fds, 3, err) < 0) {
		isol8_err_wrap(err, "send run request to isol8d");
		goto out;
	}
	if (stdin_fd >= 0 && isol8_ipc_send(sock, FE_STDIN, 0, NULL, 0, &stdin_fd, 1, err) < 0) {
		isol8_err_wrap(err, "send stdin to isol8d");
		goto out;
	}
	/* Non-blocking read ends: the final drain stops at "nothing queued", as in run_io.c. */
	fcntl(po[0], F_SETFL, O_NONBLOCK);
	fcntl(pe[0], F_SETFL, O_NONBLOCK);
	r->out = steal_fd(&po[0]);
	r->err = steal_fd(&pe[0]);
	r->sock = steal_fd(&sock);
	rc = 0;
out:
	/* Only the worker may hold the write ends, so EOF means it is done with them. */
	xclose(po[0]);
	xclose(po[1]);
	xclose(pe[0]);
	xclose(pe[1]);
	return rc;
}

/* Read what is queued on one pipe (bounded per call so one chatty stream cannot starve the
 * socket). */
static void drain(int *pfd, enum http_ev kind, http_run_emit emit, void *cls, size_t budget)
{
	char buf[16384];

	while (*pfd >= 0 && budget > 0) {
		ssize_t n = read(*pfd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			*pfd = xclose(*pfd);
			return;
		}
		emit(cls, kind, buf, (size_t)n);
		budget = (size_t)n >= budget ? 0 : budget - (size_t)n;
	}
}

static void fail_run(struct http_run *r, http_run_emit emit, void *cls)
{
	r->done = true;
	emit(cls, HTTP_EV_ERROR, r->fail.msg, strlen(r->fail.msg));
}

/* One message from the worker: setup output and phase changes (run goes on, 0), or the
 * result or an error (1). */
static int on_message(struct http_run *r, http_run_emit emit, void *cls)
{
	struct isol8_msg m;

	if (broker_recv(r->sock, &m, &r->fail) < 0) {
		fail_run(r, emit, cls);
		return 1;
	}
	switch (m.type) {
	case WK_OUTPUT:
		emit(cls, m.payload[0] == 2 ? HTTP_EV_STDERR : HTTP_EV_STDOUT, (const char *)m.payload + 1, m.len - 1);
		isol8_msg_free(&m);
		return 0;
	case WK_PHASE:
		r->in_setup = m.payload[0] == ISOL8_PHASE_SETUP;
		emit(cls, HTTP_EV_PHASE, r->in_setup ? "setup" : "code", r->in_setup ? 5 : 4);
		isol8_msg_free(&m);
		return 0;
	case WK_FILE: /* outputPaths: the files, then the result */
	case WK_RESULT:
		/* Everything the program wrote before the result is already queued in the pipes. */
		drain(&r->out, HTTP_EV_STDOUT, emit, cls, SIZE_MAX);
		drain(&r->err, HTTP_EV_STDERR, emit, cls, SIZE_MAX);
		if (broker_result_from(r->sock, &m, &r->fail) < 0) {
			fail_run(r, emit, cls);
			return 1;
		}
		r->done = true;
		emit(cls, HTTP_EV_RESULT, (const char *)m.payload, m.len);
		isol8_msg_free(&m);
		return 1;
	default:
		isol8_err_set(&r->fail, ISOL8_E_PROTO, 0, "unexpected reply type %u from isol8d during a run", m.type);
		isol8_msg_free(&m);
		fail_run(r, emit, cls);
		return 1;
	}
}

int http_run_pump(struct http_run *r, int timeout_ms, http_run_emit emit, void *cls)
{
	struct pollfd p[3];
	nfds_t n = 0;
	int rc;

	if (r->done)
		return 1;
	p[n++] = (struct pollfd){.fd = r->sock, .events = POLLIN};
	/* During setup the pipes stay unread: anything in them is the program's, which comes after
	 * the setup output and the phase change still queued on the socket. */
	if (r->out >= 0 && !r->in_setup)
		p[n++] = (struct pollfd){.fd = r->out, .events = POLLIN};
	if (r->err >= 0 && !r->in_setup)
		p[n++] = (struct pollfd){.fd = r->err, .events = POLLIN};
	rc = poll(p, n, timeout_ms);
	if (rc < 0 && errno != EINTR) {
		isol8_err_set(&r->fail, ISOL8_E_IO, errno, "poll");
		fail_run(r, emit, cls);
		return 1;
	}
	if (rc <= 0)
		return 0;
	/* The socket first: a phase change must be seen before the program's output after it. */
	if (p[0].revents)
		return on_message(r, emit, cls);
	drain(&r->out, HTTP_EV_STDOUT, emit, cls, 256u * 1024u);
	drain(&r->err, HTTP_EV_STDERR, emit, cls, 256u * 1024u);
	return 0;
}

void http_run_close(struct http_run *r)
{
	if (r->sock >= 0 && !r->done) {
		struct isol8_err e = ISOL8_ERR_INIT;
		uint8_t sig = SIGKILL;
		isol8_ipc_send(r->sock, FE_SIGNAL, 0, &sig, 1, NULL, 0, &e);
	}
	r->sock = xclose(r->sock);
	r->out = xclose(r->out);
	r->err = xclose(r->err);
}

json_object *http_event(const char *type, json_object *data, const char *phase)
{
	json_object *ev = json_object_new_object();

	json_object_object_add(ev, "type", json_object_new_string(type));
	json_object_object_add(ev, "data", data);
	if (phase)
		json_object_object_add(ev, "phase", json_object_new_string(phase));
	return ev;
}

json_object *http_exit_event(const char *code, json_object *result, const char *phase)
{
	json_object *ev = http_event("exit", json_object_new_string(code), phase), *u;

	if (result && isol8_json_member(result, "resourceUsage", &u) == 1 && json_object_is_type(u, json_type_object))
		json_object_object_add(ev, "resourceUsage", json_object_get(u));
	return ev;
}

json_object *http_files_event(json_object *result)
{
	static const char *const keys[] = {"files", "fileErrors"};
	json_object *ev = NULL, *v;

	for (size_t i = 0; i < 2; i++) {
		if (isol8_json_member(result, keys[i], &v) != 1 || !json_object_is_type(v, json_type_object))
			continue;
		if (!ev)
			ev = json_object_new_object();
		json_object_object_add(ev, keys[i], json_object_get(v));
	}
	return ev;
}
