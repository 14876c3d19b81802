/* Sandboxes the worker gave up but could not remove because the engine did not answer (it was
 * stopped or restarting): removal is retried every second until it works, so that an engine
 * restart leaves no orphans behind once it answers again. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "worker/worker.h"

#define REAPER_MAX 64

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char ids[REAPER_MAX][65];
static unsigned n_ids;
/* Every second at first, then less often while the engine stays down (each try is a warning
 * in the broker's log): up to every 16 s. */
static uint64_t next_at, delay_ms = 1000;

/* Only an engine that did not answer is worth another try; a refusal (not ours any more) or
 * a container already gone (not an error) is not. */
static bool retryable(const struct isol8_err *e)
{
	return e->code == ISOL8_E_UNAVAIL || e->code == ISOL8_E_DOCKER || e->code == ISOL8_E_TIMEOUT;
}

void sb_remove_or_later(const char *id)
{
	struct isol8_err e = ISOL8_ERR_INIT;

	if (sb_remove(id, &e) == 0)
		return;
	if (!retryable(&e)) {
		log_warn("remove %.12s: %s", id, e.msg);
		return;
	}
	pthread_mutex_lock(&lock);
	if (n_ids < REAPER_MAX)
		snprintf(ids[n_ids++], sizeof ids[0], "%s", id);
	else
		log_warn("remove %.12s: %s (not retried: %u removals pending)", id, e.msg, REAPER_MAX);
	pthread_mutex_unlock(&lock);
	log_info("remove %.12s: %s; retrying every second", id, e.msg);
}

void reaper_retry(void)
{
	char todo[REAPER_MAX][65];
	unsigned n, failed = 0;
	uint64_t now = clock_mono_ms();

	pthread_mutex_lock(&lock);
	if (now < next_at) {
		pthread_mutex_unlock(&lock);
		return;
	}
	n = n_ids;
	memcpy(todo, ids, sizeof ids[0] * n);
	n_ids = 0;
	pthread_mutex_unlock(&lock);
	for (unsigned i = 0; i < n; i++) {
		struct isol8_err e = ISOL8_ERR_INIT;
		if (sb_remove(todo[i], &e) == 0) {
			log_info("removed %.12s once the engine answered again", todo[i]);
		} else if (retryable(&e)) {
			failed++;
			pthread_mutex_lock(&lock);
			if (n_ids < REAPER_MAX)
				memcpy(ids[n_ids++], todo[i], sizeof ids[0]);
			pthread_mutex_unlock(&lock);
		} else {
			log_warn("remove %.12s: %s", todo[i], e.msg);
		}
	}
	pthread_mutex_lock(&lock);
	delay_ms = failed ? (delay_ms >= 8000 ? 16000 : delay_ms * 2) : 1000;
	next_at = clock_mono_ms() + (failed ? delay_ms : 0);
	pthread_mutex_unlock(&lock);
}
