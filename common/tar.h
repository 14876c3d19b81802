/* Tar streams for Docker's archive and build endpoints (libarchive, pax-restricted: plain ustar
 * headers unless a name or size needs a pax extension).
 *
 * Paths inside archives are relative, '/'-separated, and never contain "", "." or ".."
 * components; builders refuse anything else (ISOL8_E_USAGE), so a caller-supplied name cannot
 * escape the extraction directory. */
#ifndef ISOL8_DOCKER_TAR_H
#define ISOL8_DOCKER_TAR_H

#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

struct isol8_tar_entry {
	const char *path; /* "dir/file.py" */
	const void *data;
	size_t len;
	unsigned mode; /* permission bits, e.g. 0644; file type bits are ignored */
	unsigned uid, gid;
};

/* Build a tar of regular files in out (appended after reset). Parent directories of nested
 * paths are emitted once each (mode 0755, owned by the entry's uid/gid), before their files. */
int isol8_tar_build(const struct isol8_tar_entry *entries, size_t n, struct isol8_buf *out, struct isol8_err *err);

/* Default names skipped by isol8_tar_from_dir (NULL-terminated). */
extern const char *const isol8_tar_default_skip[];

/* Tar a local directory recursively (for build contexts): directories and regular files only
 * (symlinks, devices, sockets are skipped: they would point outside the context), directory
 * names in skip (NULL-terminated; NULL = isol8_tar_default_skip) are left out at any depth, and
 * the total of file sizes must stay <= max_total (else ISOL8_E_LIMIT). Owner is 0:0, permission
 * bits are kept without setuid/setgid/sticky. */
int isol8_tar_from_dir(const char *dir, const char *const *skip, size_t max_total, struct isol8_buf *out,
		       struct isol8_err *err);

/* Find the regular file `path` (leading "/" and "./" ignored) in a tar held in memory and copy
 * its content to out. ISOL8_E_NOTFOUND if absent or not a regular file, ISOL8_E_LIMIT past max
 * bytes, ISOL8_E_IO for a malformed archive. */
int isol8_tar_extract_file(const void *tar, size_t len, const char *path, size_t max, struct isol8_buf *out,
			   struct isol8_err *err);

#endif
