/* Container endpoints: create, start, inspect, kill, remove, list, archive in/out. */
#include "config.h"

#include <string.h>

#include "common/cleanup.h"
#include "common/xalloc.h"
#include "docker/http.h"

int docker_container_create(struct docker *d, const char *name, json_object *body, char id_out[65],
			    struct isol8_err *err)
{
	_cleanup_free_ char *path = NULL;
	json_object *ans = NULL;
	int r;

	if (!body)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "container create: no body");
	if (name) {
		_cleanup_free_ char *n = docker_path_arg("container", name, err);
		if (!n)
			return -1;
		path = xasprintf("/containers/create?name=%s", n);
	} else {
		path = xstrdup("/containers/create");
	}
	r = docker_call_json(d, "POST", path, body, &ans, err);
	if (r == 0)
		r = docker_copy_id(ans, id_out, err);
	json_object_put(ans);
	return r;
}

static int simple_post(struct docker *d, const char *id, const char *fmt_tail, const char *arg, struct isol8_err *err)
{
	_cleanup_free_ char *n = docker_path_arg("container", id, err);
	_cleanup_free_ char *a = NULL, *path = NULL;
	struct docker_call call = {
		.method = "POST", .body_fd = -1, .max_response = 65536, .timeout_ms = DOCKER_JSON_TIMEOUT_MS};
	int r;

	if (!n)
		return -1;
	a = docker_escape(arg ? arg : "");
	path = xasprintf("/containers/%s/%s%s", n, fmt_tail, a);
	call.path = path;
	r = docker_call_run(d, &call, err);
	docker_call_free(&call);
	return r;
}

int docker_container_start(struct docker *d, const char *id, struct isol8_err *err)
{
	/* 304 "already started" is fine: the caller wanted it running. */
	return simple_post(d, id, "start", NULL, err);
}

int docker_container_kill(struct docker *d, const char *id, const char *signal, struct isol8_err *err)
{
	return simple_post(d, id, "kill?signal=", signal && *signal ? signal : "SIGKILL", err);
}

int docker_container_inspect(struct docker *d, const char *id, json_object **out, struct isol8_err *err)
{
	_cleanup_free_ char *n = docker_path_arg("container", id, err);
	_cleanup_free_ char *path = NULL;

	if (!n)
		return -1;
	path = xasprintf("/containers/%s/json", n);
	return docker_call_json(d, "GET", path, NULL, out, err);
}

int docker_container_remove(struct docker *d, const char *id, bool force, bool ignore_missing, struct isol8_err *err)
{
	_cleanup_free_ char *n = docker_path_arg("container", id, err);
	_cleanup_free_ char *path = NULL;
	struct docker_call call = {
		.method = "DELETE", .body_fd = -1, .max_response = 65536, .timeout_ms = DOCKER_JSON_TIMEOUT_MS};
	long status;
	int r;

	if (!n)
		return -1;
	path = xasprintf("/containers/%s?force=%d&v=1", n, force ? 1 : 0);
	call.path = path;
	r = docker_call_run(d, &call, err);
	status = call.status;
	docker_call_free(&call);
	/* 409 "removal ... already in progress": someone else (an admin's docker rm -f, cleanup)
	 * is removing it, and it will be gone as surely as if we had. */
	if (r < 0 && ignore_missing && err &&
	    (err->code == ISOL8_E_NOTFOUND || (status == 409 && strstr(err->msg, "already in progress")))) {
		isol8_err_clear(err);
		return 0;
	}
	return r;
}

int docker_container_list(struct docker *d, const char *label, bool all, json_object **out, struct isol8_err *err)
{
	_cleanup_free_ char *f = docker_label_filter(label);
	_cleanup_free_ char *path = xasprintf("/containers/json?all=%d%s", all ? 1 : 0, f);

	return docker_call_json(d, "GET", path, NULL, out, err);
}

static char *archive_path(const char *id, const char *path, struct isol8_err *err)
{
	_cleanup_free_ char *n = docker_path_arg("container", id, err);
	_cleanup_free_ char *p = NULL;

	if (!n)
		return NULL;
	if (!path || path[0] != '/') {
		isol8_err_set(err, ISOL8_E_USAGE, 0, "archive path \"%s\" must be absolute", path ? path : "");
		return NULL;
	}
	p = docker_escape(path);
	return xasprintf("/containers/%s/archive?path=%s", n, p);
}

int docker_container_put_archive(struct docker *d, const char *id, const char *path, const void *tar, size_t len,
				 struct isol8_err *err)
{
	_cleanup_free_ char *p = archive_path(id, path, err);
	struct docker_call call = {.method = "PUT",
				   .body_fd = -1,
				   .content_type = "application/x-tar",
				   .max_response = 65536,
				   .timeout_ms = DOCKER_JSON_TIMEOUT_MS};
	int r;

	if (!p)
		return -1;
	call.path = p;
	call.body = tar ? tar : "";
	call.body_len = tar ? len : 0;
	r = docker_call_run(d, &call, err);
	docker_call_free(&call);
	return r;
}

int docker_container_get_archive(struct docker *d, const char *id, const char *path, struct isol8_buf *out, size_t max,
				 struct isol8_err *err)
{
	_cleanup_free_ char *p = archive_path(id, path, err);
	struct docker_call call = {
		.method = "GET", .body_fd = -1, .max_response = max, .timeout_ms = DOCKER_JSON_TIMEOUT_MS};
	int r;

	if (!p)
		return -1;
	if (max == 0)
		return isol8_err_set(err, ISOL8_E_LIMIT, 0, "archive size limit is zero");
	call.path = p;
	r = docker_call_run(d, &call, err);
	if (r == 0) {
		/* Hand the buffer over rather than copying up to max bytes. */
		isol8_buf_free(out);
		*out = call.resp;
		call.resp = (struct isol8_buf)ISOL8_BUF_INIT;
	}
	docker_call_free(&call);
	return r;
}
