/* RFC 6455 framing (contract in ws.h). */
#include "config.h"
#include "http/ws.h"

#include <openssl/sha.h>
#include <string.h>

#include "http/text.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

void ws_parser_init(struct ws_parser *p, size_t max_msg)
{
	memset(p, 0, sizeof *p);
	p->max_msg = max_msg ? max_msg : WS_MAX_MSG_DEFAULT;
	p->msg = (struct isol8_buf)ISOL8_BUF_INIT;
	p->ctl = (struct isol8_buf)ISOL8_BUF_INIT;
}

void ws_parser_free(struct ws_parser *p)
{
	isol8_buf_free(&p->msg);
	isol8_buf_free(&p->ctl);
}

bool ws_utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		uint32_t cp;
		size_t need;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			need = 1;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			need = 2;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			need = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (n - i - 1 < need)
			return false;
		for (size_t k = 1; k <= need; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10FFFF ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += need + 1;
	}
	return true;
}

static bool close_status_valid(uint16_t st)
{
	if (st >= 3000 && st <= 4999)
		return true;
	return (st >= 1000 && st <= 1003) || (st >= 1007 && st <= 1011);
}

static bool is_control(uint8_t op)
{
	return op & 0x8;
}

/* Bytes the header needs, known once its first two bytes are in. */
static size_t header_size(const uint8_t *h)
{
	size_t n = 2 + 4; /* client frames are always masked (checked before this is used) */
	uint8_t l7 = h[1] & 0x7F;

	if (l7 == 126)
		n += 2;
	else if (l7 == 127)
		n += 8;
	return n;
}

/* Checks that need only the first two header bytes. */
static int check_start(const struct ws_parser *p, uint16_t *st)
{
	uint8_t b0 = p->hdr[0], b1 = p->hdr[1], op = b0 & 0x0F;

	*st = WS_CLOSE_PROTOCOL;
	if (b0 & 0x70)
		return -1; /* no extension was negotiated */
	if (op != WS_OP_CONT && op != WS_OP_TEXT && op != WS_OP_BINARY && op != WS_OP_CLOSE && op != WS_OP_PING &&
	    op != WS_OP_PONG)
		return -1;
	if (!(b1 & 0x80))
		return -1; /* RFC 6455 5.1: the server must fail an unmasked client frame */
	if (is_control(op) && (!(b0 & 0x80) || (b1 & 0x7F) > 125))
		return -1;
	if (op == WS_OP_CONT && !p->msg_op)
		return -1;
	if ((op == WS_OP_TEXT || op == WS_OP_BINARY) && p->msg_op)
		return -1;
	return 0;
}

static int finish_header(struct ws_parser *p, uint16_t *st)
{
	const uint8_t *h = p->hdr;
	uint8_t l7 = h[1] & 0x7F;
	size_t off = 2;

	p->fin = h[0] & 0x80;
	p->op = h[0] & 0x0F;
	if (l7 < 126) {
		p->len = l7;
	} else if (l7 == 126) {
		p->len = (uint64_t)h[2] << 8 | h[3];
		off = 4;
	} else {
		p->len = 0;
		for (int i = 0; i < 8; i++)
			p->len = p->len << 8 | h[2 + i];
		off = 10;
		if (p->len >> 63) {
			*st = WS_CLOSE_PROTOCOL;
			return -1;
		}
	}
	memcpy(p->mask, h + off, 4);
	if (!is_control(p->op) && p->len > p->max_msg - p->msg.len) {
		*st = WS_CLOSE_TOO_BIG;
		return -1;
	}
	p->got = 0;
	p->in_payload = true;
	return 0;
}

static int finish_frame(struct ws_parser *p, ws_on_message cb, void *cls, uint16_t *st)
{
	static const uint8_t empty[1];
	int r = 0;

	p->in_payload = false;
	p->hdr_len = 0;
	if (is_control(p->op)) {
		const uint8_t *d = p->ctl.len ? (const uint8_t *)p->ctl.data : empty;
		if (p->op == WS_OP_CLOSE && p->ctl.len) {
			uint16_t code = p->ctl.len >= 2 ? (uint16_t)(d[0] << 8 | d[1]) : 0;
			*st = WS_CLOSE_PROTOCOL;
			if (p->ctl.len == 1 || !close_status_valid(code))
				return -1;
			*st = WS_CLOSE_BAD_DATA;
			if (!ws_utf8_valid(d + 2, p->ctl.len - 2))
				return -1;
		}
		r = cb(cls, (enum ws_op)p->op, d, p->ctl.len);
		isol8_buf_reset(&p->ctl);
		return r ? 1 : 0;
	}
	if (p->op != WS_OP_CONT)
		p->msg_op = p->op;
	if (!p->fin)
		return 0;
	if (p->msg_op == WS_OP_TEXT && !ws_utf8_valid((const uint8_t *)p->msg.data, p->msg.len)) {
		*st = WS_CLOSE_BAD_DATA;
		return -1;
	}
	r = cb(cls, (enum ws_op)p->msg_op, p->msg.len ? (const uint8_t *)p->msg.data : empty, p->msg.len);
	isol8_buf_reset(&p->msg);
	p->msg_op = 0;
	return r ? 1 : 0;
}

