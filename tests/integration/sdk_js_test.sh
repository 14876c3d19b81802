#!/bin/bash
# The JavaScript/TypeScript SDK (sdk/js) against a live `isol8 serve` and isol8d on the real
# engine: `node --test` (live calls, and index.d.ts against docs/openapi.json), then `npm pack`,
# the tarball installed offline into a scratch project running a short program. TAP, final
# "N passed, N failed"; exit 77 (skip) unless root, or without node and npm.
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

case_node_tests() {
	run_cap env ISOL8_TEST_URL="$SRV_URL" ISOL8_TEST_KEY="$KA" ISOL8_TEST_KEY_BASH="$KB" \
		ISOL8_OPENAPI="$SRC/docs/openapi.json" node --test "$SRC/sdk/js/test/"
	is "$RC" 0 "node --test: live calls and index.d.ts against the OpenAPI schemas"
	like "$OUT" $'\n# pass 25\n# fail 0\n# cancelled 0\n# skipped 0\n' "25 passed, none failed or skipped"
	[ "$RC" = 0 ] || diag "$(grep -A12 '^not ok' <<<"$OUT")"
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
for await (const ev of box.executeStream({ code: "print('streamed')", runtime: "python" })) console.log(ev.type, JSON.stringify(ev.data), ev.phase);
await box.stop();
JS
	run_cap sh -c "cd '$T_TMP/app' && node prog.mjs '$SRV_URL' '$KA'"
	is "$RC|$OUT" '0|0 six times seven = 42
stdout "streamed\n" code
exit "0" code
' "a program using the installed package runs code, a file and a stream"
	[ "$RC" = 0 ] || diag "$ERR"
}

run_cases "$@"
