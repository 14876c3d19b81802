/* Host patterns of the filtered network: the syntax of --allow/--deny, options.networkFilter
 * and the policy's networkFilter lists. Pure string code (no regex, no allocation in the
 * checker and matcher), so the broker validates with it and the proxy matches with it at a
 * cost bounded by the lengths involved: one pattern against one host is O(strlen(host)).
 *
 * Canonical syntax (what the broker accepts and the proxy matches), always the whole name:
 *   example.com      exactly that host (case-insensitive; one trailing dot of the host ignored)
 *   *.example.com    any name below example.com (one or more labels), not example.com itself
 *   *                any host
 *   192.0.2.7, 2001:db8::1   an address literal, exactly (IPv6 in inet_ntop form)
 * Labels are 1-63 bytes of [a-z0-9_-], names at most 253 bytes.
 *
 * hostpat_normalize also accepts the common regular-expression spellings users of the original
 * wrote and turns them into that syntax without compiling anything: "^pypi\.org$", "pypi\.org",
 * "api.anthropic.com" -> "pypi.org" / "api.anthropic.com"; ".*\.npmjs\.org", "^.+\.npmjs\.org$",
 * "\.npmjs\.org$" -> "*.npmjs.org"; ".*" -> "*". Anything else with regex syntax (classes,
 * groups, alternation, repetition) is refused with a message naming the syntax. */
#ifndef ISOL8_PROXY_HOSTPAT_H
#define ISOL8_PROXY_HOSTPAT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

#define HOSTPAT_MAX 255u /* "*." + a 253-byte name */

/* 0 if pat is canonical; else -1, ISOL8_E_USAGE naming pat and what is wrong. */
int hostpat_check(const char *pat, struct isol8_err *err);
/* Canonical form of a user's pattern (heap string), or NULL with ISOL8_E_USAGE. */
char *hostpat_normalize(const char *in, struct isol8_err *err);
/* pat canonical; host as the proxy parsed it (lower case, no port, IPv6 without brackets). */
bool hostpat_match(const char *pat, const char *host);

#define HOSTPAT_SYNTAX "a host name (pypi.org), *.domain (any name below domain) or *"

#endif
