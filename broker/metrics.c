/* Prometheus metrics (text exposition format 0.0.4), answered by the broker to HELLO_METRICS
 * from root or a trusted HTTP frontend (isol8 serve's GET /metrics). Counters are fed by the
 * same events as the audit log (V_AUDIT, refusals); gauges are read from the broker's own
 * tables at scrape time. Every label value comes from the policy (tenant names) or an enum
 * (runtime, outcome, reason, kind), so the number of series is bounded by the policy. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/supervise.h"
#include "broker/metrics.h"
#include "broker/pools.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/xalloc.h"

static const double buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
#define NB (sizeof buckets / sizeof buckets[0])
#define NRT (ISOL8_RT__MAX + 1) /* + "none": the run never reached a sandbox */
static const char *const outcome_names[AUDIT__MAX] = {"ok", "error", "timeout", "oom", "refused"};

/* By tenant name, not index: a SIGHUP reload renumbers tenants (broker/reload.c), and the
 * counters of a tenant it removes stay (counters never go down). */
struct tenant_counters {
	char name[ISOL8_MAX_TENANT + 1]; /* "none": callers no tenant matched */
	uint64_t runs[NRT][AUDIT__MAX];
	uint64_t hist[NRT][NB]; /* cumulative per bucket at scrape, raw per bucket here */
	uint64_t hist_count[NRT];
	double hist_sum[NRT];
	uint64_t refusals[ISOL8_E__MAX];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct tenant_counters *tc;
static size_t n_tc, cap_tc;
static const struct broker *g_b;

void metrics_init(const struct broker *b)
{
	g_b = b;
}

/* Called with the policy stable (main loop or a verb thread's read lock) and lock held. */
static struct tenant_counters *slot(int tenant)
{
	const char *name = g_b && tenant >= 0 && (size_t)tenant < g_b->policy.n_tenants
		? g_b->policy.tenants[tenant].name
		: "none";
	for (size_t i = 0; i < n_tc; i++)
		if (strcmp(tc[i].name, name) == 0)
			return &tc[i];
	if (n_tc == cap_tc) {
		cap_tc = cap_tc ? cap_tc * 2 : 8;
		tc = xrealloc(tc, cap_tc * sizeof *tc);
	}
	memset(&tc[n_tc], 0, sizeof tc[n_tc]);
	snprintf(tc[n_tc].name, sizeof tc[n_tc].name, "%s", name);
	return &tc[n_tc++];
}

void metrics_run(int tenant, int runtime, int outcome, uint64_t duration_ms)
{
	struct tenant_counters *t;
	size_t rt = runtime >= 0 && runtime < ISOL8_RT__MAX ? (size_t)runtime : ISOL8_RT__MAX;
	double s = (double)duration_ms / 1000.0;

	if (outcome < 0 || outcome >= AUDIT__MAX)
		return;
	pthread_mutex_lock(&lock);
	if ((t = slot(tenant))) {
		t->runs[rt][outcome]++;
		/* Refused runs never ran: no duration. */
		if (outcome != AUDIT_REFUSED) {
			size_t i = 0;
			while (i < NB && s > buckets[i])
				i++;
			if (i < NB)
				t->hist[rt][i]++;
			t->hist_count[rt]++;
			t->hist_sum[rt] += s;
		}
	}
	pthread_mutex_unlock(&lock);
}

void metrics_refusal(int tenant, int code)
{
	struct tenant_counters *t;

	if (code < 0 || code >= ISOL8_E__MAX)
		code = ISOL8_E_INTERNAL;
	pthread_mutex_lock(&lock);
	if ((t = slot(tenant)))
		t->refusals[code]++;
	pthread_mutex_unlock(&lock);
}

static const char *tname(const struct broker *b, size_t i)
{
	return b->policy.tenants[i].name;
}

static const char *rtname(size_t rt)
{
	return rt < ISOL8_RT__MAX ? isol8_runtime_name((int)rt) : "none";
}

static void help(FILE *f, const char *name, const char *type, const char *text)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

static void render_runs(FILE *f, const struct tenant_counters *snap, size_t n)
{
	help(f, "isol8_runs_total", "counter", "Executions by tenant, runtime and outcome.");
	for (size_t i = 0; i < n; i++)
		for (size_t rt = 0; rt < NRT; rt++)
			for (int o = 0; o < AUDIT__MAX; o++)
				if (snap[i].runs[rt][o])
					fprintf(f,
						"isol8_runs_total{tenant=\"%s\",runtime=\"%s\",outcome=\"%s\"} %llu\n",
						snap[i].name, rtname(rt), outcome_names[o],
						(unsigned long long)snap[i].runs[rt][o]);
}

static void render_durations(FILE *f, const struct tenant_counters *snap, size_t n)
{
	help(f, "isol8_run_duration_seconds", "histogram",
	     "Run duration (the program's wall time) by tenant and runtime.");
	for (size_t i = 0; i < n; i++)
		for (size_t rt = 0; rt < NRT; rt++) {
			uint64_t cum = 0;
			if (!snap[i].hist_count[rt])
				continue;
			for (size_t k = 0; k < NB; k++) {
				cum += snap[i].hist[rt][k];
				fprintf(f,
					"isol8_run_duration_seconds_bucket{tenant=\"%s\",runtime=\"%s\",le=\"%g\"} "
					"%llu\n",
					snap[i].name, rtname(rt), buckets[k], (unsigned long long)cum);
			}
			fprintf(f, "isol8_run_duration_seconds_bucket{tenant=\"%s\",runtime=\"%s\",le=\"+Inf\"} %llu\n",
				snap[i].name, rtname(rt), (unsigned long long)snap[i].hist_count[rt]);
			fprintf(f, "isol8_run_duration_seconds_sum{tenant=\"%s\",runtime=\"%s\"} %.3f\n", snap[i].name,
				rtname(rt), snap[i].hist_sum[rt]);
			fprintf(f, "isol8_run_duration_seconds_count{tenant=\"%s\",runtime=\"%s\"} %llu\n",
				snap[i].name, rtname(rt), (unsigned long long)snap[i].hist_count[rt]);
		}
}

static void render_refusals(FILE *f, const struct tenant_counters *snap, size_t n)
{
	help(f, "isol8_refusals_total", "counter",
	     "Requests the policy refused, by tenant (none: no tenant matched) and reason.");
	for (size_t i = 0; i < n; i++)
		for (int c = 0; c < ISOL8_E__MAX; c++)
			if (snap[i].refusals[c])
				fprintf(f, "isol8_refusals_total{tenant=\"%s\",reason=\"%s\"} %llu\n", snap[i].name,
					isol8_err_code_name(c), (unsigned long long)snap[i].refusals[c]);
}

/* The counters are copied under the lock and printed without it: a slow scraper must not
 * hold up metrics_run. */
static void render_counters(FILE *f)
{
	struct tenant_counters *snap;
	size_t n;

	pthread_mutex_lock(&lock);
	n = n_tc;
	snap = xcalloc(n + 1, sizeof *snap);
	memcpy(snap, tc, n * sizeof *snap);
	pthread_mutex_unlock(&lock);
	render_runs(f, snap, n);
	render_durations(f, snap, n);
	render_refusals(f, snap, n);
	free(snap);
}

/* By tenant, runtime and state, never by the full shape: images and limits are the client's
 * choice within the ceilings, so a shape label would be unbounded. isol8 status --json lists
 * the shapes themselves. */
static void render_pools(struct broker *b, FILE *f)
{
	static const char *const states[POOL__STATES] = {"warm", "resetting", "in_use"};
	struct pool_shape *s = NULL;
	size_t ns;

	help(f, "isol8_pool_sandboxes", "gauge",
	     "Pooled sandboxes by tenant, runtime and state (warm: ready; resetting: being cleaned after a run; "
	     "in_use: a reusable sandbox lent to a run).");
	ns = pools_snapshot(b, -1, &s);
	for (size_t i = 0; i < b->policy.n_tenants; i++)
		for (int rt = 0; rt < ISOL8_RT__MAX; rt++)
			for (int k = 0; k < POOL__STATES; k++) {
				uint64_t c = 0;
				for (size_t j = 0; j < ns; j++)
					if (s[j].runtime == rt && strcmp(s[j].tenant, tname(b, i)) == 0)
						c += s[j].n[k];
				fprintf(f, "isol8_pool_sandboxes{tenant=\"%s\",runtime=\"%s\",state=\"%s\"} %llu\n",
					tname(b, i), isol8_runtime_name(rt), states[k], (unsigned long long)c);
			}
	free(s);
}

/* The gauges by tenant; the caller holds the policy's read lock (a reload swaps the tenants). */
static void render_tenant_gauges(struct broker *b, FILE *f)
{
	static const char *const kinds[SANDBOX__MAX] = {"ephemeral", "session", "persist"};

	help(f, "isol8_queue_depth", "gauge", "Runs waiting for a free execution slot.");
	fprintf(f, "isol8_queue_depth %u\n", broker_queue_depth());
	help(f, "isol8_runs_in_progress", "gauge", "Connections running code, by tenant.");
	for (size_t i = 0; i < b->policy.n_tenants; i++)
		fprintf(f, "isol8_runs_in_progress{tenant=\"%s\"} %u\n", tname(b, i), table_token_count_runs((int)i));
	help(f, "isol8_sandboxes", "gauge",
	     "Sandboxes isol8d holds, by tenant and kind (ephemeral: running, warm in a pool or being reset).");
	for (size_t i = 0; i < b->policy.n_tenants; i++)
		for (int k = 0; k < SANDBOX__MAX; k++)
			fprintf(f, "isol8_sandboxes{tenant=\"%s\",kind=\"%s\"} %u\n", tname(b, i), kinds[k],
				table_container_count_tenant_kind((int)i, k));
	render_pools(b, f);
	help(f, "isol8_sessions", "gauge", "Live sessions, by tenant.");
	for (size_t i = 0; i < b->policy.n_tenants; i++)
		fprintf(f, "isol8_sessions{tenant=\"%s\"} %u\n", tname(b, i),
			table_container_count_tenant_kind((int)i, SANDBOX_SESSION));
}

static void render_workers(struct broker *b, FILE *f)
{
	unsigned alive = 0;

	for (unsigned i = 0; i < b->o.workers; i++)
		alive += supervise_pid(SV_WORKER, i) > 0 && b->w[i].chan >= 0;
	help(f, "isol8_workers_up", "gauge", "Worker processes running.");
	fprintf(f, "isol8_workers_up %u\n", alive);
}

/* The proxy's own counters; a proxy that does not answer leaves the samples out (the HELP stays). */
static void render_proxy(struct broker *b, FILE *f)
{
	struct isol8_buf p = ISOL8_BUF_INIT;
	struct isol8_msg reply;
	struct isol8_err err = ISOL8_ERR_INIT;
	uint64_t allowed = 0, blocked = 0;
	bool proxy_ok = broker_proxy_call(b, PX_COUNTS, &p, -1, &reply, &err) == 0;

	if (proxy_ok) {
		proxy_ok = isol8_get_u64(&reply, &allowed, &err) == 0 && isol8_get_u64(&reply, &blocked, &err) == 0 &&
			isol8_msg_end(&reply, &err) == 0;
		isol8_msg_free(&reply);
	}
	isol8_buf_free(&p);
	help(f, "isol8_proxy_requests_total", "counter",
	     "Requests of filtered sandboxes through the network proxy, allowed or blocked (since the proxy started).");
	if (proxy_ok) {
		fprintf(f, "isol8_proxy_requests_total{action=\"allowed\"} %llu\n", (unsigned long long)allowed);
		fprintf(f, "isol8_proxy_requests_total{action=\"blocked\"} %llu\n", (unsigned long long)blocked);
	}
}

static void render(struct broker *b, FILE *f)
{
	render_counters(f);
	pthread_rwlock_rdlock(&b->policy_lock);
	render_tenant_gauges(b, f);
	pthread_rwlock_unlock(&b->policy_lock);
	render_workers(b, f);
	render_proxy(b, f);
}

struct serve_job {
	struct broker *b;
	int fd;
};

static void *serve_main(void *arg)
{
	struct serve_job *j = arg;
	struct isol8_err err = ISOL8_ERR_INIT;
	int mfd = memfd_create("isol8-metrics", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	FILE *f = mfd >= 0 ? fdopen(dup(mfd), "w") : NULL;

	if (f) {
		render(j->b, f);
		fclose(f);
	}
	if (f && lseek(mfd, 0, SEEK_SET) == 0 && isol8_memfd_seal(mfd, &err) == 0)
		isol8_ipc_send(j->fd, WK_FILE, 0, NULL, 0, &mfd, 1, &err);
	else
		log_warn("metrics: %s", err.msg[0] ? err.msg : strerror(errno));
	xclose(mfd);
	close(j->fd);
	free(j);
	return NULL;
}

void metrics_serve(struct broker *b, int fd)
{
	struct serve_job *j = xcalloc(1, sizeof *j);
	pthread_attr_t attr;
	pthread_t th;

	j->b = b;
	j->fd = fd;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, serve_main, j) != 0) {
		close(fd);
		free(j);
	}
	pthread_attr_destroy(&attr);
}
