/* Typed wrappers for the sandbox verbs (encoding in common/proto.h). */
#include "config.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/proto.h"
#include "proxy/hostpat.h"
#include "worker/agent.h"
#include "worker/standby.h"
#include "worker/worker.h"

/* For display only (a persisted sandbox's expiry as a date): deadlines are monotonic. */
static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int call(uint8_t type, struct isol8_buf *p, const int *fds, unsigned nfds, struct isol8_msg *reply,
		struct isol8_err *err)
{
	int r = brokerc_call(type, p, fds, nfds, reply, err);
	isol8_buf_free(p);
	return r;
}

static int call_id_only(uint8_t type, const char *id, struct isol8_err *err)
{
	struct isol8_buf p = ISOL8_BUF_INIT;
	struct isol8_msg m = {0};
	isol8_put_str(&p, id);
	if (call(type, &p, NULL, 0, &m, err) < 0)
		return -1;
	isol8_msg_free(&m);
	return 0;
}

int sb_create(uint32_t token, int runtime, const char *image, const char *preferred, const struct sandbox_limits *want,
	      int net_mode, int isolation, int kind, const char *session, struct sandbox *out, struct isol8_err *err)
{
	struct isol8_buf p = ISOL8_BUF_INIT;
	struct isol8_msg m = {0};
	_cleanup_free_ char *id = NULL, *img = NULL;
	uint8_t writable, setup, iso;

	isol8_put_u32(&p, token);
	isol8_put_u8(&p, (uint8_t)runtime);
	isol8_put_str(&p, image);
	isol8_put_str(&p, preferred);
	isol8_put_u64(&p, want->memory);
	isol8_put_u64(&p, want->cpu_millis);
	isol8_put_u32(&p, want->pids);
	isol8_put_u64(&p, want->timeout_ms);
	isol8_put_u64(&p, want->sandbox_size);
	isol8_put_u64(&p, want->tmp_size);
	isol8_put_u64(&p, want->max_output);
	isol8_put_u8(&p, (uint8_t)net_mode);
	isol8_put_u8(&p, want->writable);
	isol8_put_u8(&p, (uint8_t)kind);
	isol8_put_str(&p, session);
	isol8_put_u64(&p, kind == SANDBOX_PERSIST ? want->persist_ttl_ms : 0);
	isol8_put_u8(&p, (uint8_t)isolation);
	if (call(V_CREATE, &p, NULL, 0, &m, err) < 0)
		return -1;
	memset(out, 0, sizeof *out);
	out->agent_fd = -1;
	if (isol8_get_str(&m, &id, 64, err) < 0 || isol8_get_u64(&m, &out->lim.memory, err) < 0 ||
	    isol8_get_u64(&m, &out->lim.cpu_millis, err) < 0 || isol8_get_u32(&m, &out->lim.pids, err) < 0 ||
	    isol8_get_u64(&m, &out->lim.timeout_ms, err) < 0 || isol8_get_u64(&m, &out->lim.sandbox_size, err) < 0 ||
	    isol8_get_u64(&m, &out->lim.tmp_size, err) < 0 || isol8_get_u64(&m, &out->lim.max_output, err) < 0 ||
	    isol8_get_u8(&m, &writable, err) < 0 || isol8_get_str(&m, &img, 256, err) < 0 ||
	    isol8_get_u8(&m, &setup, err) < 0 || isol8_get_u8(&m, &iso, err) < 0 ||
	    isol8_get_u64(&m, &out->lim.persist_ttl_ms, err) < 0 || isol8_msg_end(&m, err) < 0) {
		isol8_msg_free(&m);
		return isol8_err_wrap(err, "create reply");
	}
	snprintf(out->id, sizeof out->id, "%s", id);
	snprintf(out->image, sizeof out->image, "%s", img);
	out->lim.writable = writable;
	out->image_setup = setup;
	isol8_msg_free(&m);
	if (!isol8_isolation_name(iso))
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "create reply: isolation %u out of range", iso);
	out->isolation = iso;
	/* The broker's deadline, counted from its create: the run's timeout, then the ttl. */
	if (kind == SANDBOX_PERSIST)
		out->expires_at_ms = wall_ms() + (int64_t)(out->lim.timeout_ms + out->lim.persist_ttl_ms);
	return 0;
}

