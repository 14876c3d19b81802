#!/bin/bash
# Install what building, running and testing isol8 needs on Debian 12 (bookworm), as root.
# Only missing packages are installed; a machine that has everything is left alone.
set -euo pipefail

PKGS=(
	# build
	build-essential autoconf automake autoconf-archive pkg-config libtool dpkg-dev
	libcurl4-openssl-dev libjson-c-dev libarchive-dev libseccomp-dev libcap-dev libsqlite3-dev
	libmicrohttpd-dev check libssl-dev libsystemd-dev
	# isol8-keystore, the PostgreSQL key store's client (optional: configure builds it with libpq)
	libpq-dev
	# the fuzzing build (make fuzz-smoke replays the committed corpora in CI); make format-check
	clang clang-format
	# engine, offline base image bootstrap, tests
	docker.io debootstrap iptables procps util-linux python3 curl ca-certificates
	# used by the integration tests (python3-jsonschema: answers against docs/openapi.json, the
	# config and policy examples against their schemas; groff-base: man pages render cleanly)
	jq iproute2 openssl bc python3-jsonschema groff-base
	# gVisor, the engine's "runsc" runtime for tenants with "isolation": "runsc"
	runsc
	# isol8 serve's /metrics: promtool and a Prometheus that scrapes it (tests/integration/metrics_test.sh)
	prometheus
	# the two-node test (tests/integration/nodes_test.sh) and the deploy/ checks
	haproxy python3-yaml
	# the shared key store's test (tests/integration/keys_pg_test.sh): a private PostgreSQL cluster
	postgresql
	# libisol8's ABI check against lib/libisol8.abi (make abi-check: abidw, abidiff)
	abigail-tools
	# the Python SDK's wheel, built offline (sdk/python)
	python3-pip python3-setuptools python3-wheel
)

# node and npm (sdk/js, the MCP test): Debian's, unless a node was installed another way (a
# nodesource nodejs bundles npm and conflicts with Debian's npm package).
command -v node >/dev/null || PKGS+=(nodejs)
command -v npm >/dev/null || PKGS+=(npm)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: everything is installed" >&2
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages: ${missing[*]} (run as root to install them)" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
