/* The inject phase: the request's files and the code file into /sandbox, as one tar archive
 * extracted by tar(1) in the sandbox (/sandbox is a tmpfs the archive API cannot reach). */
#include "config.h"

#include <string.h>

#include "common/tar.h"
#include "worker/run.h"

int run_inject(const struct run *run, const char *codefile, struct isol8_err *err)
{
	const struct run_req *r = run->r;
	struct isol8_buf tar = ISOL8_BUF_INIT, so = ISOL8_BUF_INIT, se = ISOL8_BUF_INIT;
	static const char *const targv[] = {"tar", "-x", "-f", "-", "-C", "/sandbox", "--no-same-owner", NULL};
	int code, rc = -1;

	if (r->has_files)
		isol8_buf_append(&tar, r->files_tar.data, r->files_tar.len);
	if (codefile) {
		struct isol8_tar_entry ent = {codefile, r->code, strlen(r->code), 0644, 100, 101};
		/* Code goes in its own archive appended after the files: tar(1) reads both. */
		struct isol8_buf t2 = ISOL8_BUF_INIT;
		if (isol8_tar_build(&ent, 1, &t2, err) < 0) {
			isol8_buf_free(&t2);
			goto out;
		}
		if (tar.len >= 1024)
			tar.len -= 1024; /* drop the files archive's end-of-archive blocks */
		isol8_buf_append(&tar, t2.data, t2.len);
		isol8_buf_free(&t2);
	}
	if (!tar.len)
		return 0;
	code = run_helper(run->sb->id, targv, run->env.v, tar.data, tar.len, run->deadline, &so, &se, err);
	if (code > 0)
		isol8_err_set(err, ISOL8_E_IO, 0, "writing files into the sandbox failed: %.200s",
			      se.data ? se.data : "");
	else if (code == 0)
		rc = 0;
out:
	isol8_buf_free(&tar);
	isol8_buf_free(&so);
	isol8_buf_free(&se);
	return rc;
}
