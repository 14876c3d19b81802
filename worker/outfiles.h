/* A run's output files (request.outputPaths): read from the sandbox after the program ended,
 * before an ephemeral sandbox is reset or a session's next run. */
#ifndef ISOL8_WORKER_OUTFILES_H
#define ISOL8_WORKER_OUTFILES_H

#include <stddef.h>

#include <json-c/json.h>

/* paths[i] is the path as the client named it (the key in the result), rel[i] the same path
 * below /sandbox, already checked by isol8_sandbox_relpath(). The files' contents go to a
 * sealed memfd holding the JSON object {path: base64} (*files_fd, -1 when no file was read),
 * for WK_FILE ahead of the result. Every path that yields no file (missing, a directory, not a
 * regular file, a symbolic link on the way, over a limit, unreadable) is reported in the
 * result's "fileErrors" {path: message}; none of that fails the run. Returns the number of
 * files read. */
struct sandbox;
int outfiles_collect(const struct sandbox *sb, char *const *paths, char *const *rel, size_t n, const char *const *env,
		     json_object *result, int *files_fd);

#endif
