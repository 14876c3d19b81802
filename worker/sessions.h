/* Persistent sessions owned by this worker: a sandbox bound to one tenant and one runtime,
 * plus (for python, node, bash) a long-lived interpreter driver so state survives between
 * runs. A session is used by one run at a time (its lock). */
#ifndef ISOL8_WORKER_SESSIONS_H
#define ISOL8_WORKER_SESSIONS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "worker/worker.h"

struct session {
	char owner[ISOL8_MAX_PRINCIPAL + 1]; /* principal: sessions belong to who created them */
	char tenant[65];
	char name[65];
	int runtime;
	struct sandbox sb;
	int repl_fd; /* hijacked stream of the driver, -1 when not running */
	char repl_exec[65];
	uint64_t created_ms, last_used_ms, idle_ms;
	uint64_t created_wall;
	pthread_mutex_t lock; /* held for the duration of a run */
	bool dead;
	uint32_t oom_kills; /* memory cgroup oom_kill count seen so far */
	int refs;
};

/* Find (owner, name) and lock it; NULL if absent. */
struct session *session_acquire(const char *owner, const char *name);
/* Register a new session (already created sandbox) and return it locked. */
struct session *session_add(const char *owner, const char *tenant, const char *name, int runtime,
			    const struct sandbox *sb, uint64_t idle_ms);
void session_release(struct session *s);
/* -1 when s's container is gone (removed, killed, engine restarted): s is removed (and
 * released) and err says the session was lost. */
int session_check_alive(struct session *s, struct isol8_err *err);
/* Remove a session: stop its driver, remove its sandbox. s must be acquired; it is released. */
void session_destroy(struct session *s);
unsigned session_count(const char *tenant);

#endif
