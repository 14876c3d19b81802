#!/bin/bash
# isol8 setup / build / cleanup against the real Docker engine (TAP).
# Needs: $ISOL8 (the built isol8 binary), a reachable dockerd with debian:bookworm-slim, python3.
# Builds only the bash, python and node images (cached layers make reruns fast), one custom python
# image from a local package index served by this test, and a custom node image from npm.
# Every object the test creates carries label org.isol8.test=images or is removed by name.
# Each case runs alone with -k NAME (the drivers and build cases use the runtime images that
# `isol8 setup` made).
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/tap.sh
. "$here/../lib/tap.sh"

ISOL8=${ISOL8:-${ISOL8_BUILDDIR:-$(pwd)}/isol8}
TEST_LABEL=org.isol8.test=images
work=
server_pid=
custom_tags=()

cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
	docker ps -aq --filter "label=$TEST_LABEL" | xargs -r docker rm -f >/dev/null 2>&1
	docker ps -aq --filter "label=org.isol8.test=images-foreign" | xargs -r docker rm -f >/dev/null 2>&1
	docker rmi isol8-foreign-test:1 isol8-test-managed:1 isol8-test-alias:1 >/dev/null 2>&1
	for t in "${custom_tags[@]}"; do docker rmi "$t" >/dev/null 2>&1; done
	[ -n "$work" ] && rm -rf "$work"
}
trap cleanup EXIT

# The whole of both files, as diagnostics
diag_files() { diag "$(cat "$@")"; }

if ! [ -x "$ISOL8" ] || ! docker info >/dev/null 2>&1 ||
	! docker image inspect debian:bookworm-slim >/dev/null 2>&1 || ! command -v python3 >/dev/null; then
	echo "1..0 # SKIP needs \$ISOL8, a running Docker engine with debian:bookworm-slim, python3"
	exit 77
fi

work=$(mktemp -d /tmp/isol8-images-test.XXXXXX)
# No config file from the developer's home or cwd may leak into the test.
export HOME=$work/home
mkdir -p "$HOME"
cd "$work" || exit 1
LOCKED=(--rm --label "$TEST_LABEL" --read-only --tmpfs /sandbox:rw,exec,size=64m,uid=100,gid=101
	--tmpfs /tmp:rw,noexec --cap-drop ALL --security-opt no-new-privileges --network none --user 100:101)

# --- errors before any Docker work ---
case_usage_errors() {
	DOCKER_HOST=unix:///nonexistent/docker.sock "$ISOL8" setup --runtimes bash >out 2>err
	rc=$?
	check "setup without Docker exits 1" [ "$rc" -eq 1 ]
	check "setup without Docker explains" grep -q "^\[ERR\] Docker is not running or not installed." err
	"$ISOL8" setup --runtimes python --python 'evil;rm -rf /' >out 2>err
	rc=$?
	check "setup rejects a package with shell metacharacters (exit 2)" [ "$rc" -eq 2 ]
	check "  naming the package" grep -q 'invalid python package' err
}

# --- base images, hash-based skipping ---
case_base_images() {
	local t0 t1 secs labels
	t0=$(date +%s.%N)
	"$ISOL8" setup --runtimes bash,python >out 2>err
	rc=$?
	t1=$(date +%s.%N)
	check "setup --runtimes bash,python (first run)" [ "$rc" -eq 0 ]
	[ "$rc" -eq 0 ] || diag_files out err
	diag "first setup: $(echo "$t1 - $t0" | bc) s"
	t0=$(date +%s.%N)
	"$ISOL8" setup --runtimes bash,python >out 2>err
	rc=$?
	t1=$(date +%s.%N)
	secs=$(echo "$t1 - $t0" | bc)
	# How long it took is for bench/, not an assertion: printed only.
	diag "second setup: $secs s"
	check "second setup succeeds" [ "$rc" -eq 0 ]
	check "  python is up to date" grep -qx '\[OK\] python: up to date' out
	check "  bash is up to date" grep -qx '\[OK\] bash: up to date' out
	"$ISOL8" setup --runtimes bash --force >out 2>err
	rc=$?
	check "setup --force rebuilds bash" bash -c "[ $rc -eq 0 ] && grep -q '^\[OK\] bash: built in' out"
	labels=$(docker image inspect isol8:bash --format '{{index .Config.Labels "org.isol8.managed"}} {{index .Config.Labels "org.isol8.runtime"}} {{index .Config.Labels "org.isol8.build.hash"}}')
	check "isol8:bash carries managed/runtime/build.hash labels" bash -c "[[ '$labels' =~ ^true\ bash\ [0-9a-f]{64}$ ]]"
	out=$(docker run "${LOCKED[@]}" isol8:python python3 -c 'import os; print(os.getuid(), os.getcwd())' 2>&1)
	check "python runs as uid 100 in /sandbox, locked down" [ "$out" = "100 /sandbox" ]
}

