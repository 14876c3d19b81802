/* POST /execute (collect, answer the ExecutionResult) and POST /execute/stream (Server-Sent
 * Events as the bytes arrive). Both translate the body first (translate.c), so a bad request
 * is a 400 before anything reaches isol8d. */
#include "config.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/xalloc.h"
#include "http/reply.h"
#include "http/run.h"
#include "http/text.h"
#include "cli/run_result.h"

/* Only protects this process from a misbehaving peer: the worker truncates at maxOutputSize. */
#define COLLECT_MAX (64u * 1024u * 1024u)
#define SSE_BLOCK 16384

/* Translate and start: answers the error itself and returns 0 when something failed. */
static int prepare(struct http_call *call, struct http_run_spec *spec, struct http_run *run, enum MHD_Result *ret)
{
	struct isol8_err err = ISOL8_ERR_INIT;

	if (http_translate(call->body, call->body_len, spec, &err) < 0) {
		*ret = http_reply_err(call->conn, &err);
		return 0;
	}
	if (!http_session_affinity(call, spec->session, ret)) {
		http_spec_free(spec);
		return 0;
	}
	if (!http_inflight_enter(call->srv)) {
		http_spec_free(spec);
		*ret = http_reply_error(call->conn, 429, "Too many concurrent executions; retry later");
		return 0;
	}
	if (http_run_start(call->conf, call->key, spec, run, &err) < 0) {
		http_inflight_leave(call->srv);
		http_spec_free(spec);
		*ret = http_reply_err(call->conn, &err);
		return 0;
	}
	return 1;
}

/* ---- POST /execute ---- */

struct collect {
	struct isol8_buf out, err;
	bool truncated;
	json_object *result;
	struct isol8_err fail;
	bool failed;
};

static void keep(struct collect *c, struct isol8_buf *b, const char *data, size_t n)
{
	if (b->len + n > COLLECT_MAX) {
		c->truncated = true;
		n = COLLECT_MAX - b->len;
	}
	isol8_buf_append(b, data, n);
}

static void collect_emit(void *cls, enum http_ev kind, const char *data, size_t n)
{
	struct collect *c = cls;
	struct isol8_err err = ISOL8_ERR_INIT;

	switch (kind) {
	case HTTP_EV_STDOUT:
		keep(c, &c->out, data, n);
		break;
	case HTTP_EV_STDERR:
		keep(c, &c->err, data, n);
		break;
	case HTTP_EV_RESULT:
		c->result = isol8_json_parse(data, n, RUN_RESULT_MAX, &err);
		if (!c->result || !json_object_is_type(c->result, json_type_object)) {
			c->failed = true;
			isol8_err_set(&c->fail, ISOL8_E_PROTO, 0, "malformed result from isol8d");
		}
		break;
	case HTTP_EV_ERROR:
		c->failed = true;
		break;
	case HTTP_EV_PHASE:
		break;
	}
}

enum MHD_Result http_handle_execute(struct http_call *call)
{
	struct http_run_spec spec;
	struct http_run run;
	struct collect c = {0};
	enum MHD_Result ret;
	json_object *v;

	if (!prepare(call, &spec, &run, &ret))
		return ret;
	while (!http_run_pump(&run, 1000, collect_emit, &c))
		if (http_hard_stop) {
			c.failed = true;
			isol8_err_set(&run.fail, ISOL8_E_UNAVAIL, 0, "server shutting down");
			break;
		}
	if (c.failed) {
		ret = http_reply_err(call->conn, c.fail.msg[0] ? &c.fail : &run.fail);
	} else {
		json_object_object_add(c.result, "stdout", http_utf8_json(&c.out));
		json_object_object_add(c.result, "stderr", http_utf8_json(&c.err));
		if (c.truncated)
			json_object_object_add(c.result, "truncated", json_object_new_boolean(1));
		if (isol8_json_member(c.result, "exitCode", &v) != 1)
			json_object_object_add(c.result, "exitCode", json_object_new_int(-1));
		ret = http_reply_json(call->conn, MHD_HTTP_OK, json_object_get(c.result));
	}
	if (c.result)
		json_object_put(c.result);
	isol8_buf_free(&c.out);
	isol8_buf_free(&c.err);
	http_run_close(&run);
	http_inflight_leave(call->srv);
	http_spec_free(&spec);
	return ret;
}

/* ---- POST /execute/stream ---- */

struct sse {
	struct http_server *srv;
	unsigned keepalive_ms;
	struct http_run run;
	struct http_run_spec spec;
	struct isol8_buf pending; /* bytes of complete events not yet handed to MHD */
	char tail[2][4];          /* incomplete UTF-8 sequence held back per stream */
	size_t tail_len[2];
	bool finished;
	bool setup; /* in the setup phase (between HTTP_EV_PHASE setup and code) */
	uint64_t last_write;
	int client_fd; /* MHD's socket to the client, only polled for hang-up */
};

/* One "data:" line of an event; ev is consumed. */
static void put_event(struct sse *s, json_object *ev)
{
	size_t n;
	const char *text = json_object_to_json_string_length(
		ev, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);

	isol8_buf_puts(&s->pending, "data: ");
	isol8_buf_append(&s->pending, text, n);
	isol8_buf_puts(&s->pending, "\n\n");
	json_object_put(ev);
}

