/* Building base and custom images, with the CLI's progress lines. */
#include "config.h"
#include "images/image_build.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "common/tar.h"
#include "policy/policy.h"

/* One build's log: its last lines (printed when the build fails), the step shown, and the
 * images its steps created. */
struct build_log {
	char *lines[ISOL8_BUILD_LOG_TAIL];
	size_t next, count;
	const char *what;
	bool tty, shown; /* on a terminal the step line is rewritten in place; shown: one is open */
	bool skip_image; /* the current step made no image: FROM names an existing one, or cached */
	struct isol8_strlist *made;
};

int isol8_build_step(const char *line, int *n, int *m, const char **instr)
{
	int a, b, used = 0;

	if (sscanf(line, "Step %d/%d :%n", &a, &b, &used) != 2 || used == 0 || a < 1 || b < a)
		return 0;
	line += used;
	while (*line == ' ')
		line++;
	*n = a;
	*m = b;
	*instr = line;
	return 1;
}

int isol8_build_step_image(const char *line, char id[65])
{
	size_t len;

	if (strncmp(line, " ---> ", 6) != 0)
		return 0;
	line += 6;
	len = strspn(line, "0123456789abcdef");
	if (len < 12 || len > 64 || line[len] != '\0')
		return 0;
	memcpy(id, line, len);
	id[len] = '\0';
	return 1;
}

/* In place: the build's own colour escapes ("\033[91m") dropped, other control characters
 * made spaces, so that nothing of a build log drives the terminal. */
static char *printable(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (*r == '\033' && r[1] == '[') {
			r += 2;
			while (*r && (isdigit((unsigned char)*r) || *r == ';'))
				r++;
			if (!*r)
				break;
			continue;
		}
		*w++ = (unsigned char)*r < 0x20 || *r == 0x7f ? ' ' : *r;
	}
	*w = '\0';
	return s;
}

static int term_columns(void)
{
	struct winsize ws;

	return ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20 ? ws.ws_col : 80;
}

/* End the rewritten step line before another line is printed. */
static void step_line_close(struct build_log *t)
{
	if (t->tty && t->shown)
		fputs("\r\033[K", stdout);
	t->shown = false;
	fflush(stdout);
}

static void show_step(struct build_log *t, int n, int m, const char *instr)
{
	/* No control characters of the Dockerfile's text reach the terminal. */
	_cleanup_free_ char *clean = printable(xstrdup(instr));
	if (!t->tty) {
		printf("[..] %s: step %d/%d: %s\n", t->what, n, m, clean);
		fflush(stdout);
		return;
	}
	/* The line above ("[..] what: building") names the image: the step gets the width. */
	_cleanup_free_ char *line = xasprintf("[..] step %d/%d: %s", n, m, clean);
	size_t cols = (size_t)term_columns() - 1;
	if (strlen(line) > cols)
		line[cols] = '\0';
	printf("\r\033[K%s", line);
	fflush(stdout);
	t->shown = true;
}

static void log_cb(const char *line, void *ctx)
{
	struct build_log *t = ctx;
	const char *instr;
	char id[65];
	int n, m;

	log_debug("build: %s", line);
	if (isol8_build_step(line, &n, &m, &instr)) {
		t->skip_image = strncasecmp(instr, "FROM ", 5) == 0;
		show_step(t, n, m, instr);
	} else if (strcmp(line, " ---> Using cache") == 0) {
		t->skip_image = true;
	} else if (isol8_build_step_image(line, id)) {
		if (!t->skip_image && t->made)
			isol8_strlist_add(t->made, id);
		t->skip_image = true;
	}
	free(t->lines[t->next]);
	t->lines[t->next] = xstrdup(line);
	t->next = (t->next + 1) % ISOL8_BUILD_LOG_TAIL;
	if (t->count < ISOL8_BUILD_LOG_TAIL)
		t->count++;
}

static void tail_dump_free(struct build_log *t, bool dump)
{
	size_t start = (t->next + ISOL8_BUILD_LOG_TAIL - t->count) % ISOL8_BUILD_LOG_TAIL;

	step_line_close(t);
	for (size_t i = 0; i < t->count; i++) {
		size_t k = (start + i) % ISOL8_BUILD_LOG_TAIL;
		if (dump)
			fprintf(stderr, "    | %s\n", printable(t->lines[k]));
	}
	for (size_t i = 0; i < ISOL8_BUILD_LOG_TAIL; i++) {
		free(t->lines[i]);
		t->lines[i] = NULL;
	}
	t->count = t->next = 0;
}

