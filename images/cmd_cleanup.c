/* isol8 cleanup: remove the containers an isol8d created (label org.isol8.instance, which only
 * the broker sets, at create time) and with --images the images labelled org.isol8.managed=true.
 * Containers are not selected by org.isol8.managed: the images carry it, so every container a
 * user starts from them with plain `docker run` inherits it. Nothing else is ever touched; the
 * bootstrapped FROM image has no such label. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/cleanup.h"
#include "common/xalloc.h"
#include "images/commands_images.h"
#include "images/image_build.h"
#include "images/images.h"

#define MANAGED_FILTER ISOL8_LABEL_MANAGED "=true"
#define CONTAINER_FILTER "org.isol8.instance"

static void cleanup_usage(FILE *f)
{
	fprintf(f,
		"Usage: isol8 cleanup [--force] [--dry-run] [--json] [--images] [--filter KEY=VALUE]\n"
		"       isol8 cleanup --container ID [--json] [--socket PATH]\n"
		"Remove the containers isol8d created (label " CONTAINER_FILTER "); with --images also\n"
		"the isol8 images (label " MANAGED_FILTER ").\n"
		"  --force            do not ask for confirmation\n"
		"  --dry-run          list what would be removed, remove nothing\n"
		"  --json             print what was found and removed as JSON (needs --force or --dry-run)\n"
		"  --images           also remove isol8 images\n"
		"  --filter KEY=VALUE only objects that also carry this label\n"
		"  --container ID     remove one of your containers kept by 'isol8 run --persist',\n"
		"                     through isol8d (as 'isol8 rm ID'; no access to Docker needed)\n"
		"  --socket PATH      isol8d's socket, with --container\n");
}

static const char *str_member(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		? json_object_get_string(v)
		: NULL;
}

/* "key=value" or "key" against the object's Labels map. */
static bool has_label(json_object *o, const char *filter)
{
	json_object *labels, *v;
	const char *eq = strchr(filter, '=');
	_cleanup_free_ char *key = eq ? xstrndup(filter, (size_t)(eq - filter)) : xstrdup(filter);

	if (!json_object_object_get_ex(o, "Labels", &labels) || !json_object_is_type(labels, json_type_object) ||
	    !json_object_object_get_ex(labels, key, &v))
		return false;
	return !eq || strcmp(json_object_get_string(v), eq + 1) == 0;
}

/* Keep only the entries that also match filter; returns a new array reference. */
static json_object *narrow(json_object *list, const char *filter)
{
	json_object *out = json_object_new_array();

	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *o = json_object_array_get_idx(list, i);
		if (!filter || has_label(o, filter))
			json_object_array_add(out, json_object_get(o));
	}
	return out;
}

static void print_containers(json_object *list)
{
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *c = json_object_array_get_idx(list, i), *v;
		const char *id = str_member(c, "Id"), *image = str_member(c, "Image"), *state = str_member(c, "State");
		char when[64] = "?";
		if (json_object_object_get_ex(c, "Created", &v)) {
			time_t t = (time_t)json_object_get_int64(v);
			struct tm tm;
			if (localtime_r(&t, &tm))
				strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		}
		printf("  %-7s %.12s | %s | created %s\n",
		       state && strcmp(state, "running") == 0 ? "running" : "stopped", id ? id : "?",
		       image ? image : "?", when);
	}
}

/* Tags of an image, without Docker's "<none>:<none>" placeholder. */
static size_t image_tags(json_object *img, const char **tags, size_t max)
{
	json_object *arr;
	size_t n = 0;

	if (!json_object_object_get_ex(img, "RepoTags", &arr) || !json_object_is_type(arr, json_type_array))
		return 0;
	for (size_t k = 0; k < json_object_array_length(arr) && n < max; k++) {
		const char *t = json_object_get_string(json_object_array_get_idx(arr, k));
		if (t && strcmp(t, "<none>:<none>") != 0)
			tags[n++] = t;
	}
	return n;
}

static void print_images(json_object *list)
{
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *img = json_object_array_get_idx(list, i);
		const char *tags[16], *id = str_member(img, "Id");
		size_t n = image_tags(img, tags, 16);
		printf("  image   %.12s |", id ? id + (strncmp(id, "sha256:", 7) == 0 ? 7 : 0) : "?");
		for (size_t k = 0; k < n; k++)
			printf("%s%s", k ? ", " : " ", tags[k]);
		printf("%s\n", n ? "" : " <untagged>");
	}
}

static bool confirm(const char *what)
{
	char line[16];

	printf("Remove all these %s? [y/N] ", what);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	line[strcspn(line, "\r\n")] = '\0';
	return strcmp(line, "y") == 0 || strcmp(line, "Y") == 0 || strcmp(line, "yes") == 0;
}

