/* Which node holds a remote session, remembered between runs of the isol8 command (issue 18).
 *
 * Behind a load balancer every answer of isol8 serve names its node (X-Isol8-Node). The node
 * that answered a session's first request holds it; later requests of the session send that
 * name back, so that another node (the first one down or drained, the balancer moved on)
 * answers "session lives on another node" instead of starting a fresh interpreter. One command
 * line is one process, so the names live in a file: $XDG_STATE_HOME/isol8/remote-nodes (else
 * ~/.local/state/isol8/remote-nodes), one "URL SESSION NODE" line per session, mode 0600. A
 * file that cannot be read or written only loses the check, never the request. */
#ifndef ISOL8_CLI_REMOTE_NODES_H
#define ISOL8_CLI_REMOTE_NODES_H

#include <stdbool.h>

/* The node remembered for (url, session), or NULL. Caller frees. */
char *remote_node_get(const char *url, const char *session);
/* Remember node for (url, session); node NULL forgets it. */
void remote_node_set(const char *url, const char *session, const char *node);

#endif