void isol8_build_run_init(struct isol8_build_run *r)
{
	memset(r, 0, sizeof *r);
	r->images = json_object_new_array();
}

/* One entry of run->images. */
static void report(struct isol8_build_run *run, const char *image, int rt, const char *kind,
		   const struct isol8_strlist *pkgs, const char *status, double secs, const char *error)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "image", json_object_new_string(image));
	json_object_object_add(o, "runtime", json_object_new_string(isol8_runtime_name(rt)));
	json_object_object_add(o, "kind", json_object_new_string(kind));
	if (pkgs) {
		json_object *a = json_object_new_array();
		for (size_t i = 0; i < pkgs->n; i++)
			json_object_array_add(a, json_object_new_string(pkgs->v[i]));
		json_object_object_add(o, "packages", a);
	}
	json_object_object_add(o, "status", json_object_new_string(status));
	if (strcmp(status, "built") == 0) {
		char num[32];
		snprintf(num, sizeof num, "%.1f", secs);
		json_object_object_add(o, "seconds", json_object_new_double_s(strtod(num, NULL), num));
	}
	if (error)
		json_object_object_add(o, "error", json_object_new_string(error));
	json_object_array_add(run->images, o);
}

struct docker *isol8_images_connect(void)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct docker *d = docker_open(NULL, &err);

	if (d && docker_ping(d, &err) == 0)
		return d;
	fprintf(stderr, "[ERR] Docker is not running or not installed.\n      %s\n", err.msg);
	docker_close(d);
	return NULL;
}

/* Inspect name: 1 found (*out set), 0 absent, -1 other failure. */
static int inspect_opt(struct docker *d, const char *name, json_object **out, struct isol8_err *err)
{
	*out = NULL;
	if (docker_image_inspect(d, name, out, err) == 0)
		return 1;
	if (err->code == ISOL8_E_NOTFOUND) {
		isol8_err_clear(err);
		return 0;
	}
	return -1;
}

static char *image_id(json_object *img)
{
	json_object *v;

	return json_object_object_get_ex(img, "Id", &v) ? xstrdup(json_object_get_string(v)) : NULL;
}

/* After a rebuild the old image lost its tag; remember it for isol8_remove_stale. */
static void note_replaced(struct docker *d, const char *tag, const char *old_id, struct isol8_strlist *stale)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	json_object *img = NULL;
	_cleanup_free_ char *new_id = NULL;

	if (!old_id || inspect_opt(d, tag, &img, &err) != 1)
		return;
	new_id = image_id(img);
	json_object_put(img);
	if (new_id && strcmp(new_id, old_id) != 0)
		isol8_strlist_add(stale, old_id);
}

static int run_build(struct docker *d, const struct docker_build_opts *bo, const struct isol8_buf *tar,
		     const char *what, struct isol8_build_run *run, double *secs, struct isol8_err *err)
{
	struct build_log tail = {.what = what, .tty = isatty(STDOUT_FILENO) == 1, .made = &run->made};
	double t0 = clock_mono_s();
	int r;

	printf("[..] %s: building\n", what);
	fflush(stdout);
	r = docker_image_build(d, bo, tar->data, tar->len, log_cb, &tail, err);
	step_line_close(&tail);
	if (r < 0) {
		fprintf(stderr, "[ERR] %s: %s\n", what, err->msg);
		tail_dump_free(&tail, true);
		return -1;
	}
	tail_dump_free(&tail, false);
	*secs = clock_mono_s() - t0;
	return 0;
}

int isol8_from_image_id(struct docker *d, char **id, struct isol8_err *err)
{
	json_object *img = NULL;
	int found = inspect_opt(d, ISOL8_BOOTSTRAP_REPO ":" ISOL8_BOOTSTRAP_TAG, &img, err);

	*id = NULL;
	if (found == 1) {
		*id = image_id(img);
		json_object_put(img);
	}
	return found;
}

int isol8_prepare_base_context(struct docker *d, const struct isol8_strlist *ca_files, struct isol8_base_context *ctx,
			       struct isol8_err *err)
{
	_cleanup_free_ char *dir = NULL, *from = NULL;
	struct isol8_strlist found = {0};
	int r;

