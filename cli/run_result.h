/* Reporting a WK_RESULT: buffered output, --json, --persist/--timings/--debug lines, and the
 * exit status (the program's exitCode; the worker already maps timeouts to 124, OOM to 137). */
#ifndef ISOL8_FRONTEND_RUN_RESULT_H
#define ISOL8_FRONTEND_RUN_RESULT_H

#include <stddef.h>

#include "cli/broker_conn.h"
#include "common/err.h"
#include "cli/run_args.h"
#include "cli/run_io.h"

/* Largest result text accepted from the worker: one frame, plus the output files spliced in by
 * broker_expect_result(). */
#define RUN_RESULT_MAX (ISOL8_IPC_MAX_PAYLOAD + BROKER_FILES_MAX + 16u)

int run_result_report(const struct run_opts *o, struct run_io *io, const char *text, size_t len, int *exit_code,
		      struct isol8_err *err);

/* --no-stream style printing of collected output (also used when a run fails midway). */
void run_result_print_buffered(struct run_io *io);

#endif
