# shellcheck shell=bash
# A private Docker engine for reliability tests that stop, restart or starve one (sourced after
# tests/lib/daemon.sh). Never the machine's engine: its own data root, exec root, socket and
# pidfile under $T_TMP, no bridge and no iptables, its own containerd namespace.
#
#   eng_start [DATA_ROOT]  start it (again: same data root keeps its images and containers)
#   eng_small_root MB      mount MB of ext4 from a loop device at $ENG_MNT (for a full disk);
#                          call it directly, not in $(...): it sets ENG_MNT
#   eng_stop               SIGTERM, wait for it to exit
#   eng_load IMAGE...      copy images from the machine's engine (docker save | load)
#   edocker ARGS...        the docker CLI against it
#   eng_containers ID      containers of isol8d ID on it, "id status" per line
# ENG_SOCK is its socket; isol8d reaches it through DOCKER_HOST=unix://$ENG_SOCK.

ENG_DIR="" ENG_SOCK="" ENG_PID="" ENG_DATA="" ENG_MNT=""

# Daemons first (they remove their containers through the engine), then the engine, then its
# loop mount, then the temp dir.
eng_exit_trap() {
	local id
	for id in "${!D_PID[@]}"; do
		daemon_stop "$id" quiet
	done
	eng_stop
	if [ -n "$ENG_MNT" ]; then
		# The engine's last helpers may hold it for a moment after dockerd exits.
		for ((id = 0; id < 50; id++)); do
			umount "$ENG_MNT" 2>/dev/null && break
			sleep 0.1
		done
		mountpoint -q "$ENG_MNT" && umount -l "$ENG_MNT"
	fi
	daemon_exit_trap
}

eng_small_root() {
	mkdir -p "$T_TMP/engine-disk"
	truncate -s "${1}M" "$T_TMP/engine-disk.img" && mkfs.ext4 -q -m 0 -F "$T_TMP/engine-disk.img" &&
		mount -o loop "$T_TMP/engine-disk.img" "$T_TMP/engine-disk" || return 1
	ENG_MNT=$T_TMP/engine-disk
}

edocker() { docker -H "unix://$ENG_SOCK" "$@"; }

eng_start() {
	local i
	if [ -z "$ENG_DIR" ]; then
		ENG_DIR=$T_TMP/engine
		mkdir -p "$ENG_DIR"
		ENG_SOCK=$ENG_DIR/docker.sock
		trap eng_exit_trap EXIT
	fi
	ENG_DATA=${1:-$ENG_DIR/data}
	# Its own network namespace: a dockerd started with --bridge=none deletes the host's docker0
	# at start (moby removeDefaultBridgeInterface), which broke the machine's engine for every
	# other test (note from the lead, who restored docker0 by hand).
	setsid unshare --net dockerd --data-root "$ENG_DATA" --exec-root "$ENG_DIR/exec" --host "unix://$ENG_SOCK" \
		--pidfile "$ENG_DIR/dockerd.pid" --bridge=none --iptables=false --ip-masq=false \
		--containerd-namespace "isol8-test-$$" --containerd-plugins-namespace "isol8-test-$$-plugins" \
		>>"$ENG_DIR/dockerd.log" 2>&1 </dev/null &
	ENG_PID=$!
	for ((i = 0; i < 120; i++)); do
		edocker version >/dev/null 2>&1 && return 0
		proc_gone "$ENG_PID" && break
		sleep 0.25
	done
	echo "# private dockerd did not start: $(tail -5 "$ENG_DIR/dockerd.log")"
	return 1
}

eng_stop() {
	local i
	[ -n "$ENG_PID" ] || return 0
	kill -TERM "$ENG_PID" 2>/dev/null
	for ((i = 0; i < 300; i++)); do
		proc_gone "$ENG_PID" && break
		sleep 0.1
	done
	proc_gone "$ENG_PID" || kill -KILL "$ENG_PID" 2>/dev/null
	wait "$ENG_PID" 2>/dev/null
	ENG_PID=""
}

eng_load() {
	local img
	for img in "$@"; do
		docker save "$img" | edocker load >/dev/null || return 1
	done
}

eng_containers() {
	edocker ps -a --no-trunc --filter "label=org.isol8.instance=${D_SOCK[$1]}" --format '{{.ID}} {{.State}}'
}
