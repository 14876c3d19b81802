/* The source tree of an uninstalled build (contract in buildtree.h). */
#include "config.h"
#include "common/buildtree.h"
#include "common/xalloc.h"

#include <stdlib.h>

char *isol8_build_tree_path(const char *rel)
{
	const char *top = getenv("ISOL8_SRCDIR");

	if (!top || !*top)
		return NULL;
	return xasprintf("%s/%s", top, rel);
}
