/* Drain, for rolling upgrades of a node behind a load balancer (issue 18).
 *
 * SIGUSR1 puts isol8d in drain mode: a run that would start a stateless execution or create a
 * session is refused with ISOL8_E_UNAVAIL ("isol8d is draining"), while the runs already routed
 * and every request to a session that exists go on as before, so a balancer that still sends a
 * session's requests here (its health check says "draining") loses nothing. Sessions end as
 * they always do, deleted or idle past their timeout; once no run is in flight or queued and no
 * session sandbox is left, the node is drained: logged once, and said by HELLO_HEALTH, which is
 * what `isol8 serve`'s GET /health reports. SIGUSR2 takes the node back into service.
 *
 * A session is known here by its tenant and name (the ownership table has no principal):
 * while draining, another principal of the same tenant may still reach a session name that
 * exists. That is a new interpreter on a node about to go, not an escalation; the worker keeps
 * sessions per principal as always. */
#include "config.h"

#include <signal.h>
#include <stdio.h>

#include "broker/broker.h"
#include "common/cleanup.h"
#include "common/log.h"

void broker_drain_signal(struct broker *b, int signo)
{
	if (signo == SIGUSR1 && b->node_state == NODE_READY) {
		b->node_state = NODE_DRAINING;
		log_info("drain: no new runs or sessions; waiting for %u run(s) and %u session(s)",
			 table_token_count_runs(-1) + broker_queued_runs(),
			 table_container_count_tenant_kind(-1, SANDBOX_SESSION));
		broker_drain_tick(b);
	} else if (signo == SIGUSR2 && b->node_state != NODE_READY) {
		b->node_state = NODE_READY;
		log_info("drain: cancelled, taking new runs and sessions again");
	}
}

void broker_drain_tick(struct broker *b)
{
	if (b->node_state != NODE_DRAINING)
		return;
	if (table_token_count_runs(-1) || broker_queued_runs() ||
	    table_container_count_tenant_kind(-1, SANDBOX_SESSION))
		return;
	b->node_state = NODE_DRAINED;
	log_info("drain: drained, no run or session left; safe to stop");
}

int broker_drain_refuses(const struct broker *b, int tenant, const char *session, char *msg, size_t len)
{
	if (b->node_state == NODE_READY)
		return 0;
	if (!*session) {
		snprintf(msg, len, "isol8d is draining: it takes no new runs; send them to another node");
		return 1;
	}
	if (table_session_exists(tenant, session))
		return 0;
	snprintf(msg, len, "isol8d is draining: it takes no new sessions; create '%s' on another node", session);
	return 1;
}

void broker_serve_health(struct broker *b, int fd)
{
	struct isol8_buf p = ISOL8_BUF_INIT;
	struct isol8_err err = ISOL8_ERR_INIT;

	broker_drain_tick(b);
	isol8_put_u8(&p, (uint8_t)b->node_state);
	isol8_put_u32(&p, table_token_count_runs(-1) + broker_queued_runs());
	isol8_put_u32(&p, table_container_count_tenant_kind(-1, SANDBOX_SESSION));
	if (isol8_ipc_send_buf(fd, WK_HEALTH, 0, &p, NULL, 0, &err) < 0)
		log_debug("health reply: %s", err.msg);
	isol8_buf_free(&p);
}
