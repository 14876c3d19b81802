/* Requests shared by the frontends (cli/broker_requests.h). */
#include "config.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/broker_conn.h"
#include "cli/broker_requests.h"
#include "common/json.h"
#include "common/proto.h"

int broker_keys_request(int sock, uint8_t action, const char *name, const char *tenant, uint64_t ttl, const char *id,
			size_t max, json_object **answer, struct isol8_err *err)
{
	struct isol8_buf p = ISOL8_BUF_INIT, text = ISOL8_BUF_INIT;
	struct isol8_msg m = {0};
	struct stat st;
	int r;

	isol8_put_u8(&p, action);
	isol8_put_str(&p, name ? name : "");
	isol8_put_str(&p, tenant ? tenant : "");
	isol8_put_u64(&p, ttl);
	isol8_put_str(&p, id ? id : "");
	r = broker_send_buf(sock, FE_KEYS, &p, NULL, 0, err);
	isol8_buf_free(&p);
	if (r < 0 || broker_expect(sock, WK_FILE, &m, err) < 0)
		return -1;
	if (fstat(m.fds[0], &st) < 0 || st.st_size > (off_t)max) {
		isol8_msg_free(&m);
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "malformed answer from isol8d");
	}
	isol8_buf_reserve(&text, (size_t)st.st_size + 1);
	text.len = (size_t)pread(m.fds[0], text.data, (size_t)st.st_size, 0);
	isol8_msg_free(&m);
	*answer = text.len == (size_t)st.st_size ? isol8_json_parse(text.data, text.len, max, err) : NULL;
	if (text.data)
		explicit_bzero(text.data, text.len);
	isol8_buf_free(&text);
	return *answer ? 0 : isol8_err_set(err, ISOL8_E_PROTO, 0, "malformed answer from isol8d");
}

int broker_session_stop(int sock, const char *id, struct isol8_err *err)
{
	struct isol8_buf b = ISOL8_BUF_INIT;
	struct isol8_msg m;
	int r;

	isol8_put_str(&b, id);
	r = broker_send_buf(sock, FE_SESSION_STOP, &b, NULL, 0, err);
	isol8_buf_free(&b);
	if (r < 0 || broker_expect(sock, WK_OK, &m, err) < 0)
		return -1;
	isol8_msg_free(&m);
	return 0;
}
