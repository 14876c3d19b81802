/* Readiness and status for systemd (Type=notify): sd_notify(3) when libsystemd is built in and
 * isol8d runs under a service manager (NOTIFY_SOCKET set); otherwise these do nothing. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker.h"

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

void broker_notify_ready(const struct broker *b)
{
#ifdef HAVE_LIBSYSTEMD
	sd_notifyf(0, "READY=1\nSTATUS=listening on %s, %u workers, policy %s (%zu tenants)\nMAINPID=%d",
		   b->o.socket_path, b->o.workers, b->policy.source ? b->policy.source : "built-in",
		   b->policy.n_tenants, (int)getpid());
#else
	(void)b;
#endif
}

void broker_notify_reloading(void)
{
#ifdef HAVE_LIBSYSTEMD
	struct timespec ts;

	/* RELOADING=1 with MONOTONIC_USEC is what systemd 253+ expects of a reload; older ones
	 * ignore MONOTONIC_USEC and wait for READY=1 again. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
		   (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000u);
#endif
}

void broker_notify_status(const char *fmt, ...)
{
#ifdef HAVE_LIBSYSTEMD
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	sd_notifyf(0, "STATUS=%s", msg);
#else
	(void)fmt;
#endif
}

void broker_notify_stopping(void)
{
#ifdef HAVE_LIBSYSTEMD
	sd_notify(0, "STOPPING=1");
#endif
}
