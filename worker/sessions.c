#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "worker/sessions.h"

#define MAX_SESSIONS 256

static pthread_mutex_t tlock = PTHREAD_MUTEX_INITIALIZER;
static struct session *tab[MAX_SESSIONS];
static unsigned n_tab;

struct session *session_acquire(const char *owner, const char *name)
{
	struct session *s = NULL;
	pthread_mutex_lock(&tlock);
	for (unsigned i = 0; i < n_tab; i++)
		if (!tab[i]->dead && strcmp(tab[i]->owner, owner) == 0 && strcmp(tab[i]->name, name) == 0) {
			s = tab[i];
			s->refs++;
			break;
		}
	pthread_mutex_unlock(&tlock);
	if (!s)
		return NULL;
	pthread_mutex_lock(&s->lock);
	if (s->dead) {
		session_release(s);
		return NULL;
	}
	return s;
}

struct session *session_add(const char *owner, const char *tenant, const char *name, int runtime,
			    const struct sandbox *sb, uint64_t idle_ms)
{
	struct session *s = xcalloc(1, sizeof *s);
	snprintf(s->owner, sizeof s->owner, "%s", owner);
	snprintf(s->tenant, sizeof s->tenant, "%s", tenant);
	snprintf(s->name, sizeof s->name, "%s", name);
	s->runtime = runtime;
	s->sb = *sb;
	s->repl_fd = -1;
	s->created_ms = s->last_used_ms = clock_mono_ms();
	s->created_wall = (uint64_t)time(NULL);
	s->idle_ms = idle_ms ? idle_ms : 30 * 60 * 1000;
	s->refs = 1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_lock(&s->lock);
	pthread_mutex_lock(&tlock);
	if (n_tab == MAX_SESSIONS) {
		pthread_mutex_unlock(&tlock);
		pthread_mutex_unlock(&s->lock);
		free(s);
		return NULL;
	}
	tab[n_tab++] = s;
	pthread_mutex_unlock(&tlock);
	return s;
}

void session_release(struct session *s)
{
	bool free_it = false;
	s->last_used_ms = clock_mono_ms();
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_lock(&tlock);
	if (--s->refs == 0 && s->dead) {
		for (unsigned i = 0; i < n_tab; i++)
			if (tab[i] == s) {
				tab[i] = tab[--n_tab];
				break;
			}
		free_it = true;
	}
	pthread_mutex_unlock(&tlock);
	if (free_it) {
		pthread_mutex_destroy(&s->lock);
		free(s);
	}
}

void session_destroy(struct session *s)
{
	s->repl_fd = xclose(s->repl_fd);
	s->sb.agent_fd = xclose(s->sb.agent_fd);
	sb_remove_or_later(s->sb.id);
	s->dead = true;
	session_release(s);
}

int session_check_alive(struct session *s, struct isol8_err *err)
{
	char name[sizeof s->name];

	if (sb_alive(&s->sb))
		return 0;
	snprintf(name, sizeof name, "%s", s->name);
	log_info("session %s of tenant %s: container %.12s is gone", s->name, s->tenant, s->sb.id);
	session_destroy(s);
	return isol8_err_set(err, ISOL8_E_NOTFOUND, 0, "session '%s' was lost: its container is gone", name);
}

unsigned session_count(const char *tenant)
{
	unsigned n = 0;
	pthread_mutex_lock(&tlock);
	for (unsigned i = 0; i < n_tab; i++)
		if (!tab[i]->dead && strcmp(tab[i]->tenant, tenant) == 0)
			n++;
	pthread_mutex_unlock(&tlock);
	return n;
}

static void json_escape(struct isol8_buf *b, const char *s)
{
	json_object *o = json_object_new_string(s);
	isol8_buf_puts(b, json_object_to_json_string(o));
	json_object_put(o);
}

int sessions_list(const char *owner, struct isol8_buf *out)
{
	bool first = true;
	uint64_t now = clock_mono_ms();
	time_t wall = time(NULL);
	pthread_mutex_lock(&tlock);
	isol8_buf_putc(out, '[');
	for (unsigned i = 0; i < n_tab; i++) {
		struct session *s = tab[i];
		if (s->dead || strcmp(s->owner, owner) != 0)
			continue;
		isol8_buf_puts(out, first ? "{\"id\":" : ",{\"id\":");
		first = false;
		json_escape(out, s->name);
		/* A run (or file transfer) holds the session's lock throughout: busy means active. */
		bool active = pthread_mutex_trylock(&s->lock) != 0;
		if (!active)
			pthread_mutex_unlock(&s->lock);
		isol8_buf_printf(out,
				 ",\"runtime\":\"%s\",\"containerId\":\"%s\",\"createdAt\":%llu,\"lastUsedAt\":%llu,"
				 "\"idleMs\":%llu,\"active\":%s}",
				 isol8_runtime_name(s->runtime), s->sb.id,
				 (unsigned long long)s->created_wall * 1000ull,
				 (unsigned long long)(wall - (time_t)((now - s->last_used_ms) / 1000)) * 1000ull,
				 (unsigned long long)(now - s->last_used_ms), active ? "true" : "false");
	}
	isol8_buf_putc(out, ']');
	pthread_mutex_unlock(&tlock);
	return 0;
}

int sessions_stop(const char *owner, const char *name, struct isol8_err *err)
{
	struct session *s = session_acquire(owner, name);
	if (!s)
		return isol8_err_set(err, ISOL8_E_NOTFOUND, 0, "no session '%s'", name);
	session_destroy(s);
	return 0;
}

/* Idle expiry: sessions in use are skipped (trylock). */
void sessions_expire(uint64_t now)
{
	for (;;) {
		struct session *victim = NULL;
		pthread_mutex_lock(&tlock);
		for (unsigned i = 0; i < n_tab && !victim; i++) {
			struct session *s = tab[i];
			if (s->dead || now - s->last_used_ms < s->idle_ms)
				continue;
			if (pthread_mutex_trylock(&s->lock) == 0) {
				s->refs++;
				victim = s;
			}
		}
		pthread_mutex_unlock(&tlock);
		if (!victim)
			return;
		log_info("session %s of tenant %s expired after %llu ms idle", victim->name, victim->tenant,
			 (unsigned long long)victim->idle_ms);
		session_destroy(victim);
	}
}

void sessions_stop_all(void)
{
	for (;;) {
		struct session *victim = NULL;
		pthread_mutex_lock(&tlock);
		for (unsigned i = 0; i < n_tab && !victim; i++)
			if (!tab[i]->dead) {
				victim = tab[i];
				victim->refs++;
			}
		pthread_mutex_unlock(&tlock);
		if (!victim)
			return;
		pthread_mutex_lock(&victim->lock);
		session_destroy(victim);
	}
}
