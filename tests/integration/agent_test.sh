#!/bin/bash
# The in-sandbox agent (docker/sandbox/agent.c) in a locked-down isol8:python container, driven
# by tests/integration/agent_peer.py playing the worker (TAP). Needs root, a running Docker engine
# and an isol8:python image carrying the agent (label org.isol8.agent=1, built by `isol8 setup`);
# exits 77 otherwise. Its only container is labelled org.isol8.test=agent and named per run.
set -u

SRCDIR=${ISOL8_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
IMAGE=${ISOL8_AGENT_IMAGE:-isol8:python}
NAME=isol8-agent-test-$$

cleanup() { docker rm -f "$NAME" >/dev/null 2>&1; }

if [ "$(id -u)" != 0 ] || ! command -v python3 >/dev/null || ! docker info >/dev/null 2>&1 ||
	[ "$(docker image inspect -f '{{index .Config.Labels "org.isol8.agent"}}' "$IMAGE" 2>/dev/null)" != 1 ]; then
	echo "1..0 # SKIP needs root, python3, Docker and $IMAGE with the agent (isol8 setup)"
	exit 77
fi
trap cleanup EXIT
python3 "$SRCDIR/tests/integration/agent_peer.py" "$IMAGE" "$NAME"
