/* GET /execute/ws: the handshake (checked here, answered with MHD's 101 upgrade) and one thread
 * per upgraded connection that runs programs through isol8d and sends the same events as
 * /execute/stream. Framing is ws.c's.
 *
 * Client messages (text frames, JSON objects):
 *   {"type":"execute","request":{...},"options"?:{...},"sessionId"?:"..."}  as the POST body;
 *   {"type":"stdin","data":"...","eof"?:true}  program input;
 *   {"type":"signal","signal":"SIGINT"|"SIGTERM"|"SIGKILL"}  sent as FE_SIGNAL to the run.
 * Server messages: {"type":"stdout"|"stderr"|"exit"|"error","data":...}. The error of an execute
 * that could not start carries "status": what POST /execute/stream would have answered (400 for
 * a bad request, 421 for a session of another node, 429 when busy, ...), so that a client raises
 * the same error over either transport. X-Isol8-Session and X-Isol8-Node of the handshake are checked against
 * the execute message's sessionId as POST checks them against its body (affinity.c).
 *
 * Stdin is live: the run starts WS_STDIN_WINDOW_MS after the execute message (or at once on a
 * stdin message with "eof":true); the program's stdin is a pipe passed to isol8d with FE_STDIN,
 * fed with what arrived so far and then with every later stdin message, and closed by
 * {"eof":true}, the end of the run or of the connection. (A request carrying "stdin" itself gets
 * it up front, with earlier stdin messages appended, as before.) A run in a session without a
 * stdin message in the window gets no live stdin: it then runs in the session's interpreter, as
 * over POST /execute/stream, where a live stdin needs a process of its own (worker/helper.c).
 * One execution per connection, as in the original (its client opens a connection per
 * executeStream and waits for the close): after the exit event, or the error of an execute that
 * could not start, the server closes with 1000 "Execution complete". A message that is not JSON
 * gets an error event and a close 1003 "Invalid JSON"; an unknown type only an error event. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <unistd.h>

#include "common/clock.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "common/proto.h"
#include "common/xalloc.h"
#include "http/reply.h"
#include "http/run.h"
#include "http/text.h"
#include "http/ws.h"
#include "cli/run_result.h"

#define WS_STDIN_WINDOW_MS 200
#define WS_SEND_TIMEOUT_MS 10000

enum ws_state { WS_IDLE, WS_WINDOW, WS_RUNNING };

struct wsc {
	struct http_server *srv;
	const struct http_server_conf *conf;
	const struct http_key *key;
	struct MHD_UpgradeResponseHandle *urh;
	int fd;
	struct isol8_buf in0; /* bytes MHD read past the request head */
	struct ws_parser p;
	struct isol8_buf out;
	enum ws_state state;
	json_object *exec; /* the pending execute message */
	struct isol8_buf stdin_buf;
	bool have_stdin;
	bool stdin_eof; /* the client said eof before the start */
	int stdin_w;    /* write end of the running program's stdin, -1 when closed */
	uint64_t deadline;
	uint64_t last_activity;
	struct http_run run;
	struct http_run_spec spec;
	char tail[2][4];
	size_t tail_len[2];
	uint16_t close_code; /* non-zero: send a close with this status and stop */
	const char *close_reason;
	bool peer_closed;  /* the peer's close frame was answered */
	bool setup;        /* the run is in its setup phase */
	char *hdr_session; /* X-Isol8-Session and X-Isol8-Node of the handshake, or NULL */
	char *hdr_node;
};

/* phase as in /execute/stream: "code" for the run's own events, NULL outside it. */
static void put_event(struct wsc *w, json_object *ev)
{
	size_t n;
	const char *text = json_object_to_json_string_length(
		ev, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);

	ws_frame(&w->out, WS_OP_TEXT, text, n);
	json_object_put(ev);
}

static void send_event(struct wsc *w, const char *type, json_object *data, const char *phase)
{
	put_event(w, http_event(type, data, phase));
}