# --- custom python image from a local package index ---
case_custom_python() {
	local gw port pytag
	gw=$(docker network inspect bridge --format '{{range .IPAM.Config}}{{.Gateway}}{{end}}' 2>/dev/null)
	[ -n "$gw" ] || gw=$(ip -4 -o addr show docker0 2>/dev/null | awk '{sub(/\/.*/, "", $4); print $4; exit}')
	port=$((20000 + $$ % 20000))
	python3 - "$work/index" <<'EOF'
import base64, hashlib, os, sys, zipfile
root = sys.argv[1]
name, ver = "isol8_testpkg", "0.1"
whl = f"{name}-{ver}-py3-none-any.whl"
os.makedirs(f"{root}/files", exist_ok=True)
os.makedirs(f"{root}/simple/isol8-testpkg", exist_ok=True)
files = {
    f"{name}/__init__.py": "VALUE = 42\n",
    f"{name}-{ver}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: isol8-testpkg\nVersion: {ver}\n",
    f"{name}-{ver}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: isol8-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = []
for path, text in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
    record.append(f"{path},sha256={digest},{len(text.encode())}")
record.append(f"{name}-{ver}.dist-info/RECORD,,")
files[f"{name}-{ver}.dist-info/RECORD"] = "\n".join(record) + "\n"
with zipfile.ZipFile(f"{root}/files/{whl}", "w") as z:
    for path, text in files.items():
        z.writestr(path, text)
with open(f"{root}/simple/index.html", "w") as f:
    f.write('<a href="isol8-testpkg/">isol8-testpkg</a>\n')
with open(f"{root}/simple/isol8-testpkg/index.html", "w") as f:
    f.write(f'<a href="../../files/{whl}">{whl}</a>\n')
EOF
	python3 -m http.server --bind "$gw" --directory "$work/index" "$port" >"$work/http.log" 2>&1 &
	server_pid=$!
	sleep 1
	"$ISOL8" setup --runtimes python --python isol8-testpkg --pip-index-url "http://$gw:$port/simple/" >out 2>err
	rc=$?
	check "setup builds a custom python image from the local index" [ "$rc" -eq 0 ]
	[ "$rc" -eq 0 ] || diag_files out err
	pytag=$(sed -n 's/^\[OK\] \(isol8:python-custom-[0-9a-f]\{12\}\) .*built in.*/\1/p' out)
	custom_tags+=("$pytag")
	out=$(docker run "${LOCKED[@]}" "${pytag:-none}" python3 -c 'import isol8_testpkg; print(isol8_testpkg.VALUE)' 2>&1)
	check "  the package is importable in $pytag" [ "$out" = "42" ]
	kill "$server_pid" 2>/dev/null
	wait "$server_pid" 2>/dev/null
	server_pid=
}

# --- custom node image from npm, then a dependency change ---
case_custom_node() {
	local nodetag1 nodetag2
	"$ISOL8" setup --runtimes node --node is-number >out 2>err
	rc=$?
	check "setup builds a custom node image with is-number" [ "$rc" -eq 0 ]
	[ "$rc" -eq 0 ] || diag_files out err
	nodetag1=$(grep -o 'isol8:node-custom-[0-9a-f]\{12\}' out | head -1)
	custom_tags+=("$nodetag1")
	out=$(docker run "${LOCKED[@]}" "${nodetag1:-none}" node -e 'console.log(require("is-number")(5))' 2>&1)
	check "  require('is-number') works in $nodetag1" [ "$out" = "true" ]
	"$ISOL8" setup --runtimes node --node is-number@7.0.0 >out 2>err
	rc=$?
	nodetag2=$(grep -o 'isol8:node-custom-[0-9a-f]\{12\}' out | head -1)
	custom_tags+=("$nodetag2")
	check "a dependency change builds a new custom image" bash -c "[ $rc -eq 0 ] && [ -n '$nodetag2' ] && [ '$nodetag2' != '$nodetag1' ]"
	check "  and removes the old one" bash -c "! docker image inspect '$nodetag1' >/dev/null 2>&1"
}

# --- persistent-session drivers: state survives between snippets ---
frame_py='import sys
for i, c in enumerate(sys.argv[1:]):
    b = c.encode()
    sys.stdout.buffer.write(b"ISOL8 %032x %d\n" % (i + 1, len(b)) + b)'
expected=$(printf '\036%032x 0\n42\n\036%032x 0' 1 2)
drive() { # drive runtime driver-argv... -- snippets...
	local rt=$1 cid out
	shift
	local argv=()
	while [ "$1" != -- ]; do argv+=("$1"); shift; done
	shift
	cid=$(docker run -d "${LOCKED[@]}" "isol8:$rt" sleep infinity)
	out=$(python3 -c "$frame_py" "$@" | docker exec -i "$cid" "${argv[@]}" 2>/dev/null)
	docker rm -f "$cid" >/dev/null
	[ "$out" = "$expected" ] || { printf '%s' "$out" | od -c | head -5 | sed 's/^/# /'; return 1; }
}
case_session_drivers() {
	check "python driver keeps state (x = 40; print(x + 2))" \
		drive python python3 -u /usr/local/lib/isol8/repl.py -- 'x = 40' 'print(x + 2)'
	check "node driver keeps top-level let" \
		drive node node /usr/local/lib/isol8/repl.mjs -- 'let x = 40' 'console.log(x + 2)'
	check "bash driver keeps variables" \
		drive bash bash /usr/local/lib/isol8/repl.sh -- 'x=40; cd /tmp' 'echo $((x + 2))'
}

# --- isol8 build with a baked setup script ---
case_build_setup() {
	local buildtag label
	"$ISOL8" build --base bash --setup 'echo hello-from-setup' --tag isol8-test-alias:1 >out 2>err
	rc=$?
	check "build --setup --tag" [ "$rc" -eq 0 ]
	[ "$rc" -eq 0 ] || diag_files out err
	buildtag=$(sed -n 's/^ *Image: //p' out)
	custom_tags+=("$buildtag")
	out=$(docker run "${LOCKED[@]}" isol8-test-alias:1 bash -c "cat /usr/local/lib/isol8/setup.sh" 2>&1)
	label=$(docker image inspect isol8-test-alias:1 --format '{{index .Config.Labels "org.isol8.setup"}}' 2>&1)
	check "  the setup script is baked in with label org.isol8.setup=1" bash -c "[ '$out' = 'echo hello-from-setup' ] && [ '$label' = 1 ]"
}

# --- cleanup touches only managed objects ---
case_cleanup_scope() {
	docker create --label org.isol8.test=images-foreign debian:bookworm-slim true >/dev/null
	docker tag debian:bookworm-slim isol8-foreign-test:1
	docker create --label org.isol8.managed=true --label org.isol8.instance=/images-test.sock --label "$TEST_LABEL" \
		debian:bookworm-slim true >/dev/null
	printf 'FROM debian:bookworm-slim\nLABEL org.isol8.managed=true %s\n' "$TEST_LABEL" |
		docker build -q --pull=false -t isol8-test-managed:1 - >/dev/null 2>&1
	"$ISOL8" cleanup --images --filter "$TEST_LABEL" </dev/null >out 2>err
	rc=$?
	check "cleanup without a TTY and without --force refuses (exit 1)" bash -c "[ $rc -eq 1 ] && grep -q 'Refusing' err"
	"$ISOL8" cleanup --force --images --filter "$TEST_LABEL" >out 2>err
	rc=$?
	[ "$rc" -eq 0 ] || diag_files out err
	check "cleanup --force --images removes the managed container and image" bash -c \
		"[ $rc -eq 0 ] && [ -z \"\$(docker ps -aq --filter label=$TEST_LABEL)\" ] && ! docker image inspect isol8-test-managed:1 >/dev/null 2>&1"
	check "  and leaves the foreign container, foreign image and base image alone" bash -c \
		"[ -n \"\$(docker ps -aq --filter label=org.isol8.test=images-foreign)\" ] && docker image inspect isol8-foreign-test:1 >/dev/null && docker image inspect debian:bookworm-slim >/dev/null && docker image inspect isol8:python >/dev/null"
}

teardown() {
	cleanup
	trap - EXIT
	is "$(docker ps -aq --filter "label=$TEST_LABEL"; docker ps -aq --filter "label=org.isol8.test=images-foreign")" "" \
		"no container of the test is left"
}

run_cases "$@"
