/* The broker connector of `isol8 serve` (OpenSSH privilege separation: a small monitor keeps the
 * one privilege that matters, an unprivileged child does the network-facing work).
 *
 * The process that was started (`isol8 serve`, or the `isol8d --http` child) forks the HTTP
 * server and stays behind as its connector. The server has no socket() or connect() at all (its
 * seccomp filter refuses both), so it cannot reach /var/run/docker.sock or any other socket
 * even after a remote code execution. For each request it sends the connector the hello it
 * wants (FE_HELLO or FE_HELLO_KEY) over a private SOCK_SEQPACKET pair; the connector connects
 * to the one isol8d socket it was given at start, sends that hello itself and passes the
 * connected socket back (CN_CONNECTED with the fd, or WK_ERROR {u16 code, str message}).
 *
 * Why the connector, and not the server, connects: isol8d takes identity from SO_PEERCRED at
 * connect(), and trusts FE_HELLO_KEY only from uid 0, --trust-key-uid or its own --http child
 * (by pid). The connector keeps that identity (root's uid, or the --http child's pid) while the
 * server drops it. It accepts exactly one hello type (FE_HELLO_KEY when the server acts for
 * keys: a root connector never opens a plain uid-0 connection, which would be the admin
 * tenant), checks its bounds before forwarding, and parses nothing else. Run as root it keeps
 * uid 0 only: no capabilities (bounding set empty), no_new_privs, non-dumpable, and a seccomp
 * filter without open, exec or signals. */
#ifndef ISOL8_FRONTEND_HTTP_CONNECTOR_H
#define ISOL8_FRONTEND_HTTP_CONNECTOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"

/* Connector side, in the parent after fork(). link: its end of the pair; child: the server's
 * pid; hello_type: the only hello forwarded (FE_HELLO or FE_HELLO_KEY). Drops every capability
 * (keeping the uid), sets no_new_privs and non-dumpable, then loads its filter unless
 * with_seccomp is false (--no-seccomp, debugging).
 * SIGINT, SIGTERM, SIGHUP and SIGCHLD must be blocked by the caller; the first three are
 * forwarded as one byte on stop_fd (a root connector without CAP_KILL may not signal a
 * server that dropped to another uid). Returns the
 * exit status for main() once the child has ended (its own, or 128 + signal), 1 when the
 * lockdown failed (the child is killed then). */
int http_connector_run(int link, int stop_fd, pid_t child, const char *socket_path, uint8_t hello_type,
		       bool with_seccomp);

/* Server side: a broker connection for one request, hello already sent. Thread-safe (one
 * request at a time on the link). Returns the fd or -1 with *err (the connector's error, e.g.
 * ISOL8_E_UNAVAIL "cannot reach isol8d at ..."). */
int http_connector_open(int link, uint8_t op, const char *session, const char *key_name, const char *key_id,
			struct isol8_err *err);
/* (A key_name starting with HTTP_DBKEY_PREFIX sends FE_HELLO_DBKEY with key_id as the token's
 * SHA-256: a token of isol8d's key store, see http/keys.h.) */

#endif
