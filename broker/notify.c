/* Readiness and status for systemd (Type=notify): sd_notify(3) when libsystemd is built in and
 * isol8d runs under a service manager (NOTIFY_SOCKET set); otherwise these do nothing. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker.h"

#include <string.h>
#include <sys/uio.h>

#include "common/log.h"

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
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

#ifdef HAVE_LIBSYSTEMD
/* Log lines name what they are about as key=value words ("tenant=ci", "principal=uid:1000",
 * "container=<id>", "sandbox <id>"): the journal gets them as fields too, so that
 * `journalctl TENANT=ci` finds a tenant's lines. */
static const struct {
	const char *word, *field;
} journal_keys[] = {
	{"tenant=", "TENANT="},          {"principal=", "PRINCIPAL="},    {"executionId=", "EXECUTION_ID="},
	{"execution=", "EXECUTION_ID="}, {"container=", "CONTAINER_ID="},
};

static size_t word_len(const char *p)
{
	size_t n = 0;
	while (p[n] && p[n] != ' ' && p[n] != ',' && p[n] != ';' && p[n] != ')' && p[n] != ':' && n < 128)
		n++;
	return n;
}

static void journal_write(int level, const char *origin, const char *msg)
{
	static const int prio[] = {3, 4, 6, 7}; /* err, warning, info, debug */
	char fields[8][192];
	struct iovec iov[10];
	unsigned n = 0;

	snprintf(fields[n], sizeof fields[n], "PRIORITY=%d", prio[level]);
	iov[n].iov_base = fields[n];
	iov[n].iov_len = strlen(fields[n]);
	n++;
	snprintf(fields[n], sizeof fields[n], "SYSLOG_IDENTIFIER=%s", origin);
	iov[n].iov_base = fields[n];
	iov[n].iov_len = strlen(fields[n]);
	n++;
	for (size_t k = 0; k < sizeof journal_keys / sizeof journal_keys[0] && n < 7; k++) {
		const char *p = msg;
		size_t wl = strlen(journal_keys[k].word);

		/* at the start of a word only: "subtenant=" is not "tenant=" */
		while ((p = strstr(p, journal_keys[k].word)) && p != msg && p[-1] != ' ' && p[-1] != '(')
			p += wl;
		if (!p || !word_len(p + wl))
			continue;
		snprintf(fields[n], sizeof fields[n], "%s%.*s", journal_keys[k].field, (int)word_len(p + wl), p + wl);
		iov[n].iov_base = fields[n];
		iov[n].iov_len = strlen(fields[n]);
		n++;
	}
	{
		const char *p = strstr(msg, "sandbox ");
		if (p && n < 7 && word_len(p + 8) >= 12 && strspn(p + 8, "0123456789abcdef") >= 12) {
			snprintf(fields[n], sizeof fields[n], "CONTAINER_ID=%.*s", (int)word_len(p + 8), p + 8);
			iov[n].iov_base = fields[n];
			iov[n].iov_len = strlen(fields[n]);
			n++;
		}
	}
	/* MESSAGE is the one field that may be long: its own buffer. */
	{
		static __thread char m[2100];
		snprintf(m, sizeof m, "MESSAGE=%s", msg);
		iov[n].iov_base = m;
		iov[n].iov_len = strlen(m);
		n++;
	}
	if (sd_journal_sendv(iov, (int)n) < 0)
		fprintf(stderr, "%s: %s\n", origin, msg);
}
#endif

bool broker_log_to_journal(void)
{
#ifdef HAVE_LIBSYSTEMD
	if (isol8_log_stderr_is_journal()) {
		isol8_log_set_writer(journal_write);
		return true;
	}
#endif
	return false;
}
