/* V_AUDIT: the part of an execution's audit record that only the worker knows (how the program
 * ended, what it wrote, what it cost, its code's hash, the request's metadata). Everything
 * about who ran it, in which sandbox and with which limits the broker fills in itself. Sent
 * after the frontend has its result, so it costs the caller nothing. */
#include "config.h"

#include <string.h>
#include <sys/random.h>

#include "common/audit.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/sha256.h"
#include "worker/worker.h"

struct report {
	const char *container, *exec_id, *err_msg;
	uint8_t outcome, flags;
	int32_t exit_code;
	uint16_t err_code;
	uint64_t duration_ms, total_ms, out_bytes, err_bytes;
	uint64_t cpu_us, mem, peak, net_in, net_out;
	uint32_t net_requests, net_blocked;
};

static json_object *member(json_object *o, const char *k)
{
	json_object *v = NULL;
	return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static uint64_t u64_of(json_object *o, const char *k)
{
	json_object *v = member(o, k);
	int64_t x = v ? json_object_get_int64(v) : 0;
	return x > 0 ? (uint64_t)x : 0;
}

static bool bool_of(json_object *o, const char *k)
{
	json_object *v = member(o, k);
	return v && json_object_get_boolean(v);
}

static const char *str_of(json_object *o, const char *k)
{
	json_object *v = member(o, k);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

/* A string field capped at max bytes, cut at a UTF-8 boundary (the broker refuses invalid
 * UTF-8 nowhere, but a cut inside a character would only become a '?'). */
static void put_capped(struct isol8_buf *p, const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	isol8_put_bytes(p, s, n);
}

static void send_report(struct conn *c, const struct report *rp)
{
	const struct run_req *r = c->run;
	struct isol8_buf p = ISOL8_BUF_INIT;
	char hash[ISOL8_SHA256_HEXLEN] = "";
	const char *code = r->code ? r->code : r->cmd;

	if (code)
		isol8_sha256_hexdigest(code, strlen(code), hash);
	isol8_put_u32(&p, c->token);
	isol8_put_str(&p, rp->container);
	put_capped(&p, rp->exec_id, ISOL8_AUDIT_MAX_EXEC_ID);
	isol8_put_u8(&p, rp->outcome);
	isol8_put_u32(&p, (uint32_t)rp->exit_code);
	isol8_put_u16(&p, rp->err_code);
	put_capped(&p, rp->err_msg, ISOL8_AUDIT_MAX_ERRMSG);
	isol8_put_u64(&p, rp->duration_ms);
	isol8_put_u64(&p, rp->total_ms);
	isol8_put_u8(&p, rp->flags);
	isol8_put_u64(&p, rp->out_bytes);
	isol8_put_u64(&p, rp->err_bytes);
	isol8_put_u64(&p, rp->cpu_us);
	isol8_put_u64(&p, rp->mem);
	isol8_put_u64(&p, rp->peak);
	isol8_put_u64(&p, rp->net_in);
	isol8_put_u64(&p, rp->net_out);
	isol8_put_u32(&p, rp->net_requests);
	isol8_put_u32(&p, rp->net_blocked);
	isol8_put_str(&p, hash);
	isol8_put_u32(&p, (uint32_t)r->n_meta);
	for (size_t i = 0; i < r->n_meta; i++) {
		isol8_put_str(&p, r->meta_k[i]);
		isol8_put_str(&p, r->meta_v[i]);
	}
	put_capped(&p, (c->audit_flags & ISOL8_AUDIT_F_CODE) && code ? code : "", ISOL8_AUDIT_MAX_CODE);
	/* includeOutput: what the pump kept of each stream (masked, as the caller saw it). */
	for (int s = 1; s <= 2; s++) {
		const struct isol8_buf *h = (c->audit_flags & ISOL8_AUDIT_F_OUTPUT) && c->out_head ? &c->out_head[s]
												   : NULL;
		char buf[ISOL8_AUDIT_MAX_OUTPUT];
		size_t n = h && h->data ? (h->len < sizeof buf ? h->len : sizeof buf) : 0;
		/* A string on the wire holds no NUL: output may. */
		for (size_t i = 0; i < n; i++)
			buf[i] = h->data[i] ? h->data[i] : '?';
		isol8_put_bytes(&p, buf, n);
	}
	if (p.len > ISOL8_IPC_MAX_PAYLOAD)
		log_warn("audit report of %.12s too large (%zu bytes): not sent", rp->container, p.len);
	else
		brokerc_send_noreply(V_AUDIT, &p);
	isol8_buf_free(&p);
	c->audited = true;
}

/* A run that failed before its result never got an execution id: give its record one. */
static void exec_id_new(char out[37])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[16] = {0};
	size_t k = 0;

	if (getrandom(r, sizeof r, 0) != sizeof r)
		memset(r, 0x5a, sizeof r);
	for (int i = 0; i < 36; i++, k++)
		out[i] = (i == 8 || i == 13 || i == 18 || i == 23) ? (k--, '-')
								   : hex[(r[k / 2] >> (k % 2 ? 0 : 4)) & 15];
	out[36] = '\0';
}

void audit_report_result(struct conn *c, json_object *res)
{
	struct report rp = {0};
	json_object *u, *logs;

	if (!(c->audit_flags & ISOL8_AUDIT_F_ON) || !c->run)
		return;
	rp.container = str_of(res, "containerId");
	rp.exec_id = str_of(res, "executionId");
	rp.err_msg = "";
	rp.exit_code = (int32_t)json_object_get_int(member(res, "exitCode"));
	rp.outcome = bool_of(res, "timedOut") ? AUDIT_TIMEOUT : bool_of(res, "oomKilled") ? AUDIT_OOM : AUDIT_OK;
	rp.duration_ms = u64_of(res, "durationMs");
	rp.total_ms = u64_of(member(res, "timings"), "totalMs");
	rp.out_bytes = u64_of(res, "stdoutBytes");
	rp.err_bytes = u64_of(res, "stderrBytes");
	if (bool_of(res, "stdoutTruncated"))
		rp.flags |= ISOL8_AUDIT_R_STDOUT_TRUNC;
	if (bool_of(res, "stderrTruncated"))
		rp.flags |= ISOL8_AUDIT_R_STDERR_TRUNC;
	if ((u = member(res, "resourceUsage"))) {
		rp.flags |= ISOL8_AUDIT_R_USAGE;
		rp.cpu_us = u64_of(u, "cpuTimeUs");
		if (!rp.cpu_us)
			rp.cpu_us = u64_of(u, "cpuTimeMs") * 1000;
		rp.mem = u64_of(u, "memoryBytes");
		rp.peak = u64_of(u, "peakMemoryBytes");
		rp.net_in = u64_of(u, "networkBytesIn");
		rp.net_out = u64_of(u, "networkBytesOut");
	}
	if ((logs = member(res, "networkLogs")) && json_object_is_type(logs, json_type_array)) {
		rp.flags |= ISOL8_AUDIT_R_NET;
		for (size_t i = 0; i < json_object_array_length(logs); i++) {
			json_object *e = json_object_array_get_idx(logs, i);
			rp.net_requests++;
			if (strcmp(str_of(e, "action"), "BLOCK") == 0)
				rp.net_blocked++;
		}
	}
	send_report(c, &rp);
}

void audit_report_error(struct conn *c, const struct isol8_err *why)
{
	struct report rp = {0};
	char id[37];

	if (!(c->audit_flags & ISOL8_AUDIT_F_ON) || !c->run)
		return;
	exec_id_new(id);
	rp.container = "";
	rp.exec_id = id;
	rp.exit_code = -1;
	rp.err_code = (uint16_t)(why->code > 0 && why->code < ISOL8_E__MAX ? why->code : ISOL8_E_INTERNAL);
	rp.outcome = rp.err_code == ISOL8_E_POLICY || rp.err_code == ISOL8_E_AUTH ? AUDIT_REFUSED : AUDIT_ERROR;
	if (rp.outcome == AUDIT_REFUSED)
		rp.err_code = 0;
	rp.err_msg = why->msg;
	send_report(c, &rp);
}
