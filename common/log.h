/* Levelled logging to stderr, plain or JSON lines (--log-json). Sandboxed processes (workers)
 * log through the broker, which re-checks level and length (see broker/peer_log). */
#ifndef ISOL8_LOG_H
#define ISOL8_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

enum isol8_log_level { ISOL8_LOG_ERROR = 0, ISOL8_LOG_WARN, ISOL8_LOG_INFO, ISOL8_LOG_DEBUG };

void isol8_log_init(const char *prog, int level, bool json);
void isol8_log_set_level(int level);
int isol8_log_get_level(void);
bool isol8_log_is_json(void);
/* Plain lines start with an RFC 3339 UTC time (daemons, when stderr is not the journal, which
 * keeps its own). */
void isol8_log_set_timestamps(bool on);
/* The current time as those lines show it: "2026-12-03T14:10:00.123Z" (n >= 25). */
void isol8_log_rfc3339_now(char *ts, size_t n);
/* stderr is the journal (systemd's JOURNAL_STREAM names it). */
bool isol8_log_stderr_is_journal(void);
/* Every line, own or relayed, goes to writer instead of stderr (isol8d: the journal, with
 * fields); --log-json output is not redirected. NULL restores stderr. */
void isol8_log_set_writer(void (*writer)(int level, const char *origin, const char *msg));
/* Redirect output (e.g. a worker sends lines to the broker). NULL restores stderr. */
void isol8_log_set_sink(void (*sink)(int level, const char *line, void *ctx), void *ctx);
const char *isol8_log_level_name(int level); /* NULL for out-of-range levels */
int isol8_log_level_parse(const char *name); /* -1 if unknown */

void isol8_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void isol8_vlog(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Emit a preformatted line that came from elsewhere (the broker relaying a worker's log),
 * tagged with an origin like "worker[3]". */
void isol8_log_relay(int level, const char *origin, const char *line);

#define log_error(...) isol8_log(ISOL8_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) isol8_log(ISOL8_LOG_WARN, __VA_ARGS__)
#define log_info(...) isol8_log(ISOL8_LOG_INFO, __VA_ARGS__)
#define log_debug(...) isol8_log(ISOL8_LOG_DEBUG, __VA_ARGS__)

/* Top-level only (main, pre-exec child): log and exit(1). */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