int sb_start(struct sandbox *sb, struct isol8_err *err)
{
	struct isol8_buf p = ISOL8_BUF_INIT;
	struct isol8_msg m = {0};
	struct isol8_err aerr = ISOL8_ERR_INIT;
	int fd;

	isol8_put_str(&p, sb->id);
	if (call(V_START, &p, NULL, 0, &m, err) < 0)
		return -1;
	fd = m.type == BR_REPLY_OK_FD ? isol8_msg_take_fd(&m, 0) : -1;
	isol8_msg_free(&m);
	if (fd >= 0 && agent_handshake(fd, &aerr) < 0) {
		/* Not fatal: the sandbox still works through docker exec. */
		log_warn("sandbox %.12s: %s; using docker exec", sb->id, aerr.msg);
		fd = xclose(fd);
	}
	sb->agent_fd = fd;
	sb->born_ms = clock_mono_ms();
	return 0;
}

void sb_warm(struct sandbox *sb, int runtime)
{
	const char *const *argv = standby_argv(runtime);
	struct isol8_err err = ISOL8_ERR_INIT;

	if (sb->agent_fd < 0 || !argv)
		return;
	/* The environment every run of the runtime starts from; runs that change a start-up
	 * variable of it do not use the standby (standby_env_compatible). */
	if (agent_warm(sb->agent_fd, argv, runtime_base_env_list(), &err) == 0)
		sb->warm = true;
	else
		log_debug("sandbox %.12s: no standby: %s", sb->id, err.msg);
}

int sb_renew(const char *id, uint64_t timeout_ms, struct isol8_err *err)
{
	struct isol8_buf p = ISOL8_BUF_INIT;
	struct isol8_msg m = {0};
	isol8_put_str(&p, id);
	isol8_put_u64(&p, timeout_ms);
	if (call(V_RENEW, &p, NULL, 0, &m, err) < 0)
		return -1;
	isol8_msg_free(&m);
	return 0;
}
bool sb_alive(const struct sandbox *sb)
{
	/* The agent is the container's PID 1: its end of the socket closes when the container
	 * goes. A late message (an exit after our own backstop fired) is no sign of death. */
	struct pollfd pf = {.fd = sb->agent_fd, .events = POLLRDHUP};

	if (sb->agent_fd < 0)
		return true;
	return poll(&pf, 1, 0) <= 0 || !(pf.revents & (POLLHUP | POLLRDHUP | POLLERR));
}

int sb_replace(const char *id, uint32_t *token, struct isol8_err *err)
{
	struct isol8_buf p = ISOL8_BUF_INIT;
	struct isol8_msg m = {0};

	isol8_put_str(&p, id);
	if (call(V_REPLACE, &p, NULL, 0, &m, err) < 0)
		return -1;
	if (isol8_get_u32(&m, token, err) < 0 || isol8_msg_end(&m, err) < 0) {
		isol8_msg_free(&m);
		return -1;
	}
	isol8_msg_free(&m);
	return 0;
}

int sb_remove(const char *id, struct isol8_err *err)
{
	return call_id_only(V_REMOVE, id, err);
}

int sb_exec(const char *id, const char *const *argv, const char *const *env, const char *workdir, bool attach_stdin,
	    char exec_id[65], int *fd, struct isol8_err *err)
{
	struct isol8_buf p = ISOL8_BUF_INIT;
	struct isol8_msg m = {0};
	_cleanup_free_ char *eid = NULL;
	uint32_t n;

	isol8_put_str(&p, id);
	for (n = 0; argv[n]; n++)
		;
	isol8_put_u32(&p, n);
	for (uint32_t i = 0; i < n; i++)
		isol8_put_str(&p, argv[i]);
	for (n = 0; env && env[n]; n++)
		;
	isol8_put_u32(&p, n);
	for (uint32_t i = 0; i < n; i++)
		isol8_put_str(&p, env[i]);
	isol8_put_str(&p, workdir);
	isol8_put_u8(&p, attach_stdin);
	if (p.len > ISOL8_IPC_MAX_PAYLOAD) {
		isol8_buf_free(&p);
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "command and environment too large (over %u bytes)",
				     ISOL8_IPC_MAX_PAYLOAD);
	}
	if (call(V_EXEC, &p, NULL, 0, &m, err) < 0)
		return -1;
	if (m.type != BR_REPLY_OK_FD || m.nfds != 1 || isol8_get_str(&m, &eid, 64, err) < 0 ||
	    isol8_msg_end(&m, err) < 0) {
		isol8_msg_free(&m);
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "bad exec reply from broker");
	}
	snprintf(exec_id, 65, "%s", eid);
	*fd = isol8_msg_take_fd(&m, 0);
	isol8_msg_free(&m);
	return 0;
}

