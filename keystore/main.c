/* isol8-keystore (keystore.h): one request at a time from isol8d, each answered before the
 * next is read. A database that went away is reconnected on the next request (one retry of
 * the statement that found the connection lost), so a PostgreSQL restart costs no keystore
 * restart. Every statement has bound parameters; the schema is the SQLite store's
 * (broker/keystore.c): hashes only, ISO-8601 UTC times compared as strings. */
#include "config.h"

#include <errno.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/ipc.h"
#include "common/keyrow.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/xalloc.h"
#include "keystore/keystore.h"
#include "lockdown/start.h"

/* A key check's lastUsedAt need not wait for the WAL's fsync (each one did: ~6 ms here, twice
 * per HTTP request); what must survive a crash of the server once acknowledged (a new key, a
 * revocation, a purge) commits with synchronous_commit on (durable()). */
#define KS_SESSION_SETUP "SET statement_timeout = 5000; SET synchronous_commit = off"
#define KS_LIST_CHUNK 60000u

static PGconn *conn;
static char *conninfo;

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS api_keys ("
	" id TEXT PRIMARY KEY, name TEXT NOT NULL, \"keyHash\" TEXT NOT NULL UNIQUE, \"keyPrefix\" TEXT NOT NULL,"
	" \"tenantId\" TEXT NOT NULL, \"createdAt\" TEXT NOT NULL, \"expiresAt\" TEXT NOT NULL, \"lastUsedAt\" TEXT,"
	" revoked BOOLEAN NOT NULL DEFAULT false)";

#define KEY_COLUMNS "id, name, \"keyPrefix\", \"tenantId\", \"createdAt\", \"expiresAt\", \"lastUsedAt\", revoked"

static void iso_now(char out[32])
{
	struct timespec ts;
	struct tm tm;
	char date[24];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 32, "%.19s.%03uZ", date, (unsigned)(ts.tv_nsec / 1000000));
}

/* libpq's messages end in a newline and may run on with hints: the first line only. */
static const char *first_line(const char *s, char *out, size_t n)
{
	snprintf(out, n, "%s", s && *s ? s : "no detail");
	out[strcspn(out, "\r\n")] = '\0';
	return out;
}

static void quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg; /* NOTICEs ("relation already exists, skipping") are no news */
}

static bool simple_ok(const char *sql, const char *ignore_state1, const char *ignore_state2, char *why, size_t n)
{
	PGresult *r = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(r);
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ||
		(state &&
		 ((ignore_state1 && strcmp(state, ignore_state1) == 0) ||
		  (ignore_state2 && strcmp(state, ignore_state2) == 0)));

	if (!ok)
		first_line(PQresultErrorMessage(r), why, n);
	PQclear(r);
	return ok;
}

static int db_connect(struct isol8_err *err)
{
	/* Defaults the connection string may override: a bounded connect, no GSSAPI encryption
	 * probe (a Kerberos library reaching for a ticket cache), keepalives that notice a dead
	 * server. The string itself is expanded from "dbname" and wins. */
	static const char *const kw[] = {"connect_timeout",  "application_name", "gssencmode", "keepalives_idle",
					 "tcp_user_timeout", "dbname",           NULL};
	const char *val[] = {"3", "isol8-keystore", "disable", "10", "5000", conninfo, NULL};
	char why[300];

	if (conn && PQstatus(conn) == CONNECTION_OK)
		return 0;
	if (conn)
		PQfinish(conn);
	conn = PQconnectdbParams(kw, val, 1);
	if (PQstatus(conn) != CONNECTION_OK) {
		isol8_err_set(err, ISOL8_E_UNAVAIL, 0, "cannot connect to PostgreSQL: %s",
			      first_line(PQerrorMessage(conn), why, sizeof why));
		PQfinish(conn);
		conn = NULL;
		return -1;
	}
	PQsetNoticeProcessor(conn, quiet, NULL);
	/* 42P07 duplicate table, 23505 unique violation: another node made the table at the same
	 * moment (CREATE TABLE IF NOT EXISTS is not atomic across sessions). */
	if (!simple_ok(KS_SESSION_SETUP, NULL, NULL, why, sizeof why) ||
	    !simple_ok(schema, "42P07", "23505", why, sizeof why)) {
		isol8_err_set(err, ISOL8_E_UNAVAIL, 0, "PostgreSQL: %s", why);
		PQfinish(conn);
		conn = NULL;
		return -1;
	}
	log_info("connected to PostgreSQL (server %d)", PQserverVersion(conn));
	return 0;
}

