#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/audit.h"

bool isol8_utf8_valid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], need, min;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1, min = 0x80, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, min = 0x800, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, min = 0x10000, cp = c & 0x07;
		else
			return false;
		if (n - i <= need)
			return false;
		for (unsigned k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += need + 1;
	}
	return true;
}

bool isol8_audit_meta_key_ok(const char *k)
{
	size_t n = strlen(k);
	if (n == 0 || n > ISOL8_AUDIT_META_KEY)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = k[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '_' && c != '-' && c != '.')))
			return false;
	}
	return true;
}

bool isol8_audit_meta_value_ok(const char *v)
{
	size_t n = strlen(v);
	if (n > ISOL8_AUDIT_META_VALUE || !isol8_utf8_valid(v, n))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return false;
	return true;
}

void isol8_audit_put_head(struct isol8_buf *b, uint64_t seq, const char prev[ISOL8_SHA256_HEXLEN])
{
	isol8_buf_printf(b, "{\"seq\":%" PRIu64 ",\"prev\":\"%.64s\",", seq, prev);
}

int isol8_audit_parse_head(const char *line, size_t len, uint64_t *seq, char prev[ISOL8_SHA256_HEXLEN])
{
	static const char a[] = "{\"seq\":", b[] = ",\"prev\":\"";
	size_t i = sizeof a - 1;
	uint64_t v = 0;

	if (len < i || memcmp(line, a, i) != 0)
		return -1;
	/* Decimal without sign or leading zero, as the broker prints it. */
	if (i >= len || line[i] < '1' || line[i] > '9')
		return -1;
	for (; i < len && line[i] >= '0' && line[i] <= '9'; i++) {
		uint64_t d = (uint64_t)(line[i] - '0');
		if (v > UINT64_MAX / 10 || (v == UINT64_MAX / 10 && d > UINT64_MAX % 10))
			return -1;
		v = v * 10 + d;
	}
	if (len - i < sizeof b - 1 + 64 + 2 || memcmp(line + i, b, sizeof b - 1) != 0)
		return -1;
	i += sizeof b - 1;
	for (size_t k = 0; k < 64; k++) {
		char c = line[i + k];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return -1;
		prev[k] = c;
	}
	prev[64] = '\0';
	i += 64;
	/* The head is followed by more members: a record is never just its head. */
	if (line[i] != '"' || line[i + 1] != ',')
		return -1;
	*seq = v;
	return 0;
}

void isol8_audit_line_hash(const char *line, size_t len, char hex[ISOL8_SHA256_HEXLEN])
{
	isol8_sha256_hexdigest(line, len, hex);
}

void isol8_audit_verify_init(struct isol8_audit_verify *v)
{
	memset(v, 0, sizeof *v);
}

static int broken(struct isol8_audit_verify *v, uint64_t missing, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int broken(struct isol8_audit_verify *v, uint64_t missing, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->msg, sizeof v->msg, fmt, ap);
	va_end(ap);
	v->broken = true;
	v->broken_line = v->lines;
	v->missing_seq = missing;
	return -1;
}

int isol8_audit_verify_line(struct isol8_audit_verify *v, const char *label, const char *line, size_t len)
{
	uint64_t seq;
	char prev[ISOL8_SHA256_HEXLEN];
	bool head_ok;

	v->lines++;
	head_ok = isol8_audit_parse_head(line, len, &seq, prev) == 0;
	if (v->broken) {
		if (head_ok && v->missing_seq && seq == v->missing_seq && !v->moved_line) {
			v->moved_line = v->lines;
			snprintf(v->moved_label, sizeof v->moved_label, "%s", label);
		}
		return -1;
	}
	if (!head_ok)
		return broken(v, v->first_seq ? v->seq + 1 : 0,
			      "%s: not an audit record (a record starts with {\"seq\":N,\"prev\":\"<sha256>\",)",
			      label);
	if (!v->first_seq) {
		if (seq == 1 && strcmp(prev, ISOL8_AUDIT_GENESIS) != 0)
			return broken(v, 0, "%s: seq 1 must have prev %.12s..., has %.12s...", label,
				      ISOL8_AUDIT_GENESIS, prev);
		v->first_seq = seq;
		memcpy(v->first_prev, prev, sizeof prev);
	} else if (seq > v->seq + 1) {
		return broken(v, v->seq + 1, "%s: seq %" PRIu64 " follows seq %" PRIu64 " at %s", label, seq, v->seq,
			      v->last_label);
	} else if (seq <= v->seq) {
		return broken(v, v->seq + 1,
			      "%s: seq %" PRIu64 " follows seq %" PRIu64 " at %s: records are out of order or repeated",
			      label, seq, v->seq, v->last_label);
	} else if (strcmp(prev, v->hash) != 0) {
		return broken(v, 0,
			      "%s (seq %" PRIu64
			      "): prev does not match the hash of the record before it: the record at "
			      "%s (seq %" PRIu64 ") was changed after it was written",
			      label, seq, v->last_label, v->seq);
	}
	v->seq = seq;
	isol8_audit_line_hash(line, len, v->hash);
	v->records++;
	snprintf(v->last_label, sizeof v->last_label, "%s", label);
	return 0;
}

const char *isol8_audit_verify_verdict(struct isol8_audit_verify *v)
{
	size_t n;

	if (!v->broken || !v->missing_seq)
		return v->msg;
	n = strlen(v->msg);
	if (v->moved_line)
		snprintf(v->msg + n, sizeof v->msg - n, "; record %" PRIu64 " is at %s: records were reordered",
			 v->missing_seq, v->moved_label);
	else
		snprintf(v->msg + n, sizeof v->msg - n, "; record %" PRIu64 " is not in the log: it was deleted",
			 v->missing_seq);
	v->missing_seq = 0; /* the verdict is complete once */
	return v->msg;
}
