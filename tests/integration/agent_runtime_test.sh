#!/bin/bash
# The agent runtime end to end (issue 15, item 1): `isol8 run -r agent` runs the pi coding agent
# of isol8:agent with the code as its prompt. The LLM provider is a stand-in served by the test
# on the docker bridge (llm_standin.py, the Anthropic Messages API; the real provider is not
# reachable here), named llm.test through the proxy's --proxy-hosts hook and configured as the
# anthropic provider's base URL in pi's models.json, which the run brings with --files. The
# stand-in answers with a scripted `edit` tool call on a file of the project; pi edits it, the
# file comes back through --output-path / outputPaths, the proxy's log shows only llm.test, and
# the provider key (a --secret) is masked in the output. Then the bad inputs: no --net filtered,
# no --allow, bad --agent-flags (CLI [ERR] lines, HTTP 400 JSON), all before any sandbox exists.
# A real isol8d, the CLI, `isol8 serve` and the engine. TAP, final "N passed, N failed"; exit 77
# (skip) unless root, or when isol8:agent is missing (build it with `isol8 setup --runtimes agent`).
set -u

here=$(cd "$(dirname "$0")" && pwd)
src=${ISOL8_SRCDIR:-$here/../..}
# shellcheck source=../lib/daemon.sh
. "$src/tests/lib/daemon.sh"

daemon_setup agent_runtime_test
if ! docker image inspect isol8:agent >/dev/null 2>&1; then
	echo "1..0 # SKIP image isol8:agent missing (build it with: isol8 setup --runtimes agent)"
	exit 77
fi
command -v python3 >/dev/null || bail "python3 needed for the provider stand-in"

# ---- the provider stand-in on the bridge, reachable only as llm.test through the proxy ----------
bridge_host # $GW: a stand-in host on the bridge, not the host itself (the proxy cannot reach that)
PORT=$(free_port "$GW")
KEY=sk-ant-standin-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
LLM_LOG=$T_TMP/llm.log
: >"$LLM_LOG"
on_bridge python3 "$here/llm_standin.py" "$GW" "$PORT" "$LLM_LOG" "$KEY" /sandbox/project/notes.txt \
	"status: draft" "status: reviewed by pi" >"$T_TMP/standin.err" 2>&1 &
LLM_PID=$!
stop_all() {
	command -v http_serve_stop >/dev/null && http_serve_stop
	kill "$LLM_PID" 2>/dev/null
	wait "$LLM_PID" 2>/dev/null
	daemon_exit_trap
}
trap stop_all EXIT
for _ in $(seq 50); do
	python3 -c "import socket; socket.create_connection(('$GW', $PORT), 1)" 2>/dev/null && break
	sleep 0.1
done
printf '%s llm.test other.test\n' "$GW" >"$T_TMP/hosts"
# The stand-in is on the bridge address, not a global one: permitted by the policy, like an
# internal provider gateway would be (isol8-policy(5) networkFilter).
jq --arg gw "$GW/32" --argjson port "$PORT" \
	'.tenants[].networkFilter |= (.allowAddresses = [$gw] | .ports = [80, 443, $port])' \
	"$src/policy/default-policy.json" >"$T_TMP/policy.json" || bail "cannot write the policy"
daemon_start a --proxy-hosts "$T_TMP/hosts" --policy "$T_TMP/policy.json" || done_testing
S=${D_SOCK[a]}
run() { run_cap "$ISOL8" run --socket "$S" "$@"; }

# The project the agent works on, and pi's configuration ($HOME is /sandbox): the built-in
# anthropic provider, pointed at the stand-in.
mkdir -p "$T_TMP/proj/project" "$T_TMP/proj/.pi/agent"
printf 'title: release notes\nstatus: draft\n' >"$T_TMP/proj/project/notes.txt"
printf '{"providers": {"anthropic": {"baseUrl": "http://llm.test:%s"}}}\n' "$PORT" \
	>"$T_TMP/proj/.pi/agent/models.json"
AGENT=(-r agent --net filtered --allow llm.test --secret "ANTHROPIC_API_KEY=$KEY" --files "$T_TMP/proj"
	--workdir /sandbox/project --timeout 120000)
FLAGS="--provider anthropic --model 'claude-sonnet-4-5'"

