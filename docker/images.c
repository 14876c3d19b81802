/* Image endpoints: list, inspect, remove, tag, build, import. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/xalloc.h"
#include "docker/http.h"

int docker_image_list(struct docker *d, const char *label, json_object **out, struct isol8_err *err)
{
	_cleanup_free_ char *f = docker_label_filter(label);
	_cleanup_free_ char *path = xasprintf("/images/json?all=0%s", f);

	return docker_call_json(d, "GET", path, NULL, out, err);
}

int docker_image_inspect(struct docker *d, const char *name, json_object **out, struct isol8_err *err)
{
	_cleanup_free_ char *n = docker_path_arg("image", name, err);
	_cleanup_free_ char *path = NULL;

	if (!n)
		return -1;
	path = xasprintf("/images/%s/json", n);
	return docker_call_json(d, "GET", path, NULL, out, err);
}

int docker_image_remove(struct docker *d, const char *name, bool force, struct isol8_err *err)
{
	_cleanup_free_ char *n = docker_path_arg("image", name, err);
	_cleanup_free_ char *path = NULL;

	if (!n)
		return -1;
	path = xasprintf("/images/%s?force=%d&noprune=0", n, force ? 1 : 0);
	return docker_call_json(d, "DELETE", path, NULL, NULL, err);
}

int docker_image_tag(struct docker *d, const char *source, const char *repo, const char *tag, struct isol8_err *err)
{
	_cleanup_free_ char *n = docker_path_arg("image", source, err);
	_cleanup_free_ char *r = NULL, *t = NULL, *path = NULL;

	if (!n)
		return -1;
	if (!repo || !*repo)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "image tag: empty repository");
	r = docker_escape(repo);
	t = docker_escape(tag ? tag : "");
	path = xasprintf("/images/%s/tag?repo=%s%s%s", n, r, tag && *tag ? "&tag=" : "", tag && *tag ? t : "");
	return docker_call_json(d, "POST", path, NULL, NULL, err);
}

/* NULL-terminated "k=v" list -> escaped JSON object {"k":"v"}. need_eq: "k" alone is an error
 * (build args), otherwise it maps to "" (labels). */
static int kv_json(const char *what, const char *const *list, bool need_eq, char **out, struct isol8_err *err)
{
	json_object *o = json_object_new_object();

	for (; list && *list; list++) {
		const char *eq = strchr(*list, '=');
		_cleanup_free_ char *k = NULL;

		if ((!eq && need_eq) || eq == *list || !**list) {
			json_object_put(o);
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "invalid %s \"%s\": expected KEY=VALUE", what,
					     *list);
		}
		k = eq ? xstrndup(*list, (size_t)(eq - *list)) : xstrdup(*list);
		json_object_object_add(o, k, json_object_new_string(eq ? eq + 1 : ""));
	}
	*out = docker_escape(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return 0;
}

/* Appends "?key=value" for the first parameter, "&key=value" after. */
static void add_param(struct isol8_buf *q, const char *key, const char *value)
{
	_cleanup_free_ char *v = docker_escape(value);

	isol8_buf_printf(q, "%c%s=%s", memchr(q->data, '?', q->len) ? '&' : '?', key, v);
}

int docker_image_build(struct docker *d, const struct docker_build_opts *o, const void *context_tar, size_t context_len,
		       docker_log_cb cb, void *ctx, struct isol8_err *err)
{
	struct isol8_buf q = ISOL8_BUF_INIT;
	_cleanup_free_ char *labels = NULL, *args = NULL;
	struct docker_call call = {.method = "POST",
				   .body_fd = -1,
				   .content_type = "application/x-tar",
				   .progress = true,
				   .log_cb = cb,
				   .log_ctx = ctx};
	int r;

	if (!o->tag || !*o->tag)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "image build: a tag is required");
	if (kv_json("label", o->labels, false, &labels, err) < 0 ||
	    kv_json("build arg", o->buildargs, true, &args, err) < 0)
		return -1;
	isol8_buf_puts(&q, "/build");
	add_param(&q, "t", o->tag);
	if (o->target && *o->target)
		add_param(&q, "target", o->target);
	add_param(&q, "dockerfile", o->dockerfile && *o->dockerfile ? o->dockerfile : "Dockerfile");
	/* labels/args are already escaped JSON. pull=0 by default: FROM images are curated locally. */
	isol8_buf_printf(&q, "&labels=%s&buildargs=%s&nocache=%d&pull=%d&rm=1&forcerm=1", labels, args,
			 o->nocache ? 1 : 0, o->pull ? 1 : 0);
	call.path = q.data;
	call.body = context_tar ? context_tar : "";
	call.body_len = context_tar ? context_len : 0;
	r = docker_call_run(d, &call, err);
	docker_call_free(&call);
	isol8_buf_free(&q);
	return r < 0 ? isol8_err_wrap(err, "build %s", o->tag) : 0;
}

int docker_image_import(struct docker *d, int tar_fd, const char *repo, const char *tag, const char *const *changes,
			struct isol8_err *err)
{
	struct isol8_buf q = ISOL8_BUF_INIT;
	struct docker_call call = {
		.method = "POST", .body_fd = tar_fd, .content_type = "application/x-tar", .progress = true};
	int r;

	if (tar_fd < 0)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "image import: no input");
	if (!repo || !*repo)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "image import: a repository name is required");
	isol8_buf_puts(&q, "/images/create");
	add_param(&q, "fromSrc", "-");
	add_param(&q, "repo", repo);
	if (tag && *tag)
		add_param(&q, "tag", tag);
	for (; changes && *changes; changes++)
		add_param(&q, "changes", *changes);
	call.path = q.data;
	r = docker_call_run(d, &call, err);
	docker_call_free(&call);
	isol8_buf_free(&q);
	return r < 0 ? isol8_err_wrap(err, "import %s", repo) : 0;
}
