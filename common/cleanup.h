/* Scope-bound ownership (crun/bubblewrap style). Every fd variable starts at -1; hand-off is
 * a visible steal_fd()/steal_ptr() call. */
#ifndef ISOL8_CLEANUP_H
#define ISOL8_CLEANUP_H

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static inline void isol8_freep(void *p)
{
	free(*(void **)p);
}

static inline void isol8_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ __attribute__((cleanup(isol8_freep)))
#define _cleanup_close_ __attribute__((cleanup(isol8_closep)))

static inline int steal_fd(int *fd)
{
	int r = *fd;
	*fd = -1;
	return r;
}

#define steal_ptr(pp)                         \
	__extension__({                       \
		__typeof__(*(pp)) _p = *(pp); \
		*(pp) = NULL;                 \
		_p;                           \
	})

/* close() that keeps errno and tolerates -1; returns -1 for convenient resetting. */
static inline int xclose(int fd)
{
	if (fd >= 0) {
		int saved = errno;
		close(fd);
		errno = saved;
	}
	return -1;
}

#endif
