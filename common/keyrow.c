/* API key rows on the wire (keyrow.h). */
#include "config.h"
#include "common/keyrow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void keyrow_put(struct isol8_buf *b, const struct keystore_key *k)
{
	isol8_put_str(b, k->id);
	isol8_put_str(b, k->name);
	isol8_put_str(b, k->tenant);
	isol8_put_str(b, k->prefix);
	isol8_put_str(b, k->created);
	isol8_put_str(b, k->expires);
	isol8_put_str(b, k->last_used);
	isol8_put_u8(b, k->revoked ? 1 : 0);
}

static int field(struct isol8_msg *m, char *out, size_t size, struct isol8_err *err)
{
	char *s = NULL;

	if (isol8_get_str(m, &s, size - 1, err) < 0)
		return -1;
	snprintf(out, size, "%s", s);
	free(s);
	return 0;
}

int keyrow_get(struct isol8_msg *m, struct keystore_key *k, struct isol8_err *err)
{
	uint8_t rev;

	memset(k, 0, sizeof *k);
	if (field(m, k->id, sizeof k->id, err) < 0 || field(m, k->name, sizeof k->name, err) < 0 ||
	    field(m, k->tenant, sizeof k->tenant, err) < 0 || field(m, k->prefix, sizeof k->prefix, err) < 0 ||
	    field(m, k->created, sizeof k->created, err) < 0 || field(m, k->expires, sizeof k->expires, err) < 0 ||
	    field(m, k->last_used, sizeof k->last_used, err) < 0 || isol8_get_u8(m, &rev, err) < 0)
		return isol8_err_wrap(err, "key row");
	if (rev > 1)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "key row: revoked is %u", rev);
	k->revoked = rev == 1;
	return 0;
}
