/* "Did you mean": the closest of a list of known words to a mistyped one. */
#ifndef ISOL8_SUGGEST_H
#define ISOL8_SUGGEST_H

#include <stddef.h>

/* The candidate nearest to word by edit distance (insertions, deletions, substitutions and
 * swaps of neighbours), or one that starts with word; NULL when none is close enough to be a
 * plausible typo (more than a third of the word changed). NULL entries in cands are skipped. */
const char *isol8_suggest(const char *word, const char *const *cands, size_t n);

#endif
