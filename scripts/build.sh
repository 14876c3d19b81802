#!/bin/bash
# Configure and build isol8 in ./build (out of tree). Extra arguments go to configure.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ -n "$(find . -name Makefile.inc -newer configure -print -quit)" ] ||
	[ Makefile.am -nt configure ]; then
	./autogen.sh >&2
fi
mkdir -p build
# isol8d's own libcurl (HTTP over UNIX sockets only); ISOL8_SYSTEM_CURL=1 or a failed build
# (no mirror reachable, say) leaves it on the system libcurl.
extra=()
if [ "${ISOL8_SYSTEM_CURL:-}" != 1 ]; then
	if scripts/curl-minimal.sh build/third_party/curl; then
		extra+=("--with-broker-curl=$top/build/third_party/curl")
	else
		echo "build: could not build the broker's libcurl; isol8d links the system libcurl" >&2
	fi
fi
cd build
if [ ! -f Makefile ] || [ ../configure -nt Makefile ] || [ $# -gt 0 ]; then
	../configure "${extra[@]}" "$@" >&2
fi
make -j"$(nproc)" >&2
