/* API keys in SQLite (contract in keystore.h). */
#include "config.h"
#include "broker/keystore.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/sha256.h"
#include "common/xalloc.h"

struct keystore {
	sqlite3 *db;
	pthread_mutex_t lock; /* one statement at a time: the broker's threads share the handle */
};

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=NORMAL;"
	"PRAGMA foreign_keys=ON;"
	"CREATE TABLE IF NOT EXISTS api_keys ("
	" id TEXT PRIMARY KEY, name TEXT NOT NULL, keyHash TEXT NOT NULL UNIQUE, keyPrefix TEXT NOT NULL,"
	" tenantId TEXT NOT NULL, createdAt TEXT NOT NULL, expiresAt TEXT NOT NULL, lastUsedAt TEXT,"
	" revoked INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX IF NOT EXISTS idx_api_keys_hash ON api_keys(keyHash);";

static int db_error(struct keystore *ks, const char *what, struct isol8_err *err)
{
	return isol8_err_set(err, ISOL8_E_IO, 0, "key store: %s: %s", what, sqlite3_errmsg(ks->db));
}

/* ISO-8601 UTC with milliseconds: sorts like the time it names, so SQL compares strings. */
static void iso_time(uint64_t ms, char out[32])
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;

	char date[24];

	gmtime_r(&s, &tm);
	strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 32, "%.19s.%03uZ", date, (unsigned)(ms % 1000));
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void hex(const uint8_t *p, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int random_bytes(uint8_t *p, size_t n, struct isol8_err *err)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = getrandom(p + got, n - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return isol8_err_set(err, ISOL8_E_IO, errno, "getrandom");
		got += (size_t)r;
	}
	return 0;
}

static void uuid4(const uint8_t r[16], char out[37])
{
	uint8_t b[16];
	char h[33];

	memcpy(b, r, 16);
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	hex(b, 16, h);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

int keystore_open(const char *path, struct keystore **out, struct isol8_err *err)
{
	struct keystore *ks;
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	int fd;

	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			isol8_err_set(err, ISOL8_E_IO, errno, "key store: cannot create %s", dir);
			free(dir);
			return -1;
		}
	}
	free(dir);
	/* Created 0600 before SQLite opens it: it holds hashes only, still nobody else's business. */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "key store: cannot open %s", path);
	close(fd);
	ks = xcalloc(1, sizeof *ks);
	pthread_mutex_init(&ks->lock, NULL);
	if (sqlite3_open_v2(path, &ks->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_NOFOLLOW,
			    NULL) != SQLITE_OK ||
	    sqlite3_exec(ks->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
		db_error(ks, path, err);
		keystore_close(ks);
		return -1;
	}
	sqlite3_busy_timeout(ks->db, 5000);
	*out = ks;
	return 0;
}

void keystore_close(struct keystore *ks)
{
	if (!ks)
		return;
	sqlite3_close(ks->db);
	pthread_mutex_destroy(&ks->lock);
	free(ks);
}

static void col(sqlite3_stmt *st, int i, char *out, size_t n)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	snprintf(out, n, "%s", t ? (const char *)t : "");
}

static void row_key(sqlite3_stmt *st, struct keystore_key *k)
{
	memset(k, 0, sizeof *k);
	col(st, 0, k->id, sizeof k->id);
	col(st, 1, k->name, sizeof k->name);
	col(st, 2, k->prefix, sizeof k->prefix);
	col(st, 3, k->tenant, sizeof k->tenant);
	col(st, 4, k->created, sizeof k->created);
	col(st, 5, k->expires, sizeof k->expires);
	col(st, 6, k->last_used, sizeof k->last_used);
	k->revoked = sqlite3_column_int(st, 7) != 0;
}

#define KEY_COLUMNS "id, name, keyPrefix, tenantId, createdAt, expiresAt, lastUsedAt, revoked"

