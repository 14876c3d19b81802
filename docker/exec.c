/* Exec endpoints that are plain HTTP calls (create, inspect); start is in hijack.c. */
#include "config.h"

#include <string.h>

#include "common/cleanup.h"
#include "common/xalloc.h"
#include "docker/http.h"

int docker_exec_create(struct docker *d, const char *container_id, json_object *body, char id_out[65],
		       struct isol8_err *err)
{
	_cleanup_free_ char *n = docker_path_arg("container", container_id, err);
	_cleanup_free_ char *path = NULL;
	json_object *ans = NULL;
	int r;

	if (!n)
		return -1;
	if (!body)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "exec create: no body");
	path = xasprintf("/containers/%s/exec", n);
	r = docker_call_json(d, "POST", path, body, &ans, err);
	if (r == 0)
		r = docker_copy_id(ans, id_out, err);
	json_object_put(ans);
	return r;
}

int docker_exec_inspect(struct docker *d, const char *exec_id, bool *running, int *exit_code, int *pid,
			struct isol8_err *err)
{
	_cleanup_free_ char *n = docker_path_arg("exec", exec_id, err);
	_cleanup_free_ char *path = NULL;
	json_object *ans = NULL, *v;
	bool run = false;
	int code = -1, p = 0;

	if (!n)
		return -1;
	path = xasprintf("/exec/%s/json", n);
	if (docker_call_json(d, "GET", path, NULL, &ans, err) < 0)
		return -1;
	if (!json_object_is_type(ans, json_type_object) || !json_object_object_get_ex(ans, "Running", &v) ||
	    !json_object_is_type(v, json_type_boolean)) {
		json_object_put(ans);
		return isol8_err_set(err, ISOL8_E_DOCKER, 0, "exec inspect: malformed answer from Docker");
	}
	run = json_object_get_boolean(v);
	/* ExitCode is null (or 0) while running; only trust it once the process is gone. */
	if (!run && json_object_object_get_ex(ans, "ExitCode", &v) && json_object_is_type(v, json_type_int))
		code = json_object_get_int(v);
	if (json_object_object_get_ex(ans, "Pid", &v) && json_object_is_type(v, json_type_int))
		p = json_object_get_int(v);
	json_object_put(ans);
	if (running)
		*running = run;
	if (exit_code)
		*exit_code = code;
	if (pid)
		*pid = p;
	return 0;
}
