#!/bin/bash
# Test engine helper: make a Docker engine and the base image available, idempotently.
#
#   engine.sh ensure   docker answers, or install docker.io if dockerd is missing and start
#                      dockerd in the background (remembering that WE started it)
#   engine.sh seed     make sure debian:bookworm-slim exists: docker pull (short timeout), else
#                      debootstrap --variant=minbase from the host's own apt mirror and docker import;
#                      the rootfs tarball is cached so a second seed is fast
#   engine.sh stop     stop dockerd, only if this script started it
#   engine.sh status   print whether docker answers and who started it
#   engine.sh runsc    register gVisor's runsc (installed by scripts/deps.sh) as the engine's
#                      "runsc" runtime: merge it into /etc/docker/daemon.json and SIGHUP dockerd,
#                      which reloads "runtimes" without a restart (the engine may be shared)
#
# Environment: ISOL8_ENGINE_STATE (default /run/isol8-test), ISOL8_CACHE (default /var/cache/isol8),
# ISOL8_SEED_IMAGE (default debian:bookworm-slim), ISOL8_SUITE (default bookworm),
# ISOL8_MIRROR (override the mirror read from apt sources), ISOL8_PULL_TIMEOUT (default 20 s).
set -euo pipefail

STATE=${ISOL8_ENGINE_STATE:-/run/isol8-test}
CACHE=${ISOL8_CACHE:-/var/cache/isol8}
IMAGE=${ISOL8_SEED_IMAGE:-debian:bookworm-slim}
SUITE=${ISOL8_SUITE:-bookworm}
PULL_TIMEOUT=${ISOL8_PULL_TIMEOUT:-20}
SOCK=/var/run/docker.sock
PIDFILE=$STATE/dockerd.pid
LOG=$STATE/dockerd.log

say() { printf 'engine: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
now() { date +%s; }

docker_answers() { timeout 10 docker version >/dev/null 2>&1; }

need_root() { [ "$(id -u)" -eq 0 ] || die "$1 needs root"; }

apt_install() {
	need_root "installing $*"
	say "installing $* (apt-get)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >&2 ||
		{ DEBIAN_FRONTEND=noninteractive apt-get update >&2 &&
		  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >&2; }
}

cmd_ensure() {
	local t0 i
	t0=$(now)
	if docker_answers; then
		say "docker already answers"
		return 0
	fi
	if ! command -v dockerd >/dev/null 2>&1; then
		apt_install docker.io
	fi
	command -v docker >/dev/null 2>&1 || apt_install docker.io
	need_root "starting dockerd"
	mkdir -p "$STATE"
	# A dockerd we started earlier may still be coming up; do not start a second one.
	if [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
		say "dockerd (pid $(cat "$PIDFILE")) started earlier, waiting for it"
	else
		say "starting dockerd (log: $LOG)"
		# setsid: keep it out of our process group so the test harness cannot kill it by accident.
		setsid dockerd >"$LOG" 2>&1 </dev/null &
		echo $! >"$PIDFILE"
	fi
	for i in $(seq 1 60); do
		if docker_answers; then
			say "dockerd answers on $SOCK after $(($(now) - t0)) s"
			return 0
		fi
		sleep 1
	done
	tail -n 20 "$LOG" >&2 || true
	die "dockerd did not answer on $SOCK within 60 s"
}

# Every "deb" URI of the host's apt sources: one-line .list files (with an optional [options]
# block) and deb822 .sources files (Types: must include deb; Enabled: no is skipped).
apt_uris() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		sed -e 's/#.*//' "$f" | awk '$1 == "deb" {
			i = 2
			if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
			if (i <= NF) print $i
		}'
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		# whole comment lines go (blanking them would split the paragraph)
		sed -e '/^[[:space:]]*#/d' -e 's/#.*//' "$f" | awk 'BEGIN { RS = ""; FS = "\n" } {
			deb = 0; off = 0; u = ""
			for (i = 1; i <= NF; i++) {
				if ($i ~ /^Types:/ && $i ~ /[ \t:]deb([ \t]|$)/) deb = 1
				if ($i ~ /^Enabled:[ \t]*no/) off = 1
				if ($i ~ /^URIs:/) { u = $i; sub(/^URIs:[ \t]*/, "", u) }
			}
			if (deb && !off && u != "") { n = split(u, a, /[ \t]+/); for (j = 1; j <= n; j++) if (a[j] != "") print a[j] }
		}'
	done
}

