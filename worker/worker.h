/* isol8-worker internals. A worker runs locked down (unprivileged uid, no capabilities,
 * no_new_privs, seccomp allowlist) and never holds the Docker socket: every Docker operation is
 * a verb sent to the broker (brokerc.c). It owns the frontend connections the broker hands it,
 * parses their requests, runs them in sandboxes, and writes the program's output straight to
 * the stream fds the frontend passed in. */
#ifndef ISOL8_WORKER_H
#define ISOL8_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "common/clock.h"
#include "common/buf.h"
#include "worker/outproc.h"
#include "common/err.h"
#include "common/ipc.h"
#include "common/audit.h"
#include "common/proto.h"
#include "policy/policy.h"

/* ---- brokerc.c: verbs over the broker channel ---- */
int brokerc_init(int chan);
/* How long brokerc_call waits for the answer (120 s unless isol8-worker --verb-timeout-ms). */
void brokerc_set_timeout_ms(unsigned ms);
/* Send a verb and wait for its reply. On success *reply holds BR_REPLY_OK[_FD] (caller frees
 * with isol8_msg_free); on refusal returns -1 with the broker's error code and message. */
int brokerc_call(uint8_t type, const struct isol8_buf *payload, const int *fds, unsigned nfds, struct isol8_msg *reply,
		 struct isol8_err *err);
void brokerc_send_noreply(uint8_t type, const struct isol8_buf *payload);
/* Called by the channel reader for BR_REPLY_* messages; takes ownership of m. */
void brokerc_deliver(struct isol8_msg *m);
/* Fail every waiting call (broker gone). */
void brokerc_fail_all(void);

/* ---- sandbox verbs (sandbox.c), thin typed wrappers ---- */
struct sandbox_limits {
	uint64_t memory, cpu_millis, timeout_ms, sandbox_size, tmp_size, max_output;
	uint32_t pids;
	bool writable;
	uint64_t persist_ttl_ms; /* kind persist: kept this long after its timeout (0: the policy's) */
};
/* A run with no flags (common/run_defaults.h): what the request parser starts from and the shape
 * the pool prewarms. */
void sandbox_limits_default(struct sandbox_limits *l);
/* V_USAGE: a sandbox's cumulative counters (USAGE_K_* says which are known). */
struct sb_usage {
	uint8_t known;
	uint64_t cpu_us, mem, peak, net_in, net_out;
};
struct sandbox {
	char id[65];
	char image[257];
	bool image_setup;
	int isolation;             /* enum isol8_isolation, from the broker's create reply */
	struct sandbox_limits lim; /* as applied by the broker after policy */
	int agent_fd;              /* connection to the in-sandbox agent, -1 without one (owned) */
	uint32_t uses;             /* runs served (pool reuse) */
	bool warm;                 /* its agent keeps a standby interpreter of the runtime (worker/standby.h) */
	uint64_t born_ms;
	int64_t expires_at_ms; /* persisted: when the broker removes it (ms since the epoch), else 0 */
	struct sb_usage base;  /* counters when its current run began (worker/usage.c) */
};
/* isolation: the tier asked for (enum isol8_isolation), or ISOL8_ISO_POLICY for the tenant's. */
int sb_create(uint32_t token, int runtime, const char *image, const char *preferred, const struct sandbox_limits *want,
	      int net_mode, int isolation, int kind, const char *session, struct sandbox *out, struct isol8_err *err);
/* Starts the sandbox; when its agent connected, sb->agent_fd holds the (handshaken) connection. */
int sb_start(struct sandbox *sb, struct isol8_err *err);
/* Ask the sandbox's agent to keep a standby interpreter for runtime (when it has one); sets sb->warm. */
void sb_warm(struct sandbox *sb, int runtime);
/* timeout_ms 0: back in a pool, the deadline of an idle pooled sandbox (common/proto.h V_RENEW). */
int sb_renew(const char *id, uint64_t timeout_ms, struct isol8_err *err);
/* False when the sandbox's agent hung up: its container is gone (removed, killed, engine
 * restarted). Costs one poll; true for a sandbox without an agent. */
bool sb_alive(const struct sandbox *sb);
/* Returns the hijacked stream fd in *fd and the exec id. argv/env are NULL-terminated. */
int sb_exec(const char *id, const char *const *argv, const char *const *env, const char *workdir, bool attach_stdin,
	    char exec_id[65], int *fd, struct isol8_err *err);
int sb_exec_status(const char *exec_id, bool *running, int *exit_code, struct isol8_err *err);
/* pids_refused (may be NULL): forks a runsc sandbox's pids limit refused (0 under runc). */
int sb_inspect(const char *id, bool *running, bool *oom, int *exit_code, uint32_t *oom_kills, uint32_t *pids_refused,
	       struct isol8_err *err);
