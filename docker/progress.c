#include "config.h"
#include "docker/progress.h"

#include <json-c/json.h>
#include <string.h>

void docker_progress_init(struct docker_progress *p, docker_log_cb cb, void *ctx)
{
	memset(p, 0, sizeof *p);
	p->cb = cb;
	p->ctx = ctx;
}

void docker_progress_free(struct docker_progress *p)
{
	isol8_buf_free(&p->line);
	isol8_buf_free(&p->text);
}

static int fail(struct docker_progress *p, const char *msg)
{
	p->failed = true;
	isol8_err_set(&p->err, ISOL8_E_DOCKER, 0, "%s", msg);
	return -1;
}

static void emit_text(struct docker_progress *p, const char *s, size_t n)
{
	if (n && s[n - 1] == '\r')
		n--;
	if (p->cb) {
		/* s may not be NUL-terminated where we cut it: copy through the buffer. */
		struct isol8_buf tmp = ISOL8_BUF_INIT;
		isol8_buf_append(&tmp, s, n);
		p->cb(tmp.data, p->ctx);
		isol8_buf_free(&tmp);
	}
}

/* Append "stream" text and deliver every complete line. */
static void add_text(struct docker_progress *p, const char *s, size_t n)
{
	isol8_buf_append(&p->text, s, n);
	for (;;) {
		char *nl = memchr(p->text.data, '\n', p->text.len);
		if (!nl) {
			if (p->text.len >= DOCKER_PROGRESS_MAX_TEXT) {
				emit_text(p, p->text.data, p->text.len);
				isol8_buf_reset(&p->text);
			}
			return;
		}
		size_t n_line = (size_t)(nl - p->text.data);
		emit_text(p, p->text.data, n_line);
		isol8_buf_consume(&p->text, n_line + 1);
	}
}

static int handle_line(struct docker_progress *p, const char *s, size_t n)
{
	json_tokener *tok;
	json_object *obj, *v, *detail;
	int r = 0;

	while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 0)
		return 0;
	if (memchr(s, '\0', n))
		return fail(p, "malformed progress line from Docker (NUL byte)");
	tok = json_tokener_new();
	obj = json_tokener_parse_ex(tok, s, (int)n);
	if (!obj || json_tokener_get_error(tok) != json_tokener_success || json_tokener_get_parse_end(tok) != n ||
	    !json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		json_tokener_free(tok);
		return fail(p, "malformed progress line from Docker");
	}
	json_tokener_free(tok);

	if (json_object_object_get_ex(obj, "errorDetail", &detail) &&
	    json_object_object_get_ex(detail, "message", &v) && json_object_is_type(v, json_type_string)) {
		r = fail(p, json_object_get_string(v));
	} else if (json_object_object_get_ex(obj, "error", &v)) {
		r = fail(p, json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "unknown error");
	} else if (json_object_object_get_ex(obj, "stream", &v) && json_object_is_type(v, json_type_string)) {
		add_text(p, json_object_get_string(v), (size_t)json_object_get_string_len(v));
	}
	json_object_put(obj);
	return r;
}

int docker_progress_feed(struct docker_progress *p, const char *data, size_t len)
{
	if (p->failed)
		return -1;
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) : len;

		if (p->line.len + take > DOCKER_PROGRESS_MAX_LINE)
			return fail(p, "progress line from Docker too long");
		if (!nl) {
			isol8_buf_append(&p->line, data, take);
			return 0;
		}
		int r;
		if (p->line.len) {
			isol8_buf_append(&p->line, data, take);
			r = handle_line(p, p->line.data, p->line.len);
			isol8_buf_reset(&p->line);
		} else {
			r = handle_line(p, data, take);
		}
		if (r < 0)
			return -1;
		data += take + 1;
		len -= take + 1;
	}
	return 0;
}

int docker_progress_finish(struct docker_progress *p, struct isol8_err *err)
{
	if (!p->failed && p->line.len) {
		handle_line(p, p->line.data, p->line.len);
		isol8_buf_reset(&p->line);
	}
	if (p->text.len) {
		emit_text(p, p->text.data, p->text.len);
		isol8_buf_reset(&p->text);
	}
	if (p->failed) {
		if (err)
			*err = p->err;
		return -1;
	}
	return 0;
}
