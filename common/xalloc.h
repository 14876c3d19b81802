/* OOM policy, decided once: allocation failure aborts the process with a message.
 * The broker is restarted by systemd and workers are respawned by the broker, so half-handling
 * NULL in hundreds of places would only add untested paths. */
#ifndef ISOL8_XALLOC_H
#define ISOL8_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
