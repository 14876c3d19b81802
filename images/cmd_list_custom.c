/* isol8 list-custom [--json]: the custom images made by `isol8 setup` (with packages) and
 * `isol8 build`, i.e. every image labelled org.isol8.custom, whatever its tag. (The original
 * showed only images whose first tag starts with "isol8", which hid `isol8 build --tag
 * my-python-ml`.) */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/parse.h"
#include "common/xalloc.h"
#include "images/commands_images.h"
#include "images/image_build.h"
#include "images/images.h"

static void usage(FILE *f)
{
	fputs("Usage: isol8 list-custom [--json]\n"
	      "List the custom images (made by 'isol8 setup' with packages, or 'isol8 build').\n"
	      "  --json   one JSON array: tags, id, runtime, dependencies, setup, kind, created, size\n",
	      f);
}

static const char *label(json_object *img, const char *key)
{
	json_object *labels, *v;

	if (!json_object_object_get_ex(img, "Labels", &labels) || !json_object_is_type(labels, json_type_object) ||
	    !json_object_object_get_ex(labels, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int64_t int_member(json_object *img, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(img, key, &v) && json_object_is_type(v, json_type_int)
		? json_object_get_int64(v)
		: 0;
}

/* The tags, "<none>:<none>" left out; an untagged image shows its short id. */
static json_object *tags_of(json_object *img)
{
	json_object *tags, *out = json_object_new_array();

	if (json_object_object_get_ex(img, "RepoTags", &tags) && json_object_is_type(tags, json_type_array))
		for (size_t i = 0; i < json_object_array_length(tags); i++) {
			const char *t = json_object_get_string(json_object_array_get_idx(tags, i));
			if (t && strcmp(t, "<none>:<none>") != 0)
				json_object_array_add(out, json_object_new_string(t));
		}
	return out;
}

static json_object *describe(json_object *img)
{
	json_object *o = json_object_new_object(), *id;
	const char *deps = label(img, ISOL8_LABEL_DEPS), *rt = label(img, ISOL8_LABEL_RUNTIME);
	const char *kind = label(img, ISOL8_LABEL_CUSTOM), *setup = label(img, ISOL8_LABEL_SETUP);

	json_object_object_add(o, "tags", tags_of(img));
	json_object_object_add(o, "id", json_object_object_get_ex(img, "Id", &id) ? json_object_get(id) : NULL);
	json_object_object_add(o, "runtime", rt ? json_object_new_string(rt) : NULL);
	json_object_object_add(o, "dependencies", json_object_new_string(deps ? deps : ""));
	json_object_object_add(o, "setup", json_object_new_boolean(setup && strcmp(setup, "1") == 0));
	json_object_object_add(o, "kind", json_object_new_string(kind));
	json_object_object_add(o, "created", json_object_new_int64(int_member(img, "Created")));
	json_object_object_add(o, "size", json_object_new_int64(int_member(img, "Size")));
	return o;
}

static void print_human(json_object *list)
{
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *o = json_object_array_get_idx(list, i), *v, *tags;
		const char *deps;
		char size[32];

		json_object_object_get_ex(o, "tags", &tags);
		json_object_object_get_ex(o, "id", &v);
		if (json_object_array_length(tags) == 0)
			printf("  \xf0\x9f\x93\xa6 %.19s\n", json_object_get_string(v));
		for (size_t k = 0; k < json_object_array_length(tags); k++)
			printf("  \xf0\x9f\x93\xa6 %s\n", json_object_get_string(json_object_array_get_idx(tags, k)));
		json_object_object_get_ex(o, "runtime", &v);
		printf("     Runtime:      %s\n", v ? json_object_get_string(v) : "(unknown)");
		json_object_object_get_ex(o, "dependencies", &v);
		deps = json_object_get_string(v);
		printf("     Dependencies: %s\n", *deps ? deps : "(none)");
		json_object_object_get_ex(o, "setup", &v);
		printf("     Setup:        %s\n",
		       json_object_get_boolean(v) ? "baked in (" ISOL8_IMAGE_SETUP_PATH ")" : "(none)");
		json_object_object_get_ex(o, "size", &v);
		isol8_format_size((uint64_t)json_object_get_int64(v), size, sizeof size);
		json_object_object_get_ex(o, "kind", &v);
		printf("     Made by:      isol8 %s, %s\n", json_object_get_string(v), size);
	}
}

int cmd_list_custom(int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {0}};
	struct isol8_err err = ISOL8_ERR_INIT;
	json_object *all = NULL, *list;
	struct docker *d;
	bool json = false;
	int c, rc = 1;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return cli_getopt_error("list-custom", argv, opts);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "[ERR] list-custom: unexpected argument: %s\n", argv[optind]);
		return 2;
	}
	d = isol8_images_connect();
	if (!d)
		return 1;
	if (docker_image_list(d, ISOL8_LABEL_CUSTOM, &all, &err) < 0) {
		fprintf(stderr, "[ERR] list images: %s\n", err.msg);
		docker_close(d);
		return 1;
	}
	list = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(all); i++) {
		json_object *img = json_object_array_get_idx(all, i);
		/* Custom images are built FROM isol8:<runtime>; the label alone is not enough. */
		if (label(img, ISOL8_LABEL_CUSTOM) && label(img, ISOL8_LABEL_RUNTIME))
			json_object_array_add(list, describe(img));
	}
	if (json)
		puts(json_object_to_json_string_ext(list, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	else if (json_object_array_length(list) == 0)
		puts("No custom isol8 images found.");
	else
		print_human(list);
	rc = 0;
	json_object_put(list);
	json_object_put(all);
	docker_close(d);
	return rc;
}
