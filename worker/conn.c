/* One frontend connection, handed over by the broker: read its request, run it, answer. The
 * frontend is untrusted input for the worker: frames are checked against the table, JSON is
 * parsed strictly in request.c. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/xalloc.h"
#include "common/tar.h"
#include "worker/outfiles.h"
#include "worker/pool.h"
#include "worker/run.h"
#include "worker/sessions.h"
#include "worker/worker.h"

#define FIRST_MSG_TIMEOUT_MS 10000

static void send_error(struct conn *c, const struct isol8_err *e)
{
	struct isol8_buf p = ISOL8_BUF_INIT;
	struct isol8_err err = ISOL8_ERR_INIT;
	isol8_put_u16(&p, (uint16_t)(e->code ? e->code : ISOL8_E_INTERNAL));
	isol8_put_str(&p, e->msg);
	isol8_ipc_send_buf(c->fd, WK_ERROR, 0, &p, NULL, 0, &err);
	isol8_buf_free(&p);
}

void conn_send_result(struct conn *c, json_object *result)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	const char *txt = json_object_to_json_string_ext(result, JSON_C_TO_STRING_PLAIN);
	if (isol8_ipc_send(c->fd, WK_RESULT, 0, txt, strlen(txt), NULL, 0, &err) < 0)
		log_debug("result not delivered: %s", err.msg);
	/* The caller has its result; the report goes while the sandbox still exists. */
	audit_report_result(c, result);
}

void conn_send_files(struct conn *c, int fd)
{
	struct isol8_err err = ISOL8_ERR_INIT;

	if (isol8_ipc_send(c->fd, WK_FILE, 0, NULL, 0, &fd, 1, &err) < 0)
		log_debug("output files not delivered: %s", err.msg);
}

/* FE_STDIN: the live stdin pipe that follows an FE_RUN asking for it. */
static int recv_stdin_fd(struct conn *c, int *fd_out, struct isol8_err *err)
{
	struct pollfd pf = {.fd = c->fd, .events = POLLIN};
	struct isol8_msg m = {0};
	int r;

	if (poll(&pf, 1, FIRST_MSG_TIMEOUT_MS) <= 0)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "stdinStream: no FE_STDIN within %d ms",
				     FIRST_MSG_TIMEOUT_MS);
	r = isol8_ipc_recv(c->fd, &m, err);
	/* The table holds FE_STDIN to an anonymous pipe's read end: it becomes the program's fd 0. */
	if (r <= 0 || isol8_proto_check(PEER_WORKER, PEER_FRONTEND, &m, NULL, err) < 0 ||
	    (m.type != FE_STDIN &&
	     isol8_err_set(err, ISOL8_E_PROTO, 0, "stdinStream: expected FE_STDIN, got message %u", m.type) < 0)) {
		isol8_msg_free(&m);
		return r == 0 ? isol8_err_set(err, ISOL8_E_PROTO, 0, "stdinStream: connection closed") : -1;
	}
	*fd_out = isol8_msg_take_fd(&m, 0);
	isol8_msg_free(&m);
	return 0;
}

static int handle_run(struct conn *c, struct isol8_msg *m, struct isol8_err *err)
{
	_cleanup_(request_free) struct run_req r = {.stdin_fd = -1};
	_cleanup_close_ int out = isol8_msg_take_fd(m, 0), errfd = isol8_msg_take_fd(m, 1),
			    bundle = isol8_msg_take_fd(m, 2);
	/* Released after the answer went out: the caller does not wait for the sandbox's reset
	 * or removal. */
	_cleanup_run_ struct run run = RUN_INIT;

	if (request_parse((const char *)m->payload, m->len, bundle, &r, err) < 0)
		return -1;
	if (r.session && strcmp(r.session, c->session) != 0)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "session id differs from the one in the hello");
	if (r.stdin_stream && recv_stdin_fd(c, &r.stdin_fd, err) < 0)
		return -1;
	c->run = &r;
	c->audited = false;
	/* Remote code is fetched before any sandbox work, as in the original. */
	if ((r.code_url && remote_fetch_code(c->token, &r, err) < 0) || run_execute(&run, c, &r, out, errfd, err) < 0) {
		if (!c->audited)
			audit_report_error(c, err);
		c->run = NULL;
		return -1;
	}
	/* The output fds are closed before the result so a frontend reading pipes sees EOF first. */
	out = xclose(out);
	errfd = xclose(errfd);
	/* Output files are read while the sandbox still holds them: before an ephemeral one is
	 * reset (the release phase), before a session's next run. */
	if (r.n_out && run.sb) {
		int files_fd = -1;
		outfiles_collect(run.sb, r.out_paths, r.out_rel, r.n_out, run.env.v, run.result, &files_fd);
		if (files_fd >= 0) {
			conn_send_files(c, files_fd);
			close(files_fd);
		}
	}
	c->out_head = run.o_init ? run.o.head : NULL;
	conn_send_result(c, run.result);
	c->out_head = NULL;
	c->run = NULL;
	return 0;
}

