/* One execution, in the phases of worker/run.c: acquire (acquire.c), inject (inject.c),
 * install and setup (setup.c), execute (execute.c), collect (collect.c), release (release.c).
 * A struct run carries what the phases share; it is released by a cleanup attribute in the
 * connection code, after the result went out, so the caller never waits for the sandbox's
 * reset or removal. */
#ifndef ISOL8_WORKER_RUN_H
#define ISOL8_WORKER_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "common/cleanup.h"
#include "worker/pool.h"
#include "worker/worker.h"

#define TIMEOUT_MARKER "\n--- EXECUTION TIMED OUT ---\n"
#define HOST_GRACE_MS 1500
#define SANDBOX_KILLED_MSG "the sandbox was killed while the program ran (container removed or engine restarted)"
#define SANDBOX_PIDS_MSG                                                                                         \
	"the program reached the sandbox's process limit (pids-limit %u) and gVisor stopped the sandbox (runsc " \
	"cannot refuse a fork with EAGAIN, google/gvisor#2490)"
/* Inline code travels as one exec argument: stay well under the broker's ISOL8_MAX_ARG and the
 * 64 KiB frame that also carries env; larger code goes to a file. */
#define INLINE_MAX (16u << 10)

struct timings {
	uint64_t t0, acquire, inject, install, setup, exec, total;
};

struct env_list {
	struct isol8_buf raw; /* NUL-separated */
	const char **v;
};

/* One program exec's outcome. */
struct exec_outcome {
	int exit_code;
	bool timed_out, interrupted, eof, standby;
	uint64_t ms;
	uint64_t started_ms, exited_ms; /* clock_mono_ms() at program start and when its status was known */
};

/* What the acquire phase holds, for the release phase. */
enum run_hold {
	HOLD_NONE,    /* no sandbox (or a session's, which the session owns) */
	HOLD_PARTIAL, /* created or taken, not ready: removed on release */
	HOLD_READY,   /* ready for the run: reset into the pool or removed per its kind */
};

struct run {
	struct conn *c;
	const struct run_req *r;
	struct timings tm;
	int kind; /* SANDBOX_* */
	struct session *s;
	struct sandbox sb_local, *sb;
	enum run_hold hold;
	struct pool_key pk;
	bool have_pk, out_reg;
	struct env_list env;
	struct pump_out o;
	bool o_init;
	struct exec_outcome x;
	const char *notice;
	bool oom;
	uint64_t deadline;
	char exec_id[40], ts[96];
	char codefile[64]; /* main<ext> when the code goes to a file */
	bool need_file, warm;
	json_object *result; /* set by the collect phase */
};

#define RUN_INIT                              \
	{                                     \
		.sb_local = {.agent_fd = -1 } \
	}

/* run.c: the phases in order; fills run->result (conn.c sends it). */
int run_execute(struct run *run, struct conn *c, const struct run_req *r, int out_fd, int err_fd,
		struct isol8_err *err);
/* run.c: the program's environment (base, secrets, proxy, request). */
void env_build(struct env_list *e, const struct run_req *r);
void env_free(struct env_list *e);
/* release.c: the cleanup of a struct run (see _cleanup_run_). */
void run_release(struct run *run);
#define _cleanup_run_ _cleanup_(run_release)
/* release.c: give up the sandbox of a failed attempt (removed) and forget the attempt. */
void run_drop_sandbox(struct run *run);

/* acquire.c */
int run_acquire(struct run *run, struct isol8_err *err);
/* inject.c: the request's files and, when codefile is set, the code as /sandbox/<codefile>. */
int run_inject(const struct run *run, const char *codefile, struct isol8_err *err);
/* setup.c: packages (install), then the image's and the request's setup scripts. 1: a setup
 * script timed out or was interrupted (run->x says which): go straight to collect. */
int run_install(struct run *run, struct isol8_err *err);
int run_setup(struct run *run, struct isol8_err *err);
/* execute.c */
int run_program(struct run *run, struct isol8_err *err);
int exec_stream(const struct sandbox *sb, const char *const *argv, const char *const *env, const char *workdir,
		const char *in, size_t in_len, int stdin_fd, bool attach, uint64_t deadline, int ctrl_fd,
		struct pump_out *o, struct exec_outcome *x, struct isol8_err *err);
void repl_kill(struct session *s, const char *const *env);
/* collect.c: timeout, OOM, the result JSON; closes the output fds. */
void run_collect(struct run *run);

/* helper.c: internal commands in the sandbox (tar, install, the REPL's kill). */
int run_helper(const char *id, const char *const *argv, const char *const *env, const void *in, size_t in_len,
	       uint64_t deadline, struct isol8_buf *out, struct isol8_buf *errb, struct isol8_err *err);
void timeout_arg(char *buf, size_t n, uint64_t ms);
void random_token(char out[33]);
bool repl_capable(const struct run_req *r);

#endif
