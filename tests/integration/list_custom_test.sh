#!/bin/bash
# `isol8 list-custom [--json]` (issue 15, item 5) against the real engine: an image made by
# `isol8 build` is listed under every tag it has, the user's own tag included (the original hid
# those), base images are not. The image this test builds (a unique setup script, so a unique
# hash) is removed at the end. TAP, final "N passed, N failed"; exit 77 (skip) unless root.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/daemon.sh
. "${ISOL8_SRCDIR:-$here/../..}/tests/lib/daemon.sh"

daemon_setup list_custom_test
docker image inspect isol8:bash >/dev/null 2>&1 || bail "image isol8:bash missing (isol8 setup)"

TAG=isol8-lc-test-$$:1
IMG=""
remove_image() { [ -n "$IMG" ] && docker rmi -f "$IMG" >/dev/null 2>&1; IMG=""; }
trap 'remove_image; daemon_exit_trap' EXIT

case_build_then_list() {
	run_cap "$ISOL8" build --base bash --setup "echo list-custom-$$" --tag "$TAG"
	is "$RC" 0 "isol8 build --setup --tag: built"
	IMG=$(docker image inspect -f '{{.Id}}' "$TAG" 2>/dev/null)
	isnt "$IMG" "" "the image exists under the user's tag"
	run_cap "$ISOL8" list-custom
	is "$RC|$ERR" "0|" "list-custom: exit 0, nothing on stderr"
	like "$OUT" "  📦 $TAG"$'\n' "the user's own tag is listed (not only isol8:*)"
	like "$OUT" $'  📦 isol8:bash-custom-[0-9a-f]{12}\n     Runtime:      bash\n     Dependencies: \\(none\\)\n     Setup:        baked in \\(/usr/local/lib/isol8/setup.sh\\)\n     Made by:      isol8 build, ' \
		"its isol8 tag, runtime, dependencies, setup and maker"
	unlike "$OUT" $'📦 isol8:bash\n' "the base image is not a custom image"
	run_cap "$ISOL8" list-custom --json
	is "$RC" 0 "list-custom --json: exit 0"
	is "$(printf '%s' "$OUT" | jq -c --arg id "$IMG" '[.[] | select(.id == $id) | {runtime, dependencies, setup, kind, n: (.tags | length), mine: (.tags | index("'"$TAG"'") != null)}]')" \
		'[{"runtime":"bash","dependencies":"","setup":true,"kind":"build","n":2,"mine":true}]' \
		"--json: one entry for the image, with both tags"
	is "$(printf '%s' "$OUT" | jq -r '[.[] | .tags[] | select(. == "isol8:bash" or . == "isol8:python")] | length')" 0 \
		"--json: no base image"
}

case_bad_usage() {
	run_cap "$ISOL8" list-custom --bogus
	is "$RC|$OUT|$ERR" $'2||[ERR] isol8 list-custom: unknown option \'--bogus\'; see \'isol8 list-custom --help\'\n' "unknown option: one [ERR] line, exit 2"
	run_cap "$ISOL8" list-custom extra
	is "$RC|$ERR" $'2|[ERR] list-custom: unexpected argument: extra\n' "stray argument: exit 2"
}

case_z_removed() {
	remove_image
	run_cap "$ISOL8" list-custom --json
	is "$(printf '%s' "$OUT" | jq -r --arg t "$TAG" '[.[] | select(.tags | index($t))] | length')" 0 \
		"after removing the image it is no longer listed"
}

run_cases "$@"