static int sandbox_path(const char *p, char *out, size_t n, struct isol8_err *err)
{
	/* Normalise against /sandbox and refuse anything that escapes it. */
	char tmp[ISOL8_MAX_PATH + 16];
	char *parts[256];
	size_t np = 0, len = 0;
	char *save = NULL, *tok;

	snprintf(tmp, sizeof tmp, "%s", p);
	for (tok = strtok_r(tmp, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (strcmp(tok, ".") == 0)
			continue;
		if (strcmp(tok, "..") == 0) {
			if (np)
				np--;
			continue;
		}
		if (np == 256)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "path too deep");
		parts[np++] = tok;
	}
	if (p[0] == '/') {
		if (np == 0 || strcmp(parts[0], "sandbox") != 0)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "path %s must be inside /sandbox", p);
		len = (size_t)snprintf(out, n, "/sandbox");
		for (size_t i = 1; i < np && len < n; i++)
			len += (size_t)snprintf(out + len, n - len, "/%s", parts[i]);
	} else {
		len = (size_t)snprintf(out, n, "/sandbox");
		for (size_t i = 0; i < np && len < n; i++)
			len += (size_t)snprintf(out + len, n - len, "/%s", parts[i]);
	}
	if (len >= n || strcmp(out, "/sandbox") == 0)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "path %s must name a file inside /sandbox", p);
	return 0;
}

/* The upload, whole, refused once it outgrows the sandbox's own size. */
static int read_upload(int fd, uint64_t max, struct isol8_buf *data, struct isol8_err *err)
{
	char tmp[65536];

	for (;;) {
		ssize_t n = read(fd, tmp, sizeof tmp);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		if (data->len + (size_t)n > max)
			return isol8_err_set(err, ISOL8_E_LIMIT, 0, "file larger than the sandbox");
		isol8_buf_append(data, tmp, (size_t)n);
	}
}

/* The exec's exit code, polled for up to about 400 ms after its output ended; -1 if unknown. */
static int exec_exit_code(const char *exec_id, struct isol8_err *err)
{
	bool running = true;
	int code = -1;

	for (int i = 0; i < 200 && running; i++)
		if (sb_exec_status(exec_id, &running, &code, err) < 0 || (running && usleep(2000)))
			break;
	return code;
}

/* Through tar(1) in the sandbox: /sandbox is a tmpfs the archive API cannot reach. */
static int file_put(struct session *s, const char *norm, int fd, struct isol8_err *err)
{
	struct isol8_buf data = ISOL8_BUF_INIT, tar = ISOL8_BUF_INIT, so = ISOL8_BUF_INIT, se = ISOL8_BUF_INIT;
	char dir[ISOL8_MAX_PATH + 16];
	char *slash;
	const char *argv[] = {"tar", "-x", "-f", "-", "-C", dir, "--no-same-owner", NULL};
	const char *mk[] = {"mkdir", "-p", dir, NULL};
	struct isol8_tar_entry ent;
	char exec_id[65], mid[65];
	int sfd = -1, mfd = -1, rc = -1;

	if (read_upload(fd, s->sb.lim.sandbox_size, &data, err) < 0)
		goto out;
	snprintf(dir, sizeof dir, "%s", norm);
	slash = strrchr(dir, '/');
	ent = (struct isol8_tar_entry){slash + 1, data.data ? data.data : "", data.len, 0644, 100, 101};
	*slash = '\0';
	if (isol8_tar_build(&ent, 1, &tar, err) < 0)
		goto out;
	if (sb_exec(s->sb.id, mk, NULL, "/sandbox", false, mid, &mfd, err) < 0)
		goto out;
	pump_collect(mfd, NULL, 0, &so, &se, 4096, clock_mono_ms() + 10000, err);
	xclose(mfd);
	if (sb_exec(s->sb.id, argv, NULL, "/sandbox", true, exec_id, &sfd, err) < 0)
		goto out;
	pump_collect(sfd, tar.data, tar.len, &so, &se, 4096, clock_mono_ms() + 30000, err);
	xclose(sfd);
	if (exec_exit_code(exec_id, err) != 0)
		isol8_err_set(err, ISOL8_E_IO, 0, "writing %s failed: %.200s", norm, se.data ? se.data : "");
	else
		rc = 0;
out:
	isol8_buf_free(&data);
	isol8_buf_free(&tar);
	isol8_buf_free(&so);
	isol8_buf_free(&se);
	return rc;
}