int sb_exec_status(const char *exec_id, bool *running, int *exit_code, struct isol8_err *err)
{
	struct isol8_buf p = ISOL8_BUF_INIT;
	struct isol8_msg m = {0};
	uint8_t r;
	uint32_t code;

	isol8_put_str(&p, exec_id);
	if (call(V_EXEC_STATUS, &p, NULL, 0, &m, err) < 0)
		return -1;
	if (isol8_get_u8(&m, &r, err) < 0 || isol8_get_u32(&m, &code, err) < 0 || isol8_msg_end(&m, err) < 0) {
		isol8_msg_free(&m);
		return -1;
	}
	*running = r;
	*exit_code = (int)code;
	isol8_msg_free(&m);
	return 0;
}

int sb_inspect(const char *id, bool *running, bool *oom, int *exit_code, uint32_t *oom_kills, uint32_t *pids_refused,
	       struct isol8_err *err)
{
	struct isol8_buf p = ISOL8_BUF_INIT;
	struct isol8_msg m = {0};
	uint8_t r, o;
	uint32_t code, kills, refused;

	isol8_put_str(&p, id);
	if (call(V_INSPECT, &p, NULL, 0, &m, err) < 0)
		return -1;
	if (isol8_get_u8(&m, &r, err) < 0 || isol8_get_u8(&m, &o, err) < 0 || isol8_get_u32(&m, &code, err) < 0 ||
	    isol8_get_u32(&m, &kills, err) < 0 || isol8_get_u32(&m, &refused, err) < 0 || isol8_msg_end(&m, err) < 0) {
		isol8_msg_free(&m);
		return -1;
	}
	*running = r;
	*oom = o;
	*exit_code = (int)code;
	*oom_kills = kills;
	if (pids_refused)
		*pids_refused = refused;
	isol8_msg_free(&m);
	return 0;
}

int sb_kill(const char *id, int sig, struct isol8_err *err)
{
	struct isol8_buf p = ISOL8_BUF_INIT;
	struct isol8_msg m = {0};
	isol8_put_str(&p, id);
	isol8_put_u8(&p, (uint8_t)sig);
	if (call(V_KILL, &p, NULL, 0, &m, err) < 0)
		return -1;
	isol8_msg_free(&m);
	return 0;
}

static int put_host_patterns(struct isol8_buf *p, const char *what, char *const *l, size_t n, struct isol8_err *err)
{
	isol8_put_u32(p, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *canon = hostpat_normalize(l[i], err);
		if (!canon)
			return isol8_err_wrap(err, "%s list", what);
		isol8_put_str(p, canon);
	}
	return 0;
}

int sb_net_rules(const char *id, char *const *allow, size_t n_allow, char *const *deny, size_t n_deny, bool log,
		 struct isol8_err *err)
{
	struct isol8_buf p = ISOL8_BUF_INIT;
	struct isol8_msg m = {0};

	isol8_put_str(&p, id);
	/* The broker accepts canonical host patterns only: translate the regex spellings users of
	 * the original wrote ("^pypi\.org$"), or refuse naming the syntax (proxy/hostpat.h). */
	if (put_host_patterns(&p, "allow", allow, n_allow, err) < 0 ||
	    put_host_patterns(&p, "deny", deny, n_deny, err) < 0) {
		isol8_buf_free(&p);
		return -1;
	}
	isol8_put_u8(&p, log);
	if (call(V_NET_RULES, &p, NULL, 0, &m, err) < 0)
		return -1;
	isol8_msg_free(&m);
	return 0;
}

int sb_net_logs(const char *id, char **json, struct isol8_err *err)
{
	struct isol8_buf p = ISOL8_BUF_INIT;
	struct isol8_msg m = {0};

	isol8_put_str(&p, id);
	if (call(V_NET_LOGS, &p, NULL, 0, &m, err) < 0)
		return -1;
	if (isol8_get_str(&m, json, ISOL8_IPC_MAX_PAYLOAD, err) < 0 || isol8_msg_end(&m, err) < 0) {
		isol8_msg_free(&m);
		return isol8_err_wrap(err, "network-logs reply");
	}
	isol8_msg_free(&m);
	return 0;
}

