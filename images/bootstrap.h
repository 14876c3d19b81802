/* Offline creation of the FROM image (debian:bookworm-slim) when no registry is reachable:
 * debootstrap a minbase bookworm tree from the host's Debian mirror and `docker import` it.
 * Needs root (debootstrap) and the debootstrap package. */
#ifndef ISOL8_FRONTEND_BOOTSTRAP_H
#define ISOL8_FRONTEND_BOOTSTRAP_H

#include <stdbool.h>

#include "common/err.h"
#include "docker/client.h"

#define ISOL8_BOOTSTRAP_SUITE "bookworm"

/* Find a Debian mirror for suite in apt sources text: one-line format ("deb [opts] URL suite
 * comps", deb822 == false) or deb822 stanzas ("Types: deb", "URIs:", "Suites:"). A source
 * listing the suite itself wins; otherwise the first deb URL ending in "/debian" that is not a
 * security archive. Returns 2 (suite listed) or 1 (fallback) with *out (fresh), 0 when
 * nothing fits. */
int isol8_apt_mirror_parse(const char *text, bool deb822, const char *suite, char **out);
/* The same over /etc/apt/sources.list, /etc/apt/sources.list.d/ *.list and *.sources. */
int isol8_apt_mirror_from_host(char **out, struct isol8_err *err);
/* http(s):// or file:// URL without blanks, quotes or backslashes. */
bool isol8_mirror_url_ok(const char *url);

/* debootstrap into a private temporary folder, tar it (docs, man pages, apt lists and caches
 * left out) and import it as repo:tag with CMD ["bash"] and LABEL org.isol8.bootstrap=debootstrap.
 * mirror NULL: from the host's apt sources. Prints progress lines. */
int isol8_bootstrap_base(struct docker *d, const char *mirror, const char *repo, const char *tag,
			 struct isol8_err *err);

#endif