int keystore_new_key(const char *name, const char *tenant, uint64_t ttl_ms, char *key_out, struct keystore_key *info,
		     char hash[65], struct isol8_err *err)
{
	uint8_t r[48];
	char secret_hex[65];
	uint64_t now = now_ms();

	if (ttl_ms == 0)
		ttl_ms = KEYSTORE_DEFAULT_TTL_MS;
	if (ttl_ms > KEYSTORE_MAX_TTL_MS)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "ttl: at most 10 years");
	if (random_bytes(r, sizeof r, err) < 0)
		return -1;
	hex(r, 32, secret_hex);
	snprintf(key_out, KEYSTORE_KEY_LEN + 1, "isol8_%s", secret_hex);
	isol8_sha256_hexdigest(key_out, KEYSTORE_KEY_LEN, hash);
	memset(info, 0, sizeof *info);
	uuid4(r + 32, info->id);
	snprintf(info->name, sizeof info->name, "%s", name);
	snprintf(info->tenant, sizeof info->tenant, "%s", tenant);
	snprintf(info->prefix, sizeof info->prefix, "%.10s...", key_out);
	iso_time(now, info->created);
	iso_time(now + ttl_ms, info->expires);
	explicit_bzero(r, sizeof r);
	explicit_bzero(secret_hex, sizeof secret_hex);
	return 0;
}

int keystore_create(struct keystore *ks, const char *name, const char *tenant, uint64_t ttl_ms, char *key_out,
		    struct keystore_key *info, struct isol8_err *err)
{
	char hash[ISOL8_SHA256_HEXLEN];
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (keystore_new_key(name, tenant, ttl_ms, key_out, info, hash, err) < 0)
		return -1;
	pthread_mutex_lock(&ks->lock);
	if (sqlite3_prepare_v2(ks->db,
			       "INSERT INTO api_keys (id, name, keyHash, keyPrefix, tenantId, createdAt, expiresAt)"
			       " VALUES (?, ?, ?, ?, ?, ?, ?)",
			       -1, &st, NULL) != SQLITE_OK) {
		db_error(ks, "insert", err);
		goto out;
	}
	sqlite3_bind_text(st, 1, info->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, info->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, info->prefix, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, info->tenant, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, info->created, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, info->expires, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		db_error(ks, "insert", err);
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&ks->lock);
	if (rc < 0)
		explicit_bzero(key_out, KEYSTORE_KEY_LEN + 1);
	return rc;
}

static void json_str(struct isol8_buf *b, const char *s)
{
	isol8_buf_putc(b, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			isol8_buf_printf(b, "\\%c", c);
		else if (c < 0x20)
			isol8_buf_printf(b, "\\u%04x", c);
		else
			isol8_buf_putc(b, (char)c);
	}
	isol8_buf_putc(b, '"');
}

void keystore_key_json(const struct keystore_key *k, struct isol8_buf *b)
{
	isol8_buf_puts(b, "{\"id\":");
	json_str(b, k->id);
	isol8_buf_puts(b, ",\"name\":");
	json_str(b, k->name);
	isol8_buf_puts(b, ",\"keyPrefix\":");
	json_str(b, k->prefix);
	isol8_buf_puts(b, ",\"tenantId\":");
	json_str(b, k->tenant);
	isol8_buf_puts(b, ",\"createdAt\":");
	json_str(b, k->created);
	isol8_buf_puts(b, ",\"expiresAt\":");
	json_str(b, k->expires);
	isol8_buf_puts(b, ",\"lastUsedAt\":");
	if (k->last_used[0])
		json_str(b, k->last_used);
	else
		isol8_buf_puts(b, "null");
	isol8_buf_printf(b, ",\"revoked\":%s}", k->revoked ? "true" : "false");
}

