# isol8 persistent-session driver for bash (protocol: see README in this folder).
# Snippets are eval'd in this shell, so cd, exports, variables and functions persist.
# `exit` in a snippet ends the session shell (as in a real shell); the EXIT trap still reports
# the code so the caller is never left waiting.

exec 3<&0 </dev/null
__isol8_token=

__isol8_mark() {
	printf '\036%s %d\n' "$__isol8_token" "$1" >&2
	printf '\036%s %d\n' "$__isol8_token" "$1"
}
trap '__isol8_rc=$?; [ -n "$__isol8_token" ] && __isol8_mark "$__isol8_rc"' EXIT

while IFS= read -r __isol8_line <&3; do
	if ! [[ $__isol8_line =~ ^ISOL8\ ([0-9a-f]{32})\ ([0-9]{1,10})$ ]] ||
		((10#${BASH_REMATCH[2]} > 67108864)); then
		echo "isol8 repl: malformed request header" >&2
		trap - EXIT
		exit 2
	fi
	__isol8_n=$((10#${BASH_REMATCH[2]}))
	__isol8_code=
	# Byte-exact read: -N counts characters, so force the C locale for this read only.
	if ((__isol8_n > 0)) && ! IFS= LC_ALL=C read -r -N "$__isol8_n" __isol8_code <&3; then
		trap - EXIT
		exit 0
	fi
	__isol8_token=${BASH_REMATCH[1]}
	eval "$__isol8_code" 3<&- </dev/null
	__isol8_mark "$?"
	__isol8_token=
done
trap - EXIT
exit 0
