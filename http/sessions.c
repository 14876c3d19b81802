/* Session routes: GET /sessions, DELETE /session/<id>, POST /file, GET /file, POST /cleanup.
 * isol8d scopes every one of them to the caller's principal ("key:<name>"), so a session of
 * another key is simply not found (404) here, except for DELETE, which is idempotent as in the
 * original (its client's stop() deletes unconditionally): deleting what the caller cannot see
 * is a 200 that removes nothing. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/json.h"
#include "common/proto.h"
#include "cli/broker_conn.h"
#include "cli/broker_requests.h"
#include "http/reply.h"
#include "http/text.h"
#include "cli/run_io.h"

#define SESSIONS_MAX_TEXT (64u * 1024u)
#define FILE_GET_MAX (64u * 1024u * 1024u)

/* The worker's session list as a json array, or NULL with err. */
static json_object *list_sessions(struct http_call *call, struct isol8_err *err)
{
	_cleanup_close_ int sock = http_broker_open(call->conf, HELLO_SESSION_LIST, "", call->key, err);
	struct isol8_msg m;
	json_object *arr;

	if (sock < 0)
		return NULL;
	if (broker_send(sock, FE_SESSION_LIST, NULL, 0, NULL, 0, err) < 0 ||
	    broker_expect(sock, WK_SESSIONS, &m, err) < 0)
		return NULL;
	arr = isol8_json_parse((const char *)m.payload, m.len, SESSIONS_MAX_TEXT, err);
	isol8_msg_free(&m);
	if (arr && !json_object_is_type(arr, json_type_array)) {
		json_object_put(arr);
		isol8_err_set(err, ISOL8_E_PROTO, 0, "malformed session list from isol8d");
		return NULL;
	}
	return arr;
}

static int stop_session(struct http_call *call, const char *id, struct isol8_err *err)
{
	_cleanup_close_ int sock = http_broker_open(call->conf, HELLO_SESSION_STOP, id, call->key, err);

	if (sock < 0)
		return -1;
	return broker_session_stop(sock, id, err);
}

static enum MHD_Result ok(struct MHD_Connection *c)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	return http_reply_json(c, MHD_HTTP_OK, o);
}

/* The original's client reads {id, isActive, lastAccessedAt (ISO-8601)}; isol8d's own fields
 * (runtime, containerId, createdAt, lastUsedAt in ms, idleMs, active) stay alongside. */
static void original_shape(json_object *s)
{
	json_object *v;
	int64_t ms = 0;
	time_t t;
	struct tm tm;
	char iso[96];

	if (!json_object_is_type(s, json_type_object))
		return;
	if (isol8_json_member(s, "lastUsedAt", &v) == 1 && json_object_is_type(v, json_type_int))
		ms = json_object_get_int64(v);
	t = (time_t)(ms / 1000);
	gmtime_r(&t, &tm);
	snprintf(iso, sizeof iso, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	json_object_object_add(
		s, "isActive",
		json_object_new_boolean(isol8_json_member(s, "active", &v) == 1 && json_object_get_boolean(v)));
	json_object_object_add(s, "lastAccessedAt", json_object_new_string(iso));
}

enum MHD_Result http_handle_sessions(struct http_call *call)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	json_object *arr = list_sessions(call, &err), *o;

	if (!arr)
		return http_reply_err(call->conn, &err);
	for (size_t i = 0; i < json_object_array_length(arr); i++)
		original_shape(json_object_array_get_idx(arr, i));
	o = json_object_new_object();
	json_object_object_add(o, "sessions", arr);
	return http_reply_json(call->conn, MHD_HTTP_OK, o);
}

enum MHD_Result http_handle_session_delete(struct http_call *call)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	enum MHD_Result ret;

	if (!isol8_valid_session_name(call->arg))
		return http_reply_error(call->conn, MHD_HTTP_BAD_REQUEST,
					"invalid session id: use 1-64 of [A-Za-z0-9_.-]");
	if (!http_session_affinity(call, call->arg, &ret))
		return ret;
	if (stop_session(call, call->arg, &err) < 0 && err.code != ISOL8_E_NOTFOUND)
		return http_reply_err(call->conn, &err);
	return ok(call->conn);
}

/* Session and path, checked before anything reaches isol8d. */
static int file_target(struct MHD_Connection *c, const char *session, const char *path, enum MHD_Result *ret)
{
	if (!session || !path || !*session || !*path) {
		*ret = http_reply_error(c, MHD_HTTP_BAD_REQUEST, "Missing sessionId or path");
		return 0;
	}
	if (!isol8_valid_session_name(session)) {
		*ret = http_reply_error(c, MHD_HTTP_BAD_REQUEST, "invalid sessionId: use 1-64 of [A-Za-z0-9_.-]");
		return 0;
	}
	if (strlen(path) > ISOL8_MAX_PATH) {
		*ret = http_reply_error(c, MHD_HTTP_BAD_REQUEST, "path too long");
		return 0;
	}
	return 1;
}

static int file_send(struct http_call *call, uint8_t type, const char *session, const char *path, int fd,
		     struct isol8_msg *reply, struct isol8_err *err)
{
	_cleanup_close_ int sock = http_broker_open(call->conf, HELLO_FILE, session, call->key, err);
	struct isol8_buf b = ISOL8_BUF_INIT;
	int r;

	if (sock < 0)
		return -1;
	isol8_put_str(&b, session);
	isol8_put_str(&b, path);
	r = broker_send_buf(sock, type, &b, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0, err);
	isol8_buf_free(&b);
	if (r < 0)
		return -1;
	return broker_expect(sock, type == FE_FILE_PUT ? WK_OK : WK_FILE, reply, err);
}

