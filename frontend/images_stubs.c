/* TEMPORARY: weak placeholders until helper "images" lands cmd_setup.c, cmd_build.c and
 * cmd_cleanup.c (exported in frontend/commands_images.h). Delete this file and its line in
 * frontend/Makefile.inc then; the real definitions override these at link time as long as
 * they are linked as objects of isol8 (not pulled from libisol8common.a). */
#include "config.h"

#include <stdio.h>

static int not_built(const char *cmd)
{
	fprintf(stderr, "[ERR] '%s' is not available in this build yet\n", cmd);
	return 1;
}

__attribute__((weak)) int cmd_setup(int argc, char **argv);
__attribute__((weak)) int cmd_build(int argc, char **argv);
__attribute__((weak)) int cmd_cleanup(int argc, char **argv);

__attribute__((weak)) int cmd_setup(int argc, char **argv) { return not_built("setup"); }
__attribute__((weak)) int cmd_build(int argc, char **argv) { return not_built("build"); }
__attribute__((weak)) int cmd_cleanup(int argc, char **argv) { return not_built("cleanup"); }