	r = isol8_from_image_id(d, &from, err);
	if (r == 0)
		return isol8_err_set(err, ISOL8_E_NOTFOUND, 0,
				     "base image " ISOL8_BOOTSTRAP_REPO ":" ISOL8_BOOTSTRAP_TAG
				     " is missing (run isol8 setup --bootstrap)");
	if (r < 0 || isol8_image_data_dir(&dir, err) < 0)
		return -1;
	if (!ca_files || ca_files->n == 0) {
		if (isol8_ca_default_list("/usr/local/share/ca-certificates", &found, err) < 0)
			return -1;
		ca_files = &found;
	}
	r = isol8_base_context_make(dir, ca_files, from, ctx, err);
	isol8_strlist_free(&found);
	return r;
}

int isol8_build_base(struct docker *d, int rt, const struct isol8_base_context *ctx, bool force,
		     struct isol8_build_run *run, struct isol8_err *err)
{
	const char *name = isol8_runtime_name(rt);
	const char *tag = isol8_image_base_tag(rt);
	json_object *img = NULL;
	_cleanup_free_ char *old_id = NULL, *l_runtime = NULL, *l_hash = NULL;
	double secs = 0;
	int found;

	if (!tag)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "unknown runtime %d", rt);
	found = inspect_opt(d, tag, &img, err);
	if (found < 0) {
		fprintf(stderr, "[ERR] %s: %s\n", name, err->msg);
		report(run, tag, rt, "base", NULL, "failed", 0, err->msg);
		return -1;
	}
	if (found) {
		const char *h = isol8_image_label(img, ISOL8_LABEL_BUILD_HASH);
		old_id = image_id(img);
		if (!force && h && strcmp(h, ctx->hash) == 0) {
			json_object_put(img);
			printf("[OK] %s: up to date\n", name);
			report(run, tag, rt, "base", NULL, "up-to-date", 0, NULL);
			return 0;
		}
		json_object_put(img);
	}
	l_runtime = xasprintf("%s=%s", ISOL8_LABEL_RUNTIME, name);
	l_hash = xasprintf("%s=%s", ISOL8_LABEL_BUILD_HASH, ctx->hash);
	const char *labels[] = {ISOL8_LABEL_MANAGED "=true", l_runtime, l_hash, NULL};
	struct docker_build_opts bo = {.tag = tag, .target = name, .labels = labels, .nocache = force, .pull = false};
	if (run_build(d, &bo, &ctx->tar, name, run, &secs, err) < 0) {
		report(run, tag, rt, "base", NULL, "failed", 0, err->msg);
		return -1;
	}
	printf("[OK] %s: built in %.1f s\n", name, secs);
	report(run, tag, rt, "base", NULL, "built", secs, NULL);
	note_replaced(d, tag, old_id, &run->stale);
	return 0;
}

/* `isol8 setup` keeps one custom image per runtime: drop the setup-made ones for other deps. */
static void remove_old_custom(struct docker *d, int rt, const char *keep_hash)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	_cleanup_free_ char *filter = xasprintf("%s=%s", ISOL8_LABEL_RUNTIME, isol8_runtime_name(rt));
	json_object *list = NULL;

	if (docker_image_list(d, filter, &list, &err) < 0) {
		log_warn("list old custom images: %s", err.msg);
		return;
	}
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *img = json_object_array_get_idx(list, i), *labels, *v, *tags;
		const char *kind = NULL, *hash = NULL;
		if (json_object_object_get_ex(img, "Labels", &labels) &&
		    json_object_is_type(labels, json_type_object)) {
			if (json_object_object_get_ex(labels, ISOL8_LABEL_CUSTOM, &v))
				kind = json_object_get_string(v);
			if (json_object_object_get_ex(labels, ISOL8_LABEL_DEPS_HASH, &v))
				hash = json_object_get_string(v);
		}
		if (!kind || strcmp(kind, "setup") != 0 || !hash || strcmp(hash, keep_hash) == 0)
			continue;
		if (!json_object_object_get_ex(img, "RepoTags", &tags) || !json_object_is_type(tags, json_type_array))
			continue;
		/* Untag by name: an image also tagged by the user elsewhere keeps that tag. */
		for (size_t k = 0; k < json_object_array_length(tags); k++) {
			const char *t = json_object_get_string(json_object_array_get_idx(tags, k));
			if (!t || strncmp(t, ISOL8_IMAGE_REPO ":", strlen(ISOL8_IMAGE_REPO) + 1) != 0)
				continue;
			if (docker_image_remove(d, t, false, &err) == 0)
				printf("[OK] %s: removed (dependencies changed)\n", t);
			else
				fprintf(stderr, "[WARN] %s: not removed: %s\n", t, err.msg);
		}
	}
	json_object_put(list);
}

