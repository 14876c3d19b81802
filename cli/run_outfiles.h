/* A run's output files on the CLI side: the result's "files" ({path: base64}, see
 * worker/outfiles.h) written under --output-dir, and its "fileErrors" shown as warnings. */
#ifndef ISOL8_CLI_RUN_OUTFILES_H
#define ISOL8_CLI_RUN_OUTFILES_H

#include <stddef.h>

#include <json-c/json.h>

#include "common/err.h"

/* Writes every file of result.files as DIR/<path below /sandbox> (DIR is created if missing,
 * its parent is not; subdirectories are created; a symbolic link on the way is not followed
 * and fails). *written counts the files written. */
int run_outfiles_write(const char *dir, json_object *result, size_t *written, struct isol8_err *err);
/* "[WARN] output file PATH: MESSAGE" on stderr for each entry of result.fileErrors. */
void run_outfiles_warn(json_object *result);

#endif
