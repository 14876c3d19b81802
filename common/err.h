/* Error values with context (crun convention, fixed buffer: no allocation on the error path).
 *
 * Contract: a failing function fills *err and returns -1 (or NULL); callers add context with
 * isol8_err_wrap() and return -1 themselves. Only main() and pre-exec children may die(). */
#ifndef ISOL8_ERR_H
#define ISOL8_ERR_H

#include <stdarg.h>

enum isol8_err_code {
	ISOL8_E_OK = 0,
	ISOL8_E_INTERNAL, /* bug or unexpected state in isol8 itself: exit 1 / HTTP 500 */
	ISOL8_E_USAGE,    /* bad input from the user (flag, config, request field): exit 2 / 400 */
	ISOL8_E_POLICY,   /* refused by the tenant's policy: exit 1 / 403 */
	ISOL8_E_AUTH,     /* caller not identified or not allowed at all: 401 */
	ISOL8_E_NOTFOUND, /* unknown session, container, image, file: 404 */
	ISOL8_E_DOCKER,   /* Docker Engine refused or failed: 502 */
	ISOL8_E_UNAVAIL,  /* daemon/engine unreachable: 503 */
	ISOL8_E_IO,       /* local I/O (files, sockets): 500 */
	ISOL8_E_PROTO,    /* malformed IPC frame or protocol state error */
	ISOL8_E_LIMIT,    /* queue full, body too large, too many sessions: 413/429 */
	ISOL8_E_TIMEOUT,
	ISOL8_E__MAX
};

struct isol8_err {
	int errnum; /* errno at failure, 0 if none */
	int code;   /* enum isol8_err_code */
	char msg[512];
};

#define ISOL8_ERR_INIT    \
	{                 \
		0, 0,     \
		{         \
			0 \
		}         \
	}

/* Set the error (overwrites). Appends ": strerror(errnum)" when errnum != 0. Returns -1. */
int isol8_err_set(struct isol8_err *e, int code, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Prefix the current message with "ctx: ". Keeps code and errnum. Returns -1. */
int isol8_err_wrap(struct isol8_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void isol8_err_clear(struct isol8_err *e);
const char *isol8_err_code_name(int code);
/* Suggested HTTP status for an error code (4xx for caller faults, 5xx otherwise). */
int isol8_err_http_status(int code);
/* Suggested CLI exit status: 2 for usage errors, 1 otherwise. */
int isol8_err_exit_status(int code);

#endif