int keystore_list(struct keystore *ks, const char *tenant, struct isol8_buf *json, struct isol8_err *err)
{
	sqlite3_stmt *st = NULL;
	bool first = true;
	int r, rc = -1;

	pthread_mutex_lock(&ks->lock);
	if (sqlite3_prepare_v2(ks->db,
			       tenant ? "SELECT " KEY_COLUMNS " FROM api_keys WHERE tenantId = ? ORDER BY createdAt, id"
				      : "SELECT " KEY_COLUMNS " FROM api_keys ORDER BY createdAt, id",
			       -1, &st, NULL) != SQLITE_OK) {
		db_error(ks, "list", err);
		goto out;
	}
	if (tenant)
		sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
	isol8_buf_puts(json, "{\"keys\":[");
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct keystore_key k;
		row_key(st, &k);
		if (!first)
			isol8_buf_putc(json, ',');
		first = false;
		keystore_key_json(&k, json);
	}
	if (r != SQLITE_DONE) {
		db_error(ks, "list", err);
		goto out;
	}
	isol8_buf_puts(json, "]}");
	rc = 0;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&ks->lock);
	return rc;
}

static int exec_changes(struct keystore *ks, const char *sql, const char *a, const char *b, int *changes,
			const char *what, struct isol8_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	pthread_mutex_lock(&ks->lock);
	if (sqlite3_prepare_v2(ks->db, sql, -1, &st, NULL) != SQLITE_OK) {
		db_error(ks, what, err);
		goto out;
	}
	if (a)
		sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	if (b)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		db_error(ks, what, err);
		goto out;
	}
	*changes = sqlite3_changes(ks->db);
	rc = 0;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&ks->lock);
	return rc;
}

int keystore_revoke(struct keystore *ks, const char *id, const char *tenant, struct isol8_err *err)
{
	int n = 0;

	if (exec_changes(ks,
			 tenant ? "UPDATE api_keys SET revoked = 1 WHERE id = ? AND tenantId = ?"
				: "UPDATE api_keys SET revoked = 1 WHERE id = ?",
			 id, tenant, &n, "revoke", err) < 0)
		return -1;
	return n > 0 ? 0 : isol8_err_set(err, ISOL8_E_NOTFOUND, 0, "Key not found");
}

int keystore_purge(struct keystore *ks, const char *tenant, unsigned *removed, struct isol8_err *err)
{
	char now[32];
	int n = 0;

	iso_time(now_ms(), now);
	if (exec_changes(ks,
			 tenant ? "DELETE FROM api_keys WHERE (revoked != 0 OR expiresAt < ?) AND tenantId = ?"
				: "DELETE FROM api_keys WHERE revoked != 0 OR expiresAt < ?",
			 now, tenant, &n, "purge", err) < 0)
		return -1;
	*removed = (unsigned)n;
	return 0;
}

int keystore_validate(struct keystore *ks, const char *hash_hex, struct keystore_key *out, struct isol8_err *err)
{
	sqlite3_stmt *st = NULL;
	char now[32];
	int r, n = 0, rc = -1;

	iso_time(now_ms(), now);
	pthread_mutex_lock(&ks->lock);
	if (sqlite3_prepare_v2(
		    ks->db, "SELECT " KEY_COLUMNS " FROM api_keys WHERE keyHash = ? AND revoked = 0 AND expiresAt >= ?",
		    -1, &st, NULL) != SQLITE_OK) {
		db_error(ks, "lookup", err);
		goto out;
	}
	sqlite3_bind_text(st, 1, hash_hex, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, now, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		row_key(st, out);
		rc = 0;
	} else if (r == SQLITE_DONE) {
		isol8_err_set(err, ISOL8_E_AUTH, 0, "Invalid API key");
	} else {
		db_error(ks, "lookup", err);
	}
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&ks->lock);
	if (rc == 0) {
		struct isol8_err e2 = ISOL8_ERR_INIT;
		/* A failed lastUsedAt update does not refuse a valid key. */
		exec_changes(ks, "UPDATE api_keys SET lastUsedAt = ? WHERE id = ?", now, out->id, &n, "touch", &e2);
		snprintf(out->last_used, sizeof out->last_used, "%s", now);
	}
	return rc;
}
