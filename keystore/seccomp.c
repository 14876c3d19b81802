/* isol8-keystore's seccomp allowlist: a network client's (lockdown/seccomp_build.c: outbound
 * TCP over AF_INET/AF_INET6, read-only opens for the resolver, libpq's ~/.pgpass and OpenSSL's
 * configuration, threads but never a process). AF_UNIX sockets fail with EACCES there, so a
 * connection string naming a socket directory (host=/run/postgresql) cannot connect: the
 * keystore reaches PostgreSQL over TCP only, and no local socket of the host through it.
 * Adding a syscall here is a security decision: say why next to it. */
#include "config.h"

#include <seccomp.h>

#include "keystore/keystore.h"
#include "lockdown/seccomp_build.h"

static const char *const allow_plain[] = {
	"sysinfo", /* glibc's qsort/sysconf */
};

int keystore_seccomp_load(struct isol8_err *err)
{
	const struct sc_names extra = SC_NAMES(SC_ALLOW, allow_plain);

	return sc_net_client_load("keystore", &extra, NULL, 0, err);
}
