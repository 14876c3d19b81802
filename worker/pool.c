#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/run_defaults.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/xalloc.h"
#include "worker/pool.h"

/* About how long a standby interpreter takes to start here (node ~35 ms, python ~15 ms). */
#define STANDBY_SETTLE_MS 60
/* How long a run with no clean sandbox waits for a reset of its shape in flight. */
#define DIRTY_WAIT_MS 100

/* Per worker, all keys together: idle sandboxes cost memory on the host. */
#define POOL_MAX 6
/* How often an idle sandbox without an agent (runsc) is asked whether its container runs. */
#define POOL_PROBE_MS 2000

struct entry {
	struct pool_key key;
	char owner[ISOL8_MAX_PRINCIPAL + 1]; /* principal a reset sandbox ran code for; "" when untouched */
	struct sandbox sb;
	uint64_t created;
	bool drained; /* BR_POOL_DRAIN: its tenant's identity changed; the expiry removes it */
	bool gone;    /* the engine says its container no longer runs (probe_agentless) */
	uint64_t probed;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry ents[POOL_MAX];
static unsigned n_ents;
static unsigned filling; /* fills in flight, all keys */
unsigned g_pool_target = 2;
bool g_pool_secure;
unsigned g_pool_dirty = 2;
/* A signal whenever a sandbox goes back into the pool or a reset ends: a run that finds no
 * clean sandbox waits for a reset of its key (a few ms) rather than creating one (~150 ms). */
static pthread_cond_t put_cv = PTHREAD_COND_INITIALIZER;

static bool key_eq(const struct pool_key *a, const struct pool_key *b);

/* Under lock, with room for one more. */
static void entry_add_locked(const struct pool_key *k, const char *owner, const struct sandbox *sb)
{
	struct entry *e = &ents[n_ents++];

	memset(e, 0, sizeof *e);
	e->key = *k;
	snprintf(e->owner, sizeof e->owner, "%s", owner);
	e->sb = *sb;
	e->created = e->probed = clock_mono_ms();
}

/* A bounded multiset of keys, under lock. */
#define KEYSET_MAX 64
struct keyset {
	struct pool_key k[KEYSET_MAX];
	bool used[KEYSET_MAX];
};

static bool keyset_add(struct keyset *s, const struct pool_key *k)
{
	for (unsigned i = 0; i < KEYSET_MAX; i++)
		if (!s->used[i]) {
			s->k[i] = *k;
			s->used[i] = true;
			return true;
		}
	return false;
}

static void keyset_del(struct keyset *s, const struct pool_key *k)
{
	for (unsigned i = 0; i < KEYSET_MAX; i++)
		if (s->used[i] && key_eq(&s->k[i], k)) {
			s->used[i] = false;
			return;
		}
}

/* Entries equal to k, or all of them when k is NULL. */
static unsigned keyset_count(const struct keyset *s, const struct pool_key *k)
{
	unsigned n = 0;
	for (unsigned i = 0; i < KEYSET_MAX; i++)
		if (s->used[i] && (!k || key_eq(&s->k[i], k)))
			n++;
	return n;
}

static struct keyset resetting; /* used sandboxes being reset */
static struct keyset taken;     /* reusable sandboxes out with a run, until released */

/* V_POOL_STATE: the broker's view of this pool (isol8 status, metrics). A change only marks
 * it; the reporter thread sends one snapshot per REPORT_COALESCE_MS at most, so a run costs a
 * condition signal per change, not a message. */
#define REPORT_COALESCE_MS 20
static pthread_cond_t report_cv = PTHREAD_COND_INITIALIZER;
static bool report_pending;

static void changed_locked(void)
{
	report_pending = true;
	pthread_cond_signal(&report_cv);
}

/* A writable root lets a program write wherever the sandbox user may in the whole image (/var/tmp,
 * /run/lock, and whatever a custom image left writable or owned by it); the agent empties only
 * the tmpfs mounts, so such a sandbox is never proven clean and serves one run only. */
static bool reusable(const struct pool_key *k)
{
	return !k->lim.writable;
}

bool pool_dirty_begin(const struct pool_key *k)
{
	bool ok;

	if (!reusable(k))
		return false;
	pthread_mutex_lock(&lock);
	/* With no clean pool a reset sandbox could not go anywhere: skip the wasted reset. */
	ok = g_pool_target > 0 && keyset_count(&resetting, NULL) < g_pool_dirty && keyset_add(&resetting, k);
	if (ok)
		changed_locked();
	pthread_mutex_unlock(&lock);
	return ok;
}

void pool_dirty_end(const struct pool_key *k)
{
	pthread_mutex_lock(&lock);
	keyset_del(&resetting, k);
	changed_locked();
	pthread_cond_broadcast(&put_cv);
	pthread_mutex_unlock(&lock);
}

bool pool_out_begin(const struct pool_key *k)
{
	bool ok;

	/* Not coming back: a fill replaces it at once. */
	if (!reusable(k))
		return false;
	pthread_mutex_lock(&lock);
	ok = keyset_add(&taken, k);
	changed_locked();
	pthread_mutex_unlock(&lock);
	return ok;
}

void pool_out_end(const struct pool_key *k)
{
	pthread_mutex_lock(&lock);
	keyset_del(&taken, k);
	changed_locked();
	pthread_mutex_unlock(&lock);
}

void pool_key_make(struct pool_key *k, const char *tenant, const struct run_req *r)
{
	memset(k, 0, sizeof *k);
	snprintf(k->tenant, sizeof k->tenant, "%s", tenant);
	k->runtime = r->runtime;
	snprintf(k->image, sizeof k->image, "%s", r->image ? r->image : "");
	snprintf(k->preferred, sizeof k->preferred, "%s", r->preferred_image ? r->preferred_image : "");
	k->lim = r->lim;
	k->net_mode = r->net_mode;
	k->isolation = r->isolation;
}

static bool key_eq(const struct pool_key *a, const struct pool_key *b)
{
	return strcmp(a->tenant, b->tenant) == 0 && a->runtime == b->runtime && strcmp(a->image, b->image) == 0 &&
		strcmp(a->preferred, b->preferred) == 0 && a->net_mode == b->net_mode && a->isolation == b->isolation &&
		a->lim.memory == b->lim.memory && a->lim.cpu_millis == b->lim.cpu_millis &&
		a->lim.timeout_ms == b->lim.timeout_ms && a->lim.sandbox_size == b->lim.sandbox_size &&
		a->lim.tmp_size == b->lim.tmp_size && a->lim.max_output == b->lim.max_output &&
		a->lim.pids == b->lim.pids && a->lim.writable == b->lim.writable;
}

static unsigned count_key(const struct pool_key *k)
{
	unsigned n = 0;
	for (unsigned i = 0; i < n_ents; i++)
		if (key_eq(&ents[i].key, k))
			n++;
	return n;
}

bool pool_put(const struct pool_key *k, const char *owner, const struct sandbox *sb)
{
	struct sandbox victim;
	bool ok = false, evict = false;

	pthread_mutex_lock(&lock);
	/* Bounded by POOL_MAX overall; fills already stop at g_pool_target per key. */
	if (!g_worker_stopping && !g_pool_secure && g_pool_target) {
		if (n_ents == POOL_MAX) {
			/* Full: a just-used, warm sandbox of a shape in demand beats the oldest idle one. */
			unsigned old = 0;
			for (unsigned i = 1; i < n_ents; i++)
				if (ents[i].created < ents[old].created)
					old = i;
			victim = ents[old].sb;
			ents[old] = ents[--n_ents];
			evict = true;
		}
		entry_add_locked(k, owner, sb);
		ok = true;
		changed_locked();
		pthread_cond_broadcast(&put_cv);
	}
	pthread_mutex_unlock(&lock);
	if (evict) {
		struct isol8_err err = ISOL8_ERR_INIT;
		xclose(victim.agent_fd);
		sb_remove(victim.id, &err);
	}
	return ok;
}

struct fill_job {
	struct pool_key key;
	uint32_t token;
};

struct dead {
	struct sandbox sb;
	struct pool_key key;
	bool replace; /* still wanted: not drained, not past its age */
};

/* Entries whose container is gone (sb_alive), out of the table, for drop_dead() outside the
 * lock. Under lock. */
static unsigned take_dead_locked(struct dead dead[POOL_MAX])
{
	uint64_t now = clock_mono_ms();
	unsigned n = 0;

	for (unsigned i = 0; i < n_ents;)
		if (ents[i].gone || !sb_alive(&ents[i].sb)) {
			dead[n].sb = ents[i].sb;
			dead[n].key = ents[i].key;
			dead[n].replace = !ents[i].drained && now - ents[i].created < POOL_MAX_AGE_MS;
			n++;
			ents[i] = ents[--n_ents];
			changed_locked();
		} else {
			i++;
		}
	return n;
}

static void *fill_main(void *arg);

/* A replacement fill runs on its own thread: no connection waits for it. */
static void replace_async(const struct pool_key *k, uint32_t token)
{
	struct fill_job *j;
	pthread_attr_t attr;
	pthread_t th;

	pthread_mutex_lock(&lock);
	if (g_worker_stopping || count_key(k) + keyset_count(&taken, k) >= g_pool_target ||
	    n_ents + filling >= POOL_MAX) {
		pthread_mutex_unlock(&lock);
		return; /* not wanted now: the token expires unused */
	}
	filling++;
	pthread_mutex_unlock(&lock);
	j = xcalloc(1, sizeof *j);
	j->key = *k;
	j->token = token;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, fill_main, j) != 0) {
		pthread_mutex_lock(&lock);
		filling--;
		pthread_mutex_unlock(&lock);
		free(j);
	}
	pthread_attr_destroy(&attr);
}

