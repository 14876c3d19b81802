/* User configuration: ./isol8.config.json, else ~/.isol8/config.json, deep-merged over the
 * built-in defaults (keys and defaults of the original isol8). Unknown keys and wrong types
 * are errors naming the JSON path ("isol8.config.json: defaults.memoryLimit: expected string"). */
#ifndef ISOL8_CONF_H
#define ISOL8_CONF_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"

#define ISOL8_CONF_NDEPS 6
#define ISOL8_CONF_DEP_AGENT 5
#define ISOL8_CONF_NREG 5
/* Largest config file read. */
#define ISOL8_CONF_MAX_BYTES (1024 * 1024)

struct isol8_config {
	char *source;            /* file used, or NULL when only defaults */
	json_object *root;       /* merged document (owned) for `isol8 config --json` */
	uint32_t max_concurrent; /* 10 */
	struct {
		uint64_t timeout_ms;             /* 30000 */
		uint64_t memory;                 /* 512m in bytes */
		char *memory_str;                /* "512m" */
		double cpu;                      /* 1.0 */
		char *network;                   /* "none" */
		uint64_t sandbox_size, tmp_size; /* 512m, 256m */
	} defaults;
	char **whitelist;
	size_t n_whitelist;
	char **blacklist;
	size_t n_blacklist;
	/* network.registries.<runtime>: host patterns --install allows under the filtered network,
	 * index = python, node, bun, deno, bash (ISOL8_CONF_NREG). NULL when the key is absent
	 * (then cli/registries.c asks the host's package managers); a present list, even an
	 * empty one, is used as is. Checked and made canonical at load (proxy/hostpat.h). */
	char **registries[ISOL8_CONF_NREG];
	size_t n_registries[ISOL8_CONF_NREG];
	bool auto_prune;               /* cleanup.autoPrune true */
	uint64_t max_container_age_ms; /* cleanup.maxContainerAgeMs 3600000 */
	/* dependencies.<runtime>: package lists, index = enum isol8_runtime order
	 * python, node, bun, deno, bash, then agent (ISOL8_CONF_DEP_AGENT). Vectors are
	 * NULL-terminated; an absent runtime has deps[i] == NULL and n_deps[i] == 0. */
	char **deps[ISOL8_CONF_NDEPS];
	size_t n_deps[ISOL8_CONF_NDEPS];
	char *seccomp;                   /* security.seccomp "strict" | "unconfined" | "custom" */
	char *custom_profile_path;       /* security.customProfilePath (NULL if unset) */
	char *pool_strategy;             /* "fast" */
	uint32_t pool_clean, pool_dirty; /* poolSize 1/1 */
	bool debug;

	/* Added with the loader; same naming: JSON key in the comment, default after it. */
	bool readonly_root_fs; /* defaults.readonlyRootFs true */
	bool pool_size_single; /* poolSize was a plain number (clean == dirty) */
	/* Whether the file itself set these top-level keys (present, not null): isol8d --config
	 * takes only those and keeps its own defaults for the rest. */
	bool max_concurrent_set, pool_strategy_set, pool_size_set;
	struct {
		bool enabled; /* false */
		char **allowed_schemes;
		size_t n_allowed_schemes; /* ["https"] */
		char **allowed_hosts;
		size_t n_allowed_hosts; /* [] */
		char **blocked_hosts;
		size_t n_blocked_hosts;    /* private ranges, metadata */
		uint64_t max_code_size;    /* 10485760 */
		uint64_t fetch_timeout_ms; /* 30000 */
		bool require_hash;         /* false */
		bool enable_cache;         /* true (unused, kept for the schema) */
		uint64_t cache_ttl;        /* 3600 (unused) */
	} remote_code;
	struct {
		bool enabled;                      /* false */
		char *destination;                 /* "filesystem" | "file" | "stdout" */
		char *log_dir;                     /* NULL: $ISOL8_AUDIT_DIR, else ./.isol8_audit */
		char *post_log_script;             /* NULL */
		bool track_resources;              /* true */
		uint64_t retention_days;           /* 90 */
		bool include_code, include_output; /* false, false */
	} audit;
	struct {
		bool enabled;                 /* false */
		char *connection_string;      /* NULL: ~/.isol8/auth.db */
		uint64_t default_ttl_ms;      /* 86400000 */
		uint64_t cleanup_interval_ms; /* 3600000 */
	} auth;
	struct isol8_prebuilt_image {
		char *tag;
		char *runtime; /* python|node|bun|deno|bash|agent */
		char **install_packages;
		size_t n_install_packages;
		char *setup_script; /* NULL if unset */
	} * prebuilt;               /* prebuiltImages [] */
	size_t n_prebuilt;
};

/* path: explicit file (--config), or NULL for discovery. */
int isol8_config_load(const char *path, struct isol8_config *c, struct isol8_err *err);
/* Parse from text (tests). source names the file in errors. */
int isol8_config_parse(const char *json_text, const char *source, struct isol8_config *c, struct isol8_err *err);
/* Built-in defaults only (what load does when no file exists). */
int isol8_config_defaults(struct isol8_config *c, struct isol8_err *err);
void isol8_config_free(struct isol8_config *c);

#endif
