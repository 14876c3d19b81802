/* Building isol8 images with progress lines for the CLI (`isol8 setup`, `isol8 build`).
 *
 * Progress goes to stdout ("[OK] python: up to date", "[..] python: building", one line per
 * build step "[..] python: step 3/9: RUN ..." (on a terminal one line rewritten in place),
 * "[OK] python: built in 42.1 s"); failures to stderr ("[ERR] python: <error>" followed by the
 * last lines of the build log). */
#ifndef ISOL8_FRONTEND_IMAGE_BUILD_H
#define ISOL8_FRONTEND_IMAGE_BUILD_H

#include <stdbool.h>

#include "common/err.h"
#include "docker/client.h"
#include "images/images.h"

#define ISOL8_BUILD_LOG_TAIL 40

/* Open the Docker client and ping it. On failure prints "[ERR] Docker is not running or not
 * installed." and the connection error to stderr and returns NULL. */
struct docker *isol8_images_connect(void);

/* The FROM image (debian:bookworm-slim): 1 present (*id fresh), 0 absent, -1 error. */
int isol8_from_image_id(struct docker *d, char **id, struct isol8_err *err);

/* Base build context from the data dir, the CA certificates (ca_files, or when empty every
 * *.crt below /usr/local/share/ca-certificates) and the FROM image, which must exist. */
int isol8_prepare_base_context(struct docker *d, const struct isol8_strlist *ca_files, struct isol8_base_context *ctx,
			       struct isol8_err *err);

/* What the builds of one command left behind and did, for isol8_build_run_finish. */
struct isol8_build_run {
	struct isol8_strlist stale; /* ids of images a rebuild untagged */
	struct isol8_strlist made;  /* ids of the images the builds' steps created (not cached ones) */
	json_object *images;        /* one object per image considered: {"image","runtime","kind",
				     * "status": "built"|"up-to-date"|"failed", "seconds", "error"} */
};
void isol8_build_run_init(struct isol8_build_run *r);
/* Remove the replaced images and every image a step created that is left untagged (the
 * stages of a multi-stage build, the steps of a failed one; Docker refuses those still used by
 * a child image or a container, which stay), then free the lists (not images). */
void isol8_build_run_finish(struct docker *d, struct isol8_build_run *r);

/* isol8:<rt> from ctx; skipped when its org.isol8.build.hash equals ctx->hash (unless force,
 * which also disables the layer cache). The id of a replaced image is added to run->stale. */
int isol8_build_base(struct docker *d, int rt, const struct isol8_base_context *ctx, bool force,
		     struct isol8_build_run *run, struct isol8_err *err);

struct isol8_custom_opts {
	const char *kind;          /* "setup" or "build" (label org.isol8.custom) */
	const char *setup;         /* setup script or NULL */
	const char *pip_index_url; /* python only, or NULL */
	bool force;
};

/* isol8:<rt>-custom-<hash> with pkgs (sorted, unique, validated here). Skipped when the image
 * exists with the same deps hash on the current base build. *tag_out (fresh) names the image.
 * For kind "setup", older setup-made custom images of rt are removed after a successful build. */
int isol8_build_custom(struct docker *d, int rt, const struct isol8_strlist *pkgs, const struct isol8_custom_opts *o,
		       char **tag_out, struct isol8_build_run *run, struct isol8_err *err);

/* The step of a build log line: "Step 3/9 : RUN x" gives 3, 9 and "RUN x" (*instr points into
 * line); 0 for any other line. */
int isol8_build_step(const char *line, int *n, int *m, const char **instr);
/* The image id of a build log line " ---> 0123456789ab" (12 to 64 hex digits, copied to id);
 * 0 for any other line (" ---> Running in ...", " ---> Using cache"). */
int isol8_build_step_image(const char *line, char id[65]);

#endif
