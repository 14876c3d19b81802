/* isol8 build: a custom image from a base runtime with packages and/or a setup script that the
 * worker runs before every execution in that image. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/buf.h"
#include "common/cleanup.h"
#include "common/xalloc.h"
#include "images/build_cmd.h"
#include "images/commands_images.h"
#include "images/image_build.h"
#include "images/images.h"
#include "policy/policy.h"

#define SETUP_MAX (256u << 10)

static void build_usage(FILE *f)
{
	fprintf(f,
		"Usage: isol8 build --base RUNTIME [--install PKG]... [--setup CMD|FILE]... [--tag NAME]\n"
		"                   [--force] [--pip-index-url URL] [--json]\n"
		"Build a custom image isol8:<runtime>-custom-<hash> from isol8:<runtime>.\n"
		"  --base RUNTIME     python, node, bun, deno, bash or agent\n"
		"  --install PKG      package to pre-install (repeatable, comma-separated allowed)\n"
		"  --setup CMD|FILE   setup command, or a file holding a script (repeatable); it is baked\n"
		"                     into the image and runs before every execution\n"
		"  --tag NAME         also tag the image as NAME (repository[:tag])\n"
		"  --force            rebuild even when the image is up to date (no layer cache)\n"
		"  --pip-index-url URL  package index for Python packages\n"
		"  --json             print the result as one JSON object on stdout (progress goes to stderr)\n");
}

/* An existing regular file is read as a script; anything else is a literal command. */
static int add_setup(struct isol8_buf *script, const char *arg, struct isol8_err *err)
{
	struct stat st;

	if (stat(arg, &st) == 0 && S_ISREG(st.st_mode)) {
		FILE *f = fopen(arg, "re");
		char chunk[4096];
		size_t n;
		if (!f) {
			return isol8_err_set(err, ISOL8_E_USAGE, errno, "--setup %s: cannot open: %s", arg,
					     strerror(errno));
		}
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && script->len + n <= SETUP_MAX)
			isol8_buf_append(script, chunk, n);
		fclose(f);
	} else if (!strpbrk(arg, " \t;&|") && strchr(arg, '/')) {
		/* One word with a slash names a file; a typo'd path must not become the command. */
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "--setup %s: no such file (give a script file, or a shell command)", arg);
	} else {
		isol8_buf_puts(script, arg);
	}
	if (script->len > SETUP_MAX) {
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "--setup: script larger than %u bytes", SETUP_MAX);
	}
	if (script->len && memchr(script->data, '\0', script->len)) {
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "--setup: the script contains a NUL byte");
	}
	if (script->len && script->data[script->len - 1] != '\n')
		isol8_buf_putc(script, '\n');
	return 0;
}

/* repository[:tag], lower-case Docker reference without registry port or digest. */
static bool alias_ok(const char *s)
{
	regex_t re;
	int r;

	if (strlen(s) > 255)
		return false;
	if (regcomp(&re,
		    "^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$",
		    REG_EXTENDED | REG_NOSUB) != 0)
		return false;
	r = regexec(&re, s, 0, NULL, 0);
	regfree(&re);
	return r == 0;
}

struct build_args {
	const char *base, *alias, *pip_index;
	bool force;
	int rt;
	struct isol8_strlist pkgs;
	struct isol8_buf script;
};

/* Returns 1 for --help (already printed), 0 to build, -1 with err filled. */
static int parse_build_args(int argc, char **argv, struct build_args *a, struct isol8_err *err)
{
	static const struct option opts[] = {
		{"base", required_argument, NULL, 'b'},
		{"install", required_argument, NULL, 'i'},
		{"setup", required_argument, NULL, 's'},
		{"tag", required_argument, NULL, 't'},
		{"force", no_argument, NULL, 'f'},
		{"pip-index-url", required_argument, NULL, 'p'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":fh", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			a->base = optarg;
			break;
		case 'i':
			isol8_strlist_add_csv(&a->pkgs, optarg);
			break;
		case 's':
			if (add_setup(&a->script, optarg, err) < 0)
				return -1;
			break;
		case 't':
			a->alias = optarg;
			break;
		case 'f':
			a->force = true;
			break;
		case 'p':
			a->pip_index = optarg;
			break;
		case 'j':
			break;
		case 'h':
			build_usage(stdout);
			return 1;
		default:
			cli_getopt_err("build", argv, opts, err);
			return -1;
		}
	}
	if (optind < argc) {
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "build: unexpected argument: %s; see 'isol8 build --help'",
				     argv[optind]);
	}
	return 0;
}

/* Everything the user can get wrong is refused before the engine is reached. */
static int check_build_args(struct build_args *a, struct isol8_err *err)
{
	if (!a->base) {
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "build: --base RUNTIME is required (python, node, bun, deno, bash or agent)");
	}
	a->rt = isol8_runtime_parse(a->base);
	if (a->rt < 0 || a->rt >= ISOL8_RT__MAX) {
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "Invalid runtime: %s. Expected one of: python, node, bun, deno, bash, agent",
				     a->base);
	}
	isol8_strlist_sort_unique(&a->pkgs);
	if (a->pkgs.n == 0 && a->script.len == 0) {
		return isol8_err_set(
			err, ISOL8_E_USAGE, 0,
			"No packages or setup script specified. Use --install <package> or --setup <command>.");
	}
	for (size_t i = 0; i < a->pkgs.n; i++)
		if (isol8_pkg_validate(a->rt, a->pkgs.v[i], err) < 0)
			return -1;
	if (a->alias && !alias_ok(a->alias)) {
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "--tag: invalid image name: %s (expected repository[:tag], lower case)", a->alias);
	}
	if (a->pip_index && isol8_build_cmd_pip_index(a->pip_index, err) < 0)
		return -1;
	return 0;
}

