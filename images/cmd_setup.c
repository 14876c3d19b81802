/* isol8 setup: make sure the FROM image exists, build the runtime images, then the custom
 * images for the packages given on the command line merged with the config's dependencies. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/cleanup.h"
#include "common/conf.h"
#include "common/xalloc.h"
#include "images/bootstrap.h"
#include "images/build_cmd.h"
#include "images/commands_images.h"
#include "images/image_build.h"
#include "images/images.h"
#include "policy/policy.h"

static void setup_usage(FILE *f)
{
	fprintf(f,
		"Usage: isol8 setup [--force] [--bootstrap] [--mirror URL] [--ca-cert FILE]...\n"
		"                   [--python PKGS] [--node PKGS] [--bun PKGS] [--deno MODULES] [--bash PKGS]\n"
		"                   [--agent PKGS] [--runtimes python,node,bun,deno,bash,agent]\n"
		"                   [--pip-index-url URL] [--json]\n"
		"Build the isol8 runtime images, and custom images with packages pre-installed.\n"
		"  --force            rebuild even when the images are up to date (no layer cache)\n"
		"  --bootstrap        (re)create " ISOL8_BOOTSTRAP_REPO ":" ISOL8_BOOTSTRAP_TAG
		" with debootstrap (needs root)\n"
		"  --mirror URL       Debian mirror for --bootstrap (default: from the host's apt sources)\n"
		"  --ca-cert FILE     extra CA certificate for the images (repeatable; default: every\n"
		"                     *.crt below /usr/local/share/ca-certificates)\n"
		"  --python/--node/--bun/--deno/--bash/--agent PKGS   comma-separated packages for a\n"
		"                     custom image (merged with dependencies.<runtime> from the config file)\n"
		"  --runtimes LIST    only these runtimes (default: all)\n"
		"  --pip-index-url URL  package index for custom Python images\n"
		"  --json             print the result as one JSON object on stdout (progress goes to stderr)\n");
}

enum { OPT_BOOTSTRAP = 256, OPT_MIRROR, OPT_CA, OPT_RUNTIMES, OPT_PIP_INDEX, OPT_JSON, OPT_PKG_BASE };

/* Parse "python,node" into a bit mask. */
static int parse_runtimes(const char *csv, unsigned *mask, struct isol8_err *err)
{
	struct isol8_strlist l = {0};
	int r = 0;

	isol8_strlist_add_csv(&l, csv);
	*mask = 0;
	for (size_t i = 0; i < l.n; i++) {
		int rt = isol8_runtime_parse(l.v[i]);
		if (rt < 0 || rt >= ISOL8_RT__MAX) {
			r = isol8_err_set(err, ISOL8_E_USAGE, 0,
					  "Invalid runtime: %s. Expected one of: python, node, bun, deno, bash, agent",
					  l.v[i]);
			break;
		}
		*mask |= 1u << rt;
	}
	if (r == 0 && *mask == 0)
		r = isol8_err_set(err, ISOL8_E_USAGE, 0, "--runtimes: no runtime given");
	isol8_strlist_free(&l);
	return r;
}

/* Make sure the FROM image exists; bootstrap it offline when absent or asked to. */
static int ensure_from_image(struct docker *d, bool force_bootstrap, const char *mirror, struct isol8_err *err)
{
	_cleanup_free_ char *id = NULL;
	int found = isol8_from_image_id(d, &id, err);

	if (found < 0)
		return isol8_err_wrap(err, "base image");
	if (found && !force_bootstrap) {
		printf("[OK] base image " ISOL8_BOOTSTRAP_REPO ":" ISOL8_BOOTSTRAP_TAG ": present\n");
		return 0;
	}
	/* No registry pull: the client has no pull call and isol8 hosts are often offline;
	 * debootstrap only needs a Debian mirror. */
	if (!found)
		printf("[..] base image " ISOL8_BOOTSTRAP_REPO ":" ISOL8_BOOTSTRAP_TAG ": missing, bootstrapping\n");
	return isol8_bootstrap_base(d, mirror, ISOL8_BOOTSTRAP_REPO, ISOL8_BOOTSTRAP_TAG, err);
}

struct setup_args {
	struct isol8_strlist pkgs[ISOL8_RT__MAX], ca;
	const char *mirror, *pip_index;
	bool force, bootstrap;
	unsigned mask; /* the runtimes to build, 1 << ISOL8_RT_x */
};

/* Returns 1 for --help (already printed), 0 to set up, -1 with err filled. */
static int parse_setup_args(int argc, char **argv, struct setup_args *a, struct isol8_err *err)
{
	static const struct option opts[] = {
		{"force", no_argument, NULL, 'f'},
		{"bootstrap", no_argument, NULL, OPT_BOOTSTRAP},
		{"mirror", required_argument, NULL, OPT_MIRROR},
		{"ca-cert", required_argument, NULL, OPT_CA},
		{"runtimes", required_argument, NULL, OPT_RUNTIMES},
		{"pip-index-url", required_argument, NULL, OPT_PIP_INDEX},
		{"python", required_argument, NULL, OPT_PKG_BASE + ISOL8_RT_PYTHON},
		{"node", required_argument, NULL, OPT_PKG_BASE + ISOL8_RT_NODE},
		{"bun", required_argument, NULL, OPT_PKG_BASE + ISOL8_RT_BUN},
		{"deno", required_argument, NULL, OPT_PKG_BASE + ISOL8_RT_DENO},
		{"bash", required_argument, NULL, OPT_PKG_BASE + ISOL8_RT_BASH},
		{"agent", required_argument, NULL, OPT_PKG_BASE + ISOL8_RT_AGENT},
		{"json", no_argument, NULL, OPT_JSON},
		{"help", no_argument, NULL, 'h'},
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
		case OPT_BOOTSTRAP:
			a->bootstrap = true;
			break;
		case OPT_MIRROR:
			a->mirror = optarg;
			break;
		case OPT_CA:
			isol8_strlist_add(&a->ca, optarg);
			break;
		case OPT_RUNTIMES:
			if (parse_runtimes(optarg, &a->mask, err) < 0)
				return -1;
			break;
		case OPT_JSON:
			break;
		case OPT_PIP_INDEX:
			a->pip_index = optarg;
			break;
		case 'h':
			setup_usage(stdout);
			return 1;
		default:
			if (c >= OPT_PKG_BASE && c < OPT_PKG_BASE + ISOL8_RT__MAX) {
				isol8_strlist_add_csv(&a->pkgs[c - OPT_PKG_BASE], optarg);
				break;
			}
			cli_getopt_err("setup", argv, opts, err);
			return -1;
		}
	}
	if (optind < argc) {
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "setup: unexpected argument: %s; see 'isol8 setup --help'",
				     argv[optind]);
	}
	if (a->mirror && !isol8_mirror_url_ok(a->mirror))
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "--mirror: expected an http(s):// or file:/// URL");
	if (a->pip_index && isol8_build_cmd_pip_index(a->pip_index, err) < 0)
		return -1;
	return 0;
}