/* phase: "code" for what the program's run produced (the original's StreamEvent.phase), NULL
 * for a failure outside it (the original sends those without one). */
static void add_event(struct sse *s, const char *type, json_object *data, const char *phase)
{
	put_event(s, http_event(type, data, phase));
}

/* Output chunk -> event, keeping a split UTF-8 sequence for the next chunk. */
static void add_output(struct sse *s, int i, const char *data, size_t n, bool last)
{
	struct isol8_buf in = ISOL8_BUF_INIT, out = ISOL8_BUF_INIT;
	size_t keep;

	isol8_buf_append(&in, s->tail[i], s->tail_len[i]);
	isol8_buf_append(&in, data, n);
	keep = http_utf8_append(&out, in.data ? in.data : "", in.len, !last);
	memcpy(s->tail[i], in.data + in.len - keep, keep);
	s->tail_len[i] = keep;
	if (out.len)
		add_event(s, i == 0 ? "stdout" : "stderr", json_object_new_string_len(out.data, (int)out.len),
			  s->setup ? "setup" : "code");
	isol8_buf_free(&in);
	isol8_buf_free(&out);
}

static void sse_emit(void *cls, enum http_ev kind, const char *data, size_t n)
{
	struct sse *s = cls;
	struct isol8_err err = ISOL8_ERR_INIT;
	json_object *res, *v;
	char code[32] = "-1";

	switch (kind) {
	case HTTP_EV_STDOUT:
		add_output(s, 0, data, n, false);
		break;
	case HTTP_EV_STDERR:
		add_output(s, 1, data, n, false);
		break;
	case HTTP_EV_RESULT:
		add_output(s, 0, "", 0, true);
		add_output(s, 1, "", 0, true);
		res = isol8_json_parse(data, n, RUN_RESULT_MAX, &err);
		if (res && isol8_json_member(res, "timedOut", &v) == 1 && json_object_get_boolean(v))
			add_event(s, "error", json_object_new_string("EXECUTION TIMED OUT"),
				  s->setup ? "setup" : "code");
		if (res && isol8_json_member(res, "exitCode", &v) == 1 && json_object_is_type(v, json_type_int))
			snprintf(code, sizeof code, "%d", json_object_get_int(v));
		else
			add_event(s, "error", json_object_new_string("malformed result from isol8d"), NULL);
		if (res && (v = http_files_event(res)))
			add_event(s, "files", v, "code");
		/* The original sends the exit code as a decimal string; the usage rides along. */
		put_event(s, http_exit_event(code, res, s->setup ? "setup" : "code"));
		if (res)
			json_object_put(res);
		break;
	case HTTP_EV_ERROR:
		add_output(s, 0, "", 0, true);
		add_output(s, 1, "", 0, true);
		add_event(s, "error", json_object_new_string_len(data, (int)n), NULL);
		break;
	case HTTP_EV_PHASE:
		add_output(s, 0, "", 0, true);
		add_output(s, 1, "", 0, true);
		/* As the original: the setup phase ends with its own exit event. */
		if (s->setup && strcmp(data, "code") == 0)
			add_event(s, "exit", json_object_new_string("0"), "setup");
		s->setup = strcmp(data, "setup") == 0;
		break;
	}
}

static bool client_gone(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLRDHUP};

	return fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct sse *s = cls;

	(void)pos;
	for (;;) {
		if (s->pending.len) {
			size_t n = s->pending.len < max ? s->pending.len : max;
			memcpy(buf, s->pending.data, n);
			isol8_buf_consume(&s->pending, n);
			s->last_write = clock_mono_ms();
			return (ssize_t)n;
		}
		if (s->finished)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (http_hard_stop) {
			add_event(s, "error", json_object_new_string("server shutting down"), NULL);
			s->finished = true;
			continue;
		}
		/* A silent program would otherwise keep running until the next keepalive write
		 * finds the client gone; the run is interrupted as soon as it hangs up. */
		if (client_gone(s->client_fd))
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (http_run_pump(&s->run, s->keepalive_ms < 1000 ? (int)s->keepalive_ms : 1000, sse_emit, s))
			s->finished = true;
		/* A comment line keeps proxies from dropping a silent long run. */
		if (!s->pending.len && clock_mono_ms() - s->last_write >= s->keepalive_ms)
			isol8_buf_puts(&s->pending, ": keepalive\n\n");
	}
}

static void sse_free(void *cls)
{
	struct sse *s = cls;

	http_run_close(&s->run);
	http_inflight_leave(s->srv);
	http_spec_free(&s->spec);
	isol8_buf_free(&s->pending);
	free(s);
}

enum MHD_Result http_handle_stream(struct http_call *call)
{
	struct sse *s = xcalloc(1, sizeof *s);
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (!prepare(call, &s->spec, &s->run, &ret)) {
		free(s);
		return ret;
	}
	s->srv = call->srv;
	s->keepalive_ms = call->conf->keepalive_ms ? call->conf->keepalive_ms : HTTP_KEEPALIVE_MS;
	s->last_write = clock_mono_ms();
	{
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(call->conn,
									     MHD_CONNECTION_INFO_CONNECTION_FD);
		s->client_fd = ci ? ci->connect_fd : -1;
	}
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK, sse_read, s, sse_free);
	if (!r) {
		sse_free(s);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	MHD_add_response_header(r, "X-Accel-Buffering", "no");
	ret = http_queue(call->conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}
