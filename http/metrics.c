/* GET /metrics: isol8d's Prometheus text exposition (broker/metrics.c), fetched per scrape with
 * HELLO_METRICS over the server's broker connector. isol8d answers only its trusted frontends
 * (root, --trust-key-uid, its own --http child); who may scrape this server is decided in
 * server.c (--metrics: open on loopback, key otherwise, by default). */
#include "config.h"

#include <errno.h>
#include <microhttpd.h>
#include <string.h>
#include <unistd.h>

#include "cli/broker_conn.h"
#include "common/buf.h"
#include "common/cleanup.h"
#include "common/proto.h"
#include "http/connector.h"
#include "http/reply.h"
#include "http/server.h"

#define METRICS_MAX (4u << 20)

enum MHD_Result http_handle_metrics(struct http_call *call)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	_cleanup_close_ int sock = -1, fd = -1;
	struct isol8_msg m = {0};
	struct isol8_buf text = ISOL8_BUF_INIT;
	struct MHD_Response *r;
	enum MHD_Result ret;
	char tmp[16384];
	ssize_t n;

	/* Not as a key's principal: the figures are the daemon's, the frontend's own question. */
	sock = http_connector_open(call->conf->broker_link, HELLO_METRICS, "", NULL, NULL, &err);
	if (sock < 0 || broker_expect(sock, WK_FILE, &m, &err) < 0)
		return http_reply_err(call->conn, &err);
	fd = isol8_msg_take_fd(&m, 0);
	isol8_msg_free(&m);
	while ((n = read(fd, tmp, sizeof tmp)) > 0 && text.len < METRICS_MAX)
		isol8_buf_append(&text, tmp, (size_t)n);
	r = MHD_create_response_from_buffer(text.len, text.data ? text.data : (char *)"", MHD_RESPMEM_MUST_COPY);
	isol8_buf_free(&text);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(call->conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}
