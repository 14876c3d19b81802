/* Name tables for runtimes and network modes, shared by the policy file, the CLI and IPC. */
#include "config.h"
#include "policy/policy.h"

#include <string.h>

static const char *const runtime_names[ISOL8_RT__MAX] = {
	[ISOL8_RT_PYTHON] = "python", [ISOL8_RT_NODE] = "node", [ISOL8_RT_BUN] = "bun",
	[ISOL8_RT_DENO] = "deno",     [ISOL8_RT_BASH] = "bash", [ISOL8_RT_AGENT] = "agent",
};

static const char *const net_names[ISOL8_NET__MAX] = {
	[ISOL8_NET_NONE] = "none",
	[ISOL8_NET_FILTERED] = "filtered",
	[ISOL8_NET_HOST] = "host",
};

const char *isol8_runtime_name(int rt)
{
	if (rt < 0 || rt >= ISOL8_RT__MAX)
		return NULL;
	return runtime_names[rt];
}

int isol8_runtime_parse(const char *name)
{
	for (int i = 0; name && i < ISOL8_RT__MAX; i++)
		if (strcmp(name, runtime_names[i]) == 0)
			return i;
	return -1;
}

static const char *const isolation_names[ISOL8_ISO__MAX] = {"runc", "runsc"};

const char *isol8_isolation_name(int iso)
{
	if (iso < 0 || iso >= ISOL8_ISO__MAX)
		return NULL;
	return isolation_names[iso];
}

const char *isol8_net_mode_name(int mode)
{
	if (mode < 0 || mode >= ISOL8_NET__MAX)
		return NULL;
	return net_names[mode];
}

int isol8_net_mode_parse(const char *name)
{
	for (int i = 0; name && i < ISOL8_NET__MAX; i++)
		if (strcmp(name, net_names[i]) == 0)
			return i;
	return -1;
}
