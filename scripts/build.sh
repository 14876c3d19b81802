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
cd build
if [ ! -f Makefile ] || [ ../configure -nt Makefile ] || [ $# -gt 0 ]; then
	../configure "$@" >&2
fi
make -j"$(nproc)" >&2
