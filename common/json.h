/* Small helpers over json-c for documents written by people (config, policy, request bodies).
 *
 * Paths: every checker takes the JSON path of the value it looks at ("defaults.memoryLimit",
 * "network.whitelist[2]", "" for the document root) and puts it first in the error message
 * ("defaults.memoryLimit: expected string, got number"), so callers only prefix the file name.
 * All errors are ISOL8_E_USAGE: the document is the user's input. Key names from the document
 * are rendered with non-printable bytes escaped before they reach a message. */
#ifndef ISOL8_JSON_H
#define ISOL8_JSON_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Room for a path in messages; longer paths are cut (the message stays readable). */
#define ISOL8_JSON_PATH_MAX 256
/* Nesting accepted by isol8_json_parse (config and policy documents are shallow). */
#define ISOL8_JSON_MAX_DEPTH 32

/* Parse exactly one JSON value from text[0..len): json-c's strict mode (no comments, no
 * trailing commas), valid UTF-8, no NUL bytes, nothing but whitespace after the value,
 * len <= max_len, nesting <= ISOL8_JSON_MAX_DEPTH. Errors say "line L, column C: <reason>".
 * json-c still reads 'single-quoted' strings and NaN/Infinity; the number getters below reject
 * non-finite values. Returns a new reference or NULL. */
json_object *isol8_json_parse(const char *text, size_t len, size_t max_len, struct isol8_err *err);
/* Read a regular file of at most max_len bytes and parse it; errors are prefixed with path. */
json_object *isol8_json_parse_file(const char *path, size_t max_len, struct isol8_err *err);

/* "null", "boolean", "number", "string", "array", "object". */
const char *isol8_json_type_name(const json_object *v);

/* out = parent + "." + key (or key alone at the root), escaped and cut to outlen. */
void isol8_json_path_key(char *out, size_t outlen, const char *parent, const char *key);
/* out = parent + "[" + index + "]". */
void isol8_json_path_index(char *out, size_t outlen, const char *parent, size_t index);

/* Value checkers: v is the value found at path (never NULL: callers decide about absence).
 * Each returns 0 or -1 with "<path>: expected <what>, got <type>" or a range message. */
int isol8_json_expect_type(const json_object *v, json_type t, const char *path, struct isol8_err *err);
int isol8_json_as_string(json_object *v, const char *path, const char **out, struct isol8_err *err);
int isol8_json_as_bool(json_object *v, const char *path, bool *out, struct isol8_err *err);
/* Integer-valued number (1e3 and 3.0 are fine, 1.5 is not) in [min, max]. */
int isol8_json_as_u64(json_object *v, const char *path, uint64_t min, uint64_t max, uint64_t *out,
		      struct isol8_err *err);
/* Finite number in [min, max]. */
int isol8_json_as_double(json_object *v, const char *path, double min, double max, double *out, struct isol8_err *err);
/* Array of strings: a fresh NULL-terminated vector of copies (free with isol8_strv_free). */
int isol8_json_as_strv(json_object *v, const char *path, char ***out, size_t *n, struct isol8_err *err);
void isol8_strv_free(char **v);

/* Member lookup: returns 1 and *out when key is present and not null, 0 when absent or null
 * (JSON null means "not set", as in the original's `??`), -1 when obj is not an object. */
int isol8_json_member(json_object *obj, const char *key, json_object **out);

/* Reject members of obj whose name is not in allowed (NULL-terminated):
 * "<path>.<key>: unknown key". obj must be an object (else "expected object" error). */
int isol8_json_check_keys(json_object *obj, const char *path, const char *const *allowed, struct isol8_err *err);

/* Deep merge: a new document equal to base with over applied. Objects merge member by member,
 * recursively; arrays and scalars in over replace the base value. With null_is_absent, a null
 * member of over leaves the base value alone; otherwise it replaces it. Neither input is
 * modified; either may be NULL. */
json_object *isol8_json_merge(json_object *base, json_object *over, bool null_is_absent);

#endif