/* Prints the [ERR] line of a failure that no step printed, so the caller only reports it. */
static int err_line(const struct isol8_err *err)
{
	fprintf(stderr, "[ERR] %s\n", err->msg);
	return -1;
}

/* An existing base is used as it is: rebuilding it here could drop the CA certificates
 * that `isol8 setup --ca-cert` put in. Only a missing base is built (default inputs).
 * On failure the [ERR] line is already printed. */
static int ensure_base(struct isol8_build_cmd *bc, int rt, struct isol8_base_context *ctx, struct isol8_err *err)
{
	json_object *base_img = NULL;

	if (docker_image_inspect(bc->d, isol8_image_base_tag(rt), &base_img, err) == 0) {
		json_object_put(base_img);
		printf("[OK] %s: present\n", isol8_runtime_name(rt));
		return 0;
	}
	if (err->code != ISOL8_E_NOTFOUND) {
		isol8_err_wrap(err, "%s", isol8_runtime_name(rt));
		return err_line(err);
	}
	if (isol8_prepare_base_context(bc->d, NULL, ctx, err) < 0) {
		isol8_err_wrap(err, "build context");
		return err_line(err);
	}
	return isol8_build_base(bc->d, rt, ctx, false, &bc->run, err);
}

/* --tag repository[:tag]: the last colon splits only when no slash follows it (a registry path). */
static int tag_alias(struct docker *d, const char *tag, const char *alias, struct isol8_err *err)
{
	_cleanup_free_ char *repo = xstrdup(alias);
	char *colon = strrchr(repo, ':');
	const char *t = "latest";

	if (colon && !strchr(colon, '/')) {
		*colon = '\0';
		t = colon + 1;
	}
	if (docker_image_tag(d, tag, repo, t, err) < 0)
		return isol8_err_wrap(err, "tag %s", alias);
	return 0;
}

static void print_built(const struct build_args *a, const char *tag)
{
	_cleanup_free_ char *deps = isol8_strlist_join(&a->pkgs, ", ");

	printf("\n[DONE] Custom image build complete!\n       Runtime: %s\n", isol8_runtime_name(a->rt));
	if (a->pkgs.n)
		printf("       Packages: %s\n", deps);
	if (a->script.len) {
		size_t first = strcspn(a->script.data, "\n");
		printf("       Setup: %.*s%s\n", (int)first, a->script.data, a->script.data[first + 1] ? " ..." : "");
	}
	printf("       Image: %s\n", tag);
	if (a->alias)
		printf("       Alias: %s\n", a->alias);
}

static void json_built(struct isol8_build_cmd *bc, const struct build_args *a, const char *tag)
{
	json_object *r = json_object_new_object();

	json_object_object_add(r, "image", json_object_new_string(tag));
	json_object_object_add(r, "runtime", json_object_new_string(isol8_runtime_name(a->rt)));
	json_object_object_add(r, "alias", a->alias ? json_object_new_string(a->alias) : NULL);
	isol8_build_cmd_json_ok(bc, r);
}

int cmd_build(int argc, char **argv)
{
	struct build_args a = {.rt = -1, .script = ISOL8_BUF_INIT};
	struct isol8_build_cmd bc;
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_base_context ctx = {0};
	_cleanup_free_ char *tag = NULL;
	int rc = 1, r;

	isol8_build_cmd_begin(&bc, argc, argv);
	r = parse_build_args(argc, argv, &a, &err);
	if (r > 0) {
		rc = 0;
		goto out;
	}
	if (r < 0 || check_build_args(&a, &err) < 0)
		goto fail;

	if (isol8_build_cmd_connect(&bc, &err) < 0)
		goto failed; /* isol8_images_connect printed why */
	if (ensure_base(&bc, a.rt, &ctx, &err) < 0)
		goto failed;
	struct isol8_custom_opts o = {.kind = "build",
				      .setup = a.script.len ? a.script.data : NULL,
				      .pip_index_url = a.pip_index,
				      .force = a.force};
	if (isol8_build_custom(bc.d, a.rt, &a.pkgs, &o, &tag, &bc.run, &err) < 0)
		goto failed;
	if (a.alias && tag_alias(bc.d, tag, a.alias, &err) < 0)
		goto fail;
	isol8_build_run_finish(bc.d, &bc.run);
	print_built(&a, tag);
	rc = 0;
	if (bc.json)
		json_built(&bc, &a, tag);
	goto out;
fail:
	/* Every way here has its message in err: one [ERR] line (the whole usage would bury it). */
	err_line(&err);
failed:
	/* A step that failed printed its own [ERR] line and filled err. */
	rc = isol8_build_cmd_failed(&bc, &err);
out:
	isol8_build_cmd_end(&bc);
	isol8_strlist_free(&a.pkgs);
	isol8_buf_free(&a.script);
	isol8_base_context_free(&ctx);
	return rc;
}
