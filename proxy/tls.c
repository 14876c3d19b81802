/* ClientHello server_name extraction (contract in tls.h; RFC 8446 4.1.2, RFC 6066 3). */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include "proxy/tls.h"

struct cur {
	const uint8_t *p;
	size_t n;
};

static int take(struct cur *c, size_t k, struct cur *out)
{
	if (c->n < k)
		return -1;
	if (out)
		*out = (struct cur){c->p, k};
	c->p += k;
	c->n -= k;
	return 0;
}

static int u8(struct cur *c, size_t *v)
{
	if (c->n < 1)
		return -1;
	*v = c->p[0];
	return take(c, 1, NULL);
}

static int u16(struct cur *c, size_t *v)
{
	if (c->n < 2)
		return -1;
	*v = (size_t)c->p[0] << 8 | c->p[1];
	return take(c, 2, NULL);
}

/* A vector with an 8- or 16-bit length prefix. */
static int vec(struct cur *c, int lenbytes, struct cur *out)
{
	size_t len;
	return (lenbytes == 1 ? u8(c, &len) : u16(c, &len)) < 0 ? -1 : take(c, len, out);
}

static int server_name(struct cur ext, char sni[254], struct isol8_err *err)
{
	struct cur list, name;
	size_t type;

	if (vec(&ext, 2, &list) < 0 || ext.n != 0)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "malformed server_name extension");
	while (list.n) {
		if (u8(&list, &type) < 0 || vec(&list, 2, &name) < 0)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "malformed server_name list");
		if (type != 0)
			continue;
		if (sni[0])
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "two host names in server_name");
		if (name.n && name.p[name.n - 1] == '.')
			name.n--;
		if (name.n == 0 || name.n > 253)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "bad server_name length");
		for (size_t i = 0; i < name.n; i++) {
			int ch = name.p[i];
			if (!isalnum(ch) && ch != '.' && ch != '-' && ch != '_')
				return isol8_err_set(err, ISOL8_E_USAGE, 0, "bad character in server_name");
			sni[i] = (char)tolower(ch);
		}
		sni[name.n] = '\0';
	}
	return 0;
}

int tls_client_hello_sni(const uint8_t *p, size_t n, char sni[254], struct isol8_err *err)
{
	struct cur rec, hs, body, tmp, exts;
	size_t rec_len, hs_len, seen_sni = 0;

	sni[0] = '\0';
	if (n >= 1 && p[0] != 0x16)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "not a TLS handshake");
	if (n >= 2 && p[1] != 3)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "not a TLS record version");
	if (n < 5)
		return 0;
	rec_len = (size_t)p[3] << 8 | p[4];
	if (rec_len < 4 || rec_len > 16384)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "bad TLS record length");
	if (n < 5 + rec_len)
		return 0;
	rec = (struct cur){p + 5, rec_len};
	if (rec.p[0] != 1)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "first handshake message is not a ClientHello");
	hs_len = (size_t)rec.p[1] << 16 | (size_t)rec.p[2] << 8 | rec.p[3];
	take(&rec, 4, NULL);
	if (take(&rec, hs_len, &hs) < 0)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "ClientHello does not fit in its first record");
	body = hs;
	if (take(&body, 2 + 32, NULL) < 0 || vec(&body, 1, &tmp) < 0 || tmp.n > 32 || vec(&body, 2, &tmp) < 0 ||
	    tmp.n < 2 || tmp.n % 2 || vec(&body, 1, &tmp) < 0 || tmp.n < 1)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "malformed ClientHello");
	if (body.n == 0)
		return 1; /* no extensions at all */
	if (vec(&body, 2, &exts) < 0 || body.n != 0)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "malformed ClientHello extensions");
	while (exts.n) {
		size_t type;
		struct cur data;
		if (u16(&exts, &type) < 0 || vec(&exts, 2, &data) < 0)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "malformed ClientHello extension");
		if (type != 0)
			continue;
		if (seen_sni++)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "two server_name extensions");
		if (server_name(data, sni, err) < 0)
			return -1;
	}
	return 1;
}
