/* How isol8d's root-started helpers (isol8-worker, isol8-proxy, isol8-fetch) begin: the same
 * options (--fd, --uid, --gid, --log-level), the same refusal when started by hand, the same
 * log and SIGPIPE set-up, and the same lockdown keeping stderr and the channel. */
#ifndef ISOL8_LOCKDOWN_START_H
#define ISOL8_LOCKDOWN_START_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "lockdown/lockdown.h"

struct lockdown_start {
	const char *prog; /* "isol8-worker", ...: the log name and the refusal */
	bool need_gid;    /* refuse a missing --gid too */
	/* filled by lockdown_start_args */
	struct worker_identity id;
	int chan;  /* the channel with isol8d (--fd, default 3) */
	int level; /* --log-level */
};

/* The caller's own options: on_opt gets each one's short code and argument, and returns -1 for
 * one it does not know. */
typedef int (*lockdown_opt_fn)(int c, const char *arg, void *ctx);

/* Parse the common options and the caller's extra ones (n_extra entries, no terminator). An
 * unknown option, a channel below 3, uid 0 or (need_gid) gid 0 dies with "PROG is started by
 * isol8d, not by hand". Then records the parent (the broker), starts the log at --log-level
 * and ignores SIGPIPE. */
void lockdown_start_args(struct lockdown_start *s, int argc, char **argv, const struct option *extra, size_t n_extra,
			 lockdown_opt_fn on_opt, void *ctx);

/* worker_lockdown_with keeping stderr and the channel; s->chan is the channel's new number.
 * Dies with "lockdown: ..." on failure. */
void lockdown_start_lock(struct lockdown_start *s, int (*seccomp_load)(struct isol8_err *err));

#endif