static void drop_dead(struct dead *dead, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct isol8_err err = ISOL8_ERR_INIT;
		uint32_t token;

		xclose(dead[i].sb.agent_fd);
		/* The broker checks the container is really gone, clears its record and lets us make
		 * one like it: the pool heals without waiting for a run to come. */
		if (dead[i].replace && !g_worker_stopping && sb_replace(dead[i].sb.id, &token, &err) == 0) {
			log_info("pooled sandbox %.12s is gone (container removed or engine restarted): replacing it",
				 dead[i].sb.id);
			replace_async(&dead[i].key, token);
			continue;
		}
		if (dead[i].replace)
			log_debug("replace %.12s: %s", dead[i].sb.id, err.msg);
		log_info("pooled sandbox %.12s is gone (container removed or engine restarted): dropped",
			 dead[i].sb.id);
		/* Clears the broker's record; a container already gone is not an error there. With
		 * the engine down it stays (stopped, restartable) until the engine answers again. */
		sb_remove_or_later(dead[i].sb.id);
	}
}

/* Under lock. */
static bool take_locked(const struct pool_key *k, const char *owner, struct sandbox *out)
{
	uint64_t now = clock_mono_ms();
	bool found = false;
	unsigned best = 0;
	/* A sandbox pooled less than STANDBY_SETTLE_MS ago may still be starting its standby
	 * interpreter: take a settled one first. Among settled ones, reset sandboxes first, most
	 * recent first: warm in every cache, and reusing them keeps the number of idle sandboxes
	 * down. Among unsettled ones, the oldest (the closest to ready). */
	for (unsigned i = 0; i < n_ents; i++) {
		const struct entry *e = &ents[i], *b = &ents[best];
		bool settled = now - e->created >= STANDBY_SETTLE_MS, bsettled = now - b->created >= STANDBY_SETTLE_MS;
		if (e->drained || !key_eq(&e->key, k) || now - e->created >= POOL_MAX_AGE_MS ||
		    (e->owner[0] && strcmp(e->owner, owner) != 0))
			continue;
		if (!found || settled > bsettled ||
		    (settled && bsettled &&
		     ((e->sb.uses > 0) > (b->sb.uses > 0) ||
		      ((e->sb.uses > 0) == (b->sb.uses > 0) && e->created > b->created))) ||
		    (!settled && !bsettled && e->created < b->created)) {
			best = i;
			found = true;
		}
	}
	if (found) {
		*out = ents[best].sb;
		ents[best] = ents[--n_ents];
		changed_locked();
	}
	return found;
}