case_edit_through_the_proxy() {
	local before
	: >"$LLM_LOG"
	before=$(daemon_containers a | wc -l)
	run "${AGENT[@]}" --agent-flags "$FLAGS" --log-network --json --output-path /sandbox/project/notes.txt \
		-e "Mark the release notes as reviewed." </dev/null
	is "$RC|$(json_get "$OUT" .exitCode)|$ERR" "0|0|" "agent run succeeds (exit 0), nothing on stderr"
	is "$(json_get "$OUT" .stdout)" '"Done: the notes are reviewed (key ***).\n"' \
		"stdout is pi's final answer, the provider key in it masked as ***"
	unlike "$OUT$ERR" "$KEY" "the key never appears in the output"
	is "$(json_get "$OUT" '.files["/sandbox/project/notes.txt"]' | tr -d '"' | base64 -d)" \
		$'title: release notes\nstatus: reviewed by pi' \
		"the file injected with --files comes back edited by the scripted tool call (--output-path)"
	is "$(json_get "$OUT" '[.networkLogs[] | [.method, .host, .port, .path, .action]]')" \
		"[[\"CONNECT\",\"llm.test\",$PORT,null,\"ALLOW\"],[\"CONNECT\",\"llm.test\",$PORT,null,\"ALLOW\"]]" \
		"the proxy's log: exactly the two provider calls (pi's undici tunnels even http://), to the allowed host only"
	is "$(jq -sc '[.[] | [.path, .key == $k, .model, .stream]]' --arg k "$KEY" "$LLM_LOG")" \
		'[["/v1/messages",true,"claude-sonnet-4-5",true],["/v1/messages",true,"claude-sonnet-4-5",true]]' \
		"the provider saw two streamed calls with the secret as x-api-key and --agent-flags' model"
	is "$(jq -sc '[.[0].prompt, .[1].toolResult, .[0].tools]' "$LLM_LOG")" \
		'["Mark the release notes as reviewed.","Successfully replaced 1 block(s) in /sandbox/project/notes.txt.",["bash","edit","read","write"]]' \
		"the prompt is the code; the second call carries the edit's result"
	like "$(jq -r '.[0].system' -s "$LLM_LOG")" 'You are running inside an isol8 sandbox' \
		"pi's system prompt has isol8's sandbox note appended"
	is "$(daemon_containers a | wc -l)" "$before" "the run's sandbox is gone afterwards"
}

# cgroup v1 or v2
PIDS_MAX='cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max'
case_limits_and_tools() {
	run -r agent --net filtered --allow llm.test --json \
		--cmd "$PIDS_MAX"'; df -m --output=size /sandbox | tail -1 | tr -d " "; pi --version 2>&1; git --version | cut -d" " -f1-2; command -v rg fdfind; [ "$(id -u)" != 0 ] && echo not root; cd /sandbox && git init -q r && cd r && git commit -q --allow-empty -m first && git log --format=%an' </dev/null
	is "$RC|$(json_get "$OUT" .stdout)" \
		'0|"200\n2048\n0.73.1\ngit version\n/usr/bin/rg\n/usr/bin/fdfind\nnot root\npi (isol8 sandbox)\n"' \
		"agent defaults: 200 processes, a 2g /sandbox; pi 0.73.1, rg and fd in the image; not root; git commits"
	run -r agent --net filtered --allow llm.test --pids-limit 50 --sandbox-size 1g --json \
		--cmd "$PIDS_MAX"'; df -m --output=size /sandbox | tail -1 | tr -d " "' </dev/null
	is "$RC|$(json_get "$OUT" .stdout)" '0|"50\n1024\n"' "--pids-limit and --sandbox-size win over the agent's defaults"
}

# In a session the project stays: the edited file is fetched with isol8 cp afterwards.
case_session_and_cp() {
	: >"$LLM_LOG"
	run "${AGENT[@]}" --session-id agent-s1 --agent-flags "$FLAGS" -e "Mark the release notes as reviewed." </dev/null
	is "$RC|$OUT" $'0|Done: the notes are reviewed (key ***).\n' "agent run in a session: pi's answer, key masked"
	rm -f "$T_TMP/notes.out"
	run_cap "$ISOL8" cp --socket "$S" agent-s1:/sandbox/project/notes.txt "$T_TMP/notes.out"
	is "$RC|$(cat "$T_TMP/notes.out" 2>/dev/null)" $'0|title: release notes\nstatus: reviewed by pi' \
		"isol8 cp brings the edited file back from the session"
	run_cap "$ISOL8" session stop agent-s1 --socket "$S"
	is "$RC" 0 "the session stops"
}

