/* The acquire phase: the session's sandbox, a pooled one, or a new one; filtered networking's
 * rules before any code runs; a new session registered. On failure run->hold says what the
 * release phase must remove. */
#include "config.h"

#include <string.h>

#include "common/log.h"
#include "worker/run.h"
#include "worker/sessions.h"

/* A pooled sandbox for the run's shape, with a fresh hard deadline; false when none. */
static bool take_pooled(struct run *run)
{
	struct conn *c = run->c;
	struct sandbox *sb = run->sb;
	struct isol8_err e = ISOL8_ERR_INIT;
	bool ok;

	pool_key_make(&run->pk, c->tenant, run->r);
	run->have_pk = true;
	ok = pool_take(&run->pk, c->principal, sb);
	/* A reused sandbox gets a fresh hard deadline from the broker first. */
	if (ok && sb_renew(sb->id, run->r->timeout_ms, &e) < 0) {
		log_info("pooled sandbox %.12s not used: %s", sb->id, e.msg);
		sb->agent_fd = xclose(sb->agent_fd);
		if (sb_remove(sb->id, &e) < 0)
			log_debug("remove %.12s: %s", sb->id, e.msg);
		ok = false;
	}
	/* Counted as the key's until released: taking it must not make the pool build another
	 * that the reset will make redundant. */
	if (ok && !g_pool_secure)
		run->out_reg = pool_out_begin(&run->pk);
	pool_fill_async(c, &run->pk);
	return ok;
}

/* Docker's own words name a directory deep in its data root; say what it means. */
static int explain_full(struct isol8_err *err)
{
	if (strstr(err->msg, "no space left on device"))
		return isol8_err_wrap(err,
				      "the Docker engine's disk is full (free space where dockerd keeps its data)");
	return -1;
}

static int create_new(struct run *run, struct isol8_err *err)
{
	const struct run_req *r = run->r;
	struct sandbox *sb = run->sb;

	if (sb_create(run->c->token, r->runtime, r->image ? r->image : "", r->preferred_image ? r->preferred_image : "",
		      &r->lim, r->net_mode, r->isolation, run->kind, r->session ? r->session : "", sb, err) < 0)
		return explain_full(err);
	run->hold = HOLD_PARTIAL;
	if (sb_start(sb, err) < 0)
		return explain_full(err);
	/* A sandbox made for this run keeps a standby too once it is back in the pool. */
	if (run->have_pk)
		sb_warm(sb, r->runtime);
	return 0;
}

int run_acquire(struct run *run, struct isol8_err *err)
{
	struct conn *c = run->c;
	const struct run_req *r = run->r;
	bool pooled = false;

	if (r->session) {
		run->s = session_acquire(c->principal, r->session);
		if (run->s && session_check_alive(run->s, err) < 0) {
			run->s = NULL;
			return -1;
		}
		if (run->s && run->s->runtime != r->runtime)
			return isol8_err_set(err, ISOL8_E_USAGE, 0,
					     "Cannot switch runtime: session '%s' is bound to %s, this run asks for %s",
					     r->session, isol8_runtime_name(run->s->runtime),
					     isol8_runtime_name(r->runtime));
		/* A run may ask a session for a stronger tier than the policy's, not get a session
		 * sandbox of another tier than it asked for. */
		if (run->s && r->isolation != ISOL8_ISO_POLICY && run->s->sb.isolation != r->isolation)
			return isol8_err_set(
				err, ISOL8_E_USAGE, 0,
				"Cannot switch isolation: session '%s' runs under %s, this run asks for %s", r->session,
				isol8_isolation_name(run->s->sb.isolation), isol8_isolation_name(r->isolation));
		if (run->s) {
			run->sb = &run->s->sb;
			return 0;
		}
		if (c->max_sessions && session_count(c->tenant) >= c->max_sessions)
			return isol8_err_set(err, ISOL8_E_LIMIT, 0, "too many sessions for tenant %s (maximum %u)",
					     c->tenant, c->max_sessions);
	}
	/* net (issue 7): filtered sandboxes are not pooled (their proxy listener is per sandbox) */
	if (run->kind == SANDBOX_EPHEMERAL && r->net_mode != ISOL8_NET_FILTERED)
		pooled = take_pooled(run);
	if (pooled)
		run->hold = HOLD_PARTIAL;
	else if (create_new(run, err) < 0)
		return -1;
	/* --- net (issue 7): rules and proxy listener before any code runs --- */
	if (r->net_mode == ISOL8_NET_FILTERED &&
	    sb_net_rules(run->sb->id, r->net_allow, r->n_net_allow, r->net_deny, r->n_net_deny, r->log_network, err) <
		    0)
		return -1;
	/* --- end net --- */
	if (r->session) {
		run->s = session_add(c->principal, c->tenant, r->session, r->runtime, run->sb, c->session_idle_ms);
		if (!run->s)
			return isol8_err_set(err, ISOL8_E_LIMIT, 0, "this worker holds too many sessions");
		/* The session owns the sandbox now. */
		run->hold = HOLD_NONE;
		run->sb = &run->s->sb;
		return 0;
	}
	run->hold = HOLD_READY;
	return 0;
}
