#include "config.h"
#include "common/suggest.h"

#include <string.h>

#define SUGGEST_MAX_LEN 64

/* Optimal string alignment distance: a swapped pair of letters ("--plicy" / "--polciy") is one
 * edit, as people make it. Words longer than SUGGEST_MAX_LEN are not typos of our names. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[SUGGEST_MAX_LEN + 1][SUGGEST_MAX_LEN + 1];

	if (la > SUGGEST_MAX_LEN || lb > SUGGEST_MAX_LEN)
		return (size_t)-1;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1], v = d[i - 1][j - 1] + cost;
			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[la][lb];
}

const char *isol8_suggest(const char *word, const char *const *cands, size_t n)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1, wl = strlen(word), limit = wl / 3 + 1;

	if (!wl)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		size_t dd;
		if (!cands[i])
			continue;
		/* An abbreviation is not a typo, but the user plainly meant the longer word. */
		if (wl >= 2 && strncmp(cands[i], word, wl) == 0)
			dd = 1;
		else
			dd = distance(word, cands[i]);
		if (dd < best_d) {
			best_d = dd;
			best = cands[i];
		}
	}
	return best_d <= limit ? best : NULL;
}
