/* The release phase, the cleanup of every struct run whatever phase it reached: an ephemeral
 * sandbox is reset and goes back to its tenant's pool (the fast strategy) or is removed; a
 * session's is kept and its lock released; a persisted one is kept. It runs after the result
 * went out, off the caller's path. */
#include "config.h"

#include <string.h>

#include "common/log.h"
#include "worker/agent.h"
#include "worker/run.h"
#include "worker/sessions.h"

static bool try_reuse(struct run *run)
{
	struct sandbox *sb = run->sb;
	struct isol8_err e = ISOL8_ERR_INIT;
	bool reused = false;
	uint64_t t;

	if (!run->have_pk || !run->result || g_pool_secure || sb->agent_fd < 0 || ++sb->uses >= POOL_MAX_USES ||
	    clock_mono_ms() - sb->born_ms >= 10 * 60 * 1000 || !pool_dirty_begin(&run->pk))
		return false;
	t = clock_mono_ms();
	/* Back in the pool it waits like a fresh one: the broker's hard deadline must not run out
	 * before the pool's own age limit (worker/pool.h), or the two disagree on who owns it. */
	if (agent_reset(sb->agent_fd, &e) == 0 && sb_renew(sb->id, 0, &e) == 0) {
		usage_rebase(sb);
		reused = pool_put(&run->pk, run->c->principal, sb);
		log_debug("release %.12s: reset in %llu ms, %s", sb->id, (unsigned long long)(clock_mono_ms() - t),
			  reused ? "back in the pool" : "removed (pool full)");
	} else {
		log_warn("sandbox %.12s not reused: %s", sb->id, e.msg);
	}
	pool_dirty_end(&run->pk);
	return reused;
}

static void remove_sandbox(struct sandbox *sb)
{
	sb->agent_fd = xclose(sb->agent_fd);
	sb_remove_or_later(sb->id);
}

void run_drop_sandbox(struct run *run)
{
	if (run->o_init)
		pump_out_free(&run->o);
	run->o_init = false;
	if (run->hold != HOLD_NONE)
		remove_sandbox(run->sb);
	run->hold = HOLD_NONE;
	if (run->out_reg)
		pool_out_end(&run->pk);
	run->out_reg = false;
	run->sb_local = (struct sandbox){.agent_fd = -1};
	run->sb = &run->sb_local;
	memset(&run->x, 0, sizeof run->x);
	memset(&run->o, 0, sizeof run->o);
	run->notice = NULL;
	run->need_file = run->warm = false;
	run->codefile[0] = '\0';
}

void run_release(struct run *run)
{
	if (run->o_init)
		pump_out_free(&run->o);
	if (run->hold == HOLD_PARTIAL)
		remove_sandbox(run->sb);
	else if (run->hold == HOLD_READY && run->kind == SANDBOX_EPHEMERAL && !try_reuse(run))
		remove_sandbox(run->sb);
	if (run->out_reg)
		pool_out_end(&run->pk);
	if (run->s)
		session_release(run->s);
	if (run->result)
		json_object_put(run->result);
	env_free(&run->env);
}
