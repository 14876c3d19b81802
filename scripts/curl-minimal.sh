#!/bin/bash
# Build the libcurl that isol8d links: Debian's own curl source (with its security patches, as
# apt verifies it), configured for what the broker does with it (HTTP/1.1 over the Docker
# Engine's UNIX socket) and nothing else: no TLS, no other protocols, no compression, static.
# The privileged broker then maps no OpenSSL, gnutls, krb5, ldap or ssh2 (attack surface), and
# its resident memory drops by those libraries' pages (~7 MB measured).
#
# Usage: scripts/curl-minimal.sh PREFIX. Installs PREFIX/lib/libcurl.a, PREFIX/include/curl
# and PREFIX/lib/pkgconfig/libcurl.pc; does nothing when PREFIX already holds this version.
# Needs the Debian mirror of /etc/apt/sources.list*, dpkg-dev, autoconf, automake, libtool.
# Exit status non-zero on any failure: the caller then links the system libcurl instead.
set -euo pipefail

prefix=${1:?usage: curl-minimal.sh PREFIX}
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
# The version of the system's libcurl: same API as the headers the rest of isol8 compiles with.
version=$(dpkg-query -W -f='${Version}' libcurl4-openssl-dev 2>/dev/null) ||
	{ echo "curl-minimal: libcurl4-openssl-dev is not installed" >&2; exit 1; }
stamp="$prefix/.version"
if [ -f "$prefix/lib/libcurl.a" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
	exit 0
fi

work=$(mktemp -d /tmp/isol8-curl.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"

# deb-src entries for the mirrors apt already uses, in a private apt state (the system's is untouched).
mirrors=$(grep -h -E '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
	/etc/apt/sources.list.d/*.sources 2>/dev/null | grep -o 'https\?://[^ ]*' | sort -u || true)
[ -n "$mirrors" ] || { echo "curl-minimal: no Debian mirror in the apt sources" >&2; exit 1; }
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
for m in $mirrors; do
	case $m in
	*security*) echo "deb-src $m $codename-security main" ;;
	*) echo "deb-src $m $codename main"; echo "deb-src $m $codename-updates main" ;;
	esac
done >sources.list
mkdir -p lists/partial
apt=(apt-get -q -o Dir::Etc::sourcelist="$work/sources.list" -o Dir::Etc::sourceparts=/nonexistent
	-o Dir::State::Lists="$work/lists" -o APT::Sandbox::User=root)
"${apt[@]}" update >apt.log 2>&1 || { tail -5 apt.log >&2; exit 1; }
"${apt[@]}" source "curl=$version" >>apt.log 2>&1 || { tail -5 apt.log >&2; exit 1; }
src=$(find . -maxdepth 1 -type d -name 'curl-*' | head -1)
cd "$src"
# Debian's last two patches rename the library for its gnutls and nss flavours: not wanted here.
for p in 99_nss.patch 90_gnutls.patch; do
	[ -f "debian/patches/$p" ] && patch -R -p1 -s <"debian/patches/$p"
done
autoreconf -fi >"$work/autoreconf.log" 2>&1 || { tail -5 "$work/autoreconf.log" >&2; exit 1; }
./configure --prefix="$prefix" --disable-shared --enable-static --with-pic \
	--without-ssl --without-zlib --without-brotli --without-zstd --without-libpsl --without-libidn2 \
	--without-nghttp2 --without-nghttp3 --without-ngtcp2 --without-librtmp --without-libssh2 \
	--without-libssh --without-gssapi --without-libgsasl --without-hyper \
	--disable-ldap --disable-ldaps --disable-rtsp --disable-dict --disable-telnet --disable-tftp \
	--disable-pop3 --disable-imap --disable-smb --disable-smtp --disable-gopher --disable-mqtt \
	--disable-ftp --disable-file --disable-manual --disable-ntlm --disable-alt-svc --disable-hsts \
	--disable-doh --disable-netrc --disable-cookies --disable-proxy --disable-socketpair \
	--enable-unix-sockets >"$work/configure.log" 2>&1 || { tail -5 "$work/configure.log" >&2; exit 1; }
make -C lib -j"$(nproc)" >"$work/make.log" 2>&1 || { tail -5 "$work/make.log" >&2; exit 1; }
make -C lib install >>"$work/make.log" 2>&1
make -C include install >>"$work/make.log" 2>&1
make install-pkgconfigDATA >>"$work/make.log" 2>&1
echo "$version" >"$stamp"
echo "curl-minimal: libcurl $version (HTTP over UNIX sockets only) in $prefix" >&2
