/* Requests more than one frontend sends on a connection it opened and said hello on (the CLI
 * and `isol8 mcp` with broker_open, the HTTP server with its key hello): the request, the
 * expected answer, the answer decoded. */
#ifndef ISOL8_FRONTEND_BROKER_REQUESTS_H
#define ISOL8_FRONTEND_BROKER_REQUESTS_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* FE_KEYS {action, name, tenant, ttl, id} (NULL strings sent as ""), answered by WK_FILE with
 * the JSON answer; *answer (fresh) is that JSON, refused above max bytes. The text is wiped
 * after parsing (it may hold a new key). */
int broker_keys_request(int sock, uint8_t action, const char *name, const char *tenant, uint64_t ttl, const char *id,
			size_t max, json_object **answer, struct isol8_err *err);

/* FE_SESSION_STOP {id}, answered by WK_OK. */
int broker_session_stop(int sock, const char *id, struct isol8_err *err);

#endif
