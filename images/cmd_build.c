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

int cmd_build(int argc, char **argv)
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
	struct isol8_strlist pkgs = {0};
	struct isol8_build_cmd bc;
	struct isol8_buf script = ISOL8_BUF_INIT;
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_base_context ctx = {0};
	const char *base = NULL, *alias = NULL, *pip_index = NULL;
	_cleanup_free_ char *tag = NULL, *deps = NULL;
	bool force = false;
	json_object *base_img = NULL;
	int c, rt = -1, rc = 1;

	isol8_build_cmd_begin(&bc, argc, argv);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":fh", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			base = optarg;
			break;
		case 'i':
			isol8_strlist_add_csv(&pkgs, optarg);
			break;
		case 's':
			if (add_setup(&script, optarg, &err) < 0)
				goto fail;
			break;
		case 't':
			alias = optarg;
			break;
		case 'f':
			force = true;
			break;
		case 'p':
			pip_index = optarg;
			break;
		case 'j':
			break;
		case 'h':
			build_usage(stdout);
			rc = 0;
			goto out;
		default:
			cli_getopt_err("build", argv, opts, &err);
			goto fail;
		}
	}
	if (optind < argc) {
		isol8_err_set(&err, ISOL8_E_USAGE, 0, "build: unexpected argument: %s; see 'isol8 build --help'",
			      argv[optind]);
		goto fail;
	}
	if (!base) {
		isol8_err_set(&err, ISOL8_E_USAGE, 0,
			      "build: --base RUNTIME is required (python, node, bun, deno, bash or agent)");
		goto fail;
	}
	rt = isol8_runtime_parse(base);
	if (rt < 0 || rt >= ISOL8_RT__MAX) {
		isol8_err_set(&err, ISOL8_E_USAGE, 0,
			      "Invalid runtime: %s. Expected one of: python, node, bun, deno, bash, agent", base);
		goto fail;
	}
	isol8_strlist_sort_unique(&pkgs);
	if (pkgs.n == 0 && script.len == 0) {
		isol8_err_set(&err, ISOL8_E_USAGE, 0,
			      "No packages or setup script specified. Use --install <package> or --setup <command>.");
		goto fail;
	}
	for (size_t i = 0; i < pkgs.n; i++)
		if (isol8_pkg_validate(rt, pkgs.v[i], &err) < 0)
			goto fail;
	if (alias && !alias_ok(alias)) {
		isol8_err_set(&err, ISOL8_E_USAGE, 0,
			      "--tag: invalid image name: %s (expected repository[:tag], lower case)", alias);
		goto fail;
	}
	if (pip_index && isol8_build_cmd_pip_index(pip_index, &err) < 0)
		goto fail;

	if (isol8_build_cmd_connect(&bc, &err) < 0)
		goto failed; /* isol8_images_connect printed why */
	/* An existing base is used as it is: rebuilding it here could drop the CA certificates
	 * that `isol8 setup --ca-cert` put in. Only a missing base is built (default inputs). */
	if (docker_image_inspect(bc.d, isol8_image_base_tag(rt), &base_img, &err) == 0) {
		json_object_put(base_img);
		printf("[OK] %s: present\n", isol8_runtime_name(rt));
	} else if (err.code != ISOL8_E_NOTFOUND) {
		isol8_err_wrap(&err, "%s", isol8_runtime_name(rt));
		goto fail;
	} else if (isol8_prepare_base_context(bc.d, NULL, &ctx, &err) < 0) {
		isol8_err_wrap(&err, "build context");
		goto fail;
	} else if (isol8_build_base(bc.d, rt, &ctx, false, &bc.run, &err) < 0) {
		goto failed;
	}
	struct isol8_custom_opts o = {
		.kind = "build", .setup = script.len ? script.data : NULL, .pip_index_url = pip_index, .force = force};
	if (isol8_build_custom(bc.d, rt, &pkgs, &o, &tag, &bc.run, &err) < 0)
		goto failed;
	if (alias) {
		_cleanup_free_ char *repo = xstrdup(alias);
		char *colon = strrchr(repo, ':');
		const char *t = "latest";
		if (colon && !strchr(colon, '/')) {
			*colon = '\0';
			t = colon + 1;
		}
		if (docker_image_tag(bc.d, tag, repo, t, &err) < 0) {
			isol8_err_wrap(&err, "tag %s", alias);
			goto fail;
		}
	}
	isol8_build_run_finish(bc.d, &bc.run);
	deps = isol8_strlist_join(&pkgs, ", ");
	printf("\n[DONE] Custom image build complete!\n       Runtime: %s\n", isol8_runtime_name(rt));
	if (pkgs.n)
		printf("       Packages: %s\n", deps);
	if (script.len) {
		size_t first = strcspn(script.data, "\n");
		printf("       Setup: %.*s%s\n", (int)first, script.data, script.data[first + 1] ? " ..." : "");
	}
	printf("       Image: %s\n", tag);
	if (alias)
		printf("       Alias: %s\n", alias);
	rc = 0;
	if (bc.json) {
		json_object *r = json_object_new_object();
		json_object_object_add(r, "image", json_object_new_string(tag));
		json_object_object_add(r, "runtime", json_object_new_string(isol8_runtime_name(rt)));
		json_object_object_add(r, "alias", alias ? json_object_new_string(alias) : NULL);
		isol8_build_cmd_json_ok(&bc, r);
	}
	goto out;
fail:
	/* Every way here has its message in err: one [ERR] line (the whole usage would bury it). */
	fprintf(stderr, "[ERR] %s\n", err.msg);
failed:
	/* A step that failed printed its own [ERR] line and filled err. */
	rc = isol8_build_cmd_failed(&bc, &err);
out:
	isol8_build_cmd_end(&bc);
	isol8_strlist_free(&pkgs);
	isol8_buf_free(&script);
	isol8_base_context_free(&ctx);
	return rc;
}
