/* Ownership tables: which worker (slot + generation) owns which container, exec and
 * connection token. Every worker verb that names a container or exec is checked here first:
 * a worker can only act on what the broker created for it. Small linear tables: the broker
 * holds at most a few hundred sandboxes, and simple code is easier to audit. */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/audit.h"
#include "broker/broker.h"
#include "broker/usage.h"
#include "common/proto.h"
#include "common/xalloc.h"

struct token_ent {
	uint32_t token;
	unsigned worker;
	uint32_t gen;
	int tenant;
	uid_t uid;
	bool run;
	uint64_t expires_ms; /* the token is worthless after this, whatever the worker says */
	gid_t gid;
	char principal[ISOL8_MAX_PRINCIPAL + 1]; /* for audit records; "" for the broker's own */
	unsigned once;                           /* table_token_once bits already taken */
	bool replace;                            /* a V_REPLACE token: one sandbox of shape */
	struct sandbox_shape shape;
};
struct exec_ent {
	char id[65];
	char container[65];
	unsigned worker;
	uint32_t gen;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct token_ent *tokens;
static size_t n_tokens, cap_tokens;
static struct owned_container *ctrs;
static size_t n_ctrs, cap_ctrs;
static struct exec_ent *execs;
static size_t n_execs, cap_execs;
static uint32_t next_token = 1;
/* Host uids held by sandboxes (table_uid_claim); a multiset, though each is claimed once. */
static uint32_t *claims;
static size_t n_claims, cap_claims;
static uint32_t claim_next; /* where the next search starts: a freed uid is not the next one given */

#define GROW(arr, n, cap)                                               \
	do {                                                            \
		if ((n) == (cap)) {                                     \
			(cap) = (cap) ? (cap)*2 : 16;                   \
			(arr) = xrealloc((arr), (cap) * sizeof *(arr)); \
		}                                                       \
	} while (0)

uint32_t table_token_new(unsigned worker, uint32_t gen, int tenant, uid_t uid, bool run, uint64_t expires_ms)
{
	uint32_t t;
	pthread_mutex_lock(&lock);
	GROW(tokens, n_tokens, cap_tokens);
	t = next_token++;
	if (next_token == 0)
		next_token = 1;
	tokens[n_tokens++] = (struct token_ent){t, worker, gen, tenant, uid, run, expires_ms, (gid_t)-1, "", 0};
	pthread_mutex_unlock(&lock);
	return t;
}

uint32_t table_token_new_replace(unsigned worker, uint32_t gen, int tenant, const struct sandbox_shape *shape,
				 uint64_t expires_ms)
{
	uint32_t t = table_token_new(worker, gen, tenant, (uid_t)-1, false, expires_ms);

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_tokens; i++)
		if (tokens[i].token == t) {
			tokens[i].replace = true;
			tokens[i].shape = *shape;
			break;
		}
	pthread_mutex_unlock(&lock);
	return t;
}

int table_token_replace_shape(uint32_t token, unsigned worker, uint32_t gen, struct sandbox_shape *shape)
{
	int r = -1;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_tokens; i++)
		if (tokens[i].token == token && tokens[i].worker == worker && tokens[i].gen == gen &&
		    tokens[i].replace) {
			*shape = tokens[i].shape;
			r = 0;
			break;
		}
	pthread_mutex_unlock(&lock);
	return r;
}

int table_token_get(uint32_t token, unsigned worker, uint32_t gen, int *tenant, bool *prewarm)
{
	uint64_t now = clock_mono_ms();
	int r = -1;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_tokens; i++)
		if (tokens[i].token == token && tokens[i].worker == worker && tokens[i].gen == gen &&
		    now < tokens[i].expires_ms) {
			*tenant = tokens[i].tenant;
			*prewarm = tokens[i].uid == (uid_t)-1;
			r = 0;
			break;
		}
	pthread_mutex_unlock(&lock);
	return r;
}

