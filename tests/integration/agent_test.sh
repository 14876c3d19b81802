#!/bin/bash
# The in-sandbox agent (sandbox/agent.c) in a locked-down isol8:python container, driven
# by tests/integration/agent_peer.py playing the worker (TAP). Needs root, a running Docker engine
# and an isol8:python image carrying the agent (label org.isol8.agent=1, built by `isol8 setup`);
# exits 77 otherwise. The node standby is checked in a second container when isol8:node carries
# the agent too (skipped otherwise). Its containers are labelled org.isol8.test=agent and named per run.
# Arguments go to agent_peer.py: `-k CASE` (repeatable) runs only the cases whose name contains CASE,
# `-l` lists them.
set -u

SRCDIR=${ISOL8_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
IMAGE=${ISOL8_AGENT_IMAGE:-isol8:python}
NODE_IMAGE=${ISOL8_AGENT_NODE_IMAGE:-isol8:node}
NAME=isol8-agent-test-$$

cleanup() { docker rm -f "$NAME" "$NAME-node" "$NAME-t" >/dev/null 2>&1; }

has_agent() { [ "$(docker image inspect -f '{{index .Config.Labels "org.isol8.agent"}}' "$1" 2>/dev/null)" = 1 ]; }

if [ "$(id -u)" != 0 ] || ! command -v python3 >/dev/null || ! docker info >/dev/null 2>&1 || ! has_agent "$IMAGE"; then
	echo "1..0 # SKIP needs root, python3, Docker and $IMAGE with the agent (isol8 setup)"
	exit 77
fi
has_agent "$NODE_IMAGE" || NODE_IMAGE=
trap cleanup EXIT
python3 "$SRCDIR/tests/integration/agent_peer.py" "$IMAGE" "$NAME" "$NODE_IMAGE" "$@"