int sb_kill(const char *id, int sig, struct isol8_err *err);
int sb_remove(const char *id, struct isol8_err *err);
/* A pooled sandbox that died while idle: its record goes, and *token lets the worker make one
 * like it (V_REPLACE); fails while the container runs or the engine does not answer. */
int sb_replace(const char *id, uint32_t *token, struct isol8_err *err);
/* reaper.c: remove, or, while the engine does not answer, keep retrying every second
 * (reaper_retry, from the expiry thread) so that no container outlives an engine restart. */
void sb_remove_or_later(const char *id);
void reaper_retry(void);
/* Filtered networking: apply the rules once, right after start; fetch the proxy's log (JSON
 * array text, caller frees). */
int sb_net_rules(const char *id, char *const *allow, size_t n_allow, char *const *deny, size_t n_deny, bool log,
		 struct isol8_err *err);
int sb_net_logs(const char *id, char **json, struct isol8_err *err);
/* The sandbox's counters; reset: start a new memory peak after reading. */
int sb_usage(const char *id, bool reset, struct sb_usage *u, struct isol8_err *err);
/* isol8 rm: the connection's own persisted sandboxes (V_KEPT_LIST, as a JSON array text in
 * *json_out), and the removal of one (V_KEPT_REMOVE; id: 12 to 64 lowercase hex). */
int sb_kept_list(uint32_t token, struct isol8_buf *json_out, struct isol8_err *err);
int sb_kept_remove(uint32_t token, const char *id, struct isol8_err *err);
/* V_FETCH: *fd = the socket isol8-fetch answers on (common/remote_code.h). */
int sb_fetch(uint32_t token, const char *url, const char *hash, bool insecure, uint64_t max_size, uint64_t timeout_ms,
	     int *fd, struct isol8_err *err);

/* ---- usage.c: per-run resource usage from the cumulative counters ---- */
/* Before a run (a pooled sandbox after its reset, a new one after its start): the counters the
 * next run's figures start from, and a new memory peak. Off the caller's path. */
void usage_rebase(struct sandbox *sb);
/* After a run: the result's resourceUsage (NULL when nothing is known); rebases sb for the
 * next run of a session. */
json_object *usage_result(struct sandbox *sb, uint64_t duration_ms);

/* ---- pump.c: one exec's stream to the frontend's fds ---- */
struct pump_out {
	int fd[3]; /* [1] stdout target, [2] stderr target */
	struct isol8_masker *mask[3];
	struct isol8_outcap cap[3];
	bool write_failed[3];
	uint64_t first_byte_ms; /* clock_mono_ms() when the program's first output byte arrived; 0 before */
	int msg_fd;             /* >= 0: output goes there as WK_OUTPUT messages (setup phase) */
	/* policy audit.includeOutput: the first head_max bytes of each stream as the caller got
	 * them (masked), for the audit record; 0: none kept */
	struct isol8_buf head[3];
	size_t head_max;
};
struct pump_result {
	bool eof;         /* stream ended */
	bool timed_out;   /* deadline passed before the end */
	bool interrupted; /* a frontend signal arrived */
	int marker_code;  /* REPL end marker exit code, -1 if none */
	bool gone;        /* the watch saw the container dead while its stream stayed open */
};
/* Asked at most every period_ms while an exec's stream is open: a container can die without its
 * exec stream ending (gVisor's kernel killed by the OOM killer leaves dockerd's attach open, so
 * the run would otherwise last until its timeout). */
struct pump_watch {
	bool (*gone)(void *arg);
	void *arg;
	unsigned period_ms;
};
void pump_out_init(struct pump_out *o, int out_fd, int err_fd, const char *const *secrets, uint64_t max_output);
void pump_out_finish(struct pump_out *o); /* flush maskers, write truncation markers */
void pump_out_flush(struct pump_out *o);  /* flush maskers only: a phase of the run ends */
void pump_out_free(struct pump_out *o);
void pump_out_write(struct pump_out *o, int stream, const char *data, size_t len);
/* Feed stdin (may be NULL) then half-close; read frames until EOF or deadline (monotonic ms);
 * if marker_token is set, stop at the REPL end marker seen on both streams. ctrl_fd (frontend
 * connection, or -1) is watched for FE_SIGNAL; watch (or NULL) for the container's death.
 * stdin_fd (or -1): live stdin read and forwarded until EOF, after stdin_data. */
int pump_run(int stream_fd, const char *stdin_data, size_t stdin_len, int stdin_fd, bool close_stdin,
	     struct pump_out *o, uint64_t deadline_ms, const char *marker_token, int ctrl_fd,
	     const struct pump_watch *watch, int *signal_out, struct pump_result *res, struct isol8_err *err);
/* Collect an exec's whole output into bufs (for internal helper execs). */
int pump_collect(int stream_fd, const void *stdin_data, size_t stdin_len, struct isol8_buf *out, struct isol8_buf *errb,
		 size_t cap, uint64_t deadline_ms, struct isol8_err *err);

