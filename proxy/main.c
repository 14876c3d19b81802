/* isol8-proxy: started by isol8d as root with its channel on fd 3; reads the optional test
 * hosts file, locks itself down (the workers' account, no capabilities, its own seccomp
 * allowlist), then serves the listeners the broker hands it (see proxy.c). */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>

#include "common/log.h"
#include "proxy/proxy.h"
#include "lockdown/lockdown.h"

int main(int argc, char **argv)
{
	struct worker_identity id = {0};
	struct isol8_err err = ISOL8_ERR_INIT;
	const char *hosts = NULL;
	int keep[2] = {2, 3};
	int c, chan = 3, level = ISOL8_LOG_INFO;
	static const struct option opts[] = {
		{"fd", required_argument, 0, 'f'},        {"uid", required_argument, 0, 'u'},
		{"gid", required_argument, 0, 'g'},       {"hosts", required_argument, 0, 'h'},
		{"log-level", required_argument, 0, 'l'}, {0, 0, 0, 0}};

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			chan = atoi(optarg);
			break;
		case 'u':
			id.uid = (uid_t)strtoul(optarg, NULL, 10);
			break;
		case 'g':
			id.gid = (gid_t)strtoul(optarg, NULL, 10);
			break;
		case 'h':
			hosts = optarg;
			break;
		case 'l':
			level = atoi(optarg);
			break;
		default:
			die("isol8-proxy is started by isol8d, not by hand");
		}
	}
	if (chan < 3 || id.uid == 0 || id.gid == 0)
		die("isol8-proxy is started by isol8d, not by hand");
	id.parent = getppid();
	isol8_log_init("isol8-proxy", level, false);
	isol8_log_set_timestamps(!isol8_log_stderr_is_journal());
	signal(SIGPIPE, SIG_IGN);
	if (hosts && proxy_hosts_load(hosts, &err) < 0)
		die("proxy hosts: %s", err.msg);
	keep[1] = chan;
	if (worker_lockdown_with(&id, keep, 2, proxy_seccomp_load, &err) < 0)
		die("lockdown: %s", err.msg);
	return proxy_run(keep[1]);
}