int ws_feed(struct ws_parser *p, const uint8_t *data, size_t n, ws_on_message cb, void *cls, uint16_t *close_status)
{
	size_t i = 0;
	uint16_t st = 0;
	int r;

	while (i < n || (p->in_payload && p->got == p->len)) {
		if (!p->in_payload) {
			p->hdr[p->hdr_len++] = data[i++];
			if (p->hdr_len == 2 && check_start(p, &st) < 0)
				goto fail;
			if (p->hdr_len < 2 || p->hdr_len < header_size(p->hdr))
				continue;
			if (finish_header(p, &st) < 0)
				goto fail;
			continue;
		}
		if (p->got < p->len) {
			struct isol8_buf *b = is_control(p->op) ? &p->ctl : &p->msg;
			size_t take = n - i;
			if ((uint64_t)take > p->len - p->got)
				take = (size_t)(p->len - p->got);
			isol8_buf_reserve(b, take);
			for (size_t k = 0; k < take; k++)
				b->data[b->len + k] = (char)(data[i + k] ^ p->mask[(p->got + k) & 3]);
			b->len += take;
			p->got += take;
			i += take;
		}
		if (p->got < p->len)
			break;
		r = finish_frame(p, cb, cls, &st);
		if (r < 0)
			goto fail;
		if (r > 0)
			return 1;
	}
	return 0;
fail:
	*close_status = st;
	return -1;
}

void ws_frame(struct isol8_buf *out, enum ws_op op, const void *data, size_t n)
{
	uint8_t h[10];
	size_t hl = 2;

	h[0] = (uint8_t)(0x80 | op);
	if (n < 126) {
		h[1] = (uint8_t)n;
	} else if (n <= 0xFFFF) {
		h[1] = 126;
		h[2] = (uint8_t)(n >> 8);
		h[3] = (uint8_t)n;
		hl = 4;
	} else {
		h[1] = 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
		hl = 10;
	}
	isol8_buf_append(out, h, hl);
	if (n)
		isol8_buf_append(out, data, n);
}

void ws_frame_close(struct isol8_buf *out, uint16_t status, const char *reason)
{
	uint8_t p[125];
	size_t rl = reason ? strlen(reason) : 0;

	if (rl > sizeof p - 2)
		rl = sizeof p - 2;
	/* Never cut a UTF-8 sequence: the peer would fail the close with 1007. */
	while (rl > 0 && rl < strlen(reason) && ((uint8_t)reason[rl] & 0xC0) == 0x80)
		rl--;
	p[0] = (uint8_t)(status >> 8);
	p[1] = (uint8_t)status;
	if (rl)
		memcpy(p + 2, reason, rl);
	ws_frame(out, WS_OP_CLOSE, p, 2 + rl);
}

int ws_accept_key(const char *key, char out[29])
{
	struct isol8_buf raw = ISOL8_BUF_INIT, enc = ISOL8_BUF_INIT;
	char cat[24 + sizeof WS_GUID];
	unsigned char md[SHA_DIGEST_LENGTH];
	int ok;

	ok = key && strlen(key) == 24 && http_base64_decode(key, 24, &raw) == 0 && raw.len == 16;
	isol8_buf_free(&raw);
	if (!ok)
		return -1;
	memcpy(cat, key, 24);
	memcpy(cat + 24, WS_GUID, sizeof WS_GUID - 1);
	SHA1((const unsigned char *)cat, 24 + sizeof WS_GUID - 1, md);
	http_base64_encode(&enc, md, sizeof md);
	ok = enc.len == 28;
	if (ok) {
		memcpy(out, enc.data, 28);
		out[28] = '\0';
	}
	isol8_buf_free(&enc);
	return ok ? 0 : -1;
}
