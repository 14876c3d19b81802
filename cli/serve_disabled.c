/* `isol8 serve` in a build made with configure --disable-http: one line saying so. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int cmd_serve(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fputs("[ERR] isol8 serve: this isol8 was built without HTTP (configure --disable-http); rebuild without "
	      "--disable-http (needs libmicrohttpd-dev) for the HTTP API\n",
	      stderr);
	return 1;
}
