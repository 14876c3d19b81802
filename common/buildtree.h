/* The source tree of an uninstalled build. Installed binaries carry no path of the tree they
 * were built in (tests/integration/install_test.sh greps them for it): a binary run from its
 * build directory finds the data files it would otherwise take from the installed data
 * directory (the sandbox seccomp profile, the image build files, openapi.json) only through
 * $ISOL8_SRCDIR, which make check and tests/lib/daemon.sh set. Callers use it after the
 * installed file, never before, except where an uninstalled binary must not pick up another
 * version's installed files (images/images.c). */
#ifndef ISOL8_BUILDTREE_H
#define ISOL8_BUILDTREE_H

/* "$ISOL8_SRCDIR/rel" (caller frees), or NULL when ISOL8_SRCDIR is unset or empty. */
char *isol8_build_tree_path(const char *rel);

#endif
