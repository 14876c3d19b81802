/* isol8 runtime images: names, labels, content hashes, build inputs, resolution.
 *
 * Base images are isol8:<runtime>, built from sandbox/Dockerfile (target <runtime>) with a
 * context of Dockerfile + sandbox/ + ca/ (extra CA certificates). Their label
 * org.isol8.build.hash is the SHA-256 of exactly that context, so `isol8 setup` can skip a
 * build whose inputs did not change. Custom images extend a base image with packages and are
 * tagged isol8:<runtime>-custom-<first 12 hex of the deps hash>; the tag is a pure function of
 * (runtime, sorted packages, setup script), so resolution needs no bookkeeping. */
#ifndef ISOL8_FRONTEND_IMAGES_H
#define ISOL8_FRONTEND_IMAGES_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"
#include "docker/client.h"

#define ISOL8_IMAGE_REPO "isol8"
#define ISOL8_BOOTSTRAP_REPO "debian"
#define ISOL8_BOOTSTRAP_TAG "bookworm-slim"

#define ISOL8_LABEL_MANAGED "org.isol8.managed"
#define ISOL8_LABEL_RUNTIME "org.isol8.runtime"
#define ISOL8_LABEL_BUILD_HASH "org.isol8.build.hash"
#define ISOL8_LABEL_DEPS_HASH "org.isol8.deps.hash"
#define ISOL8_LABEL_DEPS "org.isol8.dependencies"
#define ISOL8_LABEL_SETUP "org.isol8.setup"
/* "setup" (made by `isol8 setup`, replaced when the dependency list changes) or "build"
 * (made by `isol8 build`, kept until `isol8 cleanup --images`). */
#define ISOL8_LABEL_CUSTOM "org.isol8.custom"
#define ISOL8_LABEL_BOOTSTRAP "org.isol8.bootstrap"

/* Where custom images keep the baked setup script (label org.isol8.setup=1). */
#define ISOL8_IMAGE_SETUP_PATH "/usr/local/lib/isol8/setup.sh"

#define ISOL8_SHA256_HEX 65
/* Cap for every file that goes into a build context (Dockerfile, helpers, certificates). */
#define ISOL8_CONTEXT_FILE_MAX (4u << 20)

/* A sorted, de-duplicated list of strings (packages, certificate paths). */
struct isol8_strlist {
	char **v;
	size_t n;
};

void isol8_strlist_add(struct isol8_strlist *l, const char *s);
/* Split on commas, trim blanks, drop empty items, then add each. */
void isol8_strlist_add_csv(struct isol8_strlist *l, const char *csv);
void isol8_strlist_sort_unique(struct isol8_strlist *l);
char *isol8_strlist_join(const struct isol8_strlist *l, const char *sep);
void isol8_strlist_free(struct isol8_strlist *l);

/* "isol8:python"; NULL for an unknown runtime. */
const char *isol8_image_base_tag(int rt);

/* Package names per ecosystem (pip requirement, npm spec, Deno URL/npm:/jsr: specifier, Debian
 * package for bash). Never starts with '-', never contains blanks, quotes or shell
 * metacharacters. ISOL8_E_USAGE naming the package on failure. */
int isol8_pkg_validate(int rt, const char *name, struct isol8_err *err);

/* Deps hash: SHA-256 over the runtime name, the packages (sorted, unique, each terminated by
 * NUL) and, if not NULL, "setup:" + script. hex receives 64 hex digits + NUL. */
void isol8_deps_hash(int rt, const struct isol8_strlist *pkgs, const char *setup, char hex[ISOL8_SHA256_HEX]);
/* "isol8:<rt>-custom-<12 hex>" (fresh string). */
char *isol8_image_custom_tag(int rt, const char deps_hash[ISOL8_SHA256_HEX]);

/* SHA-256 of one buffer as hex. */
void isol8_sha256_hex(const void *data, size_t len, char hex[ISOL8_SHA256_HEX]);

/* The folder holding the Dockerfile and the in-image helpers: $ISOL8_DATA_DIR, else
 * <pkgdatadir>/sandbox if it exists, else $ISOL8_SRCDIR/sandbox (a build run in place; it wins
 * over an installed copy for a binary that is not installed, common/buildtree.h). Fresh string. */
int isol8_image_data_dir(char **out, struct isol8_err *err);

/* Every *.crt below dir (recursive, regular files, symlinks followed), sorted. A missing dir is
 * an empty list. */
int isol8_ca_default_list(const char *dir, struct isol8_strlist *out, struct isol8_err *err);

/* The base-image build context: tar (Dockerfile, sandbox/..., ca/NN-<name>.crt) and its hash.
 * Certificates must be PEM ("-----BEGIN CERTIFICATE-----"); an empty list still creates ca/. */
struct isol8_base_context {
	struct isol8_buf tar;
	char hash[ISOL8_SHA256_HEX];
};
/* from_id (the FROM image's id, or NULL) goes into the hash too: a re-bootstrapped Debian base
 * makes every runtime image out of date. */
int isol8_base_context_make(const char *data_dir, const struct isol8_strlist *ca_files, const char *from_id,
			    struct isol8_base_context *out, struct isol8_err *err);
void isol8_base_context_free(struct isol8_base_context *c);

/* The Dockerfile of a custom image: FROM the base tag, one exec-form RUN of install.sh with the
 * packages as separate JSON strings, optional pip index build args (python only), and the setup
 * script copied in when has_setup. Packages must have been validated. Fresh string. */
char *isol8_custom_dockerfile(int rt, const struct isol8_strlist *pkgs, bool pip_index, bool has_setup);

/* Label value of an image (inspect answer); NULL if absent. Borrowed from the json object. */
const char *isol8_image_label(json_object *inspect, const char *key);

/* Image to run for rt with the given extra packages: the custom image for exactly these
 * packages if it exists (its deps hash label matching), else the base image. *satisfied tells
 * whether the packages are already in the chosen image. *out is fresh. */
int isol8_image_resolve(struct docker *d, int rt, const struct isol8_strlist *pkgs, char **out, bool *satisfied,
			struct isol8_err *err);

/* Check a pip index URL (http(s)://host[:port][/path], no blanks or shell characters) and
 * return its host for PIP_TRUSTED_HOST (fresh). */
int isol8_pip_index_host(const char *url, char **host, struct isol8_err *err);

#endif
