/* The policy's life cycle: the first load, isol8d --check-policy, and SIGHUP.
 *
 * A reload is all or nothing: the new policy file and the --http-keys file are both read and
 * checked before anything changes, so a typo leaves the running rules in force (and says
 * why). Tenants are identified across a reload by name: their indices in the new policy
 * replace the old ones in the ownership table and the queue, and the sandboxes of a tenant the
 * new file no longer has are removed, their owner told why at its next use. Running runs and
 * sessions of the other tenants keep their sandboxes; what they create from now on is checked
 * against the new ceilings, and a warm sandbox made under the old policy is not reused. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker/audit.h"
#include "broker/broker.h"
#include "broker/supervise.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "common/keys_file.h"

void broker_policy_lock_init(struct broker *b)
{
	pthread_rwlockattr_t a;

	/* Verb threads come and go all the time; a waiting reload must not be starved by them. */
	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&b->policy_lock, &a);
	pthread_rwlockattr_destroy(&a);
}

static int load(const struct broker_opts *o, struct isol8_policy *p, struct isol8_err *err)
{
	/* The default path is optional: without it the built-in policy applies. */
	if (!o->policy_explicit && access(o->policy_path, F_OK) < 0 && errno == ENOENT) {
		isol8_policy_builtin(p);
		return 0;
	}
	return isol8_policy_load_file(o->policy_path, p, err);
}

static const char *source_of(const struct isol8_policy *p)
{
	return p->source ? p->source : "built-in";
}

int broker_policy_load(struct broker *b, struct isol8_err *err)
{
	if (load(&b->o, &b->policy, err) < 0)
		return -1;
	b->policy_loaded_at = time(NULL);
	log_info("policy: %s (%zu tenants)", source_of(&b->policy), b->policy.n_tenants);
	return 0;
}

static int check_keys(const char *path, struct isol8_err *err)
{
	size_t n;
	return http_keys_check_file(path, &n, err);
}

static void report_line(void *ctx, const char *msg)
{
	const char *file = ctx;
	size_t n = strlen(file);

	/* The loader's own messages already start with the file name; the collected ones do not. */
	if (strncmp(msg, file, n) == 0 && msg[n] == ':')
		fprintf(stderr, "%s\n", msg);
	else
		fprintf(stderr, "%s: %s\n", file, msg);
}

int broker_check_policy(const struct broker_opts *o)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_policy p;
	int rc = 0;

	if (!o->policy_explicit && access(o->policy_path, F_OK) < 0 && errno == ENOENT) {
		isol8_policy_builtin(&p);
		printf("%s does not exist: isol8d would use the built-in policy (%zu tenants)\n", o->policy_path,
		       p.n_tenants);
		isol8_policy_free(&p);
	} else if (isol8_policy_check_file(o->policy_path, report_line, (void *)o->policy_path, &p, &err) < 0) {
		rc = 1;
	} else {
		printf("%s: ok (%zu tenant%s", o->policy_path, p.n_tenants, p.n_tenants == 1 ? "" : "s");
		for (size_t i = 0; i < p.n_tenants; i++)
			printf("%s%s", i ? ", " : ": ", p.tenants[i].name);
		printf("; default tenant %s; admins: ",
		       p.default_tenant >= 0 ? p.tenants[p.default_tenant].name : "none");
		if (!p.admin_marked) {
			printf("local root (no tenant marked \"admin\")");
		} else {
			size_t n = 0;
			for (size_t i = 0; i < p.n_tenants; i++)
				if (p.tenants[i].admin)
					printf("%s%s", n++ ? ", " : "", p.tenants[i].name);
			if (!n)
				printf("none");
		}
		printf(")\n");
		isol8_policy_free(&p);
	}
	if (o->http_keys) {
		err = (struct isol8_err)ISOL8_ERR_INIT;
		if (check_keys(o->http_keys, &err) < 0) {
			report_line((void *)o->http_keys, err.msg);
			rc = 1;
		} else {
			printf("%s: ok\n", o->http_keys);
		}
	}
	return rc;
}