/* One statement with bound text parameters; NULL with err unless its status is want. A lost
 * connection is made again and the statement retried once. */
static PGresult *query(const char *sql, int n, const char *const *params, ExecStatusType want, struct isol8_err *err)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		PGresult *r;
		char why[300];
		bool lost;

		if (db_connect(err) < 0)
			return NULL;
		r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(r) == want)
			return r;
		lost = PQstatus(conn) != CONNECTION_OK;
		isol8_err_set(err, lost ? ISOL8_E_UNAVAIL : ISOL8_E_IO, 0, "PostgreSQL: %s",
			      first_line(lost ? PQerrorMessage(conn) : PQresultErrorMessage(r), why, sizeof why));
		PQclear(r);
		if (!lost)
			return NULL;
		PQfinish(conn);
		conn = NULL;
	}
	return NULL;
}

/* query() in a transaction whose commit waits for the WAL to be on disk. A connection lost
 * before the statement ran is made again and the whole retried once; lost at the commit, the
 * outcome is unknown and reported as an error (revoking again is harmless). */
static PGresult *durable(const char *sql, int n, const char *const *params, ExecStatusType want, struct isol8_err *err)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		PGresult *r;
		char why[300];

		if (db_connect(err) < 0)
			return NULL;
		if (!simple_ok("BEGIN; SET LOCAL synchronous_commit = on", NULL, NULL, why, sizeof why)) {
			bool lost = PQstatus(conn) != CONNECTION_OK;
			isol8_err_set(err, lost ? ISOL8_E_UNAVAIL : ISOL8_E_IO, 0, "PostgreSQL: %s", why);
			PQfinish(conn);
			conn = NULL;
			if (lost)
				continue;
			return NULL;
		}
		r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(r) != want) {
			isol8_err_set(err, PQstatus(conn) != CONNECTION_OK ? ISOL8_E_UNAVAIL : ISOL8_E_IO, 0,
				      "PostgreSQL: %s", first_line(PQresultErrorMessage(r), why, sizeof why));
			PQclear(r);
			if (!simple_ok("ROLLBACK", NULL, NULL, why, sizeof why)) {
				PQfinish(conn);
				conn = NULL;
			}
			return NULL;
		}
		if (!simple_ok("COMMIT", NULL, NULL, why, sizeof why)) {
			isol8_err_set(err, ISOL8_E_UNAVAIL, 0, "PostgreSQL: commit: %s", why);
			PQclear(r);
			PQfinish(conn);
			conn = NULL;
			return NULL;
		}
		return r;
	}
	return NULL;
}

static void cell(const PGresult *r, int row, int c, char *out, size_t n)
{
	snprintf(out, n, "%s", PQgetisnull(r, row, c) ? "" : PQgetvalue(r, row, c));
}

static void row_key(const PGresult *r, int row, struct keystore_key *k)
{
	memset(k, 0, sizeof *k);
	cell(r, row, 0, k->id, sizeof k->id);
	cell(r, row, 1, k->name, sizeof k->name);
	cell(r, row, 2, k->prefix, sizeof k->prefix);
	cell(r, row, 3, k->tenant, sizeof k->tenant);
	cell(r, row, 4, k->created, sizeof k->created);
	cell(r, row, 5, k->expires, sizeof k->expires);
	cell(r, row, 6, k->last_used, sizeof k->last_used);
	k->revoked = strcmp(PQgetvalue(r, row, 7), "t") == 0;
}

static void reply_ok(int fd, uint32_t req, const struct isol8_buf *p)
{
	struct isol8_err e = ISOL8_ERR_INIT;

	if (isol8_ipc_send(fd, KS_REPLY_OK, req, p ? p->data : NULL, p ? p->len : 0, NULL, 0, &e) < 0)
		log_debug("reply: %s", e.msg);
}

static void reply_err(int fd, uint32_t req, const struct isol8_err *err)
{
	struct isol8_buf p = ISOL8_BUF_INIT;
	struct isol8_err e = ISOL8_ERR_INIT;

	isol8_put_u16(&p, (uint16_t)(err->code ? err->code : ISOL8_E_INTERNAL));
	isol8_put_str(&p, err->msg);
	if (isol8_ipc_send_buf(fd, KS_REPLY_ERR, req, &p, NULL, 0, &e) < 0)
		log_debug("reply: %s", e.msg);
	isol8_buf_free(&p);
}

