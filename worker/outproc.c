#include "config.h"
#include "worker/outproc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

/* One KMP automaton per secret. st is the length of the longest prefix of the secret that is a
 * suffix of the undecided window [c, P): the match that could still complete earliest. */
struct secret {
	char *s;
	size_t len;
	size_t *fail; /* fail[j]: longest proper border of s[0..j), j in 1..len */
	size_t st;
};

/* Undecided bytes live in a ring of maxlen slots indexed by absolute stream position; the
 * window [c, P) never exceeds maxlen bytes (see resolve()). best[] holds, per position, the
 * longest complete occurrence starting there. */
struct isol8_masker {
	struct secret *sec;
	size_t n;
	size_t maxlen;
	char *ring;
	size_t *best;
	uint64_t c; /* first undecided position */
	uint64_t p; /* stream length so far */
};

static void build_fail(struct secret *s)
{
	size_t k = 0;

	s->fail = xcalloc(s->len + 1, sizeof *s->fail);
	for (size_t j = 1; j < s->len; j++) {
		while (k > 0 && s->s[j] != s->s[k])
			k = s->fail[k];
		if (s->s[j] == s->s[k])
			k++;
		s->fail[j + 1] = k;
	}
}

struct isol8_masker *isol8_masker_new(const char *const *secrets, size_t n)
{
	struct isol8_masker *m = xcalloc(1, sizeof *m);

	m->sec = xcalloc(n ? n : 1, sizeof *m->sec);
	for (size_t i = 0; i < n; i++) {
		struct secret *s;

		if (!secrets || !secrets[i] || !secrets[i][0])
			continue;
		s = &m->sec[m->n++];
		s->len = strlen(secrets[i]);
		s->s = xstrdup(secrets[i]);
		build_fail(s);
		if (s->len > m->maxlen)
			m->maxlen = s->len;
	}
	if (m->maxlen) {
		m->ring = xmalloc(m->maxlen);
		m->best = xcalloc(m->maxlen, sizeof *m->best);
	}
	return m;
}

void isol8_masker_free(struct isol8_masker *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		free(m->sec[i].s);
		free(m->sec[i].fail);
	}
	free(m->sec);
	free(m->ring);
	free(m->best);
	free(m);
}

size_t isol8_masker_pending(const struct isol8_masker *m)
{
	return (size_t)(m->p - m->c);
}

/* Append window bytes [from, to) to out, in at most two slices of the ring. */
static void emit_raw(struct isol8_masker *m, uint64_t from, uint64_t to, struct isol8_buf *out)
{
	while (from < to) {
		size_t i = (size_t)(from % m->maxlen);
		size_t run = m->maxlen - i;
		if (run > to - from)
			run = (size_t)(to - from);
		isol8_buf_append(out, m->ring + i, run);
		from += run;
	}
}

/* Earliest start of an occurrence that may still complete; UINT64_MAX if none (or at end). */
static uint64_t alive_start(const struct isol8_masker *m, bool final)
{
	uint64_t a = UINT64_MAX;

	if (final)
		return a;
	for (size_t i = 0; i < m->n; i++)
		if (m->sec[i].st && m->p - m->sec[i].st < a)
			a = m->p - m->sec[i].st;
	return a;
}

/* Decide as much of the window as possible. A byte at c is final once no occurrence can start
 * at c any more; a complete occurrence at c is final once no longer one can (any partial match
 * starting at or before c would be earlier or longer). */