# pi takes an argument that starts with - for an option and one with @ for a file to attach.
case_prompt_like_an_option() {
	: >"$LLM_LOG"
	run "${AGENT[@]}" --json -e "--help: mark the release notes as reviewed" </dev/null
	is "$RC|$(json_get "$OUT" .exitCode)|$(json_get "$OUT" .stdout)" '0|0|"Done: the notes are reviewed (key ***).\n"' \
		"a prompt starting with -- reaches the model instead of printing pi's help"
	is "$(jq -sc '.[0].prompt' "$LLM_LOG")" '" --help: mark the release notes as reviewed"' \
		"the prompt is passed with one leading blank"
}

case_bad_inputs_cli() {
	local before nb
	before=$(daemon_containers a | wc -l)
	nb=$(wc -l <"$LLM_LOG")
	run -r agent -e "fix it" </dev/null
	is "$RC|$OUT|$ERR" '2||[ERR] Agent runtime requires network access. The AI coding agent needs to reach its LLM provider API. Use --net filtered --allow "api.anthropic.com" (or your provider'"'"'s domain).'$'\n' \
		"-r agent without --net: one [ERR] line, exit 2"
	run -r agent -e "fix it" --net host </dev/null
	like "$RC|$ERR" '^2\|\[ERR\] Agent runtime requires --net filtered \(not --net host\)' "--net host: refused"
	run -r agent -e "fix it" --net filtered </dev/null
	is "$RC|$ERR" '2|[ERR] Agent runtime requires at least one network whitelist entry. Use --allow "api.anthropic.com" (or your provider'"'"'s domain).'$'\n' \
		"--net filtered without --allow: refused"
	run "${AGENT[@]}" --agent-flags "--model 'unterminated" -e "fix it" </dev/null
	is "$RC|$ERR" $'2|[ERR] --agent-flags: unterminated \' quote at byte 8\n' "--agent-flags with an open quote: refused"
	run -e 'print(1)' --agent-flags "--model m" </dev/null
	is "$RC|$ERR" $'2|[ERR] --agent-flags is for the agent runtime only (runtime is python; add -r agent)\n' \
		"--agent-flags without the agent runtime: refused"
	run "${AGENT[@]}" -e "   " </dev/null
	is "$RC|$ERR" $'2|[ERR] No code to run\n' "a blank prompt: refused"
	is "$(daemon_containers a | wc -l)" "$before" "no refused run started a sandbox"
	is "$(wc -l <"$LLM_LOG")" "$nb" "no refused run called the provider"
}

# `isol8 serve` in front of the same daemon.
serve_start() {
	local i port=""
	[ -n "${SRV_PID:-}" ] && return 0
	. "$src/tests/lib/serve.sh"
	printf 'alpha:%s\n' "$KA" >"$T_TMP/keys"
	chmod 0600 "$T_TMP/keys"
	setsid "$ISOL8" serve --port 0 --keys-file "$T_TMP/keys" --socket "$S" --grace 5 \
		>"$T_TMP/serve.log" 2>&1 </dev/null &
	SRV_PID=$!
	for ((i = 0; i < 100; i++)); do
		port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T_TMP/serve.log" 2>/dev/null)
		[ -n "$port" ] && break
		sleep 0.1
	done
	[ -n "$port" ] || bail "isol8 serve did not start: $(cat "$T_TMP/serve.log")"
	SRV_URL=http://127.0.0.1:$port
}
post() { # BODY: CODE, BODY_OUT
	CODE=$(curl -s -o "$T_TMP/body" -w '%{http_code}' -X POST "$SRV_URL/execute" -H "Authorization: Bearer $KA" \
		-H 'Content-Type: application/json' --data-binary "$1")
	BODY_OUT=$(cat "$T_TMP/body")
}