static int do_validate(struct isol8_msg *m, struct isol8_buf *out, struct isol8_err *err)
{
	_cleanup_free_ char *hash = NULL;
	char now[32];
	const char *params[2];
	struct keystore_key k;
	PGresult *r;

	if (isol8_get_str(m, &hash, 64, err) < 0 || isol8_msg_end(m, err) < 0)
		return -1;
	iso_now(now);
	params[0] = hash;
	params[1] = now;
	/* Look-up and lastUsedAt in one round trip. */
	r = query(
		"UPDATE api_keys SET \"lastUsedAt\" = $2 WHERE \"keyHash\" = $1 AND NOT revoked AND \"expiresAt\" >= $2"
		" RETURNING " KEY_COLUMNS,
		2, params, PGRES_TUPLES_OK, err);
	if (!r)
		return -1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return isol8_err_set(err, ISOL8_E_AUTH, 0, "Invalid API key");
	}
	row_key(r, 0, &k);
	PQclear(r);
	keyrow_put(out, &k);
	return 0;
}

static int do_create(struct isol8_msg *m, struct isol8_err *err)
{
	_cleanup_free_ char *hash = NULL;
	struct keystore_key k;
	const char *params[7];
	PGresult *r;

	if (keyrow_get(m, &k, err) < 0 || isol8_get_str(m, &hash, 64, err) < 0 || isol8_msg_end(m, err) < 0)
		return -1;
	params[0] = k.id;
	params[1] = k.name;
	params[2] = hash;
	params[3] = k.prefix;
	params[4] = k.tenant;
	params[5] = k.created;
	params[6] = k.expires;
	r = durable("INSERT INTO api_keys (id, name, \"keyHash\", \"keyPrefix\", \"tenantId\", \"createdAt\", "
		    "\"expiresAt\")"
		    " VALUES ($1, $2, $3, $4, $5, $6, $7)",
		    7, params, PGRES_COMMAND_OK, err);
	if (!r)
		return -1;
	PQclear(r);
	return 0;
}

static int do_list(int fd, uint32_t req, struct isol8_msg *m, struct isol8_err *err)
{
	_cleanup_free_ char *tenant = NULL;
	const char *params[1];
	struct isol8_buf chunk = ISOL8_BUF_INIT;
	uint32_t n = 0;
	PGresult *r;
	int rows;

	if (isol8_get_str(m, &tenant, 64, err) < 0 || isol8_msg_end(m, err) < 0)
		return -1;
	params[0] = tenant;
	r = query(*tenant ? "SELECT " KEY_COLUMNS " FROM api_keys WHERE \"tenantId\" = $1 ORDER BY \"createdAt\", id"
			  : "SELECT " KEY_COLUMNS " FROM api_keys ORDER BY \"createdAt\", id",
		  *tenant ? 1 : 0, params, PGRES_TUPLES_OK, err);
	if (!r)
		return -1;
	rows = PQntuples(r);
	for (int i = 0; i <= rows; i++) {
		struct isol8_buf p = ISOL8_BUF_INIT;
		bool last = i == rows;
		if (!last) {
			struct keystore_key k;
			row_key(r, i, &k);
			keyrow_put(&chunk, &k);
			n++;
		}
		if (!last && chunk.len < KS_LIST_CHUNK)
			continue;
		isol8_put_u8(&p, last ? 0 : 1);
		isol8_put_u32(&p, n);
		if (chunk.len)
			isol8_buf_append(&p, chunk.data, chunk.len);
		reply_ok(fd, req, &p);
		isol8_buf_free(&p);
		isol8_buf_free(&chunk);
		n = 0;
	}
	PQclear(r);
	return 1; /* answered */
}

static int do_revoke(struct isol8_msg *m, struct isol8_err *err)
{
	_cleanup_free_ char *id = NULL, *tenant = NULL;
	const char *params[2];
	PGresult *r;
	bool hit;

	if (isol8_get_str(m, &id, 36, err) < 0 || isol8_get_str(m, &tenant, 64, err) < 0 || isol8_msg_end(m, err) < 0)
		return -1;
	params[0] = id;
	params[1] = tenant;
	r = durable(*tenant ? "UPDATE api_keys SET revoked = true WHERE id = $1 AND \"tenantId\" = $2"
			    : "UPDATE api_keys SET revoked = true WHERE id = $1",
		    *tenant ? 2 : 1, params, PGRES_COMMAND_OK, err);
	if (!r)
		return -1;
	hit = strcmp(PQcmdTuples(r), "0") != 0;
	PQclear(r);
	return hit ? 0 : isol8_err_set(err, ISOL8_E_NOTFOUND, 0, "Key not found");
}

