/* `isol8 audit verify [FILE...]` checks the hash chain of isol8d's audit log (common/audit.h);
 * `isol8 audit show` lists the records the caller may read, through isol8d (root: all, others:
 * their tenant's). */
#include "config.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/audit.h"
#include "common/cleanup.h"
#include "common/proto.h"
#include "common/xalloc.h"
#include "cli/broker_conn.h"
#include "cli/cli.h"

#define DEFAULT_LOG "/var/log/isol8/audit.jsonl"

static const char audit_text[] =
	"Usage: isol8 audit verify [FILE...]\n"
	"       isol8 audit show [--tenant NAME] [--since TIME] [--json] [--socket PATH]\n"
	"\n"
	"isol8d writes one record per execution, refusal and clamp to its audit log, each chained\n"
	"to the one before with SHA-256.\n"
	"\n"
	"verify  Check the chain of FILE (default " DEFAULT_LOG "); with several files (rotated\n"
	"        ones first, oldest first) also that each continues the one before. Exit 1 at the\n"
	"        first record that was changed, deleted or moved, naming its line.\n"
	"show    The records you may read, from isol8d: all of them for root, your tenant's for\n"
	"        everyone else.\n"
	"  --tenant NAME   only this tenant's records\n"
	"  --since TIME    only records from TIME on: 2026-12-03, 2026-12-03T13:00:00Z, or an\n"
	"                  age such as 30m, 2h, 7d\n"
	"  --json          the records as a JSON array\n"
	"  --socket PATH   isol8d socket ($ISOL8_SOCKET, /run/isol8/isol8d.sock)\n";

/* ---- verify ---- */

static int verify_file(const char *path, struct isol8_audit_verify *v, bool *bad)
{
	FILE *f = fopen(path, "re");
	char *line = NULL, label[300];
	size_t cap = 0;
	ssize_t n;
	uint64_t ln = 0;

	if (!f) {
		fprintf(stderr, "[ERR] cannot read %s: %s%s\n", path, strerror(errno),
			errno == EACCES ? " (the audit log is for root and group adm)" : "");
		return -1;
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		size_t len = (size_t)n;
		ln++;
		snprintf(label, sizeof label, "%.250s:%llu", path, (unsigned long long)ln);
		if (line[len - 1] == '\n')
			len--;
		else if (!*bad) {
			/* The broker ends every record with a newline; a last line without one was cut. */
			snprintf(v->msg, sizeof v->msg, "%.300s: incomplete record (no newline at the end)", label);
			v->broken = true;
			*bad = true;
		}
		if (isol8_audit_verify_line(v, label, line, len) < 0) {
			*bad = true;
			continue;
		}
		/* A record that chains but is not JSON was changed and is the last one (nothing
		 * after it shows the change): report it all the same. */
		{
			json_tokener *tok = json_tokener_new();
			json_object *o = json_tokener_parse_ex(tok, line, (int)len);
			bool ok = o && json_tokener_get_error(tok) == json_tokener_success &&
				json_object_is_type(o, json_type_object);
			json_object_put(o);
			json_tokener_free(tok);
			if (!ok && !*bad) {
				snprintf(v->msg, sizeof v->msg,
					 "%.300s (seq %llu): not valid JSON: changed after it was written", label,
					 (unsigned long long)v->seq);
				v->broken = true;
				*bad = true;
			}
		}
	}
	free(line);
	fclose(f);
	return 0;
}

static int audit_verify(int argc, char **argv)
{
	struct isol8_audit_verify v;
	const char *def[] = {DEFAULT_LOG};
	const char *const *files = def;
	int nf = 1;
	bool bad = false;

	for (int i = 1; i < argc; i++)
		if (argv[i][0] == '-' && argv[i][1])
			return cli_usage_error("unknown option '%s' (isol8 audit verify [FILE...])", argv[i]);
	if (argc > 1) {
		files = (const char *const *)argv + 1;
		nf = argc - 1;
	}
	isol8_audit_verify_init(&v);
	for (int i = 0; i < nf; i++)
		if (verify_file(files[i], &v, &bad) < 0)
			return 1;
	if (bad) {
		fprintf(stderr, "[ERR] %s\n", isol8_audit_verify_verdict(&v));
		return 1;
	}
	if (!v.records) {
		printf("[OK] %s: no records\n", files[nf - 1]);
		return 0;
	}
	printf("[OK] %llu records, seq %llu to %llu: the chain is intact\n", (unsigned long long)v.records,
	       (unsigned long long)v.first_seq, (unsigned long long)v.seq);
	if (v.first_seq > 1)
		printf("[INFO] it continues an earlier (rotated) file: that file's last record must hash to %s\n",
		       v.first_prev);
	printf("[INFO] last record: seq %llu, hash %s (compare with isol8d's log at its stop or rotation)\n",
	       (unsigned long long)v.seq, v.hash);
	return 0;
}

/* ---- show ---- */

/* --since as the records' own time format, so strings compare in time order. */
static int since_arg(const char *s, char *out, size_t n)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	time_t t;
	struct tm tm;

	if (end != s && *end && !end[1] && strchr("smhd", *end)) {
		unsigned long long mul = *end == 's' ? 1 : *end == 'm' ? 60 : *end == 'h' ? 3600 : 86400;
		if (v > 100ull * 365 * 86400 / mul)
			return cli_usage_error("--since %s: too far back", s);
		t = time(NULL) - (time_t)(v * mul);
		gmtime_r(&t, &tm);
		strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
		return 0;
	}
	/* A date or date-time in UTC, as the records write it; a trailing Z is optional. */
	{
		size_t l = strlen(s);
		bool ok = l >= 10 && l <= 24 && s[4] == '-' && s[7] == '-';
		for (size_t i = 0; ok && i < l; i++)
			ok = strchr("0123456789-:T.Z", s[i]) != NULL;
		if (!ok)
			return cli_usage_error("--since '%s': use a UTC date or time (2026-12-03, "
					       "2026-12-03T13:00:00Z) or an age (30m, 2h, 7d)",
					       s);
		snprintf(out, n, "%.*s", (int)(s[l - 1] == 'Z' ? l - 1 : l), s);
	}
	return 0;
}

