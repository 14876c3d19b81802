/* The broker's children in one table: workers, the network proxy, the --http child and the
 * one-shot fetch helpers. The per-kind files build the argv and fds and hold the channel; this
 * table holds the pid (and a pidfd where the kernel has them, so a signal never reaches a
 * recycled pid), reaps, restarts with a back-off, and stops everything at shutdown.
 *
 * Only the children in the table are reaped (waitid on the pidfd, else waitpid on the pid),
 * never waitpid(-1): a helper another thread forks and waits for itself (netns.c, users.c) is
 * not taken from it. No dependency on struct broker: tests/unit/check_supervise.c drives it. */
#ifndef ISOL8_BROKER_SUPERVISE_H
#define ISOL8_BROKER_SUPERVISE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"

enum supervise_kind {
	SV_WORKER,   /* idx: the worker slot */
	SV_PROXY,    /* idx 0 */
	SV_HTTP,     /* idx 0 */
	SV_FETCH,    /* idx: the fetch slot; one-shot */
	SV_KEYSTORE, /* idx 0: isol8-keystore, with a PostgreSQL key store */
	SV__KINDS,
};

#define SUPERVISE_MAX 64 /* BROKER_MAX_WORKERS + proxy + http + keystore + BROKER_MAX_FETCHES, with room */

struct supervise_ops {
	const char *name;
	/* Restart policy: after the n-th death in a row the child waits backoff_ms << n, past 6
	 * deaths backoff_max_ms; alive reset_ms past its restart time, the count starts again (0:
	 * never). respawn false: a one-shot child, forgotten once reaped. */
	unsigned backoff_ms, backoff_max_ms, reset_ms;
	bool respawn;
	/* Start it: *pid the forked child (not yet in the table). 0, or -1 with err. */
	int (*spawn)(void *ctx, unsigned idx, pid_t *pid, struct isol8_err *err);
	/* It died (status as from waitpid), main loop, no lock held: release what it owned.
	 * Return false when the death was asked for (a restart, not a crash): no back-off. */
	bool (*reaped)(void *ctx, unsigned idx, pid_t pid, int status, uint64_t now_ms);
};

/* Once, before any child starts: ops[kind] for each kind (NULL: kind unused), ctx passed back. */
void supervise_init(const struct supervise_ops *const ops[SV__KINDS], void *ctx);
/* Start (kind, idx) with its ops' spawn and watch it. */
int supervise_spawn(enum supervise_kind kind, unsigned idx, struct isol8_err *err);
/* Watch a child forked by its caller (a one-shot kind whose spawn needs per-job arguments). */
void supervise_add(enum supervise_kind kind, unsigned idx, pid_t pid);
/* Main loop, after SIGCHLD (any wake-up): collect the dead children, run their reaped
 * callbacks, then, unless stopping, restart those whose back-off has passed. */
void supervise_reap(uint64_t now_ms, bool stopping);
/* The live child's pid, 0 when none. Any thread. */
pid_t supervise_pid(enum supervise_kind kind, unsigned idx);
/* Signal the live child (through its pidfd when it has one): 0, or -1 when it is not running. */
int supervise_kill(enum supervise_kind kind, unsigned idx, int sig);
/* Shutdown: send sig (0: none, the caller asked it to stop another way) to every live child of
 * kind, wait up to wait_ms for them, then SIGKILL what is left and reap it. No callbacks run,
 * nothing restarts. */
void supervise_stop(enum supervise_kind kind, int sig, unsigned wait_ms);
/* Shutdown, last: SIGTERM to every child still in the table, SIGKILL after term_ms. */
void supervise_stop_all(unsigned term_ms);
/* Children of kind in the table (live or waiting to restart). */
unsigned supervise_count(enum supervise_kind kind);
/* Tests: forget every entry (their processes are the caller's). */
void supervise_reset(void);

#endif