static int remove_containers(struct docker *d, json_object *list, size_t *failed)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	int removed = 0;

	for (size_t i = 0; i < json_object_array_length(list); i++) {
		const char *id = str_member(json_object_array_get_idx(list, i), "Id");
		if (id && docker_container_remove(d, id, true, true, &err) == 0) {
			removed++;
		} else {
			fprintf(stderr, "Failed to remove container %.12s: %s\n", id ? id : "?", err.msg);
			(*failed)++;
		}
		isol8_err_clear(&err);
	}
	return removed;
}

/* Custom images first (they are children of the base images); each by tag, so an image that
 * still backs a foreign container is refused by Docker instead of being forced away. */
static int remove_images(struct docker *d, json_object *list, size_t *failed)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	int removed = 0;

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < json_object_array_length(list); i++) {
			json_object *img = json_object_array_get_idx(list, i);
			const char *tags[16], *id = str_member(img, "Id");
			bool custom = has_label(img, ISOL8_LABEL_DEPS_HASH);
			size_t n = image_tags(img, tags, 16);
			bool ok = true;
			if (custom != (pass == 0))
				continue;
			if (n == 0 && id)
				ok = docker_image_remove(d, id, false, &err) == 0;
			for (size_t k = 0; k < n && ok; k++)
				ok = docker_image_remove(d, tags[k], false, &err) == 0;
			if (ok) {
				removed++;
			} else {
				fprintf(stderr, "Failed to remove image %s: %s\n", n ? tags[0] : (id ? id : "?"),
					err.msg);
				(*failed)++;
			}
			isol8_err_clear(&err);
		}
	}
	return removed;
}

/* --json: what was found (and, without --dry-run, what was removed), for scripts. */
static void print_json(json_object *containers, json_object *images, bool dry_run, int rcn, int rin, size_t cfail,
		       size_t ifail)
{
	json_object *o = json_object_new_object(), *cs = json_object_new_array(), *is = json_object_new_array();

	for (size_t i = 0; i < json_object_array_length(containers); i++) {
		json_object *c = json_object_array_get_idx(containers, i), *e = json_object_new_object();
		const char *id = str_member(c, "Id"), *image = str_member(c, "Image"), *state = str_member(c, "State");
		json_object_object_add(e, "id", json_object_new_string(id ? id : ""));
		json_object_object_add(e, "image", json_object_new_string(image ? image : ""));
		json_object_object_add(e, "state", json_object_new_string(state ? state : ""));
		json_object_array_add(cs, e);
	}
	for (size_t i = 0; images && i < json_object_array_length(images); i++) {
		const char *id = str_member(json_object_array_get_idx(images, i), "Id");
		json_object_array_add(is, json_object_new_string(id ? id : ""));
	}
	json_object_object_add(o, "dryRun", json_object_new_boolean(dry_run));
	json_object_object_add(o, "containers", cs);
	json_object_object_add(o, "images", is);
	json_object_object_add(o, "removedContainers", json_object_new_int(rcn));
	json_object_object_add(o, "removedImages", json_object_new_int(rin));
	json_object_object_add(o, "failed", json_object_new_int64((int64_t)(cfail + ifail)));
	puts(json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

struct cleanup_args {
	const char *filter, *container, *socket;
	bool force, with_images, dry_run, as_json;
};

/* Returns the exit status when the command ends here (--help, a usage error), else -1. */
static int parse_cleanup_args(int argc, char **argv, struct cleanup_args *a)
{
	static const struct option opts[] = {
		{"force", no_argument, NULL, 'f'},
		{"images", no_argument, NULL, 'i'},
		{"filter", required_argument, NULL, 'F'},
		{"help", no_argument, NULL, 'h'},
		{"dry-run", no_argument, NULL, 'n'},
		{"json", no_argument, NULL, 'j'},
		{"container", required_argument, NULL, 'C'},
		{"socket", required_argument, NULL, 'S'},
		{NULL, 0, NULL, 0},
	};
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			a->force = true;
			break;
		case 'i':
			a->with_images = true;
			break;
		case 'n':
			a->dry_run = true;
			break;
		case 'j':
			a->as_json = true;
			break;
		case 'F':
			a->filter = optarg;
			if (!*a->filter || *a->filter == '=') {
				fprintf(stderr, "[ERR] --filter: expected KEY or KEY=VALUE\n");
				return 2;
			}
			break;
		case 'C':
			a->container = optarg;
			break;
		case 'S':
			a->socket = optarg;
			break;
		case 'h':
			cleanup_usage(stdout);
			return 0;
		default:
			return cli_getopt_error("cleanup", argv, opts);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "[ERR] cleanup: unexpected argument: %s; see 'isol8 cleanup --help'\n", argv[optind]);
		return 2;
	}
	return -1;
}

/* Flags that belong to the other mode (one kept container through isol8d, or a sweep through
 * the engine) are refused rather than ignored. Returns 2 after the [ERR] line, else -1. */
