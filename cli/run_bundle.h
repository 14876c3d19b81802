/* The FE_RUN bundle: a sealed memfd holding a tar with the optional entries `code`, `stdin`
 * and `files/<relative path>` (the --files tree: directories and regular files only; .git,
 * node_modules, __pycache__, .venv, venv, .tox skipped at any depth). Empty when the request
 * needs none of them. Entries are owned by 100:101 (the sandbox user); the worker re-checks
 * every name and size before anything reaches a container. */
#ifndef ISOL8_FRONTEND_RUN_BUNDLE_H
#define ISOL8_FRONTEND_RUN_BUNDLE_H

#include <stdint.h>

#include "common/err.h"
#include "cli/run_args.h"
#include "cli/run_input.h"

/* On success *fd_out is a read-only-sealed memfd positioned at 0, *size_out its size. The
 * --files tree may hold at most max_files bytes of file content (ISOL8_E_LIMIT otherwise). */
int run_bundle_create(const struct run_opts *o, const struct run_input *in, uint64_t max_files, int *fd_out,
		      uint64_t *size_out, struct isol8_err *err);

#endif