enum MHD_Result http_handle_file_put(struct http_call *call)
{
	static const char *const keys[] = {"sessionId", "path", "content", NULL};
	struct isol8_err err = ISOL8_ERR_INIT;
	json_object *root, *v;
	const char *session = NULL, *path = NULL, *content = NULL;
	struct isol8_buf data = ISOL8_BUF_INIT;
	_cleanup_close_ int fd = -1;
	struct isol8_msg m;
	enum MHD_Result ret;

	root = isol8_json_parse(call->body, call->body_len, call->body_len + 1, &err);
	if (!root) {
		isol8_err_wrap(&err, "invalid JSON body");
		return http_reply_err(call->conn, &err);
	}
	if (isol8_json_check_keys(root, "", keys, &err) < 0 ||
	    (isol8_json_member(root, "sessionId", &v) == 1 &&
	     isol8_json_as_string(v, "sessionId", &session, &err) < 0) ||
	    (isol8_json_member(root, "path", &v) == 1 && isol8_json_as_string(v, "path", &path, &err) < 0) ||
	    (isol8_json_member(root, "content", &v) == 1 && isol8_json_as_string(v, "content", &content, &err) < 0)) {
		ret = http_reply_err(call->conn, &err);
		goto out;
	}
	if (!file_target(call->conn, session, path, &ret))
		goto out;
	if (!http_session_affinity(call, session, &ret))
		goto out;
	if (!content || http_base64_decode(content, strlen(content), &data) < 0) {
		ret = http_reply_error(call->conn, MHD_HTTP_BAD_REQUEST, "content: expected base64");
		goto out;
	}
	fd = memfd_create("isol8-http-file", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || (data.len && write_all(fd, data.data, data.len) < 0) || lseek(fd, 0, SEEK_SET) < 0 ||
	    isol8_memfd_seal(fd, &err) < 0) {
		isol8_err_set(&err, ISOL8_E_IO, errno, "memfd");
		ret = http_reply_err(call->conn, &err);
		goto out;
	}
	if (file_send(call, FE_FILE_PUT, session, path, fd, &m, &err) < 0) {
		ret = http_reply_err(call->conn, &err);
		goto out;
	}
	isol8_msg_free(&m);
	ret = ok(call->conn);
out:
	isol8_buf_free(&data);
	json_object_put(root);
	return ret;
}

enum MHD_Result http_handle_file_get(struct http_call *call)
{
	const char *session = MHD_lookup_connection_value(call->conn, MHD_GET_ARGUMENT_KIND, "sessionId");
	const char *path = MHD_lookup_connection_value(call->conn, MHD_GET_ARGUMENT_KIND, "path");
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_buf data = ISOL8_BUF_INIT, b64 = ISOL8_BUF_INIT;
	_cleanup_close_ int fd = -1;
	struct isol8_msg m;
	enum MHD_Result ret;
	char buf[65536];
	json_object *o;

	if (!file_target(call->conn, session, path, &ret))
		return ret;
	if (!http_session_affinity(call, session, &ret))
		return ret;
	if (file_send(call, FE_FILE_GET, session, path, -1, &m, &err) < 0)
		return http_reply_err(call->conn, &err);
	fd = isol8_msg_take_fd(&m, 0);
	isol8_msg_free(&m);
	for (;;) {
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf) : 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			isol8_err_set(&err, ISOL8_E_IO, errno, "reading file from isol8d");
			isol8_buf_free(&data);
			return http_reply_err(call->conn, &err);
		}
		if (n == 0)
			break;
		if (data.len + (size_t)n > FILE_GET_MAX) {
			isol8_buf_free(&data);
			return http_reply_error(call->conn, MHD_HTTP_CONTENT_TOO_LARGE, "file too large");
		}
		isol8_buf_append(&data, buf, (size_t)n);
	}
	http_base64_encode(&b64, data.data ? data.data : "", data.len);
	o = json_object_new_object();
	json_object_object_add(o, "content", json_object_new_string_len(b64.data ? b64.data : "", (int)b64.len));
	ret = http_reply_json(call->conn, MHD_HTTP_OK, o);
	isol8_buf_free(&data);
	isol8_buf_free(&b64);
	return ret;
}

/* Stops the caller's sessions only: a key cannot clean up anyone else's containers. Images
 * are the operator's business (isol8 cleanup --images), so {"images": true} removes none. */
enum MHD_Result http_handle_cleanup(struct http_call *call)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	json_object *arr = list_sessions(call, &err), *o, *sess, *errors;
	unsigned removed = 0, failed = 0;

	if (!arr)
		return http_reply_err(call->conn, &err);
	errors = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *s = json_object_array_get_idx(arr, i), *id;
		struct isol8_err e = ISOL8_ERR_INIT;
		if (isol8_json_member(s, "id", &id) != 1 || !json_object_is_type(id, json_type_string))
			continue;
		if (stop_session(call, json_object_get_string(id), &e) < 0) {
			failed++;
			json_object_array_add(errors, json_object_new_string(e.msg));
		} else {
			removed++;
		}
	}
	json_object_put(arr);
	o = json_object_new_object();
	sess = json_object_new_object();
	json_object_object_add(sess, "removed", json_object_new_int((int)removed));
	json_object_object_add(sess, "failed", json_object_new_int((int)failed));
	json_object_object_add(sess, "errors", errors);
	json_object_object_add(o, "ok", json_object_new_boolean(failed == 0));
	json_object_object_add(o, "removed", json_object_new_int((int)removed));
	json_object_object_add(o, "sessions", sess);
	return http_reply_json(call->conn, MHD_HTTP_OK, o);
}