bool pool_take(const struct pool_key *k, const char *owner, struct sandbox *out)
{
	uint64_t end = clock_mono_ms() + DIRTY_WAIT_MS;
	struct dead dead[POOL_MAX];
	unsigned n_dead;
	bool found;

	pthread_mutex_lock(&lock);
	/* Before choosing: a slot whose container died while idle must not fail a run. */
	n_dead = take_dead_locked(dead);
	while (!(found = take_locked(k, owner, out)) && keyset_count(&resetting, k) && clock_mono_ms() < end) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&put_cv, &lock, &ts);
	}
	pthread_mutex_unlock(&lock);
	drop_dead(dead, n_dead);
	return found;
}

static void *fill_main(void *arg)
{
	struct fill_job *j = arg;
	struct isol8_err err = ISOL8_ERR_INIT;
	struct sandbox sb;

	if (sb_create(j->token, j->key.runtime, j->key.image, j->key.preferred, &j->key.lim, j->key.net_mode,
		      j->key.isolation, SANDBOX_EPHEMERAL, "", &sb, &err) < 0) {
		log_debug("pool fill: %s", err.msg);
	} else if (sb_start(&sb, &err) < 0) {
		log_debug("pool fill start: %s", err.msg);
		sb_remove(sb.id, &err);
	} else {
		sb_warm(&sb, j->key.runtime);
		usage_rebase(&sb);
		pthread_mutex_lock(&lock);
		if (n_ents < POOL_MAX && !g_worker_stopping) {
			entry_add_locked(&j->key, "", &sb); /* "": untouched, any principal of the tenant */
			changed_locked();
			sb.id[0] = '\0';
		}
		pthread_mutex_unlock(&lock);
		if (sb.id[0]) {
			xclose(sb.agent_fd);
			sb_remove(sb.id, &err);
		}
	}
	pthread_mutex_lock(&lock);
	filling--;
	pthread_mutex_unlock(&lock);
	free(j);
	return NULL;
}

