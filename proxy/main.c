/* isol8-proxy: started by isol8d as root with its channel on fd 3; reads the optional test
 * hosts file, locks itself down (the workers' account, no capabilities, its own seccomp
 * allowlist), then serves the listeners the broker hands it (see proxy.c). */
#include "config.h"

#include "common/log.h"
#include "proxy/proxy.h"
#include "lockdown/start.h"

static int proxy_opt(int c, const char *arg, void *ctx)
{
	if (c != 'h')
		return -1;
	*(const char **)ctx = arg;
	return 0;
}

int main(int argc, char **argv)
{
	struct lockdown_start st = {.prog = "isol8-proxy", .need_gid = true};
	struct isol8_err err = ISOL8_ERR_INIT;
	const char *hosts = NULL;
	static const struct option opts[] = {{"hosts", required_argument, 0, 'h'}};

	lockdown_start_args(&st, argc, argv, opts, 1, proxy_opt, &hosts);
	isol8_log_set_timestamps(!isol8_log_stderr_is_journal());
	if (hosts && proxy_hosts_load(hosts, &err) < 0)
		die("proxy hosts: %s", err.msg);
	lockdown_start_lock(&st, proxy_seccomp_load);
	return proxy_run(st.chan);
}
