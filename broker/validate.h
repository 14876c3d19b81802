/* Parsing and validation of worker verbs that carry more than an id. Everything that reaches
 * Docker is rebuilt from the values checked here. */
#ifndef ISOL8_BROKER_VALIDATE_H
#define ISOL8_BROKER_VALIDATE_H

#include <json-c/json.h>
#include <stdbool.h>

#include "broker/broker.h"
#include "common/proto.h"
#include "docker/client.h"

struct create_req {
	int tenant;
	int runtime;
	char *image;      /* final image name (owned) */
	bool image_setup; /* image carries a baked-in setup script (label org.isol8.setup) */
	bool image_agent; /* image carries the in-sandbox agent (label org.isol8.agent) */
	struct isol8_limits lim;
	int net_mode;
	bool writable;
	int kind;
	int isolation; /* enum isol8_isolation: the tenant's tier, or a stronger one the run asked for */
	char session[ISOL8_MAX_SESSION + 1];
	uint64_t persist_ttl_ms; /* kind persist: kept this long after its timeout (policy-capped) */
	/* for the audit log */
	uint32_t token;
	bool token_ok; /* token resolved: refusals can name who asked */
	bool prewarm;  /* the broker's own token */
	bool replace;  /* a V_REPLACE token: the sandbox must come out as shape */
	struct sandbox_shape shape;
	bool clamped; /* the policy lowered a limit: asked holds what was requested */
	struct isol8_limits asked;
};
void create_req_free(struct create_req *r);
/* Parses V_CREATE, checks the token, applies the tenant's ceilings (clamp or refuse),
 * runtime/network/image/writable permissions, the session and persist quotas and the persist
 * ttl ceiling, and resolves the image
 * (explicit, else the preferred custom image when present, else isol8:<runtime>). */
int validate_create(struct broker *b, unsigned worker, uint32_t gen, struct isol8_msg *m, struct docker *d,
		    struct create_req *r, struct isol8_err *err);

struct exec_req {
	char **argv;
	size_t argc;
	char **env;
	size_t envc;
	char *workdir;
	bool attach_stdin;
	uint32_t uid, gid; /* the owning tenant's sandbox user, set by the verb (never by the worker) */
};
void exec_req_free(struct exec_req *e);
int validate_exec(struct isol8_msg *m, struct exec_req *e, struct isol8_err *err);
/* User is always the sandbox user: a worker cannot exec as root in a sandbox. */
json_object *exec_create_body(const struct exec_req *e);

/* Absolute, normalised (no "." or ".." components, no "//"), under /sandbox or /tmp. */
int validate_sandbox_path(const char *path, struct isol8_err *err);

#endif