void table_token_set_who(uint32_t token, const char *principal, gid_t gid)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_tokens; i++)
		if (tokens[i].token == token) {
			snprintf(tokens[i].principal, sizeof tokens[i].principal, "%s", principal);
			tokens[i].gid = gid;
			break;
		}
	pthread_mutex_unlock(&lock);
}

int table_token_who(uint32_t token, unsigned worker, uint32_t gen, struct token_who *who)
{
	uint64_t now = clock_mono_ms();
	int r = -1;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_tokens; i++)
		if (tokens[i].token == token && tokens[i].worker == worker && tokens[i].gen == gen &&
		    now < tokens[i].expires_ms) {
			who->tenant = tokens[i].tenant;
			who->uid = tokens[i].uid;
			who->gid = tokens[i].gid;
			memcpy(who->principal, tokens[i].principal, sizeof who->principal);
			r = 0;
			break;
		}
	pthread_mutex_unlock(&lock);
	return r;
}

bool table_token_once(uint32_t token, unsigned worker, uint32_t gen, unsigned bit)
{
	bool first = false;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_tokens; i++)
		if (tokens[i].token == token && tokens[i].worker == worker && tokens[i].gen == gen) {
			first = !(tokens[i].once & bit);
			tokens[i].once |= bit;
			break;
		}
	pthread_mutex_unlock(&lock);
	return first;
}

unsigned table_token_expire(uint64_t now, unsigned *frontend_per_worker, unsigned n_workers)
{
	unsigned n = 0;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_tokens;)
		if (now >= tokens[i].expires_ms) {
			if (tokens[i].uid != (uid_t)-1 && tokens[i].worker < n_workers)
				frontend_per_worker[tokens[i].worker]++;
			tokens[i] = tokens[--n_tokens];
			n++;
		} else {
			i++;
		}
	pthread_mutex_unlock(&lock);
	return n;
}

unsigned table_token_count_runs(int tenant)
{
	unsigned n = 0;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_tokens; i++)
		if (tokens[i].run && (tenant < 0 || tokens[i].tenant == tenant))
			n++;
	pthread_mutex_unlock(&lock);
	return n;
}

unsigned table_token_count_peer(int tenant, uid_t uid)
{
	unsigned n = 0;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_tokens; i++)
		if (tokens[i].uid != (uid_t)-1 && tokens[i].tenant == tenant && tokens[i].uid == uid)
			n++;
	pthread_mutex_unlock(&lock);
	return n;
}

int table_token_drop(uint32_t token, unsigned worker, uint32_t gen)
{
	int frontend = 0;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_tokens; i++)
		if (tokens[i].token == token && tokens[i].worker == worker && tokens[i].gen == gen) {
			frontend = tokens[i].uid != (uid_t)-1;
			tokens[i] = tokens[--n_tokens];
			break;
		}
	pthread_mutex_unlock(&lock);
	return frontend;
}

void table_container_add(const struct owned_container *c)
{
	pthread_mutex_lock(&lock);
	GROW(ctrs, n_ctrs, cap_ctrs);
	ctrs[n_ctrs++] = *c;
	pthread_mutex_unlock(&lock);
}

int table_container_owned(const char *id, unsigned worker, uint32_t gen, struct owned_container *out)
{
	int r = -1;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_ctrs; i++)
		if (strcmp(ctrs[i].id, id) == 0 && ctrs[i].worker == worker && ctrs[i].gen == gen) {
			if (out)
				*out = ctrs[i];
			r = 0;
			break;
		}
	pthread_mutex_unlock(&lock);
	return r;
}

int table_container_take_listen(const char *id, unsigned worker, uint32_t gen)
{
	int fd = -1;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_ctrs; i++)
		if (strcmp(ctrs[i].id, id) == 0 && ctrs[i].worker == worker && ctrs[i].gen == gen) {
			fd = ctrs[i].agent_listen;
			ctrs[i].agent_listen = -1;
			break;
		}
	pthread_mutex_unlock(&lock);
	return fd;
}