static void resolve(struct isol8_masker *m, struct isol8_buf *out, bool final)
{
	uint64_t a = alive_start(m, final);

	while (m->c < m->p && a > m->c) {
		size_t i = (size_t)(m->c % m->maxlen);
		uint64_t e;

		if (m->best[i]) {
			isol8_buf_append(out, ISOL8_MASK, sizeof ISOL8_MASK - 1);
			m->c += m->best[i];
			/* Partial matches that began inside the masked occurrence can no longer count:
			 * shrink each automaton to its longest match starting at or after c. The states
			 * only ever shrink here, so this is amortised against the bytes fed. */
			for (size_t k = 0; k < m->n; k++) {
				struct secret *s = &m->sec[k];
				while (s->st && m->p - s->st < m->c)
					s->st = s->fail[s->st];
			}
			a = alive_start(m, final);
			continue;
		}
		e = m->c + 1;
		while (e < m->p && e < a && !m->best[e % m->maxlen])
			e++;
		emit_raw(m, m->c, e, out);
		m->c = e;
	}
}

void isol8_masker_feed(struct isol8_masker *m, const char *data, size_t len, struct isol8_buf *out)
{
	if (!m->maxlen) {
		isol8_buf_append(out, data, len);
		return;
	}
	for (size_t j = 0; j < len; j++) {
		char ch = data[j];
		size_t slot = (size_t)(m->p % m->maxlen);

		/* resolve() left at most maxlen - 1 bytes undecided, so this slot is free. */
		m->ring[slot] = ch;
		m->best[slot] = 0;
		m->p++;
		for (size_t k = 0; k < m->n; k++) {
			struct secret *s = &m->sec[k];
			while (s->st && s->s[s->st] != ch)
				s->st = s->fail[s->st];
			if (s->s[s->st] == ch)
				s->st++;
			if (s->st == s->len) {
				uint64_t start = m->p - s->len;
				if (start >= m->c) {
					size_t bi = (size_t)(start % m->maxlen);
					if (m->best[bi] < s->len)
						m->best[bi] = s->len;
				}
				s->st = s->fail[s->len];
			}
		}
		resolve(m, out, false);
	}
}

void isol8_masker_flush(struct isol8_masker *m, struct isol8_buf *out)
{
	if (!m->maxlen)
		return;
	resolve(m, out, true);
	for (size_t k = 0; k < m->n; k++)
		m->sec[k].st = 0;
}

void isol8_outcap_init(struct isol8_outcap *c, uint64_t limit)
{
	c->limit = limit;
	c->total = 0;
	c->emitted = 0;
	c->truncated = false;
}

size_t isol8_outcap_take(struct isol8_outcap *c, size_t len)
{
	uint64_t room = c->truncated || c->emitted >= c->limit ? 0 : c->limit - c->emitted;
	size_t n = room < len ? (size_t)room : len;

	c->total += len;
	if (n < len)
		c->truncated = true;
	c->emitted += n;
	return n;
}

/* Length of the UTF-8 sequence a lead byte announces; 0 for continuation or invalid bytes. */
static size_t utf8_seq_len(unsigned char b)
{
	if (b < 0x80)
		return 1;
	if (b >= 0xc0 && b < 0xe0)
		return 2;
	if (b >= 0xe0 && b < 0xf0)
		return 3;
	if (b >= 0xf0 && b < 0xf8)
		return 4;
	return 0;
}

size_t isol8_outcap_take_utf8(struct isol8_outcap *c, const char *data, size_t len)
{
	size_t n = isol8_outcap_take(c, len);
	const unsigned char *d = (const unsigned char *)data;

	if (n == len || n == 0)
		return n;
	/* Cut inside a sequence if the byte after the cut continues one whose lead is at most
	 * three bytes back and announces a length reaching past the cut. */
	if ((d[n] & 0xc0) == 0x80) {
		for (size_t back = 1; back <= 3 && back <= n; back++) {
			unsigned char b = d[n - back];
			if ((b & 0xc0) == 0x80)
				continue;
			if (utf8_seq_len(b) > back) {
				c->emitted -= back;
				n -= back;
			}
			break;
		}
	}
	return n;
}

int isol8_outcap_marker(const struct isol8_outcap *c, char *buf, size_t n)
{
	return snprintf(buf, n, "\n--- OUTPUT TRUNCATED (%" PRIu64 " bytes, limit: %" PRIu64 ") ---\n", c->total,
			c->limit);
}