static int mode_conflict(const struct cleanup_args *a)
{
	if (a->container && (a->force || a->with_images || a->dry_run || a->filter)) {
		fprintf(stderr, "[ERR] cleanup --container takes only --json and --socket\n");
		return 2;
	}
	if (!a->container && a->socket) {
		fprintf(stderr, "[ERR] cleanup --socket goes with --container ID\n");
		return 2;
	}
	/* The confirmation prompt would share stdout with the JSON. */
	if (!a->container && a->as_json && !a->force && !a->dry_run) {
		fprintf(stderr, "[ERR] cleanup --json needs --force or --dry-run (it cannot ask)\n");
		return 2;
	}
	return -1;
}

/* The managed containers (and with --images the managed images) that --filter keeps;
 * *images stays NULL without --images. */
static int list_managed(struct docker *d, const struct cleanup_args *a, json_object **containers, json_object **images)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	json_object *all = NULL;

	if (docker_container_list(d, CONTAINER_FILTER, true, &all, &err) < 0) {
		fprintf(stderr, "[ERR] list containers: %s\n", err.msg);
		return -1;
	}
	*containers = narrow(all, a->filter);
	json_object_put(all);
	if (!a->with_images)
		return 0;
	all = NULL;
	if (docker_image_list(d, MANAGED_FILTER, &all, &err) < 0) {
		fprintf(stderr, "[ERR] list images: %s\n", err.msg);
		return -1;
	}
	*images = narrow(all, a->filter);
	json_object_put(all);
	return 0;
}

static size_t list_len(json_object *list)
{
	return list ? json_object_array_length(list) : 0;
}

/* --json never asks: with --force it removes, with --dry-run it only reports. */
static int cleanup_json(struct docker *d, const struct cleanup_args *a, json_object *containers, json_object *images)
{
	size_t cfail = 0, ifail = 0;
	int rcn = 0, rin = 0;

	if (!a->dry_run) {
		rcn = list_len(containers) ? remove_containers(d, containers, &cfail) : 0;
		rin = list_len(images) ? remove_images(d, images, &ifail) : 0;
	}
	print_json(containers, images, a->dry_run, rcn, rin, cfail, ifail);
	return cfail || ifail ? 1 : 0;
}

/* Without --force a person has to say yes; a pipe on stdin cannot. Returns 1 to go on,
 * 0 when the answer was no, -1 when nobody could be asked. */
static int confirmed(const struct cleanup_args *a)
{
	if (a->force)
		return 1;
	if (!isatty(STDIN_FILENO)) {
		fprintf(stderr,
			"[ERR] Refusing to remove without confirmation: stdin is not a terminal (use "
			"--force)\n");
		return -1;
	}
	if (!confirm(a->with_images ? "containers and images" : "containers")) {
		printf("Cleanup cancelled\n");
		return 0;
	}
	return 1;
}

static size_t remove_reported(struct docker *d, json_object *list, const char *what,
			      int (*remove)(struct docker *, json_object *, size_t *))
{
	size_t failed = 0;
	int removed = remove(d, list, &failed);

	printf("Removed %d %s(s)", removed, what);
	if (failed)
		printf(", %zu failed", failed);
	printf("\n");
	return failed;
}

/* The listing, the dry run or the question, then the removal with a line per kind. */
static int cleanup_shown(struct docker *d, const struct cleanup_args *a, json_object *containers, json_object *images)
{
	int nc = (int)list_len(containers), ni = (int)list_len(images), ok;
	size_t failed = 0;

	if (nc == 0 && ni == 0) {
		printf(a->with_images ? "No isol8 containers or images found\n" : "No isol8 containers found\n");
		return 0;
	}
	print_containers(containers);
	if (images)
		print_images(images);
	if (a->dry_run) {
		printf("Dry run: nothing removed (%d container(s), %d image(s) would be)\n", nc, ni);
		return 0;
	}
	ok = confirmed(a);
	if (ok < 0)
		return 1;
	if (ok == 0)
		return 0;
	if (nc)
		failed += remove_reported(d, containers, "container", remove_containers);
	if (ni)
		failed += remove_reported(d, images, "image", remove_images);
	return failed ? 1 : 0;
}

int cmd_cleanup(int argc, char **argv)
{
	struct cleanup_args a = {0};
	json_object *containers = NULL, *images = NULL;
	struct docker *d = NULL;
	int rc;

	rc = parse_cleanup_args(argc, argv, &a);
	if (rc < 0)
		rc = mode_conflict(&a);
	if (rc >= 0)
		return rc;
	/* One kept container of the caller's, through isol8d: the broker checks whose it is. */
	if (a.container)
		return kept_remove(a.socket, a.container, a.as_json);
	d = isol8_images_connect();
	if (!d)
		return 1;
	if (list_managed(d, &a, &containers, &images) < 0)
		rc = 1;
	else if (a.as_json)
		rc = cleanup_json(d, &a, containers, images);
	else
		rc = cleanup_shown(d, &a, containers, images);
	json_object_put(containers);
	json_object_put(images);
	docker_close(d);
	return rc;
}