static void send_error(struct wsc *w, const char *msg)
{
	send_event(w, "error", json_object_new_string(msg), NULL);
}

/* The error of an execute that could not start, with the HTTP status of the same refusal. */
static void send_start_error(struct wsc *w, unsigned status, const char *msg)
{
	json_object *ev = http_event("error", json_object_new_string(msg), NULL);

	json_object_object_add(ev, "status", json_object_new_int((int)status));
	put_event(w, ev);
}

/* Output chunk -> event, holding back a split UTF-8 sequence (as /execute/stream does). */
static void add_output(struct wsc *w, int i, const char *data, size_t n, bool last)
{
	struct isol8_buf in = ISOL8_BUF_INIT, out = ISOL8_BUF_INIT;
	size_t keep;

	isol8_buf_append(&in, w->tail[i], w->tail_len[i]);
	isol8_buf_append(&in, data, n);
	keep = http_utf8_append(&out, in.data ? in.data : "", in.len, !last);
	memcpy(w->tail[i], in.data + in.len - keep, keep);
	w->tail_len[i] = keep;
	if (out.len)
		send_event(w, i == 0 ? "stdout" : "stderr", json_object_new_string_len(out.data, (int)out.len),
			   w->setup ? "setup" : "code");
	isol8_buf_free(&in);
	isol8_buf_free(&out);
}

static void run_emit(void *cls, enum http_ev kind, const char *data, size_t n)
{
	struct wsc *w = cls;
	struct isol8_err err = ISOL8_ERR_INIT;
	json_object *res, *v;
	char code[32] = "-1";

	switch (kind) {
	case HTTP_EV_STDOUT:
		add_output(w, 0, data, n, false);
		break;
	case HTTP_EV_STDERR:
		add_output(w, 1, data, n, false);
		break;
	case HTTP_EV_RESULT:
		add_output(w, 0, "", 0, true);
		add_output(w, 1, "", 0, true);
		res = isol8_json_parse(data, n, RUN_RESULT_MAX, &err);
		if (res && isol8_json_member(res, "timedOut", &v) == 1 && json_object_get_boolean(v))
			send_event(w, "error", json_object_new_string("EXECUTION TIMED OUT"),
				   w->setup ? "setup" : "code");
		if (res && isol8_json_member(res, "exitCode", &v) == 1 && json_object_is_type(v, json_type_int))
			snprintf(code, sizeof code, "%d", json_object_get_int(v));
		else
			send_error(w, "malformed result from isol8d");
		if (res && (v = http_files_event(res)))
			send_event(w, "files", v, "code");
		put_event(w, http_exit_event(code, res, w->setup ? "setup" : "code"));
		if (res)
			json_object_put(res);
		break;
	case HTTP_EV_ERROR:
		add_output(w, 0, "", 0, true);
		add_output(w, 1, "", 0, true);
		send_event(w, "error", json_object_new_string_len(data, (int)n), NULL);
		break;
	case HTTP_EV_PHASE:
		add_output(w, 0, "", 0, true);
		add_output(w, 1, "", 0, true);
		if (w->setup && strcmp(data, "code") == 0)
			send_event(w, "exit", json_object_new_string("0"), "setup");
		w->setup = strcmp(data, "setup") == 0;
		break;
	}
}

static void end_run(struct wsc *w)
{
	if (w->state != WS_RUNNING)
		return;
	w->stdin_w = xclose(w->stdin_w);
	http_run_close(&w->run);
	http_inflight_leave(w->srv);
	http_spec_free(&w->spec);
	w->state = WS_IDLE;
}

/* Translate the execute message and start the run. Without stdin in the request itself the
 * program gets a live stdin: a pipe whose read end goes to isol8d (FE_STDIN); what arrived
 * during the window is written first, later stdin messages follow, and {"eof":true} (or the
 * end of the run or of the connection) closes it. */