static const char *field(json_object *o, const char *k, const char *dflt)
{
	json_object *v;
	if (!json_object_object_get_ex(o, k, &v) || json_object_is_type(v, json_type_null))
		return dflt;
	return json_object_get_string(v);
}

struct show_args {
	const char *socket, *tenant;
	char since[40];
	bool as_json;
};

/* Returns the exit status when the arguments end the command, else -1. */
static int parse_show_args(int argc, char **argv, struct show_args *sa)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--json") == 0)
			sa->as_json = true;
		else if (strcmp(a, "--tenant") == 0 && i + 1 < argc)
			sa->tenant = argv[++i];
		else if (strcmp(a, "--since") == 0 && i + 1 < argc) {
			if (since_arg(argv[++i], sa->since, sizeof sa->since) != 0)
				return 2;
		} else if (strcmp(a, "--socket") == 0 && i + 1 < argc)
			sa->socket = argv[++i];
		else if (strncmp(a, "--socket=", 9) == 0)
			sa->socket = a + 9;
		else {
			static const char *const opts[] = {"--json", "--tenant", "--since", "--socket", NULL};
			return cli_unknown("argument", a, opts, NULL,
					   " (isol8 audit show [--tenant NAME] [--since TIME] [--json])");
		}
	}
	return -1;
}

/* isol8d answers with the records the caller may read, as a file of JSON lines. */
static FILE *open_records(const char *socket, struct isol8_err *err)
{
	_cleanup_close_ int sock = -1;
	struct isol8_msg m = {0};
	FILE *f;
	int fd;

	sock = broker_open(broker_socket_path(socket), HELLO_AUDIT, "", err);
	if (sock < 0 || broker_expect(sock, WK_FILE, &m, err) < 0 || m.nfds != 1) {
		if (!err->code)
			isol8_err_set(err, ISOL8_E_PROTO, 0, "isol8d sent no audit records");
		isol8_msg_free(&m);
		return NULL;
	}
	fd = isol8_msg_take_fd(&m, 0);
	isol8_msg_free(&m);
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		isol8_err_set(err, ISOL8_E_IO, errno, "audit records");
	}
	return f;
}

static bool record_matches(json_object *o, const struct show_args *sa)
{
	return !(sa->tenant && strcmp(field(o, "tenant", ""), sa->tenant) != 0) &&
		!(*sa->since && strcmp(field(o, "time", ""), sa->since) < 0);
}

static void print_record_header(void)
{
	printf("%-24s %-9s %-10s %-16s %-7s %-9s %5s %7s  %s\n", "TIME", "TYPE", "TENANT", "PRINCIPAL", "RUNTIME",
	       "OUTCOME", "EXIT", "MS", "CONTAINER / REASON");
}

/* An execution shows its outcome and sandbox; a refusal its reason and message. */
static void print_record(json_object *o)
{
	const char *type = field(o, "type", "-");

	if (strcmp(type, "execution") == 0)
		printf("%-24s %-9s %-10s %-16s %-7s %-9s %5s %7s  %.12s\n", field(o, "time", "-"), type,
		       field(o, "tenant", "-"), field(o, "principal", "-"), field(o, "runtime", "-"),
		       field(o, "outcome", "-"), field(o, "exitCode", "-"), field(o, "durationMs", "-"),
		       field(o, "container", "-"));
	else
		printf("%-24s %-9s %-10s %-16s %-7s %-9s %5s %7s  %s\n", field(o, "time", "-"), type,
		       field(o, "tenant", "-"), field(o, "principal", "-"), "-", field(o, "reason", "-"), "-", "-",
		       field(o, "message", ""));
}

static int audit_show(int argc, char **argv)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct show_args sa = {0};
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	json_object *all;
	int shown = 0, rc;

	rc = parse_show_args(argc, argv, &sa);
	if (rc >= 0)
		return rc;
	f = open_records(sa.socket, &err);
	if (!f)
		return cli_fail(&err);
	all = json_object_new_array();
	if (!sa.as_json)
		print_record_header();
	while (getline(&line, &cap, f) > 0) {
		json_object *o = json_tokener_parse(line);
		/* A line that is not a record, or one the filters drop, is skipped. */
		if (!o || !json_object_is_type(o, json_type_object) || !record_matches(o, &sa)) {
			json_object_put(o);
			continue;
		}
		shown++;
		if (sa.as_json) {
			json_object_array_add(all, o);
			continue;
		}
		print_record(o);
		json_object_put(o);
	}
	free(line);
	fclose(f);
	if (sa.as_json)
		puts(json_object_to_json_string_ext(
			all, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	else if (!shown)
		puts("[INFO] No audit records match.");
	json_object_put(all);
	return 0;
}

int cmd_audit(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(audit_text, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "verify") == 0)
		return audit_verify(argc - 1, argv + 1);
	if (strcmp(argv[1], "show") == 0)
		return audit_show(argc - 1, argv + 1);
	static const char *const subs[] = {"verify", "show", NULL};
	return cli_unknown("audit command", argv[1], subs, "audit", " (verify or show)");
}