void pool_fill_async(struct conn *c, const struct pool_key *k)
{
	struct fill_job *j;

	pthread_mutex_lock(&lock);
	/* One fill per connection; skip when the key is already full or many fills are running. */
	if (c->filler_started || g_worker_stopping || count_key(k) + keyset_count(&taken, k) >= g_pool_target ||
	    n_ents + filling >= POOL_MAX || filling >= 4) {
		pthread_mutex_unlock(&lock);
		return;
	}
	filling++;
	pthread_mutex_unlock(&lock);
	j = xcalloc(1, sizeof *j);
	j->key = *k;
	j->token = c->token;
	if (pthread_create(&c->filler, NULL, fill_main, j) != 0) {
		pthread_mutex_lock(&lock);
		filling--;
		pthread_mutex_unlock(&lock);
		free(j);
		return;
	}
	c->filler_started = true;
}

struct prewarm_job {
	uint32_t token;
	char tenant[65];
	int runtime;
};

static void *prewarm_main(void *arg)
{
	struct prewarm_job *j = arg;
	struct run_req r;
	struct fill_job *f = xcalloc(1, sizeof *f);
	struct isol8_buf done = ISOL8_BUF_INIT;

	/* The shape of a request with no flags and no user config (the spec defaults). */
	memset(&r, 0, sizeof r);
	r.runtime = j->runtime;
	r.timeout_ms = ISOL8_DEFAULT_TIMEOUT_MS;
	r.isolation = ISOL8_ISO_POLICY;
	sandbox_limits_default(&r.lim);
	pool_key_make(&f->key, j->tenant, &r);
	f->token = j->token;
	pthread_mutex_lock(&lock);
	filling++;
	pthread_mutex_unlock(&lock);
	fill_main(f); /* frees f */
	isol8_put_u32(&done, j->token);
	brokerc_send_noreply(V_CONN_DONE, &done);
	isol8_buf_free(&done);
	free(j);
	return NULL;
}

void pool_prewarm_async(uint32_t token, const char *tenant, int runtime)
{
	struct prewarm_job *j = xcalloc(1, sizeof *j);
	pthread_attr_t attr;
	pthread_t th;

	j->token = token;
	snprintf(j->tenant, sizeof j->tenant, "%s", tenant);
	j->runtime = runtime;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, prewarm_main, j) != 0)
		free(j);
	pthread_attr_destroy(&attr);
}

void pool_join(struct conn *c)
{
	if (c->filler_started) {
		pthread_join(c->filler, NULL);
		c->filler_started = false;
	}
}

void pool_drain(const char *tenant)
{
	unsigned n = 0;

	/* Marked here, removed by the expiry thread: this runs on the thread that delivers the
	 * broker's replies, so it cannot wait for V_REMOVE's. */
	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < n_ents; i++)
		if (strcmp(ents[i].key.tenant, tenant) == 0 && !ents[i].drained) {
			ents[i].drained = true;
			n++;
		}
	pthread_mutex_unlock(&lock);
	log_info("pool: tenant %s changed identity; removing its %u idle sandbox(es)", tenant, n);
}

/* A runsc sandbox has no agent connection whose hang-up says that its container died, so the
 * engine is asked (V_INSPECT through the broker) every POOL_PROBE_MS. Outside the lock: the
 * answer takes a round trip to the engine. An engine that does not answer decides nothing. */
static void probe_agentless(uint64_t now)
{
	char ids[POOL_MAX][sizeof ents[0].sb.id];
	unsigned n = 0;

	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < n_ents; i++)
		if (ents[i].sb.agent_fd < 0 && !ents[i].gone && now - ents[i].probed >= POOL_PROBE_MS) {
			ents[i].probed = now;
			memcpy(ids[n++], ents[i].sb.id, sizeof ids[0]);
		}
	pthread_mutex_unlock(&lock);
	for (unsigned k = 0; k < n; k++) {
		struct isol8_err err = ISOL8_ERR_INIT;
		bool running = true, oom;
		int code;
		uint32_t kills;

		if (sb_inspect(ids[k], &running, &oom, &code, &kills, NULL, &err) < 0 && err.code != ISOL8_E_NOTFOUND)
			continue;
		if (running && err.code != ISOL8_E_NOTFOUND)
			continue;
		pthread_mutex_lock(&lock);
		for (unsigned i = 0; i < n_ents; i++)
			if (strcmp(ents[i].sb.id, ids[k]) == 0)
				ents[i].gone = true;
		pthread_mutex_unlock(&lock);
	}
}