static void start_run(struct wsc *w)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	json_object *req = NULL, *old, *sid;
	const char *text;
	char msg[256];
	unsigned status;
	size_t n;
	int sp[2] = {-1, -1};
	bool live = !(isol8_json_member(w->exec, "request", &req) == 1 && json_object_is_type(req, json_type_object) &&
		      isol8_json_member(req, "stdin", &old) == 1);

	if (live && !w->have_stdin && isol8_json_member(w->exec, "sessionId", &sid) == 1)
		live = false; /* keep the session's interpreter (see the top of this file) */

	if (!live && w->have_stdin) {
		/* The request carries stdin of its own: append what came as messages, up front. */
		struct isol8_buf all = ISOL8_BUF_INIT;
		if (json_object_is_type(old, json_type_string))
			isol8_buf_append(&all, json_object_get_string(old), (size_t)json_object_get_string_len(old));
		isol8_buf_append(&all, w->stdin_buf.data ? w->stdin_buf.data : "", w->stdin_buf.len);
		json_object_object_add(req, "stdin",
				       json_object_new_string_len(all.data ? all.data : "", (int)all.len));
		isol8_buf_free(&all);
	}
	if (live) {
		if (pipe2(sp, O_CLOEXEC) < 0) {
			send_error(w, "stdin: cannot create a pipe");
			live = false;
		} else {
			fcntl(sp[1], F_SETPIPE_SZ, 1 << 20);
			if (w->stdin_buf.len &&
			    write(sp[1], w->stdin_buf.data, w->stdin_buf.len) != (ssize_t)w->stdin_buf.len) {
				send_error(w, "stdin: more than the pipe holds before the start");
				sp[1] = xclose(sp[1]);
			}
			if (w->stdin_eof)
				sp[1] = xclose(sp[1]);
			if (sp[1] >= 0)
				fcntl(sp[1], F_SETFL, O_NONBLOCK);
		}
	}
	text = json_object_to_json_string_length(w->exec, JSON_C_TO_STRING_PLAIN, &n);
	w->state = WS_IDLE;
	memset(w->tail_len, 0, sizeof w->tail_len);
	if (http_translate(text, n, &w->spec, &err) < 0) {
		send_start_error(w, (unsigned)isol8_err_http_status(err.code), err.msg);
	} else if ((status = http_affinity_check(w->hdr_session, w->hdr_node, w->spec.session, msg, sizeof msg))) {
		http_spec_free(&w->spec);
		send_start_error(w, status, msg);
	} else if (!http_inflight_enter(w->srv)) {
		http_spec_free(&w->spec);
		send_start_error(w, 429, "Too many concurrent executions; retry later");
	} else if (http_run_start_stdin(w->conf, w->key, &w->spec, live ? sp[0] : -1, &w->run, &err) < 0) {
		http_inflight_leave(w->srv);
		http_spec_free(&w->spec);
		send_start_error(w, (unsigned)isol8_err_http_status(err.code), err.msg);
	} else {
		w->state = WS_RUNNING;
		w->stdin_w = steal_fd(&sp[1]);
	}
	xclose(sp[0]);
	xclose(sp[1]);
	w->stdin_eof = false;
	json_object_put(w->exec);
	w->exec = NULL;
	isol8_buf_reset(&w->stdin_buf);
	w->have_stdin = false;
}

static void execution_complete(struct wsc *w)
{
	w->close_code = WS_CLOSE_NORMAL;
	w->close_reason = "Execution complete";
}

static const struct {
	const char *name;
	uint8_t sig;
} signals[] = {{"SIGINT", SIGINT}, {"SIGTERM", SIGTERM}, {"SIGKILL", SIGKILL}};

static void on_signal(struct wsc *w, json_object *msg)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	json_object *v;
	const char *name = "";

	if (isol8_json_member(msg, "signal", &v) == 1 && json_object_is_type(v, json_type_string))
		name = json_object_get_string(v);
	for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) {
		if (strcmp(name, signals[i].name) != 0)
			continue;
		if (w->state != WS_RUNNING)
			return send_error(w, "no program is running");
		if (isol8_ipc_send(w->run.sock, FE_SIGNAL, 0, &signals[i].sig, 1, NULL, 0, &err) < 0)
			send_error(w, err.msg);
		return;
	}
	send_error(w, "signal: expected \"SIGINT\", \"SIGTERM\" or \"SIGKILL\"");
}