/* ---- request.c ---- */
struct run_req {
	char *code, *cmd;
	/* request.codeUrl and friends: fetched by isol8-fetch through the broker (V_FETCH) before
	 * any sandbox work; the answer becomes code. code_max and code_timeout (0: the policy's)
	 * only narrow the policy's. */
	char *code_url, *code_hash;
	bool code_insecure;
	uint64_t code_max, code_timeout;
	int runtime;
	uint64_t timeout_ms;
	char **env;
	size_t n_env; /* "K=V" */
	char **secret_env;
	size_t n_secret;    /* "K=V" */
	char **secret_vals; /* values, NULL-terminated */
	char *file_ext;
	char *stdin_data;
	size_t stdin_len;
	bool has_stdin;
	bool stdin_stream;
	int stdin_fd; /* live stdin (FE_STDIN), -1 when none; owned */
	char *workdir;
	char **install;
	size_t n_install;
	char **args;
	size_t n_args; /* the program's own arguments (request.args) */
	char **agent_flags;
	size_t n_agent_flags; /* request.agentFlags split into words (agent runtime only) */
	char **out_paths, **out_rel;
	size_t n_out; /* request.outputPaths as given, and below /sandbox */
	char *setup_script;
	bool phase_events; /* WK_PHASE around setup scripts (isol8 serve's events) */
	struct sandbox_limits lim;
	int net_mode;
	/* options.isolation: a tier stronger than the tenant's (the broker refuses a weaker one);
	 * ISOL8_ISO_POLICY when not given */
	int isolation;
	/* filtered networking (issue 7): host-name patterns for the proxy, and whether to report its log */
	char **net_allow;
	size_t n_net_allow;
	char **net_deny;
	size_t n_net_deny;
	bool log_network;
	char *image, *preferred_image;
	bool persist;
	char *session;
	bool debug;
	struct isol8_buf files_tar; /* tar of /sandbox files to inject (from the bundle) */
	bool has_files;
	/* request.metadata: attached to the audit record (common/audit.h limits) */
	char *meta_k[ISOL8_AUDIT_META_MAX], *meta_v[ISOL8_AUDIT_META_MAX];
	size_t n_meta;
};
/* Fills *r from the FE_RUN JSON and the bundle fd (-1: none; read to its end, not closed). On
 * success the caller owns *r and releases it with request_free(); on failure *r is left empty
 * (request_free() on it is harmless). */
int request_parse(const char *json, size_t len, int bundle_fd, struct run_req *r, struct isol8_err *err);
void request_free(struct run_req *r);
/* remote.c: r->code_url -> r->code (the fetcher's answer, checked again here). */
int remote_fetch_code(uint32_t token, struct run_req *r, struct isol8_err *err);

/* ---- runtime.c ---- */
/* argv to run code inline (NULL if the runtime needs a file) or from a file path; the agent
 * runtime takes r's code as its prompt and adds r's agent flags. */
int runtime_argv(const struct run_req *r, const char *file, char **argv, size_t max, struct isol8_err *err);
const char *runtime_default_ext(int rt);
void runtime_base_env(struct isol8_buf *env_lines);
/* The same entries, NULL-terminated (static). */
const char *const *runtime_base_env_list(void);

/* ---- conn.c / run.c / sessions.c ---- */
struct conn {
	int fd;
	uint32_t token;
	uint8_t op;
	char tenant[65];
	char principal[ISOL8_MAX_PRINCIPAL + 1]; /* "uid:N" or "key:NAME@UID#ID": who owns sessions */
	uint32_t uid, gid, pid;
	char session[65];
	uint32_t max_sessions;
	uint64_t session_idle_ms;
	pthread_t filler; /* pool top-up using this connection's token */
	bool filler_started;
	uint8_t audit_flags;              /* ISOL8_AUDIT_F_* from BR_ASSIGN */
	const struct run_req *run;        /* the run in progress (handle_run), for its audit report */
	const struct isol8_buf *out_head; /* [1] stdout, [2] stderr: its output heads, or NULL */
	bool audited;                     /* its V_AUDIT went out */
};
void *conn_main(void *arg);
void conn_send_result(struct conn *c, json_object *result);
/* WK_FILE ahead of the result: the run's output files (a sealed memfd, see worker/outfiles.h). */
void conn_send_files(struct conn *c, int fd);

/* ---- audit_report.c: V_AUDIT, what the broker's audit log needs from the worker ---- */
/* After a result went to the frontend (the sandbox still exists). */
void audit_report_result(struct conn *c, json_object *result);
/* A run that ended in an error before any result. */
void audit_report_error(struct conn *c, const struct isol8_err *why);

struct session;
int sessions_list(const char *tenant, struct isol8_buf *json_out);
int sessions_stop(const char *tenant, const char *name, struct isol8_err *err);
void sessions_expire(uint64_t now);
void sessions_stop_all(void);

extern volatile bool g_worker_stopping;
extern unsigned g_worker_index;

#endif