/* The user config's default dependencies are installed with the ones on the command line. */
static int add_config_deps(struct setup_args *a, struct isol8_err *err)
{
	struct isol8_config conf;

	if (isol8_config_load(NULL, &conf, err) < 0)
		return -1;
	for (int rt = 0; rt < ISOL8_RT__MAX; rt++) {
		for (size_t i = 0; i < conf.n_deps[rt]; i++)
			isol8_strlist_add(&a->pkgs[rt], conf.deps[rt][i]);
		isol8_strlist_sort_unique(&a->pkgs[rt]);
	}
	isol8_config_free(&conf);
	return 0;
}

/* Validate everything before the first (slow) build. */
static int check_packages(struct setup_args *a, struct isol8_err *err)
{
	for (int rt = 0; rt < ISOL8_RT__MAX; rt++) {
		if (a->pkgs[rt].n && !(a->mask & (1u << rt))) {
			fprintf(stderr, "[WARN] %s packages ignored: runtime not selected by --runtimes\n",
				isol8_runtime_name(rt));
			isol8_strlist_free(&a->pkgs[rt]);
		}
		for (size_t i = 0; i < a->pkgs[rt].n; i++)
			if (isol8_pkg_validate(rt, a->pkgs[rt].v[i], err) < 0) {
				err->code = ISOL8_E_USAGE;
				return -1;
			}
	}
	return 0;
}

/* Every selected base, then a custom image for each base that built and has packages; a failed
 * build prints its [ERR] line and the others still run. Returns 1 when any failed. */
static int build_images(struct isol8_build_cmd *bc, const struct setup_args *a, struct isol8_base_context *ctx,
			struct isol8_err *err)
{
	bool base_ok[ISOL8_RT__MAX] = {0};
	int rc = 0;

	for (int rt = 0; rt < ISOL8_RT__MAX; rt++) {
		if (!(a->mask & (1u << rt)))
			continue;
		if (isol8_build_base(bc->d, rt, ctx, a->force, &bc->run, err) == 0)
			base_ok[rt] = true;
		else
			rc = 1;
	}
	for (int rt = 0; rt < ISOL8_RT__MAX; rt++) {
		struct isol8_custom_opts o = {.kind = "setup", .pip_index_url = a->pip_index, .force = a->force};
		_cleanup_free_ char *tag = NULL;
		if (!a->pkgs[rt].n || !base_ok[rt])
			continue;
		if (isol8_build_custom(bc->d, rt, &a->pkgs[rt], &o, &tag, &bc->run, err) < 0)
			rc = 1;
	}
	return rc;
}

int cmd_setup(int argc, char **argv)
{
	struct setup_args a = {.mask = (1u << ISOL8_RT__MAX) - 1};
	struct isol8_build_cmd bc;
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_base_context ctx = {0};
	int rc = 1, r;

	isol8_build_cmd_begin(&bc, argc, argv);
	r = parse_setup_args(argc, argv, &a, &err);
	if (r == 0 && (add_config_deps(&a, &err) < 0 || check_packages(&a, &err) < 0))
		r = -1;
	if (r < 0)
		goto fail;
	if (r > 0) {
		rc = 0; /* --help */
		goto out;
	}

	if (isol8_build_cmd_connect(&bc, &err) < 0)
		goto failed; /* isol8_images_connect printed why */
	if (ensure_from_image(bc.d, a.bootstrap, a.mirror, &err) < 0)
		goto fail;
	if (isol8_prepare_base_context(bc.d, &a.ca, &ctx, &err) < 0) {
		isol8_err_wrap(&err, "build context");
		goto fail;
	}
	rc = build_images(&bc, &a, &ctx, &err);
	isol8_build_run_finish(bc.d, &bc.run);
	if (rc != 0)
		goto failed; /* each failed build printed its [ERR] line */
	printf("\n[DONE] Setup complete!\n");
	isol8_build_cmd_json_ok(&bc, json_object_new_object());
	goto out;
fail:
	/* Every way here has its message in err: one [ERR] line (the whole usage would bury it). */
	fprintf(stderr, "[ERR] %s\n", err.msg);
failed:
	rc = isol8_build_cmd_failed(&bc, &err);
out:
	isol8_build_cmd_end(&bc);
	for (int rt = 0; rt < ISOL8_RT__MAX; rt++)
		isol8_strlist_free(&a.pkgs[rt]);
	isol8_strlist_free(&a.ca);
	isol8_base_context_free(&ctx);
	return rc;
}
