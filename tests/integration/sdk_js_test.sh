#!/bin/bash
# The JavaScript/TypeScript SDK (sdk/js) against a live `isol8 serve` and isol8d on the real
# engine: `node --test` (live calls, a local stand-in for the session headers and the fallback,
# index.d.ts against docs/openapi.json) twice: as node starts by default (on Node 20 without
# globalThis.WebSocket, so streams go over SSE) and with --experimental-websocket (streams go
# over the WebSocket, and each live streaming case runs over both); then `npm pack`, the tarball
# installed offline into a scratch project running a short program. TAP, final "N passed,
# N failed"; exit 77 (skip) unless root, or without node and npm.
set -u

here=$(cd "$(dirname "$0")" && pwd)
SRC=${ISOL8_SRCDIR:-$here/../..}
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "1..0 # SKIP node and npm are needed (scripts/deps.sh installs them)"
	exit 77
fi
# shellcheck source=../lib/daemon.sh
. "$SRC/tests/lib/daemon.sh"
# shellcheck source=../lib/serve.sh
. "$SRC/tests/lib/serve.sh"
sdk_setup sdk_js_test
export npm_config_cache=$T_TMP/npm-cache npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

# Node 22+ has globalThis.WebSocket by default; Node 20 only with --experimental-websocket.
PLAIN_WS=$(node -p 'typeof globalThis.WebSocket === "function" ? 1 : 0')

node_tests() { # WS(0|1) [NODE-FLAG]
	run_cap env ISOL8_TEST_URL="$SRV_URL" ISOL8_TEST_KEY="$KA" ISOL8_TEST_KEY_BASH="$KB" ISOL8_TEST_EXPECT_WS="$1" \
		ISOL8_OPENAPI="$SRC/docs/openapi.json" node ${2:+"$2"} --test "$SRC/sdk/js/test/"
	is "$RC" 0 "node ${2:+$2 }--test: live calls, the stand-in and index.d.ts against the OpenAPI schemas"
	# Without a WebSocket the ws-only cases skip (the same events over both, the session over
	# ws, the stand-in's WebSocket and fallback cases); with one, the no-WebSocket error case.
	if [ "$1" = 1 ]; then
		like "$OUT" $'\n# pass 35\n# fail 0\n# cancelled 0\n# skipped 1\n' "35 passed, none failed, 1 skipped (the no-WebSocket case)"
	else
		like "$OUT" $'\n# pass 31\n# fail 0\n# cancelled 0\n# skipped 5\n' "31 passed, none failed, 5 skipped (the WebSocket cases)"
	fi
	[ "$RC" = 0 ] || diag "$(grep -A12 '^not ok' <<<"$OUT")"
}

case_node_tests() {
	node_tests "$PLAIN_WS"
}

case_node_tests_websocket() {
	node_tests 1 --experimental-websocket
}

case_npm_pack() {
	local tgz
	cp -r "$SRC/sdk/js" "$T_TMP/jssrc"
	run_cap sh -c "cd '$T_TMP/jssrc' && npm pack --silent --pack-destination '$T_TMP'"
	tgz=$T_TMP/isol8-0.1.0.tgz
	is "$RC|$(tar -tzf "$tgz" 2>/dev/null | sort | tr '\n' ' ')" \
		"0|package/README.md package/index.d.ts package/index.js package/package.json " "npm pack: the module, its types, README"
	mkdir -p "$T_TMP/app"
	printf '{"name":"app","version":"1.0.0","type":"module","private":true}\n' >"$T_TMP/app/package.json"
	run_cap sh -c "cd '$T_TMP/app' && npm install --offline --no-save --silent '$tgz'"
	is "$RC" 0 "the tarball installs offline (no dependencies)"
	cat >"$T_TMP/app/prog.mjs" <<'JS'
import { RemoteIsol8 } from "isol8";

const box = new RemoteIsol8({ host: process.argv[2], apiKey: process.argv[3], sessionId: "js-pack-demo" });
await box.start();
await box.execute({ code: "answer = 6 * 7", runtime: "python" }); // the first run creates the session
await box.putFile("in.txt", "six times seven");
const r = await box.execute({ code: "print(open('in.txt').read(), '=', answer)", runtime: "python" });
console.log(r.exitCode, r.stdout.trim());
const evs = [];
for await (const ev of box.executeStream({ code: "print('streamed')", runtime: "python" })) evs.push(ev);
// an unbuffered print may come as two chunks: the stdout events joined
console.log("stdout", JSON.stringify(evs.filter((e) => e.type === "stdout").map((e) => e.data).join("")), [...new Set(evs.map((e) => e.phase))].join());
console.log(evs.at(-1).type, JSON.stringify(evs.at(-1).data), evs.at(-1).phase);
console.log("over", box.lastTransport);
await box.stop();
JS
	local flag transport
	for flag in "" --experimental-websocket; do
		transport=sse
		[ -n "$flag" ] || [ "$PLAIN_WS" = 1 ] && transport=ws
		run_cap sh -c "cd '$T_TMP/app' && node $flag prog.mjs '$SRV_URL' '$KA'"
		is "$RC|$OUT" "0|0 six times seven = 42
stdout \"streamed\\n\" code
exit \"0\" code
over $transport
" "node${flag:+ $flag}: a program using the installed package runs code, a file and a stream (over $transport)"
		[ "$RC" = 0 ] || diag "$ERR"
	done
}

run_cases "$@"
