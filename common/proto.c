/* The protocol table (rows in common/proto_rows.h) and the check every receiver runs. */
#include "config.h"
#include "common/proto.h"
#include "common/proto_rows.h"
#include "common/cleanup.h"

#include <string.h>

/* The handler column is the broker's alone (broker/verbs.c). */
#define ROW(t, nm, fr, dst, fds, lo, hi, fl, handler) \
	{.type = t, .symbol = #t, .name = nm, .from = fr, .to = dst, fds, .min_len = lo, .max_len = hi, .flags = fl},
const struct isol8_proto_row isol8_proto[] = {ISOL8_PROTO_ROWS(ROW)};
#undef ROW
const unsigned isol8_proto_rows = sizeof isol8_proto / sizeof isol8_proto[0];

int isol8_valid_session_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > ISOL8_MAX_SESSION)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '-' || c == '.'))
			return 0;
	}
	return s[0] != '.' && s[0] != '-';
}

const struct isol8_proto_row *isol8_proto_find(uint8_t type)
{
	for (unsigned i = 0; i < isol8_proto_rows; i++)
		if (isol8_proto[i].type == type)
			return &isol8_proto[i];
	return NULL;
}

int isol8_proto_check(uint8_t receiver, uint8_t sender, struct isol8_msg *m, const struct isol8_proto_row **spec_out,
		      struct isol8_err *err)
{
	const struct isol8_proto_row *s = isol8_proto_find(m->type);

	if (spec_out)
		*spec_out = NULL;
	if (!s) {
		isol8_err_set(err, ISOL8_E_PROTO, 0, "unknown message type %u", m->type);
		goto refuse;
	}
	/* A type of another channel is as unknown here as a made-up one. */
	if (!(s->to & receiver)) {
		isol8_err_set(err, ISOL8_E_PROTO, 0, "message %s is not for this receiver", s->name);
		goto refuse;
	}
	if (!(s->from & sender)) {
		isol8_err_set(err, ISOL8_E_PROTO, 0, "message %s not permitted from this peer", s->name);
		goto refuse;
	}
	if (m->nfds != s->nfds) {
		isol8_err_set(err, ISOL8_E_PROTO, 0, "message %s: expected %u fds, got %u", s->name, s->nfds, m->nfds);
		goto refuse;
	}
	if (m->len < s->min_len || m->len > s->max_len) {
		isol8_err_set(err, ISOL8_E_PROTO, 0, "message %s: payload length %u outside [%u, %u]", s->name, m->len,
			      s->min_len, s->max_len);
		goto refuse;
	}
	for (unsigned i = 0; i < m->nfds; i++) {
		struct isol8_err fe = ISOL8_ERR_INIT;
		if (isol8_fd_check(m->fds[i], (enum isol8_fd_kind)s->fd_kinds[i], &fe) < 0) {
			isol8_err_set(err, ISOL8_E_PROTO, 0, "message %s: fd %u: %s", s->name, i, fe.msg);
			goto refuse;
		}
	}
	if (spec_out)
		*spec_out = s;
	return 0;
refuse:
	/* A refused message must not leave its fds behind in the receiver. */
	for (unsigned i = 0; i < m->nfds && i < ISOL8_IPC_MAX_FDS; i++)
		m->fds[i] = xclose(m->fds[i]);
	return -1;
}
