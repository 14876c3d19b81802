/* The fetch job between isol8d and isol8-fetch (contract in fetch.h). */
#include "config.h"
#include "fetch/fetch.h"

#include <stdlib.h>
#include <string.h>

#include "common/ipc.h"
#include "common/remote_code.h"
#include "common/xalloc.h"

void fetch_job_put(struct isol8_buf *b, const struct fetch_job *j)
{
	uint8_t f = (j->insecure ? FETCH_F_INSECURE : 0) | (j->r.http_ok ? FETCH_F_HTTP : 0) |
		(j->r.https_ok ? FETCH_F_HTTPS : 0) | (j->r.require_hash ? FETCH_F_REQUIRE_HASH : 0);

	isol8_put_str(b, j->url);
	isol8_put_str(b, j->hash ? j->hash : "");
	isol8_put_u8(b, f);
	isol8_put_u64(b, j->r.max_size);
	isol8_put_u64(b, j->r.timeout_ms);
	net_policy_put(b, &j->r.net);
}

int fetch_job_get(const void *data, size_t len, struct fetch_job *j, struct isol8_err *err)
{
	struct isol8_msg m = {.len = (uint32_t)len, .nfds = 0};
	uint8_t f = 0;
	int rc = -1;

	memset(j, 0, sizeof *j);
	if (len > FETCH_MAX_JOB)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "fetch job: %zu bytes (at most %u)", len, FETCH_MAX_JOB);
	for (unsigned i = 0; i < ISOL8_IPC_MAX_FDS; i++)
		m.fds[i] = -1;
	m.payload = xmalloc(len + 1);
	memcpy(m.payload, data, len);
	m.payload[len] = '\0';
	if (isol8_get_str(&m, &j->url, ISOL8_REMOTE_MAX_URL, err) < 0 || isol8_get_str(&m, &j->hash, 64, err) < 0 ||
	    isol8_get_u8(&m, &f, err) < 0 || isol8_get_u64(&m, &j->r.max_size, err) < 0 ||
	    isol8_get_u64(&m, &j->r.timeout_ms, err) < 0 || net_policy_get(&m, &j->r.net, err) < 0 ||
	    isol8_msg_end(&m, err) < 0)
		goto out;
	if (!j->url[0] || (f & ~0x0fu) || j->r.max_size == 0 || j->r.max_size > ISOL8_REMOTE_MAX_CODE ||
	    j->r.timeout_ms == 0 || j->r.timeout_ms > ISOL8_REMOTE_MAX_TIMEOUT_MS) {
		isol8_err_set(err, ISOL8_E_PROTO, 0, "fetch job: a field is out of range");
		goto out;
	}
	if (!j->hash[0]) {
		free(j->hash);
		j->hash = NULL;
	} else if (remote_hash_check_format(j->hash, "codeHash", err) < 0) {
		goto out;
	}
	j->insecure = f & FETCH_F_INSECURE;
	j->r.http_ok = f & FETCH_F_HTTP;
	j->r.https_ok = f & FETCH_F_HTTPS;
	j->r.require_hash = f & FETCH_F_REQUIRE_HASH;
	rc = 0;
out:
	free(m.payload);
	if (rc < 0) {
		isol8_err_wrap(err, "fetch job");
		fetch_job_free(j);
	}
	return rc;
}

void fetch_job_free(struct fetch_job *j)
{
	free(j->url);
	free(j->hash);
	net_policy_free(&j->r.net);
	memset(j, 0, sizeof *j);
}
