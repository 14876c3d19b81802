/* The frame shared by `isol8 setup` and `isol8 build` (images/build_cmd.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/cleanup.h"
#include "images/build_cmd.h"
#include "images/images.h"

void isol8_build_cmd_begin(struct isol8_build_cmd *c, int argc, char **argv)
{
	isol8_build_run_init(&c->run);
	c->d = NULL;
	c->json = false;
	c->out_fd = -1;
	c->lock_fd = -1;
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		c->json = c->json || strcmp(argv[i], "--json") == 0;
	if (c->json)
		c->out_fd = cli_json_begin();
}

/* Best effort: without /run/lock the builds are not serialised, which only matters when two
 * run at once. Mode 0666 so that the engine's other users (the docker group) can lock it too. */
static void take_build_lock(struct isol8_build_cmd *c)
{
	struct stat st;

	c->lock_fd = open(ISOL8_BUILD_LOCK, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
	if (c->lock_fd < 0)
		return;
	/* A lock file another user made could be held by them for ever: only root's or our own. */
	if (fstat(c->lock_fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid())) {
		c->lock_fd = xclose(c->lock_fd);
		return;
	}
	if (st.st_uid == geteuid())
		(void)fchmod(c->lock_fd, 0666);
	if (flock(c->lock_fd, LOCK_EX | LOCK_NB) == 0)
		return;
	printf("[..] another isol8 setup or build is running on this host; waiting for it to finish\n");
	fflush(stdout);
	while (flock(c->lock_fd, LOCK_EX) < 0 && errno == EINTR)
		;
}

int isol8_build_cmd_connect(struct isol8_build_cmd *c, struct isol8_err *err)
{
	c->d = isol8_images_connect();
	if (!c->d)
		return isol8_err_set(err, ISOL8_E_UNAVAIL, 0, "Docker is not running or not installed");
	printf("[OK] Docker is running\n");
	take_build_lock(c);
	return 0;
}

int isol8_build_cmd_pip_index(const char *url, struct isol8_err *err)
{
	_cleanup_free_ char *host = NULL;

	if (isol8_pip_index_host(url, &host, err) < 0) {
		isol8_err_wrap(err, "--pip-index-url");
		err->code = ISOL8_E_USAGE;
		return -1;
	}
	return 0;
}

static void json_write(struct isol8_build_cmd *c, json_object *r)
{
	json_object_object_add(r, "images", json_object_get(c->run.images));
	cli_json_end(c->out_fd, r);
	c->out_fd = -1;
}

void isol8_build_cmd_json_ok(struct isol8_build_cmd *c, json_object *r)
{
	if (c->json)
		json_write(c, r);
	else
		json_object_put(r);
}

int isol8_build_cmd_failed(struct isol8_build_cmd *c, const struct isol8_err *err)
{
	int rc = err->code == ISOL8_E_OK ? 1 : isol8_err_exit_status(err->code);

	if (c->d)
		isol8_build_run_finish(c->d, &c->run);
	if (c->json)
		json_write(c, cli_json_error(err, rc));
	return rc;
}

void isol8_build_cmd_end(struct isol8_build_cmd *c)
{
	if (c->out_fd >= 0)
		close(c->out_fd);
	c->out_fd = -1;
	isol8_strlist_free(&c->run.stale);
	isol8_strlist_free(&c->run.made);
	json_object_put(c->run.images);
	c->run.images = NULL;
	docker_close(c->d);
	c->d = NULL;
	c->lock_fd = xclose(c->lock_fd);
}