# The mirror for debootstrap: the first http(s) URI ending in /debian, else the first non-security
# http(s) URI. No hostname is hard-coded: we use whatever the host itself installs from.
host_mirror() {
	local u uris=()
	mapfile -t uris < <(apt_uris)
	for u in "${uris[@]}"; do
		case ${u%/} in http://*/debian|https://*/debian) echo "${u%/}"; return 0 ;; esac
	done
	for u in "${uris[@]}"; do
		case $u in *security*) continue ;; http://*|https://*) echo "${u%/}"; return 0 ;; esac
	done
	return 1
}

cmd_seed() {
	local t0 t1 rootfs tarball mirror
	t0=$(now)
	docker_answers || die "docker does not answer (run: $0 ensure)"
	if docker image inspect "$IMAGE" >/dev/null 2>&1; then
		say "$IMAGE already present"
		return 0
	fi
	say "$IMAGE missing; trying docker pull (timeout ${PULL_TIMEOUT}s)"
	if timeout "$PULL_TIMEOUT" docker pull "$IMAGE" >&2; then
		say "pulled $IMAGE in $(($(now) - t0)) s"
		return 0
	fi
	need_root "seeding $IMAGE"
	mkdir -p "$CACHE" "$STATE"
	tarball=$CACHE/$SUITE-minbase.tar
	rootfs=$CACHE/rootfs
	if [ -s "$tarball" ]; then
		say "using cached rootfs tarball $tarball"
	elif [ -x "$rootfs/usr/bin/dpkg" ] && [ ! -e "$rootfs/debootstrap" ]; then
		# A finished debootstrap removes its debootstrap/ directory: this tree is complete.
		say "packing cached rootfs $rootfs into $tarball"
		tar --numeric-owner -C "$rootfs" -cf "$tarball.new" .
		mv "$tarball.new" "$tarball"
	else
		command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
		mirror=${ISOL8_MIRROR:-$(host_mirror)} || die "no http(s) mirror found in apt sources (set ISOL8_MIRROR)"
		[ -n "$mirror" ] || die "no http(s) mirror found in apt sources (set ISOL8_MIRROR)"
		rm -rf "$rootfs.new"
		say "debootstrap --variant=minbase $SUITE $rootfs.new $mirror"
		t1=$(now)
		debootstrap --variant=minbase "$SUITE" "$rootfs.new" "$mirror" >&2 ||
			{ tail -n 20 "$rootfs.new/debootstrap/debootstrap.log" >&2 2>/dev/null || true;
			  die "debootstrap failed"; }
		say "debootstrap took $(($(now) - t1)) s"
		# Keep the image small and free of host-specific state.
		rm -rf "$rootfs.new"/var/cache/apt/archives/*.deb "$rootfs.new"/var/lib/apt/lists/* 2>/dev/null || true
		rm -rf "$rootfs"
		mv "$rootfs.new" "$rootfs"
		tar --numeric-owner -C "$rootfs" -cf "$tarball.new" .
		mv "$tarball.new" "$tarball"
	fi
	t1=$(now)
	say "docker import $tarball -> $IMAGE"
	docker import -c 'CMD ["bash"]' -c 'LABEL org.isol8.bootstrap=debootstrap' - "$IMAGE" <"$tarball" >&2
	say "import took $(($(now) - t1)) s; seed total $(($(now) - t0)) s"
}

cmd_stop() {
	if [ ! -s "$PIDFILE" ]; then
		say "dockerd was not started by this script; leaving it alone"
		return 0
	fi
	local pid i
	pid=$(cat "$PIDFILE")
	# Only our own dockerd: the pid must still be a dockerd.
	if kill -0 "$pid" 2>/dev/null && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]; then
		say "stopping dockerd (pid $pid)"
		kill -TERM "$pid"
		for i in $(seq 1 30); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 1
		done
		kill -0 "$pid" 2>/dev/null && die "dockerd (pid $pid) did not stop"
	else
		say "dockerd (pid $pid) is already gone"
	fi
	rm -f "$PIDFILE"
}

# The ptrace platform: systrap is newer than bookworm's runsc, and KVM hangs inside a VM without
# nested virtualisation. --network=none: gVisor's netstack would copy the container's
# interfaces, and under Docker's "none" it finds the root namespace's and refuses to start; isol8
# gives runsc tenants no network. --oci-seccomp: without it gVisor ignores the container's
# seccomp profile; isol8d refuses runsc tenants on a runtime without it. (bookworm's runsc then
# ignores errnoRet: the broker hands runsc a profile that lets clone3 reach the Sentry, which
# answers ENOSYS itself, docs/seccomp.md.)
RUNSC_ARGS='["--platform=ptrace", "--network=none", "--oci-seccomp"]'
DAEMON_JSON=${ISOL8_DAEMON_JSON:-/etc/docker/daemon.json}

engine_has_runsc() { docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"'; }
# The runsc runtime as registered has exactly RUNSC_ARGS (an older registration lacks --oci-seccomp).
engine_runsc_current() {
	docker info --format '{{json .Runtimes}}' 2>/dev/null |
		python3 -c 'import json, sys; r = json.load(sys.stdin).get("runsc"); sys.exit(0 if r and r.get("runtimeArgs") == json.loads(sys.argv[1]) else 1)' "$RUNSC_ARGS"
}

cmd_runsc() {
	local path pid i
	docker_answers || die "docker does not answer (run: $0 ensure)"
	if engine_runsc_current; then
		say "the engine already has the runsc runtime"
		return 0
	fi
	command -v runsc >/dev/null 2>&1 || apt_install runsc
	path=$(command -v runsc)
	need_root "registering runsc in $DAEMON_JSON"
	mkdir -p "$(dirname "$DAEMON_JSON")"
	# Merge, keeping whatever else the file configures; a file that is not JSON is left alone.
	python3 - "$DAEMON_JSON" "$path" "$RUNSC_ARGS" <<'PY' || die "cannot merge runsc into $DAEMON_JSON"
import json, os, sys
p, path, args = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
d = {}
if os.path.exists(p) and os.path.getsize(p) > 0:
    with open(p) as f:
        d = json.load(f)
d.setdefault("runtimes", {})["runsc"] = {"path": path, "runtimeArgs": args}
with open(p + ".new", "w") as f:
    json.dump(d, f, indent=2)
    f.write("\n")
os.rename(p + ".new", p)
PY
	pid=$(pidof dockerd || true)
	[ -n "$pid" ] || die "no dockerd process to reload"
	say "reloading dockerd (pid $pid) with SIGHUP"
	kill -HUP $pid
	for i in $(seq 1 20); do
		engine_runsc_current && { say "runsc registered: $path ${RUNSC_ARGS}"; return 0; }
		sleep 0.5
	done
	die "dockerd did not pick up the runsc runtime (see its log)"
}

cmd_status() {
	if docker_answers; then say "docker answers"; else say "docker does not answer"; fi
	if [ -s "$PIDFILE" ]; then say "started by this script: pid $(cat "$PIDFILE")"; else say "not started by this script"; fi
	if docker image inspect "$IMAGE" >/dev/null 2>&1; then say "$IMAGE present"; else say "$IMAGE missing"; fi
}

case ${1:-} in
ensure) cmd_ensure ;;
seed) cmd_seed ;;
stop) cmd_stop ;;
status) cmd_status ;;
runsc) cmd_runsc ;;
mirror) host_mirror ;;
*) echo "usage: $0 ensure|seed|stop|status|runsc|mirror" >&2; exit 2 ;;
esac
