/* Connecting the CLI to isol8d: socket path resolution, FE_HELLO, and reading the worker's
 * replies (WK_ERROR becomes an isol8_err with the worker's code and message). */
#ifndef ISOL8_FRONTEND_BROKER_CONN_H
#define ISOL8_FRONTEND_BROKER_CONN_H

#include <stdint.h>

#include "common/err.h"
#include "common/ipc.h"
#include "common/proto.h"

#define ISOL8_DEFAULT_SOCKET "/run/isol8/isol8d.sock"

/* --socket, else $ISOL8_SOCKET (when non-empty), else ISOL8_DEFAULT_SOCKET. */
const char *broker_socket_path(const char *flag);

/* Connect only (no hello). Returns the connected SOCK_SEQPACKET fd, or -1 with ISOL8_E_UNAVAIL as
 * broker_open says. */
int broker_connect(const char *path, struct isol8_err *err);

/* The payload of FE_HELLO {op, session} (key_name NULL) or FE_HELLO_KEY {op, session, key_name,
 * key_id}. */
void broker_hello_payload(struct isol8_buf *b, uint8_t op, const char *session, const char *key_name,
			  const char *key_id);

/* Connect and send FE_HELLO {op, session or ""}. Returns the connected SOCK_SEQPACKET fd, or -1
 * with ISOL8_E_UNAVAIL "cannot reach isol8d at <path>: <reason> (is isol8d running? ...)". */
int broker_open(const char *path, uint8_t op, const char *session, struct isol8_err *err);

/* Same as broker_open, but FE_HELLO_KEY {op, session, key_name, key_id}: the caller
 * authenticated an API key and asks isol8d to act for it (principal
 * "key:<key_name>@<our uid>#<key_id>"). isol8d accepts it only from a trusted HTTP frontend
 * (uid 0 or isol8d --trust-key-uid) and answers anyone else with ISOL8_E_AUTH. */
int broker_open_key(const char *path, uint8_t op, const char *session, const char *key_name, const char *key_id,
		    struct isol8_err *err);

/* Send a request on a connection that isol8d may have refused: when the send fails because
 * isol8d closed it (EPIPE, ECONNRESET), the refusal it queued first (queue full, draining, not
 * allowed) becomes err instead of the broken pipe. Otherwise as isol8_ipc_send(_buf). */
int broker_send(int sock, uint8_t type, const void *payload, size_t len, const int *fds, unsigned nfds,
		struct isol8_err *err);
int broker_send_buf(int sock, uint8_t type, const struct isol8_buf *b, const int *fds, unsigned nfds,
		    struct isol8_err *err);

/* Receive the next message. Returns 1 with *m filled for any type except WK_ERROR, -1 for
 * WK_ERROR (err = the worker's code and message) or a receive failure, and -1 with
 * "isol8d closed the connection (worker died?)" on EOF. */
int broker_recv(int sock, struct isol8_msg *m, struct isol8_err *err);

/* Receive and require a given type; anything else is a protocol error. */
int broker_expect(int sock, uint8_t type, struct isol8_msg *m, struct isol8_err *err);

/* Largest output-files object a run's WK_FILE may hold: base64 of ISOL8_OUTPUT_TOTAL_MAX bytes
 * plus the keys (every byte of a path escaped) and punctuation. */
#define BROKER_FILES_MAX ((ISOL8_OUTPUT_TOTAL_MAX / 3 + 1) * 4 + ISOL8_MAX_OUTPUT_PATHS * (6 * ISOL8_MAX_PATH + 8) + 2)
/* A run's answer: WK_RESULT, after a WK_FILE with the output files when the run collected any
 * (request.outputPaths). The files ({path: base64}) are spliced into the result text as its
 * "files" member, so callers see one result object; the text is then at most
 * ISOL8_IPC_MAX_PAYLOAD + BROKER_FILES_MAX + 16 bytes and still to be parsed (it came from a
 * worker). */
int broker_expect_result(int sock, struct isol8_msg *m, struct isol8_err *err);
/* The same, with the first message (WK_FILE or WK_RESULT) already received into *m (the HTTP
 * server's pump reads setup-phase messages before it). */
int broker_result_from(int sock, struct isol8_msg *m, struct isol8_err *err);

/* Parse a WK_ERROR payload {u16 code, str message} into err (always returns -1). */
int broker_error_from_msg(struct isol8_msg *m, struct isol8_err *err);

#endif
