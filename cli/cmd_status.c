/* `isol8 status [--json]`: the running daemon as isol8d sees it (broker/status.c): version,
 * uptime, workers, the queue, runs and sandboxes per tenant, and the policy in force. */
#include "config.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/proto.h"
#include "cli/broker_conn.h"
#include "cli/cli.h"

#define STATUS_MAX (4u << 20)

static long long num(json_object *o, const char *key)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) ? (long long)json_object_get_int64(v) : 0;
}

static const char *str(json_object *o, const char *key)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		? json_object_get_string(v)
		: "-";
}

static json_object *member(json_object *o, const char *key)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static int print_metrics(const char *socket)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_msg m = {0};
	_cleanup_close_ int sock = -1, fd = -1;
	char tmp[8192];
	ssize_t n;

	sock = broker_open(broker_socket_path(socket), HELLO_METRICS, "", &err);
	if (sock < 0 || broker_expect(sock, WK_FILE, &m, &err) < 0 || m.nfds != 1) {
		if (!err.code)
			isol8_err_set(&err, ISOL8_E_PROTO, 0, "isol8d sent no metrics");
		isol8_msg_free(&m);
		return cli_fail(&err);
	}
	fd = isol8_msg_take_fd(&m, 0);
	isol8_msg_free(&m);
	while ((n = read(fd, tmp, sizeof tmp)) > 0)
		if (fwrite(tmp, 1, (size_t)n, stdout) != (size_t)n)
			return 1;
	return fflush(stdout) == 0 ? 0 : 1;
}

static void print_human(json_object *d)
{
	json_object *q = member(d, "queue"), *pol = member(d, "policy"), *ws = member(d, "workers"),
		    *ts = member(d, "tenants"), *ps = member(d, "pools");
	long long up = num(d, "uptimeSeconds");

	printf("isol8d %s, pid %lld, up %lldd %02lldh%02lldm (since %s), socket %s\n", str(d, "version"), num(d, "pid"),
	       up / 86400, up % 86400 / 3600, up % 3600 / 60, str(d, "startedAt"), str(d, "socket"));
	printf("node %s: %s\n", str(d, "node"), str(d, "nodeState"));
	if (pol)
		printf("policy %s: %lld tenants, loaded %s, %lld reload%s\n", str(pol, "source"), num(pol, "tenants"),
		       str(pol, "loadedAt"), num(pol, "reloads"), num(pol, "reloads") == 1 ? "" : "s");
	if (pol && member(pol, "adminRule")) {
		json_object *adm = member(pol, "admins");
		printf("admins: ");
		if (strcmp(str(pol, "adminRule"), "marked") != 0)
			printf("local root (no tenant marked \"admin\": true)");
		else if (!adm || json_object_array_length(adm) == 0)
			printf("none");
		for (size_t i = 0; adm && i < json_object_array_length(adm); i++)
			printf("%stenant %s", i ? ", " : "", json_object_get_string(json_object_array_get_idx(adm, i)));
		putchar('\n');
	}
	if (q)
		printf("runs: %lld in flight of at most %lld, %lld waiting (queue of %lld)\n", num(q, "runsInFlight"),
		       num(q, "maxConcurrent"), num(q, "waiting"), num(q, "maxWaiting"));
	printf("pool: %s, %lld warm and %lld resetting per shape and worker at most\n", str(d, "pool"),
	       num(d, "poolSize"), num(d, "poolDirty"));
	for (size_t i = 0; ps && i < json_object_array_length(ps); i++) {
		json_object *p = json_object_array_get_idx(ps, i);
		printf("  %-12s %lld warm, %lld resetting, %lld in use: %s\n", str(p, "tenant"), num(p, "warm"),
		       num(p, "resetting"), num(p, "inUse"), str(p, "shape"));
	}
	for (size_t i = 0; ws && i < json_object_array_length(ws); i++) {
		json_object *w = json_object_array_get_idx(ws, i);
		json_object *sb = member(w, "sandboxes");
		printf("worker %lld: %s, pid %lld, %lld connection%s, %lld restart%s", num(w, "index"),
		       json_object_get_boolean(member(w, "running")) ? "running" : "down", num(w, "pid"),
		       num(w, "connections"), num(w, "connections") == 1 ? "" : "s", num(w, "restarts"),
		       num(w, "restarts") == 1 ? "" : "s");
		if (sb)
			printf(", %lld sandbox%s", (long long)json_object_get_int64(sb),
			       json_object_get_int64(sb) == 1 ? "" : "es");
		putchar('\n');
	}
	printf("%-20s %6s %6s %9s %10s %10s  %s\n", "TENANT", "RUNS", "QUEUED", "SESSIONS", "PERSISTED", "EPHEMERAL",
	       "HOST UIDS");
	for (size_t i = 0; ts && i < json_object_array_length(ts); i++) {
		json_object *t = json_object_array_get_idx(ts, i);
		printf("%-20s %6lld %6lld %9lld %10lld %10lld  %s\n", str(t, "name"), num(t, "runsInFlight"),
		       num(t, "queued"), num(t, "sessions"), num(t, "persisted"), num(t, "ephemeralSandboxes"),
		       str(t, "hostUids"));
	}
}

