/* Pre-started interpreters ("standbys", A_WARM / A_RUN_WARM in common/agent_proto.h): which
 * runtime has one, which runs may use it, and the job it is sent. */
#ifndef ISOL8_WORKER_STANDBY_H
#define ISOL8_WORKER_STANDBY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/agent_proto.h"
#include "common/err.h"

#define STANDBY_JOB_MAX ISOL8_AGENT_MAX_JOB

/* The standby's command for a runtime, or NULL when it has none. */
const char *const *standby_argv(int runtime);

/* An interpreter reads some variables once at start-up (PYTHON*, NODE_*, LD_*, locale, PATH ...):
 * a run may use a standby started with warm only if it changes none of those. Both lists are
 * "K=V" entries, NULL-terminated; a later entry of env replaces an earlier one of the same name. */
bool standby_env_compatible(const char *const *warm, const char *const *env);

/* Appends the job for the standby to job (NUL-separated: "1", cwd, file, env count, env entries,
 * code; with program arguments "2", cwd, file, env count, env entries, argument count,
 * arguments, code). file is where the standby writes the code before running it, or NULL to
 * run it inline (python -c). args is NULL-terminated, or NULL. Version 1 is kept for runs
 * without arguments so a standby from an older image still serves them. Fails, leaving job as
 * it was, when it would exceed STANDBY_JOB_MAX. */
int standby_job(struct isol8_buf *job, const char *cwd, const char *file, const char *const *env,
		const char *const *args, const char *code, struct isol8_err *err);

#endif
