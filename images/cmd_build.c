/* isol8 build: a custom image from a base runtime with packages and/or a setup script that the
 * worker runs before every execution in that image. */
#include "config.h"

#include <getopt.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "common/buf.h"
#include "common/cleanup.h"
#include "common/xalloc.h"
#include "images/commands_images.h"
#include "images/image_build.h"
#include "images/images.h"
#include "policy/policy.h"

#define SETUP_MAX (256u << 10)

static void build_usage(FILE *f)
{
	fprintf(f,
		"Usage: isol8 build --base RUNTIME [--install PKG]... [--setup CMD|FILE]... [--tag NAME]\n"
		"                   [--force] [--pip-index-url URL]\n"
		"Build a custom image isol8:<runtime>-custom-<hash> from isol8:<runtime>.\n"
		"  --base RUNTIME     python, node, bun, deno or bash\n"
		"  --install PKG      package to pre-install (repeatable, comma-separated allowed)\n"
		"  --setup CMD|FILE   setup command, or a file holding a script (repeatable); it is baked\n"
		"                     into the image and runs before every execution\n"
		"  --tag NAME         also tag the image as NAME (repository[:tag])\n"
		"  --force            rebuild even when the image is up to date (no layer cache)\n"
		"  --pip-index-url URL  package index for Python packages\n");
}

/* An existing regular file is read as a script; anything else is a literal command. */
static int add_setup(struct isol8_buf *script, const char *arg)
{
	struct stat st;

	if (stat(arg, &st) == 0 && S_ISREG(st.st_mode)) {
		FILE *f = fopen(arg, "re");
		char chunk[4096];
		size_t n;
		if (!f) {
			fprintf(stderr, "[ERR] --setup %s: cannot open\n", arg);
			return -1;
		}
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && script->len + n <= SETUP_MAX)
			isol8_buf_append(script, chunk, n);
		fclose(f);
	} else if (!strpbrk(arg, " \t;&|") && strchr(arg, '/')) {
		/* One word with a slash names a file; a typo'd path must not become the command. */
		fprintf(stderr, "[ERR] --setup %s: no such file (give a script file, or a shell command)\n", arg);
		return -1;
	} else {
		isol8_buf_puts(script, arg);
	}
	if (script->len > SETUP_MAX) {
		fprintf(stderr, "[ERR] --setup: script larger than %u bytes\n", SETUP_MAX);
		return -1;
	}
	if (script->len && memchr(script->data, '\0', script->len)) {
		fprintf(stderr, "[ERR] --setup: the script contains a NUL byte\n");
		return -1;
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
		{"base", required_argument, NULL, 'b'},  {"install", required_argument, NULL, 'i'},
		{"setup", required_argument, NULL, 's'}, {"tag", required_argument, NULL, 't'},
		{"force", no_argument, NULL, 'f'},       {"pip-index-url", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
	};
	struct isol8_strlist pkgs = {0}, stale = {0};
	struct isol8_buf script = ISOL8_BUF_INIT;
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_base_context ctx = {0};
	const char *base = NULL, *alias = NULL, *pip_index = NULL;
	_cleanup_free_ char *tag = NULL, *deps = NULL, *pip_host = NULL;
	bool force = false;
	struct docker *d = NULL;
	json_object *base_img = NULL;
	int c, rt, rc = 1;

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
			if (add_setup(&script, optarg) < 0)
				goto usage_err;
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
		case 'h':
			build_usage(stdout);
			rc = 0;
			goto out;
		default:
			rc = cli_getopt_error("build", argv, opts);
			goto out;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "[ERR] build: unexpected argument: %s; see 'isol8 build --help'\n", argv[optind]);
		goto usage;
	}
	if (!base) {
		fprintf(stderr, "[ERR] build: --base RUNTIME is required (python, node, bun, deno or bash)\n");
		goto usage;
	}
	rt = isol8_runtime_parse(base);
	if (rt < 0 || rt >= ISOL8_RT__MAX) {
		fprintf(stderr, "[ERR] Invalid runtime: %s. Expected one of: python, node, bun, deno, bash\n", base);
		goto usage_err;
	}
	isol8_strlist_sort_unique(&pkgs);
	if (pkgs.n == 0 && script.len == 0) {
		fprintf(stderr,
			"[ERR] No packages or setup script specified. Use --install <package> or --setup <command>.\n");
		goto usage_err;
	}
	for (size_t i = 0; i < pkgs.n; i++)
		if (isol8_pkg_validate(rt, pkgs.v[i], &err) < 0) {
			fprintf(stderr, "[ERR] %s\n", err.msg);
			goto usage_err;
		}
	if (alias && !alias_ok(alias)) {
		fprintf(stderr, "[ERR] --tag: invalid image name: %s (expected repository[:tag], lower case)\n", alias);
		goto usage_err;
	}
	if (pip_index && isol8_pip_index_host(pip_index, &pip_host, &err) < 0) {
		fprintf(stderr, "[ERR] --pip-index-url: %s\n", err.msg);
		goto usage_err;
	}

	d = isol8_images_connect();
	if (!d)
		goto out;
	printf("[OK] Docker is running\n");
	/* An existing base is used as it is: rebuilding it here could drop the CA certificates
	 * that `isol8 setup --ca-cert` put in. Only a missing base is built (default inputs). */
	if (docker_image_inspect(d, isol8_image_base_tag(rt), &base_img, &err) == 0) {
		json_object_put(base_img);
		printf("[OK] %s: present\n", isol8_runtime_name(rt));
	} else if (err.code != ISOL8_E_NOTFOUND) {
		fprintf(stderr, "[ERR] %s: %s\n", isol8_runtime_name(rt), err.msg);
		goto out;
	} else if (isol8_prepare_base_context(d, NULL, &ctx, &err) < 0) {
		fprintf(stderr, "[ERR] build context: %s\n", err.msg);
		goto out;
	} else if (isol8_build_base(d, rt, &ctx, false, &stale, &err) < 0) {
		goto out;
	}
	struct isol8_custom_opts o = {
		.kind = "build", .setup = script.len ? script.data : NULL, .pip_index_url = pip_index, .force = force};
	if (isol8_build_custom(d, rt, &pkgs, &o, &tag, &stale, &err) < 0)
		goto out;
	if (alias) {
		_cleanup_free_ char *repo = xstrdup(alias);
		char *colon = strrchr(repo, ':');
		const char *t = "latest";
		if (colon && !strchr(colon, '/')) {
			*colon = '\0';
			t = colon + 1;
		}
		if (docker_image_tag(d, tag, repo, t, &err) < 0) {
			fprintf(stderr, "[ERR] tag %s: %s\n", alias, err.msg);
			goto out;
		}
	}
	isol8_remove_stale(d, &stale);
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
	goto out;
usage:
	/* Each way here printed its one [ERR] line; the whole usage would bury it. */
usage_err:
	rc = 2;
out:
	isol8_strlist_free(&pkgs);
	isol8_strlist_free(&stale);
	isol8_buf_free(&script);
	isol8_base_context_free(&ctx);
	docker_close(d);
	return rc;
}