/* --drain / --undrain: isol8d answers with its state (WK_HEALTH). */
static int drain(const char *socket, bool on)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	_cleanup_close_ int sock = broker_open(broker_socket_path(socket), on ? HELLO_DRAIN : HELLO_UNDRAIN, "", &err);
	struct isol8_msg m = {0};
	uint8_t state = 0;
	uint32_t runs = 0, sessions = 0;

	if (sock < 0 || broker_expect(sock, WK_HEALTH, &m, &err) < 0)
		return cli_fail(&err);
	if (isol8_get_u8(&m, &state, &err) < 0 || isol8_get_u32(&m, &runs, &err) < 0 ||
	    isol8_get_u32(&m, &sessions, &err) < 0 || isol8_msg_end(&m, &err) < 0 || state >= NODE__MAX) {
		isol8_msg_free(&m);
		if (!err.code)
			isol8_err_set(&err, ISOL8_E_PROTO, 0, "isol8d sent a bad node state");
		return cli_fail(&err);
	}
	isol8_msg_free(&m);
	if (state == NODE_READY)
		printf("isol8d: ready, taking new runs and sessions\n");
	else if (state == NODE_DRAINED)
		printf("isol8d: drained, no run or session left; safe to stop\n");
	else
		printf("isol8d: draining, %u run%s and %u session%s left (isol8 status shows when it is drained)\n",
		       runs, runs == 1 ? "" : "s", sessions, sessions == 1 ? "" : "s");
	return 0;
}

int cmd_status(int argc, char **argv)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_msg m = {0};
	struct isol8_buf b = ISOL8_BUF_INIT;
	const char *socket = NULL;
	bool as_json = false, prometheus = false;
	int drain_op = -1;
	_cleanup_close_ int sock = -1, fd = -1;
	json_object *doc;
	char tmp[8192];

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--json") == 0)
			as_json = true;
		else if (strcmp(a, "--prometheus") == 0)
			prometheus = true;
		else if (strcmp(a, "--drain") == 0)
			drain_op = 1;
		else if (strcmp(a, "--undrain") == 0)
			drain_op = 0;
		else if (strcmp(a, "--socket") == 0 && i + 1 < argc)
			socket = argv[++i];
		else if (strncmp(a, "--socket=", 9) == 0)
			socket = a + 9;
		else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			return usage_command("status", stdout) == 0 ? 0 : 2;
		else {
			static const char *const opts[] = {"--json",   "--prometheus", "--drain", "--undrain",
							   "--socket", "--help",       NULL};
			return cli_unknown("argument", a, opts, NULL,
					   " (isol8 status [--json|--prometheus|--drain|--undrain] [--socket PATH])");
		}
	}
	if (drain_op >= 0)
		return drain(socket, drain_op == 1);
	/* --prometheus: the metrics isol8 serve's GET /metrics answers, for hosts without HTTP (a
	 * textfile collector, a cron job); isol8d gives them to root only. */
	if (prometheus)
		return print_metrics(socket);
	sock = broker_open(broker_socket_path(socket), HELLO_STATUS, "", &err);
	if (sock < 0 || broker_expect(sock, WK_FILE, &m, &err) < 0 || m.nfds != 1) {
		if (!err.code)
			isol8_err_set(&err, ISOL8_E_PROTO, 0, "isol8d sent no status");
		isol8_msg_free(&m);
		return cli_fail(&err);
	}
	fd = isol8_msg_take_fd(&m, 0);
	isol8_msg_free(&m);
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof tmp);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || b.len + (size_t)n > STATUS_MAX)
			break;
		isol8_buf_append(&b, tmp, (size_t)n);
	}
	isol8_buf_putc(&b, '\0');
	doc = json_tokener_parse(b.data);
	isol8_buf_free(&b);
	if (!doc || !json_object_is_type(doc, json_type_object)) {
		json_object_put(doc);
		isol8_err_set(&err, ISOL8_E_PROTO, 0, "isol8d's status is not a JSON object");
		return cli_fail(&err);
	}
	if (as_json)
		puts(json_object_to_json_string_ext(
			doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	else
		print_human(doc);
	json_object_put(doc);
	return 0;
}
