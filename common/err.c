#include "config.h"
#include "common/err.h"

#include <stdio.h>
#include <string.h>

int isol8_err_set(struct isol8_err *e, int code, int errnum, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!e)
		return -1;
	e->code = code;
	e->errnum = errnum;
	va_start(ap, fmt);
	n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		e->msg[0] = '\0';
	if (errnum) {
		size_t len = strlen(e->msg);
		if (len < sizeof e->msg)
			snprintf(e->msg + len, sizeof e->msg - len, ": %s", strerror(errnum));
	}
	return -1;
}

int isol8_err_wrap(struct isol8_err *e, const char *fmt, ...)
{
	char ctx[256], old[sizeof e->msg];
	va_list ap;

	if (!e)
		return -1;
	va_start(ap, fmt);
	vsnprintf(ctx, sizeof ctx, fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof old);
	/* Truncation of a very long chain of contexts is acceptable: keep the newest context. */
	{
		size_t cl = strnlen(ctx, sizeof ctx - 1);
		memcpy(e->msg, ctx, cl);
		memcpy(e->msg + cl, ": ", 2);
		size_t room = sizeof e->msg - cl - 3;
		size_t ol = strnlen(old, room);
		memcpy(e->msg + cl + 2, old, ol);
		e->msg[cl + 2 + ol] = '\0';
	}
	if (!e->code)
		e->code = ISOL8_E_INTERNAL;
	return -1;
}

void isol8_err_clear(struct isol8_err *e)
{
	if (!e)
		return;
	e->code = 0;
	e->errnum = 0;
	e->msg[0] = '\0';
}

static const char *const names[ISOL8_E__MAX] = {
	[ISOL8_E_OK] = "ok",          [ISOL8_E_INTERNAL] = "internal",   [ISOL8_E_USAGE] = "usage",
	[ISOL8_E_POLICY] = "policy",  [ISOL8_E_AUTH] = "auth",           [ISOL8_E_NOTFOUND] = "notfound",
	[ISOL8_E_DOCKER] = "docker",  [ISOL8_E_UNAVAIL] = "unavailable", [ISOL8_E_IO] = "io",
	[ISOL8_E_PROTO] = "protocol", [ISOL8_E_LIMIT] = "limit",         [ISOL8_E_TIMEOUT] = "timeout",
};

const char *isol8_err_code_name(int code)
{
	if (code < 0 || code >= ISOL8_E__MAX || !names[code])
		return NULL;
	return names[code];
}

int isol8_err_http_status(int code)
{
	switch (code) {
	case ISOL8_E_USAGE:
		return 400;
	case ISOL8_E_AUTH:
		return 401;
	case ISOL8_E_POLICY:
		return 403;
	case ISOL8_E_NOTFOUND:
		return 404;
	case ISOL8_E_LIMIT:
		return 429;
	case ISOL8_E_UNAVAIL:
		return 503;
	case ISOL8_E_DOCKER:
		return 502;
	case ISOL8_E_TIMEOUT:
		return 504;
	default:
		return 500;
	}
}

int isol8_err_exit_status(int code)
{
	return code == ISOL8_E_USAGE ? 2 : 1;
}
