/* User configuration: ./isol8.config.json, else ~/.isol8/config.json, deep-merged over the
 * built-in defaults (keys and defaults of the original isol8). Unknown keys and wrong types
 * are errors naming the JSON path ("isol8.config.json: defaults.memoryLimit: expected string"). */
#ifndef ISOL8_CONF_H
#define ISOL8_CONF_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"

struct isol8_config {
	char *source;                 /* file used, or NULL when only defaults */
	json_object *root;            /* merged document (owned) for `isol8 config --json` */
	uint32_t max_concurrent;      /* 10 */
	struct {
		uint64_t timeout_ms;  /* 30000 */
		uint64_t memory;      /* 512m in bytes */
		char *memory_str;     /* "512m" */
		double cpu;           /* 1.0 */
		char *network;        /* "none" */
		uint64_t sandbox_size, tmp_size; /* 512m, 256m */
	} defaults;
	char **whitelist; size_t n_whitelist;
	char **blacklist; size_t n_blacklist;
	bool auto_prune;              /* cleanup.autoPrune true */
	uint64_t max_container_age_ms;/* cleanup.maxContainerAgeMs 3600000 */
	/* dependencies.<runtime>: package lists, index = enum isol8_runtime order
	 * python, node, bun, deno, bash */
	char **deps[5]; size_t n_deps[5];
	char *seccomp;                /* security.seccomp "strict" | "unconfined" | "custom" */
	char *custom_profile_path;    /* security.customProfilePath */
	char *pool_strategy;          /* "fast" */
	uint32_t pool_clean, pool_dirty; /* poolSize 1/1 */
	bool debug;
};

/* path: explicit file (--config), or NULL for discovery. */
int isol8_config_load(const char *path, struct isol8_config *c, struct isol8_err *err);
/* Parse from text (tests). source names the file in errors. */
int isol8_config_parse(const char *json_text, const char *source, struct isol8_config *c, struct isol8_err *err);
void isol8_config_free(struct isol8_config *c);

#endif