static void on_stdin(struct wsc *w, json_object *msg)
{
	json_object *v;

	if (isol8_json_member(msg, "data", &v) != 1 || !json_object_is_type(v, json_type_string))
		return send_error(w, "stdin: data must be a string");
	if (w->state == WS_RUNNING) {
		size_t len = (size_t)json_object_get_string_len(v);
		json_object *eof;
		if (w->stdin_w < 0)
			return send_error(w, "stdin: the program's stdin is closed");
		if (len && write(w->stdin_w, json_object_get_string(v), len) != (ssize_t)len)
			return send_error(w, "stdin: the program is not reading its input fast enough");
		if (isol8_json_member(msg, "eof", &eof) == 1 && json_object_get_boolean(eof))
			w->stdin_w = xclose(w->stdin_w);
		return;
	}
	if (w->stdin_buf.len + (size_t)json_object_get_string_len(v) > w->conf->max_body)
		return send_error(w, "stdin: over the request body limit");
	isol8_buf_append(&w->stdin_buf, json_object_get_string(v), (size_t)json_object_get_string_len(v));
	w->have_stdin = true;
	if (isol8_json_member(msg, "eof", &v) == 1 && json_object_get_boolean(v)) {
		w->stdin_eof = true;
		if (w->state == WS_WINDOW)
			w->deadline = 0;
	}
}

static void on_text(struct wsc *w, const uint8_t *data, size_t n)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	json_object *msg = isol8_json_parse((const char *)data, n, w->conf->max_body, &err), *v;
	const char *type = "";

	if (!msg || !json_object_is_type(msg, json_type_object)) {
		send_error(w, "invalid message: expected a JSON object");
		w->close_code = 1003;
		w->close_reason = "Invalid JSON";
		goto out;
	}
	if (isol8_json_member(msg, "type", &v) == 1 && json_object_is_type(v, json_type_string))
		type = json_object_get_string(v);
	if (strcmp(type, "execute") == 0) {
		if (w->state != WS_IDLE) {
			send_error(w, "an execution is already running on this connection");
			goto out;
		}
		json_object_object_del(msg, "type");
		w->exec = msg;
		msg = NULL;
		w->state = WS_WINDOW;
		w->deadline = clock_mono_ms() + WS_STDIN_WINDOW_MS;
	} else if (strcmp(type, "stdin") == 0) {
		on_stdin(w, msg);
	} else if (strcmp(type, "signal") == 0) {
		on_signal(w, msg);
	} else {
		send_error(w, "unknown message type (expected execute, stdin or signal)");
	}
out:
	if (msg)
		json_object_put(msg);
}

static int on_message(void *cls, enum ws_op op, const uint8_t *data, size_t n)
{
	struct wsc *w = cls;

	switch (op) {
	case WS_OP_TEXT:
		on_text(w, data, n);
		return 0;
	case WS_OP_PING:
		ws_frame(&w->out, WS_OP_PONG, data, n);
		return 0;
	case WS_OP_PONG:
		return 0;
	case WS_OP_CLOSE:
		/* Echo the peer's status (RFC 6455 5.5.1); none given means a normal close. */
		w->close_code = n >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : WS_CLOSE_NORMAL;
		w->close_reason = "";
		w->peer_closed = true;
		return 1;
	default:
		w->close_code = 1003;
		w->close_reason = "binary messages are not supported";
		return 1;
	}
}