case_http() {
	local files nb
	need_http || return 0
	serve_start
	nb=$(wc -l <"$LLM_LOG")
	post '{"request":{"code":"fix it","runtime":"agent"}}'
	is "$CODE|$(json_get "$BODY_OUT" .error)" \
		'400|"Agent runtime requires network access. The AI coding agent needs to reach its LLM provider API. Use options.network \"filtered\" with options.networkFilter.whitelist [\"api.anthropic.com\"] (or your provider'"'"'s host)."' \
		"HTTP: runtime agent without network: 400 JSON"
	post '{"request":{"code":"fix it","runtime":"agent"},"options":{"network":"filtered"}}'
	like "$CODE|$(json_get "$BODY_OUT" .error)" '^400\|"Agent runtime requires at least one network whitelist entry' \
		"HTTP: filtered without a whitelist: 400 JSON"
	post '{"request":{"code":"fix it","runtime":"agent"},"options":{"network":"host","networkFilter":{"whitelist":["llm.test"]}}}'
	like "$CODE|$(json_get "$BODY_OUT" .error)" '^400\|"Agent runtime requires options.network \\"filtered\\" \(not \\"host\\"\)' \
		"HTTP: host network: 400 JSON"
	post '{"request":{"code":"fix it","runtime":"agent","agentFlags":"--model \"x"},"options":{"network":"filtered","networkFilter":{"whitelist":["llm.test"]}}}'
	is "$CODE|$(json_get "$BODY_OUT" .error)" '400|"request.agentFlags: unterminated \" quote at byte 8"' \
		"HTTP: agentFlags with an open quote: 400 JSON"
	post '{"request":{"code":" \n\t ","runtime":"agent"},"options":{"network":"filtered","networkFilter":{"whitelist":["llm.test"]}}}'
	is "$CODE|$(json_get "$BODY_OUT" .error)" '400|"Agent runtime: the prompt (the request'"'"'s code) is empty"' \
		"HTTP: a blank prompt: 400 JSON (from the worker)"
	post '{"request":{"code":"print(1)","runtime":"python","agentFlags":"--model m"}}'
	is "$CODE|$(json_get "$BODY_OUT" .error)" '400|"request.agentFlags: only for runtime \"agent\" (runtime is python)"' \
		"HTTP: agentFlags for another runtime: 400 JSON"
	post '{"request":{"code":"x","runtime":"agent","agentFlags":7},"options":{"network":"filtered","networkFilter":{"whitelist":["llm.test"]}}}'
	like "$CODE|$(json_get "$BODY_OUT" .error)" '^400\|"request.agentFlags: expected string' "HTTP: agentFlags not a string: 400 JSON"
	is "$(wc -l <"$LLM_LOG")" "$nb" "HTTP: refused requests reached no provider"

	# The same edit through the API: files in the request, the edited file in outputPaths.
	: >"$LLM_LOG"
	files=$(jq -cn --arg m "$(cat "$T_TMP/proj/.pi/agent/models.json")" --arg n "$(cat "$T_TMP/proj/project/notes.txt")" \
		'{".pi/agent/models.json": $m, "project/notes.txt": ($n + "\n")}')
	post "$(jq -cn --argjson f "$files" --arg k "$KEY" '{request: {code: "Mark the release notes as reviewed.",
		runtime: "agent", agentFlags: "--provider anthropic --model claude-sonnet-4-5", files: $f,
		workdir: "/sandbox/project", outputPaths: ["/sandbox/project/notes.txt"], timeoutMs: 120000},
		options: {network: "filtered", networkFilter: {whitelist: ["llm.test"]}, secrets: {ANTHROPIC_API_KEY: $k},
		logNetwork: true}}')"
	is "$CODE|$(json_get "$BODY_OUT" '[.exitCode, .stdout, (.networkLogs | map(.host) | unique)]')" \
		'200|[0,"Done: the notes are reviewed (key ***).\n",["llm.test"]]' \
		"HTTP: runtime agent edits through the proxy, key masked, only llm.test in the proxy log"
	is "$(json_get "$BODY_OUT" '.files["/sandbox/project/notes.txt"]' | tr -d '"' | base64 -d)" \
		$'title: release notes\nstatus: reviewed by pi' "HTTP: the edited file in the result's files"
	http_serve_stop
}

teardown() {
	daemon_stop a
}

run_cases "$@"