int table_container_renew(const char *id, unsigned worker, uint32_t gen, uint64_t deadline_ms)
{
	int r = -1;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_ctrs; i++)
		if (strcmp(ctrs[i].id, id) == 0 && ctrs[i].worker == worker && ctrs[i].gen == gen) {
			if (ctrs[i].deadline_ms)
				ctrs[i].deadline_ms = deadline_ms;
			r = 0;
			break;
		}
	pthread_mutex_unlock(&lock);
	return r;
}

static bool uid_claimed_locked(uint32_t uid)
{
	for (size_t i = 0; i < n_claims; i++)
		if (claims[i] == uid)
			return true;
	return false;
}

static void uid_release_locked(uint32_t uid)
{
	for (size_t i = 0; i < n_claims; i++)
		if (claims[i] == uid) {
			claims[i] = claims[--n_claims];
			return;
		}
}

int table_uid_claim(uint32_t first, uint32_t n, uint32_t *out)
{
	int r = -1;

	pthread_mutex_lock(&lock);
	for (uint32_t k = 0; k < n; k++) {
		uint32_t u = first + (uint32_t)(((uint64_t)claim_next + k) % n);
		if (uid_claimed_locked(u))
			continue;
		GROW(claims, n_claims, cap_claims);
		claims[n_claims++] = u;
		claim_next += k + 1;
		*out = u;
		r = 0;
		break;
	}
	pthread_mutex_unlock(&lock);
	return r;
}

void table_uid_release(uint32_t uid)
{
	pthread_mutex_lock(&lock);
	uid_release_locked(uid);
	pthread_mutex_unlock(&lock);
}

void table_container_del(const char *id)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_ctrs; i++)
		if (strcmp(ctrs[i].id, id) == 0) {
			/* The slot and a never-accepted listener go with the container. */
			if (ctrs[i].agent_listen >= 0)
				close(ctrs[i].agent_listen);
			agent_slot_remove(ctrs[i].slot);
			if (ctrs[i].uid_claimed)
				uid_release_locked(ctrs[i].uid);
			audit_forget(id);
			usage_forget(id);
			ctrs[i] = ctrs[--n_ctrs];
			break;
		}
	for (size_t i = 0; i < n_execs;)
		if (strcmp(execs[i].container, id) == 0)
			execs[i] = execs[--n_execs];
		else
			i++;
	pthread_mutex_unlock(&lock);
}

unsigned table_container_count_tenant_kind(int tenant, int kind)
{
	unsigned n = 0;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_ctrs; i++)
		if ((tenant < 0 || ctrs[i].tenant == tenant) && ctrs[i].kind == kind)
			n++;
	pthread_mutex_unlock(&lock);
	return n;
}

size_t table_kept_find(int tenant, const char *principal, const char *prefix, char (*ids)[65], uint64_t *left_ms,
		       size_t max, uint64_t now)
{
	size_t n = 0, plen = strlen(prefix);

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_ctrs && n < max; i++) {
		const struct owned_container *c = &ctrs[i];
		if (c->kind != SANDBOX_PERSIST || c->tenant != tenant || !*c->owner ||
		    strcmp(c->owner, principal) != 0 || strncmp(c->id, prefix, plen) != 0)
			continue;
		memcpy(ids[n], c->id, 65);
		left_ms[n++] = c->deadline_ms > now ? c->deadline_ms - now : 0;
	}
	pthread_mutex_unlock(&lock);
	return n;
}

bool table_session_exists(int tenant, const char *name)
{
	bool found = false;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_ctrs && !found; i++)
		found = ctrs[i].tenant == tenant && ctrs[i].kind == SANDBOX_SESSION &&
			strcmp(ctrs[i].session, name) == 0;
	pthread_mutex_unlock(&lock);
	return found;
}