/* Blocking-with-timeout write of everything queued. */
static int flush_out(struct wsc *w)
{
	while (w->out.len) {
		ssize_t n = send(w->fd, w->out.data, w->out.len, MSG_NOSIGNAL);
		if (n > 0) {
			isol8_buf_consume(&w->out, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd p = {.fd = w->fd, .events = POLLOUT};
			if (poll(&p, 1, WS_SEND_TIMEOUT_MS) > 0)
				continue;
		}
		return -1;
	}
	return 0;
}

static int read_client(struct wsc *w)
{
	uint8_t buf[16384];
	uint16_t st = 0;
	ssize_t n = recv(w->fd, buf, sizeof buf, 0);
	int r;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0)
		return -1;
	w->last_activity = clock_mono_ms();
	r = ws_feed(&w->p, buf, (size_t)n, on_message, w, &st);
	if (r < 0) {
		w->close_code = st;
		w->close_reason = st == WS_CLOSE_TOO_BIG ? "message too big"
			: st == WS_CLOSE_BAD_DATA        ? "invalid UTF-8"
							 : "protocol error";
	}
	return 0;
}

static void serve_ws(struct wsc *w)
{
	uint16_t st = 0;

	w->last_activity = clock_mono_ms();
	if (w->in0.len && ws_feed(&w->p, (const uint8_t *)w->in0.data, w->in0.len, on_message, w, &st) < 0) {
		w->close_code = st;
		w->close_reason = "protocol error";
	}
	while (!w->close_code) {
		struct pollfd p[4];
		nfds_t np = 0;
		int timeout = 1000, rc;
		uint64_t now;

		if (flush_out(w) < 0)
			return;
		p[np++] = (struct pollfd){.fd = w->fd, .events = POLLIN};
		if (w->state == WS_RUNNING) {
			p[np++] = (struct pollfd){.fd = w->run.sock, .events = POLLIN};
			if (w->run.out >= 0)
				p[np++] = (struct pollfd){.fd = w->run.out, .events = POLLIN};
			if (w->run.err >= 0)
				p[np++] = (struct pollfd){.fd = w->run.err, .events = POLLIN};
		} else if (w->state == WS_WINDOW) {
			now = clock_mono_ms();
			timeout = w->deadline > now ? (int)(w->deadline - now) : 0;
		}
		rc = poll(p, np, timeout);
		if (rc < 0 && errno != EINTR)
			return;
		if (http_hard_stop) {
			if (w->state == WS_RUNNING)
				send_error(w, "server shutting down");
			w->close_code = WS_CLOSE_GOING_AWAY;
			w->close_reason = "server shutting down";
			break;
		}
		if (rc > 0 && p[0].revents && read_client(w) < 0)
			return; /* the client went away: the run is interrupted on cleanup */
		if (w->close_code)
			break;
		if (w->state == WS_WINDOW && clock_mono_ms() >= w->deadline) {
			start_run(w);
			if (w->state != WS_RUNNING)
				execution_complete(w);
		}
		if (w->state == WS_RUNNING && rc > 0 && np > 1 && http_run_pump(&w->run, 0, run_emit, w)) {
			end_run(w);
			execution_complete(w);
		}
		if (w->state == WS_IDLE && clock_mono_ms() - w->last_activity > (uint64_t)w->conf->timeout_s * 1000u) {
			w->close_code = WS_CLOSE_GOING_AWAY;
			w->close_reason = "idle";
		}
	}
	ws_frame_close(&w->out, w->close_code, w->peer_closed ? "" : w->close_reason);
	flush_out(w);
	if (!w->peer_closed) {
		/* Give the peer a moment to answer the close before the TCP close (RFC 6455 7.1.1). */
		struct pollfd p = {.fd = w->fd, .events = POLLIN};
		char drop[512];
		shutdown(w->fd, SHUT_WR);
		for (int i = 0; i < 10 && poll(&p, 1, 100) > 0; i++)
			if (recv(w->fd, drop, sizeof drop, 0) <= 0)
				break;
	}
}