/* A custom image step that failed before the engine's build printed anything: one [ERR] line. */
static int custom_failed(struct isol8_build_run *run, const char *tag, int rt, const struct isol8_strlist *pkgs,
			 const struct isol8_err *err)
{
	fprintf(stderr, "[ERR] %s: %s\n", tag, err->msg);
	report(run, tag, rt, "custom", pkgs, "failed", 0, err->msg);
	return -1;
}

/* The base must exist: its build hash ties the custom image to the base it extends. */
static int base_build_hash(struct docker *d, int rt, char **out, struct isol8_err *err)
{
	json_object *img = NULL;
	const char *bh;
	int found = inspect_opt(d, isol8_image_base_tag(rt), &img, err);

	if (found <= 0) {
		if (found == 0)
			isol8_err_set(err, ISOL8_E_NOTFOUND, 0, "base image %s is missing (run isol8 setup)",
				      isol8_image_base_tag(rt));
		return -1;
	}
	bh = isol8_image_label(img, ISOL8_LABEL_BUILD_HASH);
	*out = xstrdup(bh ? bh : "");
	json_object_put(img);
	return 0;
}

/* 1 when tag already holds these inputs on this base, 0 when it is missing or stale (*old_id
 * then names the image a rebuild replaces), -1 with err. */
static int custom_up_to_date(struct docker *d, const char *tag, const char *hash, const char *base_hash, char **old_id,
			     struct isol8_err *err)
{
	json_object *img = NULL;
	int found = inspect_opt(d, tag, &img, err);
	const char *dh, *bh;
	bool same;

	if (found <= 0)
		return found;
	dh = isol8_image_label(img, ISOL8_LABEL_DEPS_HASH);
	bh = isol8_image_label(img, ISOL8_LABEL_BUILD_HASH);
	*old_id = image_id(img);
	same = dh && strcmp(dh, hash) == 0 && bh && strcmp(bh, base_hash) == 0;
	json_object_put(img);
	return same;
}

static int custom_context(int rt, const struct isol8_strlist *pkgs, const struct isol8_custom_opts *o, bool pip_host,
			  struct isol8_buf *tar, struct isol8_err *err)
{
	_cleanup_free_ char *dockerfile = isol8_custom_dockerfile(rt, pkgs, pip_host, o->setup != NULL);
	struct isol8_tar_entry entries[2] = {
		{.path = "Dockerfile", .data = dockerfile, .len = strlen(dockerfile), .mode = 0644},
		{.path = "setup.sh", .data = o->setup, .len = o->setup ? strlen(o->setup) : 0, .mode = 0755},
	};

	return isol8_tar_build(entries, o->setup ? 2 : 1, tar, err);
}

/* The labels record what the image was built from (base build hash, inputs hash, packages), so
 * the next setup or build can tell whether it is current. */
static int build_custom_image(struct docker *d, int rt, const struct isol8_strlist *pkgs,
			      const struct isol8_custom_opts *o, const char *tag, const char *hash,
			      const char *base_hash, const char *host, const struct isol8_buf *tar, const char *what,
			      struct isol8_build_run *run, double *secs, struct isol8_err *err)
{
	_cleanup_free_ char *l_runtime = xasprintf("%s=%s", ISOL8_LABEL_RUNTIME, isol8_runtime_name(rt));
	_cleanup_free_ char *l_build = xasprintf("%s=%s", ISOL8_LABEL_BUILD_HASH, base_hash);
	_cleanup_free_ char *l_deps_hash = xasprintf("%s=%s", ISOL8_LABEL_DEPS_HASH, hash);
	_cleanup_free_ char *deps_csv = isol8_strlist_join(pkgs, ",");
	_cleanup_free_ char *l_deps = xasprintf("%s=%s", ISOL8_LABEL_DEPS, deps_csv);
	_cleanup_free_ char *l_kind = xasprintf("%s=%s", ISOL8_LABEL_CUSTOM, o->kind);
	_cleanup_free_ char *a_index = NULL, *a_host = NULL;
	const char *labels[] = {ISOL8_LABEL_MANAGED "=true",
				l_runtime,
				l_build,
				l_deps_hash,
				l_deps,
				l_kind,
				o->setup ? ISOL8_LABEL_SETUP "=1" : NULL,
				NULL};
	const char *args[3] = {NULL, NULL, NULL};

