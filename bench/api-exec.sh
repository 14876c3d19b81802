#!/bin/bash
# Baseline: one `docker exec` through the Engine API with curl, as a client library would do it:
# exec create, exec start (attached: the multiplexed stream ends when the program exits), exec
# inspect for the exit code. Usage: api-exec.sh DOCKER_SOCKET CONTAINER CMD_JSON_ARRAY
# Prints the program's stdout bytes (still framed: 8-byte headers) and fails unless it exits 0.
set -euo pipefail
sock=$1 ctr=$2 cmd=$3
api=http://localhost/v1.41
id=$(curl -sf --unix-socket "$sock" -H 'Content-Type: application/json' \
	-d "{\"AttachStdout\":true,\"AttachStderr\":true,\"Cmd\":$cmd}" "$api/containers/$ctr/exec")
id=${id#*\"Id\":\"}
id=${id%%\"*}
curl -sf --unix-socket "$sock" -H 'Content-Type: application/json' -d '{"Detach":false,"Tty":false}' \
	"$api/exec/$id/start" | tail -c +9
code=$(curl -sf --unix-socket "$sock" "$api/exec/$id/json")
[[ $code == *'"ExitCode":0,'* ]]