static void *ws_thread(void *arg)
{
	struct wsc *w = arg;

	serve_ws(w);
	end_run(w);
	if (w->exec)
		json_object_put(w->exec);
	MHD_upgrade_action(w->urh, MHD_UPGRADE_ACTION_CLOSE);
	ws_parser_free(&w->p);
	isol8_buf_free(&w->out);
	isol8_buf_free(&w->in0);
	isol8_buf_free(&w->stdin_buf);
	w->stdin_w = xclose(w->stdin_w);
	free(w->hdr_session);
	free(w->hdr_node);
	free(w);
	return NULL;
}

static void on_upgrade(void *cls, struct MHD_Connection *c, void *con_cls, const char *extra_in, size_t extra_in_size,
		       MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
	struct wsc *w = cls;
	pthread_attr_t attr;
	pthread_t t;

	(void)c;
	(void)con_cls;
	w->fd = sock;
	w->urh = urh;
	if (extra_in_size)
		isol8_buf_append(&w->in0, extra_in, extra_in_size);
	/* With TLS, MHD forwards the decrypted bytes only once this returns: never block here. */
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, ws_thread, w) != 0) {
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		isol8_buf_free(&w->in0);
		free(w->hdr_session);
		free(w->hdr_node);
		free(w);
	}
	pthread_attr_destroy(&attr);
}

/* Does the comma-separated header value contain token (case-insensitive)? */
static bool has_token(const char *v, const char *token)
{
	size_t tl = strlen(token);

	while (v && *v) {
		size_t n;
		v += strspn(v, " \t,");
		n = strcspn(v, ",");
		while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
			n--;
		if (n == tl && strncasecmp(v, token, tl) == 0)
			return true;
		v = strchr(v, ',');
	}
	return false;
}

enum MHD_Result http_handle_ws(struct http_call *call)
{
	struct MHD_Connection *c = call->conn;
	const char *up = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_UPGRADE);
	const char *conn = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONNECTION);
	const char *ver = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-WebSocket-Version");
	const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-WebSocket-Key");
	const char *hs = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Isol8-Session");
	const char *hn = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Isol8-Node");
	struct MHD_Response *r;
	enum MHD_Result ret;
	struct wsc *w;
	char accept[29];

	if (call->body_len)
		return http_reply_error(c, MHD_HTTP_BAD_REQUEST, "WebSocket handshake must not have a body");
	if (!up || !has_token(up, "websocket") || !conn || !has_token(conn, "upgrade"))
		return http_reply_error(c, MHD_HTTP_UPGRADE_REQUIRED, "WebSocket upgrade required");
	if (!ver || strcmp(ver, "13") != 0) {
		r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		if (!r)
			return MHD_NO;
		MHD_add_response_header(r, "Sec-WebSocket-Version", "13");
		ret = http_queue(c, MHD_HTTP_UPGRADE_REQUIRED, r);
		MHD_destroy_response(r);
		return ret;
	}
	if (ws_accept_key(key, accept) < 0)
		return http_reply_error(c, MHD_HTTP_BAD_REQUEST, "invalid Sec-WebSocket-Key");
	w = xcalloc(1, sizeof *w);
	w->srv = call->srv;
	w->conf = call->conf;
	w->key = call->key;
	w->fd = -1;
	w->stdin_w = -1;
	/* Bounded copies: a longer value cannot match a session name or a node id anyway. */
	w->hdr_session = hs ? xstrndup(hs, ISOL8_MAX_SESSION + 1) : NULL;
	w->hdr_node = hn ? xstrndup(hn, 256) : NULL;
	ws_parser_init(&w->p, WS_MAX_MSG_DEFAULT);
	r = MHD_create_response_for_upgrade(on_upgrade, w);
	if (!r) {
		ws_parser_free(&w->p);
		free(w->hdr_session);
		free(w->hdr_node);
		free(w);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_UPGRADE, "websocket");
	MHD_add_response_header(r, "Sec-WebSocket-Accept", accept);
	ret = http_queue(c, MHD_HTTP_SWITCHING_PROTOCOLS, r);
	MHD_destroy_response(r);
	/* If the upgrade never happens (client gone before the 101 went out) w leaks: MHD gives no
	 * callback for that case, and it is bounded by the connection limit. */
	return ret;
}
