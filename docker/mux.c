/* Decoder for Docker's multiplexed stream. Payload is passed through in place: the size field
 * never drives an allocation, so a hostile or corrupt 4 GiB header costs nothing. */
#include "config.h"
#include "docker/mux.h"

#include <string.h>

void docker_mux_init(struct docker_mux *m)
{
	memset(m, 0, sizeof *m);
	m->stream = -1;
}

int docker_mux_at_boundary(const struct docker_mux *m)
{
	return !m->failed && m->hdr_have == 0 && m->remaining == 0;
}

static int header_done(struct docker_mux *m, struct isol8_err *err)
{
	const uint8_t *h = m->hdr;

	/* Exec output carries only stdout (1) and stderr (2). Docker's stdcopy also defines stdin (0)
	 * and systemerr (3), but the engine never writes them on an exec stream (exec start errors
	 * arrive as stdout text), so anything else means we lost framing. */
	if (h[0] != 1 && h[0] != 2) {
		m->failed = 1;
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "Docker stream: unknown stream id %u", h[0]);
	}
	if (h[1] || h[2] || h[3]) {
		m->failed = 1;
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "Docker stream: bad frame header padding");
	}
	m->stream = h[0];
	m->remaining = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | (uint32_t)h[7];
	m->hdr_have = 0;
	return 0;
}

int docker_mux_feed(struct docker_mux *m, const void *data, size_t len, docker_mux_cb cb, void *ctx,
		    struct isol8_err *err)
{
	const uint8_t *p = data;

	if (m->failed)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "Docker stream: decoder already failed");
	while (len) {
		if (m->remaining == 0) {
			size_t take = sizeof m->hdr - m->hdr_have;
			if (take > len)
				take = len;
			memcpy(m->hdr + m->hdr_have, p, take);
			m->hdr_have += (unsigned)take;
			p += take;
			len -= take;
			if (m->hdr_have == sizeof m->hdr && header_done(m, err) < 0)
				return -1;
			continue;
		}
		size_t take = len < m->remaining ? len : m->remaining;
		if (cb(m->stream, (const char *)p, take, ctx) < 0) {
			m->failed = 1;
			isol8_err_set(err, ISOL8_E_IO, 0, "Docker stream: consumer stopped");
			return -1;
		}
		m->remaining -= (uint32_t)take;
		p += take;
		len -= take;
	}
	return 0;
}