	if (host) {
		a_index = xasprintf("PIP_INDEX_URL=%s", o->pip_index_url);
		a_host = xasprintf("PIP_TRUSTED_HOST=%s", host);
		args[0] = a_index;
		args[1] = a_host;
	}
	struct docker_build_opts bo = {
		.tag = tag, .labels = labels, .buildargs = host ? args : NULL, .nocache = o->force, .pull = false};
	return run_build(d, &bo, tar, what, run, secs, err);
}

int isol8_build_custom(struct docker *d, int rt, const struct isol8_strlist *pkgs, const struct isol8_custom_opts *o,
		       char **tag_out, struct isol8_build_run *run, struct isol8_err *err)
{
	char hash[ISOL8_SHA256_HEX];
	_cleanup_free_ char *tag = NULL, *base_hash = NULL, *old_id = NULL, *deps = NULL, *host = NULL, *what = NULL;
	struct isol8_buf tar = ISOL8_BUF_INIT;
	double secs = 0;
	int r;

	*tag_out = NULL;
	if (!isol8_image_base_tag(rt))
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "unknown runtime %d", rt);
	for (size_t i = 0; i < pkgs->n; i++)
		if (isol8_pkg_validate(rt, pkgs->v[i], err) < 0)
			return -1;
	if (o->pip_index_url && rt == ISOL8_RT_PYTHON && isol8_pip_index_host(o->pip_index_url, &host, err) < 0)
		return -1;
	isol8_deps_hash(rt, pkgs, o->setup, hash);
	tag = isol8_image_custom_tag(rt, hash);
	deps = isol8_strlist_join(pkgs, ", ");
	what = xasprintf("%s (%s: %s)", tag, isol8_runtime_name(rt), pkgs->n ? deps : "setup script only");

	if (base_build_hash(d, rt, &base_hash, err) < 0)
		return custom_failed(run, tag, rt, pkgs, err);
	r = custom_up_to_date(d, tag, hash, base_hash, &old_id, err);
	if (r < 0)
		return custom_failed(run, tag, rt, pkgs, err);
	if (r > 0 && !o->force) {
		printf("[OK] %s: up to date\n", what);
		report(run, tag, rt, "custom", pkgs, "up-to-date", 0, NULL);
	} else {
		if (custom_context(rt, pkgs, o, host != NULL, &tar, err) < 0)
			return custom_failed(run, tag, rt, pkgs, err);
		r = build_custom_image(d, rt, pkgs, o, tag, hash, base_hash, host, &tar, what, run, &secs, err);
		isol8_buf_free(&tar);
		if (r < 0) {
			report(run, tag, rt, "custom", pkgs, "failed", 0, err->msg);
			return -1;
		}
		printf("[OK] %s: built in %.1f s\n", what, secs);
		report(run, tag, rt, "custom", pkgs, "built", secs, NULL);
		note_replaced(d, tag, old_id, &run->stale);
	}
	/* setup keeps one custom image per runtime; build leaves the others alone. */
	if (strcmp(o->kind, "setup") == 0)
		remove_old_custom(d, rt, hash);
	*tag_out = steal_ptr(&tag);
	return 0;
}

/* An image the builds made that nothing tags: a stage of a multi-stage build (COPY --from
 * keeps no reference to it) or a step of a failed build. Tagged ones and the layers of the
 * images built are refused by Docker (a child image uses them) or skipped here. */
static void remove_untagged(struct docker *d, const char *id)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	json_object *img = NULL, *tags;

	if (inspect_opt(d, id, &img, &err) != 1)
		return;
	bool tagged = json_object_object_get_ex(img, "RepoTags", &tags) && json_object_is_type(tags, json_type_array) &&
		json_object_array_length(tags) > 0;
	json_object_put(img);
	if (tagged)
		return;
	if (docker_image_remove(d, id, false, &err) < 0)
		log_debug("keep intermediate image %.12s: %s", id, err.msg);
	else
		log_debug("removed intermediate image %.12s", id);
}

void isol8_build_run_finish(struct docker *d, struct isol8_build_run *run)
{
	struct isol8_err err = ISOL8_ERR_INIT;

	for (size_t i = 0; i < run->stale.n; i++) {
		if (docker_image_remove(d, run->stale.v[i], false, &err) < 0)
			log_debug("keep replaced image %.19s: %s", run->stale.v[i], err.msg);
		isol8_err_clear(&err);
	}
	/* Newest first: a later step's image is the child that keeps an earlier one. */
	for (size_t i = run->made.n; i-- > 0;)
		remove_untagged(d, run->made.v[i]);
	isol8_strlist_free(&run->stale);
	isol8_strlist_free(&run->made);
}
