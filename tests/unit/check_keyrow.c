/* Unit tests for common/keyrow.c: the API key rows isol8-keystore sends isol8d. The keystore is
 * an unprivileged process reading a network server's answers, so the broker's reader is held to
 * hostile input: truncated rows, fields longer than their slot, a bad revoked byte, trailing
 * bytes, and the protocol table's bounds on the KS_* messages. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/ipc.h"
#include "common/keyrow.h"
#include "common/proto.h"

static const struct keystore_key full = {
	.id = "0123abcd-0123-4abc-8abc-0123456789ab",
	.name = "a-name-of-sixty-four-characters-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	.tenant = "a-tenant-of-sixty-four-characters-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
	.prefix = "isol8_0123...",
	.created = "2026-12-04T18:00:00.000Z",
	.expires = "2027-01-03T18:00:00.000Z",
	.last_used = "",
	.revoked = true,
};

/* A message holding b's bytes, as isol8_ipc_recv would fill it. */
static void as_msg(const struct isol8_buf *b, struct isol8_msg *m)
{
	memset(m, 0, sizeof *m);
	m->fds[0] = m->fds[1] = m->fds[2] = -1;
	m->payload = malloc(b->len + 1);
	memcpy(m->payload, b->data, b->len);
	m->len = (uint32_t)b->len;
}

START_TEST(roundtrip)
{
	struct isol8_buf b = ISOL8_BUF_INIT;
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_msg m;
	struct keystore_key k;

	keyrow_put(&b, &full);
	ck_assert_uint_le(b.len, KEYROW_MAX);
	as_msg(&b, &m);
	ck_assert_int_eq(keyrow_get(&m, &k, &err), 0);
	ck_assert_int_eq(isol8_msg_end(&m, &err), 0);
	ck_assert_int_eq(memcmp(&k, &full, sizeof k), 0);
	isol8_msg_free(&m);
	isol8_buf_free(&b);
}
END_TEST

START_TEST(empty_row_is_the_minimum)
{
	struct isol8_buf b = ISOL8_BUF_INIT;
	struct keystore_key z;

	memset(&z, 0, sizeof z);
	keyrow_put(&b, &z);
	ck_assert_uint_eq(b.len, KEYROW_MIN);
	isol8_buf_free(&b);
}
END_TEST

START_TEST(truncated)
{
	struct isol8_buf b = ISOL8_BUF_INIT;
	struct isol8_err err = ISOL8_ERR_INIT;
	struct keystore_key k;

	keyrow_put(&b, &full);
	for (size_t n = 0; n < b.len; n++) {
		struct isol8_msg m;
		struct isol8_buf cut = ISOL8_BUF_INIT;
		if (n)
			isol8_buf_append(&cut, b.data, n);
		as_msg(&cut, &m);
		err = (struct isol8_err)ISOL8_ERR_INIT;
		ck_assert_int_eq(keyrow_get(&m, &k, &err), -1);
		ck_assert_int_eq(err.code, ISOL8_E_PROTO);
		isol8_msg_free(&m);
		isol8_buf_free(&cut);
	}
	isol8_buf_free(&b);
}
END_TEST

START_TEST(field_too_long)
{
	struct isol8_buf b = ISOL8_BUF_INIT;
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_msg m;
	struct keystore_key k;
	char name[66];

	memset(name, 'n', 65);
	name[65] = '\0';
	isol8_put_str(&b, full.id);
	isol8_put_str(&b, name); /* 65 bytes: one past the name's slot */
	isol8_put_str(&b, "t");
	isol8_put_str(&b, "p");
	isol8_put_str(&b, "c");
	isol8_put_str(&b, "e");
	isol8_put_str(&b, "");
	isol8_put_u8(&b, 0);
	as_msg(&b, &m);
	ck_assert_int_eq(keyrow_get(&m, &k, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_PROTO);
	isol8_msg_free(&m);
	isol8_buf_free(&b);
}
END_TEST

START_TEST(bad_revoked_and_trailing)
{
	struct isol8_buf b = ISOL8_BUF_INIT;
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_msg m;
	struct keystore_key k;

	keyrow_put(&b, &full);
	b.data[b.len - 1] = 2;
	as_msg(&b, &m);
	ck_assert_int_eq(keyrow_get(&m, &k, &err), -1);
	ck_assert_str_eq(err.msg, "key row: revoked is 2");
	isol8_msg_free(&m);
	b.data[b.len - 1] = 0;
	isol8_put_u8(&b, 7);
	as_msg(&b, &m);
	err = (struct isol8_err)ISOL8_ERR_INIT;
	ck_assert_int_eq(keyrow_get(&m, &k, &err), 0);
	ck_assert_int_eq(isol8_msg_end(&m, &err), -1);
	isol8_msg_free(&m);
	isol8_buf_free(&b);
}
END_TEST

START_TEST(table_rows)
{
	const struct isol8_proto_row *r;

	/* Only the broker speaks to the keystore, only the keystore answers it. */
	for (uint8_t t = KS_CONFIG; t <= KS_PURGE; t++) {
		r = isol8_proto_find(t);
		ck_assert_ptr_nonnull(r);
		ck_assert_uint_eq(r->from, PEER_BROKER);
		ck_assert_uint_eq(r->to, PEER_KEYSTORE);
		ck_assert_uint_eq(r->nfds, t >= KS_CREATE ? 1 : 0);
	}
	for (uint8_t t = KS_REPLY_OK; t <= KS_REPLY_ERR; t++) {
		r = isol8_proto_find(t);
		ck_assert_uint_eq(r->from, PEER_KEYSTORE);
		ck_assert_uint_eq(r->to, PEER_BROKER);
		ck_assert_uint_eq(r->nfds, 0);
	}
	r = isol8_proto_find(KS_VALIDATE);
	ck_assert_uint_eq(r->min_len, 4 + 64);
	ck_assert_uint_eq(r->max_len, 4 + 64);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("keyrow");
	TCase *tc = tcase_create("rows");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, roundtrip);
	tcase_add_test(tc, empty_row_is_the_minimum);
	tcase_add_test(tc, truncated);
	tcase_add_test(tc, field_too_long);
	tcase_add_test(tc, bad_revoked_and_trailing);
	tcase_add_test(tc, table_rows);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