int sb_usage(const char *id, bool reset, struct sb_usage *u, struct isol8_err *err)
{
	struct isol8_buf p = ISOL8_BUF_INIT;
	struct isol8_msg m = {0};

	isol8_put_str(&p, id);
	isol8_put_u8(&p, reset ? 1 : 0);
	if (call(V_USAGE, &p, NULL, 0, &m, err) < 0)
		return -1;
	if (isol8_get_u8(&m, &u->known, err) < 0 || isol8_get_u64(&m, &u->cpu_us, err) < 0 ||
	    isol8_get_u64(&m, &u->mem, err) < 0 || isol8_get_u64(&m, &u->peak, err) < 0 ||
	    isol8_get_u64(&m, &u->net_in, err) < 0 || isol8_get_u64(&m, &u->net_out, err) < 0 ||
	    isol8_msg_end(&m, err) < 0) {
		isol8_msg_free(&m);
		return isol8_err_wrap(err, "usage reply");
	}
	isol8_msg_free(&m);
	return 0;
}

int sb_kept_list(uint32_t token, struct isol8_buf *json_out, struct isol8_err *err)
{
	struct isol8_buf p = ISOL8_BUF_INIT;
	struct isol8_msg m = {0};
	json_object *arr;
	uint32_t n;
	int64_t now = wall_ms();

	isol8_put_u32(&p, token);
	if (call(V_KEPT_LIST, &p, NULL, 0, &m, err) < 0)
		return -1;
	if (isol8_get_u32(&m, &n, err) < 0 || n > ISOL8_KEPT_LIST_MAX) {
		isol8_msg_free(&m);
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "bad kept-list reply from the broker");
	}
	arr = json_object_new_array();
	for (uint32_t i = 0; i < n; i++) {
		_cleanup_free_ char *id = NULL;
		uint64_t left;
		json_object *e;
		char when[32];
		time_t t;
		struct tm tm;

		if (isol8_get_str(&m, &id, 64, err) < 0 || isol8_get_u64(&m, &left, err) < 0) {
			json_object_put(arr);
			isol8_msg_free(&m);
			return isol8_err_wrap(err, "kept-list reply");
		}
		t = (time_t)((now + (int64_t)left) / 1000);
		gmtime_r(&t, &tm);
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
		e = json_object_new_object();
		json_object_object_add(e, "id", json_object_new_string(id));
		json_object_object_add(e, "expiresAt", json_object_new_string(when));
		json_object_object_add(e, "expiresInMs", json_object_new_int64((int64_t)left));
		json_object_array_add(arr, e);
	}
	if (isol8_msg_end(&m, err) < 0) {
		json_object_put(arr);
		isol8_msg_free(&m);
		return isol8_err_wrap(err, "kept-list reply");
	}
	isol8_msg_free(&m);
	{
		const char *txt = json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN);
		isol8_buf_append(json_out, txt, strlen(txt));
	}
	json_object_put(arr);
	return 0;
}

int sb_kept_remove(uint32_t token, const char *id, struct isol8_err *err)
{
	struct isol8_buf p = ISOL8_BUF_INIT;
	struct isol8_msg m = {0};

	isol8_put_u32(&p, token);
	isol8_put_str(&p, id);
	if (call(V_KEPT_REMOVE, &p, NULL, 0, &m, err) < 0)
		return -1;
	isol8_msg_free(&m);
	return 0;
}

int sb_fetch(uint32_t token, const char *url, const char *hash, bool insecure, uint64_t max_size, uint64_t timeout_ms,
	     int *fd, struct isol8_err *err)
{
	struct isol8_buf p = ISOL8_BUF_INIT;
	struct isol8_msg m = {0};

	isol8_put_u32(&p, token);
	isol8_put_str(&p, url);
	isol8_put_str(&p, hash ? hash : "");
	isol8_put_u8(&p, insecure ? 1 : 0);
	isol8_put_u64(&p, max_size);
	isol8_put_u64(&p, timeout_ms);
	if (call(V_FETCH, &p, NULL, 0, &m, err) < 0)
		return -1;
	if (m.type != BR_REPLY_OK_FD || m.nfds != 1 || isol8_msg_end(&m, err) < 0) {
		isol8_msg_free(&m);
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "fetch-code reply without its socket");
	}
	*fd = isol8_msg_take_fd(&m, 0);
	isol8_msg_free(&m);
	return 0;
}