size_t table_container_ids(unsigned worker, uint32_t gen, bool expired_only, uint64_t now, char (**ids)[65])
{
	size_t n = 0;
	pthread_mutex_lock(&lock);
	*ids = xcalloc(n_ctrs + 1, sizeof **ids);
	for (size_t i = 0; i < n_ctrs; i++) {
		if (worker != UINT32_MAX && (ctrs[i].worker != worker || ctrs[i].gen != gen))
			continue;
		if (expired_only && (ctrs[i].deadline_ms == 0 || ctrs[i].deadline_ms > now))
			continue;
		memcpy((*ids)[n++], ctrs[i].id, 65);
	}
	pthread_mutex_unlock(&lock);
	return n;
}

void table_exec_add(const char *exec_id, const char *container_id, unsigned worker, uint32_t gen)
{
	pthread_mutex_lock(&lock);
	GROW(execs, n_execs, cap_execs);
	struct exec_ent *e = &execs[n_execs++];
	memset(e, 0, sizeof *e);
	strncpy(e->id, exec_id, 64);
	strncpy(e->container, container_id, 64);
	e->worker = worker;
	e->gen = gen;
	pthread_mutex_unlock(&lock);
}

int table_exec_owned(const char *exec_id, unsigned worker, uint32_t gen)
{
	int r = -1;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_execs; i++)
		if (strcmp(execs[i].id, exec_id) == 0 && execs[i].worker == worker && execs[i].gen == gen) {
			r = 0;
			break;
		}
	pthread_mutex_unlock(&lock);
	return r;
}

void table_forget_worker(unsigned worker, uint32_t gen)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_tokens;)
		if (tokens[i].worker == worker && tokens[i].gen == gen)
			tokens[i] = tokens[--n_tokens];
		else
			i++;
	for (size_t i = 0; i < n_execs;)
		if (execs[i].worker == worker && execs[i].gen == gen)
			execs[i] = execs[--n_execs];
		else
			i++;
	pthread_mutex_unlock(&lock);
}

void table_exec_del(const char *exec_id)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_execs; i++)
		if (strcmp(execs[i].id, exec_id) == 0) {
			execs[i] = execs[--n_execs];
			break;
		}
	pthread_mutex_unlock(&lock);
}

/* ---- policy reload ---- */

void table_remap_tenants(const int *map, size_t n_old)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_tokens; i++)
		if (tokens[i].tenant >= 0)
			tokens[i].tenant = (size_t)tokens[i].tenant < n_old ? map[tokens[i].tenant] : -1;
	for (size_t i = 0; i < n_ctrs; i++)
		if (ctrs[i].tenant >= 0)
			ctrs[i].tenant = (size_t)ctrs[i].tenant < n_old ? map[ctrs[i].tenant] : -1;
	pthread_mutex_unlock(&lock);
}

size_t table_container_ids_tenant(int tenant, char (**ids)[65])
{
	size_t n = 0;
	pthread_mutex_lock(&lock);
	*ids = xcalloc(n_ctrs + 1, sizeof **ids);
	for (size_t i = 0; i < n_ctrs; i++)
		if (ctrs[i].tenant == tenant)
			memcpy((*ids)[n++], ctrs[i].id, 65);
	pthread_mutex_unlock(&lock);
	return n;
}

/* Why a container the broker removed on its own is gone, for the owner's next verb on it:
 * the last TOMBSTONES removals, oldest overwritten first. */
#define TOMBSTONES 256
static struct {
	char id[65];
	char why[192];
} tombs[TOMBSTONES];
static unsigned n_tombs;

void table_tombstone_add(const char *id, const char *why)
{
	pthread_mutex_lock(&lock);
	snprintf(tombs[n_tombs % TOMBSTONES].id, sizeof tombs[0].id, "%s", id);
	snprintf(tombs[n_tombs % TOMBSTONES].why, sizeof tombs[0].why, "%s", why);
	n_tombs++;
	pthread_mutex_unlock(&lock);
}

bool table_tombstone_get(const char *id, char *why, size_t len)
{
	bool found = false;
	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < TOMBSTONES && i < n_tombs; i++)
		if (strcmp(tombs[i].id, id) == 0) {
			snprintf(why, len, "%s", tombs[i].why);
			found = true;
		}
	pthread_mutex_unlock(&lock);
	return found;
}
