/* The audit log's chain and record rules, shared by the broker (which writes the log) and
 * `isol8 audit verify` (which checks it). Pure code: no files, no clocks.
 *
 * The log is JSON lines. Every record starts with the same head, written byte for byte as
 *     {"seq":N,"prev":"<64 lowercase hex>",...
 * seq counts records from 1 and never restarts (not across daemon restarts, not across
 * rotation); prev is the SHA-256 of the previous record's line without its newline (64 zeros
 * before the first record). Changing a byte of a record breaks the next record's prev; deleting,
 * inserting or reordering records breaks seq. What a chain cannot show is the removal of the
 * newest records (nothing follows them): the broker logs its latest seq and hash when it stops
 * and when it rotates, so they can be compared with a copy kept elsewhere. */
#ifndef ISOL8_AUDIT_H
#define ISOL8_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/sha256.h"

#define ISOL8_AUDIT_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"
/* One record line at most (the broker caps what it writes well below this). */
#define ISOL8_AUDIT_MAX_LINE (256u << 10)

/* Request metadata attached to execution records: at most this many pairs, keys of
 * [A-Za-z0-9_.-] (1..64, starting with a letter or digit), values valid UTF-8 without control
 * characters. Checked by the worker (from the request) and again by the broker (from the
 * worker), which writes them. */
#define ISOL8_AUDIT_META_MAX 16u
#define ISOL8_AUDIT_META_KEY 64u
#define ISOL8_AUDIT_META_VALUE 256u
bool isol8_audit_meta_key_ok(const char *k);
bool isol8_audit_meta_value_ok(const char *v);
/* Valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF) of n bytes. */
bool isol8_utf8_valid(const char *s, size_t n);

/* Append the head `{"seq":N,"prev":"H",` to b (the record's other members follow). */
void isol8_audit_put_head(struct isol8_buf *b, uint64_t seq, const char prev[ISOL8_SHA256_HEXLEN]);
/* Read the head of one line (no newline). 0 on success, -1 when the line does not start with a
 * well-formed head. */
int isol8_audit_parse_head(const char *line, size_t len, uint64_t *seq, char prev[ISOL8_SHA256_HEXLEN]);
/* The record's hash: SHA-256 of the line's bytes (without its newline), hex. */
void isol8_audit_line_hash(const char *line, size_t len, char hex[ISOL8_SHA256_HEXLEN]);

/* Chain checker, fed one line at a time, across several files in order (a rotated file, then
 * the current one). The first line read may continue an older file (seq > 1): its prev is then
 * taken as given and reported in first_prev. */
struct isol8_audit_verify {
	uint64_t lines;     /* lines fed so far */
	uint64_t records;   /* good records */
	uint64_t first_seq; /* seq of the first record, 0 before it */
	char first_prev[ISOL8_SHA256_HEXLEN];
	uint64_t seq;                   /* last good record */
	char hash[ISOL8_SHA256_HEXLEN]; /* its hash */
	/* After the first break: where, and what. Lines fed after it only look for the record
	 * that was missing at the break (moved_line: where it turned up, 0 if nowhere). */
	bool broken;
	uint64_t broken_line;
	uint64_t missing_seq;
	uint64_t moved_line;
	char last_label[96];  /* where the last good record is */
	char moved_label[96]; /* where the missing record turned up */
	char msg[400];
};
void isol8_audit_verify_init(struct isol8_audit_verify *v);
/* 0 while the chain holds; -1 at the first break (v->msg says what and where) and for every
 * line after it. label names the source in messages ("audit.jsonl:12"): the caller formats it. */
int isol8_audit_verify_line(struct isol8_audit_verify *v, const char *label, const char *line, size_t len);
/* The verdict after the last line, in one sentence, for the first break: adds where the
 * missing record turned up (reordered) when it did. */
const char *isol8_audit_verify_verdict(struct isol8_audit_verify *v);

#endif