/* The file goes back as a sealed memfd, so the frontend reads exactly what cat(1) printed. */
static int send_file(struct conn *c, const struct isol8_buf *so, struct isol8_err *err)
{
	_cleanup_close_ int mfd = memfd_create("isol8-file", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	struct isol8_err e2 = ISOL8_ERR_INIT;
	size_t off = 0;

	while (mfd >= 0 && off < so->len) {
		ssize_t w = write(mfd, so->data + off, so->len - off);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	if (mfd >= 0 && off == so->len && isol8_memfd_seal(mfd, err) == 0) {
		lseek(mfd, 0, SEEK_SET);
		isol8_ipc_send(c->fd, WK_FILE, 0, NULL, 0, &mfd, 1, &e2);
		return 0;
	}
	if (!err->code)
		isol8_err_set(err, ISOL8_E_IO, errno, "memfd");
	return -1;
}

static int file_get(struct conn *c, struct session *s, const char *norm, const char *sess, struct isol8_err *err)
{
	const char *argv[] = {"cat", "--", norm, NULL};
	struct isol8_buf so = ISOL8_BUF_INIT, se = ISOL8_BUF_INIT;
	char exec_id[65];
	int sfd = -1, rc = -1;

	if (sb_exec(s->sb.id, argv, NULL, "/sandbox", false, exec_id, &sfd, err) == 0) {
		pump_collect(sfd, NULL, 0, &so, &se, 64u << 20, clock_mono_ms() + 30000, err);
		xclose(sfd);
		if (exec_exit_code(exec_id, err) != 0)
			isol8_err_set(err, ISOL8_E_NOTFOUND, 0, "cannot read %s in session %s: %.200s", norm, sess,
				      se.data ? se.data : "");
		else
			rc = send_file(c, &so, err);
	}
	isol8_buf_free(&so);
	isol8_buf_free(&se);
	return rc;
}

static int handle_file(struct conn *c, struct isol8_msg *m, struct isol8_err *err)
{
	_cleanup_free_ char *sess = NULL, *path = NULL;
	char norm[ISOL8_MAX_PATH + 16];
	struct session *s;
	int rc;

	if (isol8_get_str(m, &sess, ISOL8_MAX_SESSION, err) < 0 || isol8_get_str(m, &path, ISOL8_MAX_PATH, err) < 0 ||
	    isol8_msg_end(m, err) < 0)
		return -1;
	if (strcmp(sess, c->session) != 0)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "session differs from the one in the hello");
	if (sandbox_path(path, norm, sizeof norm, err) < 0)
		return -1;
	s = session_acquire(c->principal, sess);
	if (!s)
		return isol8_err_set(err, ISOL8_E_NOTFOUND, 0, "no session '%s'", sess);
	if (session_check_alive(s, err) < 0)
		return -1;
	if (m->type == FE_FILE_PUT) {
		_cleanup_close_ int fd = isol8_msg_take_fd(m, 0);
		rc = file_put(s, norm, fd, err);
		if (rc == 0) {
			struct isol8_err e2 = ISOL8_ERR_INIT;
			isol8_ipc_send(c->fd, WK_OK, 0, NULL, 0, NULL, 0, &e2);
		}
	} else {
		rc = file_get(c, s, norm, sess, err);
	}
	session_release(s);
	return rc;
}

static int dispatch(struct conn *c, struct isol8_msg *m, struct isol8_err *err)
{
	struct isol8_err e2 = ISOL8_ERR_INIT;
	_cleanup_free_ char *name = NULL;
	struct isol8_buf out = ISOL8_BUF_INIT;

	switch (m->type) {
	case FE_RUN:
		if (c->op != HELLO_RUN)
			break;
		return handle_run(c, m, err);
	case FE_SESSION_LIST:
		if (c->op != HELLO_SESSION_LIST)
			break;
		sessions_list(c->principal, &out);
		isol8_ipc_send(c->fd, WK_SESSIONS, 0, out.data, out.len, NULL, 0, &e2);
		isol8_buf_free(&out);
		return 0;
	case FE_SESSION_STOP:
		if (c->op != HELLO_SESSION_STOP)
			break;
		if (isol8_get_str(m, &name, ISOL8_MAX_SESSION, err) < 0 || isol8_msg_end(m, err) < 0)
			return -1;
		if (strcmp(name, c->session) != 0)
			return isol8_err_set(err, ISOL8_E_PROTO, 0, "session differs from the one in the hello");
		if (sessions_stop(c->principal, name, err) < 0)
			return -1;
		isol8_ipc_send(c->fd, WK_OK, 0, NULL, 0, NULL, 0, &e2);
		return 0;
	case FE_FILE_PUT:
	case FE_FILE_GET:
		if (c->op != HELLO_FILE)
			break;
		return handle_file(c, m, err);
	case FE_KEPT_LIST:
		/* The broker answers from its own table, for this connection's principal. */
		if (c->op != HELLO_KEPT)
			break;
		if (sb_kept_list(c->token, &out, err) < 0) {
			isol8_buf_free(&out);
			return -1;
		}
		isol8_ipc_send(c->fd, WK_SESSIONS, 0, out.data, out.len, NULL, 0, &e2);
		isol8_buf_free(&out);
		return 0;
	case FE_KEPT_REMOVE:
		if (c->op != HELLO_KEPT)
			break;
		if (isol8_get_str(m, &name, 64, err) < 0 || isol8_msg_end(m, err) < 0 ||
		    sb_kept_remove(c->token, name, err) < 0)
			return -1;
		isol8_ipc_send(c->fd, WK_OK, 0, NULL, 0, NULL, 0, &e2);
		return 0;
	}
	return isol8_err_set(err, ISOL8_E_PROTO, 0, "message %u not allowed after hello op %u", m->type, c->op);
}

void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct isol8_msg m = {0};
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_buf done = ISOL8_BUF_INIT;
	struct pollfd pf = {.fd = c->fd, .events = POLLIN};
	int fl;

	/* Non-blocking: the pump polls this connection for FE_SIGNAL while output flows. */
	fl = fcntl(c->fd, F_GETFL);
	if (fl >= 0)
		fcntl(c->fd, F_SETFL, fl | O_NONBLOCK);
	if (poll(&pf, 1, FIRST_MSG_TIMEOUT_MS) <= 0) {
		isol8_err_set(&err, ISOL8_E_TIMEOUT, 0, "no request within %d ms", FIRST_MSG_TIMEOUT_MS);
		send_error(c, &err);
		goto out;
	}
	if (isol8_ipc_recv(c->fd, &m, &err) <= 0 || isol8_proto_check(PEER_WORKER, PEER_FRONTEND, &m, NULL, &err) < 0) {
		if (err.msg[0]) {
			log_warn("frontend pid=%u uid=%u: %s", c->pid, c->uid, err.msg);
			send_error(c, &err);
		}
		goto out;
	}
	if (dispatch(c, &m, &err) < 0) {
		log_debug("request from uid=%u failed: %s", c->uid, err.msg);
		send_error(c, &err);
	}
out:
	isol8_msg_free(&m);
	xclose(c->fd);
	/* The pool filler uses this connection's token: finish it before the token is dropped. */
	pool_join(c);
	isol8_put_u32(&done, c->token);
	brokerc_send_noreply(V_CONN_DONE, &done);
	isol8_buf_free(&done);
	free(c);
	return NULL;
}
