#include "config.h"
#include "lockdown/start.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

#define START_MAX_EXTRA 12

void lockdown_start_args(struct lockdown_start *s, int argc, char **argv, const struct option *extra, size_t n_extra,
			 lockdown_opt_fn on_opt, void *ctx)
{
	static const struct option common[] = {{"fd", required_argument, 0, 'f'},
					       {"uid", required_argument, 0, 'u'},
					       {"gid", required_argument, 0, 'g'},
					       {"log-level", required_argument, 0, 'l'}};
	struct option opts[sizeof common / sizeof common[0] + START_MAX_EXTRA + 1];
	const size_t n_common = sizeof common / sizeof common[0];
	int c;

	if (n_extra > START_MAX_EXTRA)
		die("%s: %zu options, at most %d", s->prog, n_extra, START_MAX_EXTRA);
	memcpy(opts, common, sizeof common);
	if (n_extra)
		memcpy(opts + n_common, extra, n_extra * sizeof *extra);
	memset(&opts[n_common + n_extra], 0, sizeof opts[0]);
	s->chan = 3;
	s->level = ISOL8_LOG_INFO;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			s->chan = atoi(optarg);
			break;
		case 'u':
			s->id.uid = (uid_t)strtoul(optarg, NULL, 10);
			break;
		case 'g':
			s->id.gid = (gid_t)strtoul(optarg, NULL, 10);
			break;
		case 'l':
			s->level = atoi(optarg);
			break;
		default:
			if (c == '?' || !on_opt || on_opt(c, optarg, ctx) < 0)
				die("%s is started by isol8d, not by hand", s->prog);
		}
	}
	if (s->chan < 3 || s->id.uid == 0 || (s->need_gid && s->id.gid == 0))
		die("%s is started by isol8d, not by hand", s->prog);
	s->id.parent = getppid();
	isol8_log_init(s->prog, s->level, false);
	signal(SIGPIPE, SIG_IGN);
}

void lockdown_start_lock(struct lockdown_start *s, int (*seccomp_load)(struct isol8_err *err))
{
	struct isol8_err err = ISOL8_ERR_INIT;
	int keep[2] = {2, s->chan};

	if (worker_lockdown_with(&s->id, keep, 2, seccomp_load, &err) < 0)
		die("lockdown: %s", err.msg);
	s->chan = keep[1];
}
