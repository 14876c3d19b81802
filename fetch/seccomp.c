/* isol8-fetch's seccomp allowlist (libseccomp). Like isol8-proxy's: outbound TCP over
 * AF_INET/AF_INET6, read-only opens for glibc's resolver, threads but never a process. One
 * addition: socketpair(AF_UNIX), which libcurl's multi handle makes for its wake-up channel
 * (an unconnected pair of its own; no address is reachable through it). Anything unlisted
 * kills the process: the worker then reads a truncated answer and fails the run. Adding a
 * syscall here is a security decision: say why next to it. */
#include "config.h"

#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/socket.h>

#include "fetch/fetch.h"
#include "lockdown/seccomp_build.h"

/* What fetch adds to a network client's filter (sc_net_client_load) */
static const char *const allow_plain[] = {
	/* process basics */
	"eventfd2", "sysinfo", "alarm", /* main.c narrows its own backstop to the job's timeout */
};

int fetch_seccomp_load(struct isol8_err *err)
{
	const struct sc_rule rules[] = {
		{"socketpair", SC_ALLOW, 1, {SCMP_A0_32(SCMP_CMP_EQ, AF_UNIX)}},
	};
	const struct sc_names extra = SC_NAMES(SC_ALLOW, allow_plain);

	return sc_net_client_load("fetch", &extra, rules, SC_LEN(rules), err);
}
