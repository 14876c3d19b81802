/* Docker Engine API client: libcurl over the engine's UNIX socket, API pinned to /v1.41.
 *
 * One struct docker per thread (it wraps one CURL easy handle, which is not thread-safe).
 * Every call returns 0 / -1 with *err filled; Docker's own "message" field is carried in the
 * error text. Error codes: ISOL8_E_UNAVAIL when the socket cannot be reached
 * ("cannot reach Docker at /var/run/docker.sock: No such file or directory (is dockerd running?)"),
 * ISOL8_E_NOTFOUND for 404, ISOL8_E_DOCKER for other engine failures.
 *
 * json_object results are new references owned by the caller (json_object_put). Bodies passed
 * in are borrowed. */
#ifndef ISOL8_DOCKER_CLIENT_H
#define ISOL8_DOCKER_CLIENT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

#define DOCKER_API_PREFIX "/v1.41"
#define DOCKER_DEFAULT_SOCKET "/var/run/docker.sock"

struct docker;

/* host: "unix:///path" or NULL for $DOCKER_HOST, else unix:///var/run/docker.sock.
 * tcp:// is refused with a clear "not supported yet" error. Does not connect yet. */
struct docker *docker_open(const char *host, struct isol8_err *err);
void docker_close(struct docker *d);
const char *docker_socket_path(const struct docker *d);

int docker_ping(struct docker *d, struct isol8_err *err);
int docker_version(struct docker *d, json_object **out, struct isol8_err *err);
/* GET /info: the engine's configuration, "Runtimes" (OCI runtimes by name) among it. */
int docker_info(struct docker *d, json_object **out, struct isol8_err *err);

/* ---- networks ---- */
/* *out is a JSON array of network objects (IPAM.Config[].Subnet among their members). */
int docker_network_list(struct docker *d, json_object **out, struct isol8_err *err);

/* ---- images ---- */
/* label: "key" or "key=value" filter; NULL lists all. *out is a JSON array. */
int docker_image_list(struct docker *d, const char *label, json_object **out, struct isol8_err *err);
int docker_image_inspect(struct docker *d, const char *name, json_object **out, struct isol8_err *err);
int docker_image_remove(struct docker *d, const char *name, bool force, struct isol8_err *err);
int docker_image_tag(struct docker *d, const char *source, const char *repo, const char *tag, struct isol8_err *err);

typedef void (*docker_log_cb)(const char *line, void *ctx);

struct docker_build_opts {
	const char *tag;              /* "isol8:python" */
	const char *target;           /* multi-stage target or NULL */
	const char *dockerfile;       /* path inside the context, NULL = "Dockerfile" */
	const char *const *labels;    /* NULL-terminated "k=v" list, or NULL */
	const char *const *buildargs; /* NULL-terminated "K=V" list, or NULL */
	bool nocache;
	bool pull; /* false: never pull the FROM image */
};
/* Build from a tar context held in memory. The build log ("stream" lines, and "error" which
 * fails the call) is delivered line by line to cb as it arrives. */
int docker_image_build(struct docker *d, const struct docker_build_opts *o, const void *context_tar, size_t context_len,
		       docker_log_cb cb, void *ctx, struct isol8_err *err);
/* Import a root filesystem tarball read from fd (docker import). changes: NULL-terminated
 * Dockerfile instructions ("LABEL a=b", "CMD [\"bash\"]") or NULL. */
int docker_image_import(struct docker *d, int tar_fd, const char *repo, const char *tag, const char *const *changes,
			struct isol8_err *err);

/* ---- containers ---- */
/* body: full create body (Image, Cmd, Env, Labels, User, WorkingDir, HostConfig...). name may be
 * NULL. id_out receives the 64-hex id. */
int docker_container_create(struct docker *d, const char *name, json_object *body, char id_out[65],
			    struct isol8_err *err);
int docker_container_start(struct docker *d, const char *id, struct isol8_err *err);
int docker_container_inspect(struct docker *d, const char *id, json_object **out, struct isol8_err *err);
int docker_container_kill(struct docker *d, const char *id, const char *signal, struct isol8_err *err);
/* force: kill if running; also removes anonymous volumes (v=1). Missing container is success
 * when ignore_missing. */
int docker_container_remove(struct docker *d, const char *id, bool force, bool ignore_missing, struct isol8_err *err);
/* label filter as for images; all: include stopped containers. *out is a JSON array. */
int docker_container_list(struct docker *d, const char *label, bool all, json_object **out, struct isol8_err *err);
/* Extract a tar stream (in memory) at path inside the container. */
int docker_container_put_archive(struct docker *d, const char *id, const char *path, const void *tar, size_t len,
				 struct isol8_err *err);
/* Fetch path as a tar stream into out; fails with ISOL8_E_LIMIT past max bytes. */
int docker_container_get_archive(struct docker *d, const char *id, const char *path, struct isol8_buf *out, size_t max,
				 struct isol8_err *err);

/* ---- exec ---- */
/* body: exec create body (Cmd, Env, User, WorkingDir, AttachStdin/out/err, Tty=false). */
int docker_exec_create(struct docker *d, const char *container_id, json_object *body, char id_out[65],
		       struct isol8_err *err);
/* Start the exec and hijack the connection (Connection: Upgrade, Upgrade: tcp). On success
 * *fd_out is a plain, blocking, CLOEXEC stream socket that carries Docker's multiplexed
 * stdout/stderr frames (read side) and the program's stdin (write side; shutdown(SHUT_WR)
 * closes stdin). No bytes of the stream are lost in the HTTP response parsing. */
int docker_exec_start_hijack(struct docker *d, const char *exec_id, int *fd_out, struct isol8_err *err);
/* exit_code is -1 while running. */
int docker_exec_inspect(struct docker *d, const char *exec_id, bool *running, int *exit_code, int *pid,
			struct isol8_err *err);

#endif
