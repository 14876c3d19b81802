/* isol8-proxy's seccomp allowlist (libseccomp). Unlike a worker, the proxy must make outbound
 * TCP connections and resolve names, so it may create AF_INET/AF_INET6 sockets, connect, accept
 * on the listeners it was handed, and open files read-only (glibc's resolver rereads
 * /etc/resolv.conf and /etc/hosts and may dlopen an NSS module). It never writes a file, never
 * creates another kind of socket, never forks or execs. It does start threads (the resolver pool
 * in resolve.c, after this filter is loaded, so they inherit it): clone is allowed only with
 * CLONE_THREAD set, which a fork cannot have. Anything unlisted kills the process;
 * the broker respawns it. Adding a syscall here is a security decision: say why next to it. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/socket.h>

#include "lockdown/seccomp_build.h"
#include "proxy/proxy.h"

/* What the proxy adds to a network client's filter (sc_net_client_load) */
static const char *const allow_plain[] = {
	"accept4", /* on the listeners it was handed */
};

int proxy_seccomp_load(struct isol8_err *err)
{
	const struct sc_names extra = SC_NAMES(SC_ALLOW, allow_plain);

	return sc_net_client_load("proxy", &extra, NULL, 0, err);
}