static int tenant_by_name(const struct isol8_policy *p, const char *name)
{
	for (size_t i = 0; i < p->n_tenants; i++)
		if (strcmp(p->tenants[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* The sandboxes of tenants that are gone: out of the table now (nothing may use them any
 * more), removed from Docker in the background, and their ids remembered with the reason.
 * Called under the write lock, before the remap, while they still carry the old index. */
static size_t stop_vanished(struct broker *b, const struct isol8_policy *old, const int *map, const char *new_source)
{
	size_t total = 0;

	for (size_t i = 0; i < old->n_tenants; i++) {
		char(*ids)[65] = NULL;
		char why[256];
		size_t n;

		if (map[i] >= 0)
			continue;
		n = table_container_ids_tenant((int)i, &ids);
		log_warn("reload: tenant %s is no longer in the policy; removing its %zu sandbox(es)",
			 old->tenants[i].name, n);
		snprintf(why, sizeof why, "stopped when isol8d reloaded its policy: tenant %s is no longer in %s",
			 old->tenants[i].name, new_source);
		for (size_t k = 0; k < n; k++) {
			table_tombstone_add(ids[k], why);
			table_container_del(ids[k]);
		}
		broker_remove_containers_async(b, ids, n);
		total += n;
	}
	return total;
}

/* What a sandbox is on the host, fixed at its create: a tenant whose identity or tier the new
 * policy changes must not be served from sandboxes made with the old one. */
static bool identity_changed(const struct isol8_tenant *a, const struct isol8_tenant *b)
{
	return a->host_uid != b->host_uid || a->host_gid != b->host_gid || a->host_uids != b->host_uids ||
		a->isolation != b->isolation;
}

/* The workers drop the tenant's idle pooled sandboxes (verb_renew also refuses every sandbox
 * made before a reload, so one in flight is not reused either). Running runs and sessions keep
 * theirs, with the identity they were made with, until they end. */
static unsigned drain_changed(struct broker *b, const struct isol8_policy *old)
{
	unsigned n = 0;

	for (size_t i = 0; i < b->policy.n_tenants; i++) {
		const struct isol8_tenant *t = &b->policy.tenants[i];
		int o = tenant_by_name(old, t->name);
		struct isol8_buf p = ISOL8_BUF_INIT;

		if (o < 0 || !identity_changed(&old->tenants[o], t))
			continue;
		log_info("reload: tenant %s now has host uid %u%s%u and isolation %s; draining its pooled sandboxes",
			 t->name, (unsigned)t->host_uid, t->host_uids > 1 ? "-" : ":",
			 t->host_uids > 1 ? (unsigned)(t->host_uid + t->host_uids - 1) : (unsigned)t->host_gid,
			 isol8_isolation_name(t->isolation));
		isol8_put_str(&p, t->name);
		for (unsigned w = 0; w < b->o.workers && w < BROKER_MAX_WORKERS; w++)
			if (supervise_pid(SV_WORKER, w) > 0)
				broker_send_worker(b, w, BR_POOL_DRAIN, 0, &p, NULL, 0);
		isol8_buf_free(&p);
		n++;
	}
	return n;
}

void broker_reload(struct broker *b)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_policy np, old;
	_cleanup_free_ int *map = NULL;
	unsigned added = 0;
	size_t stopped;

	broker_notify_reloading();
	log_info("SIGHUP: reloading policy %s%s%s", b->o.policy_path, b->o.http_keys ? " and keys " : "",
		 b->o.http_keys ? b->o.http_keys : "");
	if (load(&b->o, &np, &err) < 0) {
		log_error("reload refused, policy %s stays in force: %s", source_of(&b->policy), err.msg);
		broker_notify_ready(b);
		return;
	}
	if (b->o.http && b->o.http_keys && check_keys(b->o.http_keys, &err) < 0) {
		log_error("reload refused, policy and keys stay as they were: %s", err.msg);
		isol8_policy_free(&np);
		broker_notify_ready(b);
		return;
	}
	map = xcalloc(b->policy.n_tenants + 1, sizeof *map);
	for (size_t i = 0; i < b->policy.n_tenants; i++)
		map[i] = tenant_by_name(&np, b->policy.tenants[i].name);
	for (size_t i = 0; i < np.n_tenants; i++)
		if (tenant_by_name(&b->policy, np.tenants[i].name) < 0)
			added++;

	/* Waits for the verbs in flight; new ones wait for the swap. */
	pthread_rwlock_wrlock(&b->policy_lock);
	old = b->policy;
	stopped = stop_vanished(b, &old, map, source_of(&np));
	b->policy = np;
	b->policy_gen++;
	b->policy_loaded_at = time(NULL);
	table_remap_tenants(map, old.n_tenants);
	pthread_rwlock_unlock(&b->policy_lock);

	broker_pending_remap(b, map, old.n_tenants);
	drain_changed(b, &old);
	log_info("reloaded policy %s: %zu tenants (%u new, %zu gone)%s", source_of(&b->policy), b->policy.n_tenants,
		 added, old.n_tenants + added - b->policy.n_tenants,
		 stopped ? "; sandboxes of gone tenants removed" : "");
	isol8_policy_free(&old);
	audit_reload(b);
	/* The host firewall under the proxy lets through what the new allowAddresses permit. */
	if (proxyns_firewall(b, &err) < 0)
		log_error("reload: %s", err.msg);
	/* The HTTP child read its keys at start; a new one reads the new file (in-flight requests
	 * finish in the old one, which stops on SIGTERM). */
	if (b->o.http && supervise_pid(SV_HTTP, 0)) {
		b->http_restart = true;
		broker_stop_http(b, false);
		log_info("reload: restarting the HTTP frontend for keys %s", b->o.http_keys);
	}
	broker_notify_ready(b);
}
