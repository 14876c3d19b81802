#include "config.h"
#include "common/log.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *log_prog = "isol8";
static int log_level = ISOL8_LOG_INFO;
static bool log_json;
static void (*log_sink)(int, const char *, void *);
static void *log_sink_ctx;
static bool log_timestamps;
static void (*log_writer)(int, const char *, const char *);

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void isol8_log_init(const char *prog, int level, bool json)
{
	if (prog)
		log_prog = prog;
	log_level = level;
	log_json = json;
}

void isol8_log_set_level(int level)
{
	log_level = level;
}
int isol8_log_get_level(void)
{
	return log_level;
}
bool isol8_log_is_json(void)
{
	return log_json;
}

void isol8_log_set_timestamps(bool on)
{
	log_timestamps = on;
}

bool isol8_log_stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void isol8_log_set_writer(void (*writer)(int level, const char *origin, const char *msg))
{
	log_writer = writer;
}

/* RFC 3339, UTC, milliseconds: "2026-12-03T14:10:00.123Z". */
void isol8_log_rfc3339_now(char *ts, size_t n)
{
	struct timeval tv;
	struct tm tm;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	snprintf(ts, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, (long)(tv.tv_usec / 1000));
}

void isol8_log_set_sink(void (*sink)(int, const char *, void *), void *ctx)
{
	log_sink = sink;
	log_sink_ctx = ctx;
}

const char *isol8_log_level_name(int level)
{
	if (level < 0 || level > ISOL8_LOG_DEBUG)
		return NULL;
	return level_names[level];
}

int isol8_log_level_parse(const char *name)
{
	for (int i = 0; i <= ISOL8_LOG_DEBUG; i++)
		if (name && strcasecmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

static void emit(int level, const char *origin, const char *msg)
{
	char ts[96];

	if (log_writer && !log_json) {
		log_writer(level, origin ? origin : log_prog, msg);
		return;
	}
	if (log_json) {
		json_object *o = json_object_new_object();
		isol8_log_rfc3339_now(ts, sizeof ts);
		json_object_object_add(o, "ts", json_object_new_string(ts));
		json_object_object_add(o, "level", json_object_new_string(level_names[level]));
		json_object_object_add(o, "prog", json_object_new_string(origin ? origin : log_prog));
		json_object_object_add(o, "msg", json_object_new_string(msg));
		fprintf(stderr, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	} else {
		if (log_timestamps) {
			isol8_log_rfc3339_now(ts, sizeof ts);
			fprintf(stderr, "%s ", ts);
		}
		fprintf(stderr, "%s: %s%s%s\n", origin ? origin : log_prog,
			level == ISOL8_LOG_ERROR           ? "error: "
				: level == ISOL8_LOG_WARN  ? "warning: "
				: level == ISOL8_LOG_DEBUG ? "debug: "
							   : "",
			msg, "");
	}
	fflush(stderr);
}

void isol8_vlog(int level, const char *fmt, va_list ap)
{
	char msg[2048];

	if (level < 0 || level > ISOL8_LOG_DEBUG || level > log_level)
		return;
	vsnprintf(msg, sizeof msg, fmt, ap);
	if (log_sink) {
		log_sink(level, msg, log_sink_ctx);
		return;
	}
	emit(level, NULL, msg);
}

void isol8_log(int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	isol8_vlog(level, fmt, ap);
	va_end(ap);
}

void isol8_log_relay(int level, const char *origin, const char *line)
{
	if (level < 0 || level > ISOL8_LOG_DEBUG || level > log_level)
		return;
	emit(level, origin, line);
}

void die(const char *fmt, ...)
{
	va_list ap;
	char msg[2048];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	emit(ISOL8_LOG_ERROR, NULL, msg);
	exit(1);
}
