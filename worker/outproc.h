/* Output processing for one stream of a run (stdout or stderr), applied as bytes arrive, in
 * streaming and buffered mode alike: secret masking, then the output cap.
 *
 * Masking (original §4.10, fixed): every occurrence of any non-empty secret value becomes
 * "***", also when it is split across reads. Matching is leftmost-longest and non-overlapping:
 * scanning from the left, the earliest starting occurrence wins, and of those starting there
 * the longest. The masker holds back at most (longest secret - 1) bytes that may still turn
 * into a secret; isol8_masker_flush() releases them at end of stream. Cost is amortised
 * O(len * nsecrets) (one KMP automaton per secret), never quadratic in the stream length.
 *
 * Cap (original §4.9, fixed: counts real bytes, also in streaming mode): the first `limit`
 * bytes pass, the rest are counted and dropped; the marker reports the true total. */
#ifndef ISOL8_OUTPROC_H
#define ISOL8_OUTPROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define ISOL8_MASK "***"

struct isol8_masker;

/* Copies the secrets; empty ones (and NULL entries) are ignored. Never NULL (aborts on OOM). */
struct isol8_masker *isol8_masker_new(const char *const *secrets, size_t n);
/* Append to out the masked bytes that are safe to emit now. data may contain NULs. */
void isol8_masker_feed(struct isol8_masker *m, const char *data, size_t len, struct isol8_buf *out);
/* End of stream: append everything still held back (masked). The masker may be fed again
 * afterwards as a new stream. */
void isol8_masker_flush(struct isol8_masker *m, struct isol8_buf *out);
/* Bytes currently held back (for tests and accounting). */
size_t isol8_masker_pending(const struct isol8_masker *m);
void isol8_masker_free(struct isol8_masker *m);

struct isol8_outcap {
	uint64_t limit;   /* bytes allowed through */
	uint64_t total;   /* bytes offered so far (the true output size) */
	uint64_t emitted; /* bytes let through; always <= limit */
	bool truncated;   /* something was dropped */
};

void isol8_outcap_init(struct isol8_outcap *c, uint64_t limit);
/* Count len more bytes; return how many of them (a prefix) may be written. Byte-exact: use
 * isol8_outcap_take_utf8() when the data is at hand, so the cut lands on a character boundary. */
size_t isol8_outcap_take(struct isol8_outcap *c, size_t len);
/* Like isol8_outcap_take(), but when the cap falls inside a UTF-8 multibyte sequence of data,
 * backs off to the start of that sequence (so fewer than limit bytes may be emitted). Only
 * sequences starting within this chunk can be backed off: bytes of earlier chunks are gone. */
size_t isol8_outcap_take_utf8(struct isol8_outcap *c, const char *data, size_t len);
/* Write "\n--- OUTPUT TRUNCATED (<total> bytes, limit: <limit>) ---\n" into buf (NUL-terminated,
 * cut to n). Returns the snprintf() result: the marker length. Meaningful once truncated. */
int isol8_outcap_marker(const struct isol8_outcap *c, char *buf, size_t n);

#endif