static int do_purge(struct isol8_msg *m, struct isol8_buf *out, struct isol8_err *err)
{
	_cleanup_free_ char *tenant = NULL;
	const char *params[2];
	char now[32];
	PGresult *r;

	if (isol8_get_str(m, &tenant, 64, err) < 0 || isol8_msg_end(m, err) < 0)
		return -1;
	iso_now(now);
	params[0] = now;
	params[1] = tenant;
	r = durable(*tenant ? "DELETE FROM api_keys WHERE (revoked OR \"expiresAt\" < $1) AND \"tenantId\" = $2"
			    : "DELETE FROM api_keys WHERE revoked OR \"expiresAt\" < $1",
		    *tenant ? 2 : 1, params, PGRES_COMMAND_OK, err);
	if (!r)
		return -1;
	isol8_put_u32(out, (uint32_t)strtoul(PQcmdTuples(r), NULL, 10));
	PQclear(r);
	return 0;
}

static void serve(int chan, struct isol8_msg *m)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_buf out = ISOL8_BUF_INIT;
	int fd = m->type == KS_VALIDATE ? chan : isol8_msg_take_fd(m, 0);
	int r;

	switch (m->type) {
	case KS_VALIDATE:
		r = do_validate(m, &out, &err);
		break;
	case KS_CREATE:
		r = do_create(m, &err);
		break;
	case KS_LIST:
		r = do_list(fd, m->request_id, m, &err);
		break;
	case KS_REVOKE:
		r = do_revoke(m, &err);
		break;
	case KS_PURGE:
		r = do_purge(m, &out, &err);
		break;
	default:
		r = isol8_err_set(&err, ISOL8_E_PROTO, 0, "unexpected message %u", m->type);
		break;
	}
	if (r == 0)
		reply_ok(fd, m->request_id, &out);
	else if (r < 0)
		reply_err(fd, m->request_id, &err);
	if (r < 0 && err.code != ISOL8_E_AUTH && err.code != ISOL8_E_NOTFOUND)
		log_warn("%s", err.msg);
	if (fd != chan)
		xclose(fd);
	isol8_buf_free(&out);
}

int main(int argc, char **argv)
{
	struct lockdown_start st = {.prog = "isol8-keystore", .need_gid = true};
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_msg m = {0};
	int chan;

	lockdown_start_args(&st, argc, argv, NULL, 0, NULL, NULL);
	lockdown_start_lock(&st, keystore_seccomp_load);
	chan = st.chan;
	/* libpq looks for ~/.postgresql/ (client certificate, root.crt) and ~/.pgpass: the
	 * account's own home, not root's, which it may not read (EACCES fails the connection). */
	{
		struct passwd *pw = getpwuid(getuid());
		setenv("HOME", pw && pw->pw_dir && *pw->pw_dir ? pw->pw_dir : "/nonexistent", 1);
	}
	/* The connection string comes first, on the channel: not in argv or the environment,
	 * where /proc would show it. */
	if (isol8_ipc_recv(chan, &m, &err) <= 0 || isol8_proto_check(PEER_KEYSTORE, PEER_BROKER, &m, NULL, &err) < 0 ||
	    m.type != KS_CONFIG || isol8_get_str(&m, &conninfo, 4096, &err) < 0)
		die("no configuration from isol8d: %s", err.msg[0] ? err.msg : "wrong first message");
	explicit_bzero(m.payload, m.len);
	isol8_msg_free(&m);
	if (db_connect(&err) < 0)
		log_warn("%s (retried at the next request)", err.msg);
	for (;;) {
		int r = isol8_ipc_recv(chan, &m, &err);
		if (r == 0)
			break; /* isol8d closed the channel: stop */
		if (r < 0) {
			if (err.errnum == EINTR || err.errnum == EAGAIN)
				continue;
			die("channel: %s", err.msg);
		}
		if (isol8_proto_check(PEER_KEYSTORE, PEER_BROKER, &m, NULL, &err) < 0 || m.type == KS_CONFIG) {
			log_warn("refused: %s", err.msg[0] ? err.msg : "a second configuration");
			isol8_msg_free(&m);
			continue;
		}
		serve(chan, &m);
		isol8_msg_free(&m);
	}
	if (conn)
		PQfinish(conn);
	explicit_bzero(conninfo, strlen(conninfo));
	return 0;
}
