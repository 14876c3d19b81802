/* `isol8 run` flags: parsing and validation as a pure function (argv -> struct run_opts), so
 * every rule is unit-tested without a daemon. No I/O happens here: reading the file, stdin,
 * --setup files and the --files tree is run_input.c's job.
 *
 * Contract: run_args_parse() returns 0 and fills *o, or -1 with *err set. Usage errors
 * (ISOL8_E_USAGE, exit 2) cover unknown flags, missing/bad values and conflicts; features this
 * build does not offer (--host, remote code) are reported with a non-usage code (exit 1). */
#ifndef ISOL8_FRONTEND_RUN_ARGS_H
#define ISOL8_FRONTEND_RUN_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define RUN_DEFAULT_PIDS 64u
#define RUN_MAX_PIDS 1000000u
#define RUN_DEFAULT_MAX_OUTPUT (1024u * 1024u)
#define RUN_SANDBOX_ROOT "/sandbox"

#define RUN_NREG 5 /* == ISOL8_CONF_NREG */
struct isol8_reg_paths;

/* Values that come from the user config (or the built-in defaults). Borrowed, not owned. */
struct run_defaults {
	uint64_t timeout_ms;
	uint64_t memory;
	double cpu;
	const char *network;
	uint64_t sandbox_size;
	uint64_t tmp_size;
	char *const *whitelist; /* config network.whitelist */
	size_t n_whitelist;
	char *const *blacklist;
	size_t n_blacklist;
	bool debug;
	/* --install under the filtered network: config network.registries.<runtime> (index python,
	 * node, bun, deno, bash; NULL = key absent), else the host's package-manager configuration
	 * read from reg_paths (NULL: none, as in unit tests). */
	char *const *registries[RUN_NREG];
	size_t n_registries[RUN_NREG];
	const struct isol8_reg_paths *reg_paths;
	/* config remoteCode (the user's own narrowing; isol8d's policy decides again). schemes
	 * NULL: ["https"]. allowed/blocked: the original's regular expressions. */
	struct {
		bool enabled;
		char *const *schemes;
		size_t n_schemes;
		char *const *allowed;
		size_t n_allowed;
		char *const *blocked;
		size_t n_blocked;
		uint64_t max_size, timeout_ms; /* 0: isol8d's policy alone */
		bool require_hash;
	} remote;
};

/* The original's defaults: 30000 ms, 512m, 1 cpu, "none", 512m, 256m, empty filters. */
void run_defaults_builtin(struct run_defaults *d);

/* A growable NULL-terminated string vector; every element owned. */
struct strv {
	char **v;
	size_t n;
};

/* KEY=VALUE lists keep insertion order; a repeated key replaces the earlier value. */
struct kvlist {
	char **keys;
	char **values;
	size_t n;
};

struct run_opts {
	/* input */
	char *file;       /* first positional argument (without -e/--cmd) */
	struct strv args; /* the program's arguments: after the file, or after `--` with -e/--cmd */
	char *eval;       /* -e/--eval */
	char *cmd;        /* --cmd */
	char *runtime;    /* final runtime: -r, or derived from --cmd/file/eval/stdin */
	bool runtime_explicit;
	char *file_ext;    /* ".cjs" etc. when a file is given */
	char *stdin_data;  /* --stdin */
	struct strv setup; /* raw --setup values (file-or-literal is resolved by run_input) */
	struct strv install;
	char *files_dir;          /* --files */
	struct strv output_paths; /* --output-path, as given (each checked to lie below /sandbox) */
	char *output_dir;         /* --output-dir: where the output files are written */
	char *workdir;            /* resolved, always under /sandbox */

	/* limits and sandbox options */
	uint64_t timeout_ms;
	uint64_t memory;
	double cpu;
	uint64_t pids;
	uint64_t max_output;
	uint64_t sandbox_size;
	bool pids_explicit, sandbox_size_explicit; /* given as flags: the agent's defaults do not apply */
	uint64_t tmp_size;
	char *image;
	bool writable;
	char *network; /* none | host | filtered */
	bool network_explicit;
	char *isolation;   /* --isolation runc | runsc: NULL for the policy's tier */
	struct strv allow; /* final whitelist (flags, else config, plus registries for --install) */
	struct strv deny;
	struct kvlist secrets;
	struct kvlist env;

	/* behaviour */
	bool persistent;
	bool persist;
	uint64_t persist_ttl_ms; /* --persist-ttl: kept this long after the timeout (0: the policy's) */
	char *session_id;        /* --session-id (implies persistent); cmd_run names --persistent runs */
	bool no_stream;
	bool json;
	bool timings;
	bool usage; /* --usage: the run's resourceUsage in one line on stderr */
	bool debug;
	bool log_network;
	char *out_file;
	char *socket_path;
	bool help;

	/* remote code: the flags, and the URL they resolve to (run_remote_resolve) */
	char *url, *github, *gist, *hash;
	bool allow_insecure_code_url;
	char *code_url;
	uint64_t code_max, code_timeout; /* the config's remoteCode.maxCodeSize / fetchTimeoutMs */
	char *host, *key;
	char *agent_flags; /* the agent runtime's extra pi flags, one string (split by the worker) */
};

void run_opts_free(struct run_opts *o);
/* cli/remote_code.c: --url, else --github, else --gist -> o->code_url; the file/--eval
 * conflict, --hash syntax, the config's remoteCode gate and lists (original-reference.md §1.4,
 * §1.10, §4.24 steps 1-4 and 6 with the user's settings), the runtime from the URL path. */
int run_remote_resolve(struct run_opts *o, const struct run_defaults *def, struct isol8_err *err);
int run_args_parse(int argc, char **argv, const struct run_defaults *def, struct run_opts *o, struct isol8_err *err);

/* Runtime for a file name from its last extension (.py python, .js/.mjs/.cjs node, .ts bun,
 * .mts deno, .sh bash, .txt agent: a prompt); NULL when unknown. */
const char *run_runtime_from_path(const char *path);
bool run_valid_runtime(const char *name);
/* POSIX-resolve p against /sandbox (".." and "." normalised, duplicate slashes folded); the
 * result must be /sandbox or below: "<what> must be inside /sandbox". Fresh string in *out. */
int run_resolve_sandbox_path(const char *p, const char *what, char **out, struct isol8_err *err);

void strv_push(struct strv *s, const char *v);
void strv_free(struct strv *s);

#endif
