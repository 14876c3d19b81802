/* What `isol8 setup` and `isol8 build` share around their builds: --json decided before the
 * first error, the Docker connection, and the ending, where the images considered go into the
 * JSON result and what the builds left behind is removed. */
#ifndef ISOL8_FRONTEND_BUILD_CMD_H
#define ISOL8_FRONTEND_BUILD_CMD_H

#include <stdbool.h>

#include "common/err.h"
#include "images/image_build.h"

struct isol8_build_cmd {
	struct isol8_build_run run;
	struct docker *d; /* NULL until isol8_build_cmd_connect */
	bool json;
	int out_fd;  /* where the JSON result goes (stdout's), -1 once written or without --json */
	int lock_fd; /* ISOL8_BUILD_LOCK, held from connect to end; -1 when it could not be opened */
};

/* One isol8 setup or build at a time on a host: a build removes the untagged stage images it
 * made when it ends, and a concurrent build of the same files may be using them from the
 * cache at that moment (it then fails: "No such image"). */
#define ISOL8_BUILD_LOCK "/run/lock/isol8-image-build.lock"

/* --json anywhere before "--" (known before the first error, so that every failure is a JSON
 * object too) points stdout at stderr for the progress lines (cli_json_begin). */
void isol8_build_cmd_begin(struct isol8_build_cmd *c, int argc, char **argv);
/* Connect to Docker and print "[OK] Docker is running", then take ISOL8_BUILD_LOCK (waiting,
 * and saying so, while another build holds it); -1 (ISOL8_E_UNAVAIL) when Docker does not
 * answer, after isol8_images_connect printed why. */
int isol8_build_cmd_connect(struct isol8_build_cmd *c, struct isol8_err *err);
/* --pip-index-url URL: a usage error unless isol8_pip_index_host accepts it. */
int isol8_build_cmd_pip_index(const char *url, struct isol8_err *err);
/* Success: with --json, r (the command's result) gets "images" and is written; else released. */
void isol8_build_cmd_json_ok(struct isol8_build_cmd *c, json_object *r);
/* Failure, with err filled: finish the run and, with --json, write the error object with
 * "images". Returns the exit status (1 when err has no code). */
int isol8_build_cmd_failed(struct isol8_build_cmd *c, const struct isol8_err *err);
/* Close an unwritten JSON fd, free the run's lists and close Docker. */
void isol8_build_cmd_end(struct isol8_build_cmd *c);

#endif