void pool_expire(uint64_t now, bool all)
{
	struct dead dead[POOL_MAX];
	unsigned n_dead;

	if (!all)
		probe_agentless(now);

	/* Noticed in the background too, within a second, so that the next run finds the pool as
	 * it really is. */
	pthread_mutex_lock(&lock);
	n_dead = all ? 0 : take_dead_locked(dead);
	pthread_mutex_unlock(&lock);
	drop_dead(dead, n_dead);
	for (;;) {
		struct sandbox victim;
		bool found = false;
		struct isol8_err err = ISOL8_ERR_INIT;

		pthread_mutex_lock(&lock);
		for (unsigned i = 0; i < n_ents; i++)
			if (all || ents[i].drained || now - ents[i].created >= POOL_MAX_AGE_MS) {
				victim = ents[i].sb;
				ents[i] = ents[--n_ents];
				changed_locked();
				found = true;
				break;
			}
		pthread_mutex_unlock(&lock);
		if (!found)
			return;
		xclose(victim.agent_fd);
		if (sb_remove(victim.id, &err) < 0)
			log_debug("pool expire %.12s: %s", victim.id, err.msg);
	}
}

/* ---- V_POOL_STATE ---- */

struct shape_count {
	const struct pool_key *key;
	uint32_t n[3]; /* warm, resetting, in use */
};

static void count_into(struct shape_count *sc, unsigned *n, const struct pool_key *k, int which)
{
	for (unsigned i = 0; i < *n; i++)
		if (key_eq(sc[i].key, k)) {
			sc[i].n[which]++;
			return;
		}
	if (*n == ISOL8_POOL_STATE_MAX)
		return;
	memset(&sc[*n], 0, sizeof sc[*n]);
	sc[*n].key = k;
	sc[*n].n[which] = 1;
	(*n)++;
}

/* Under lock: the payload of V_POOL_STATE (common/proto.h). */
static void snapshot_locked(struct isol8_buf *p)
{
	static struct shape_count sc[ISOL8_POOL_STATE_MAX];
	unsigned n = 0;

	for (unsigned i = 0; i < n_ents; i++)
		count_into(sc, &n, &ents[i].key, 0);
	for (unsigned i = 0; i < KEYSET_MAX; i++) {
		if (resetting.used[i])
			count_into(sc, &n, &resetting.k[i], 1);
		if (taken.used[i])
			count_into(sc, &n, &taken.k[i], 2);
	}
	isol8_put_u32(p, n);
	for (unsigned i = 0; i < n; i++) {
		const struct pool_key *k = sc[i].key;
		isol8_put_str(p, k->tenant);
		isol8_put_u8(p, (uint8_t)k->runtime);
		isol8_put_str(p, k->preferred[0] ? k->preferred : k->image);
		isol8_put_u64(p, k->lim.memory);
		isol8_put_u64(p, k->lim.cpu_millis);
		isol8_put_u32(p, k->lim.pids);
		isol8_put_u8(p, (uint8_t)k->net_mode);
		isol8_put_u8(p, k->lim.writable ? 1 : 0);
		isol8_put_u8(p, (uint8_t)k->isolation);
		for (int j = 0; j < 3; j++)
			isol8_put_u32(p, sc[i].n[j]);
	}
}

static void *report_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct isol8_buf p = ISOL8_BUF_INIT;
		struct timespec ts = {0, REPORT_COALESCE_MS * 1000000L};

		pthread_mutex_lock(&lock);
		while (!report_pending)
			pthread_cond_wait(&report_cv, &lock);
		pthread_mutex_unlock(&lock);
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&lock);
		report_pending = false;
		snapshot_locked(&p);
		pthread_mutex_unlock(&lock);
		/* Only this thread sends it: the broker always holds the latest snapshot. */
		brokerc_send_noreply(V_POOL_STATE, &p);
		isol8_buf_free(&p);
	}
	return NULL;
}

void pool_report_start(void)
{
	pthread_attr_t attr;
	pthread_t th;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, report_main, NULL) != 0)
		log_warn("pool: cannot start the state reporter; isol8 status will show no pools");
	pthread_attr_destroy(&attr);
}
