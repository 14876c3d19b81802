/* CLI side of the isol8d connection (contract in broker_conn.h). */
#include "config.h"
#include "cli/broker_conn.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/proto.h"

const char *broker_socket_path(const char *flag)
{
	const char *env = getenv("ISOL8_SOCKET");

	if (flag && *flag)
		return flag;
	if (env && *env)
		return env;
	return ISOL8_DEFAULT_SOCKET;
}

static int unreachable(const char *path, const char *reason, struct isol8_err *err)
{
	return isol8_err_set(err, ISOL8_E_UNAVAIL, 0,
			     "cannot reach isol8d at %s: %s (is isol8d running? start it with 'isol8d' or "
			     "'systemctl start isol8d')",
			     path, reason);
}

static bool has_group_now(gid_t gid)
{
	gid_t groups[256];
	int n = getgroups(256, groups);

	if (getegid() == gid)
		return true;
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

static bool member_in_db(const char *user, gid_t primary, gid_t gid)
{
	gid_t groups[256];
	int n = 256;

	if (!user || getgrouplist(user, primary, groups, &n) < 0)
		return false;
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/* EACCES is not "isol8d is not running": it is running, and the socket's group decides who may
 * use it. Say which group, and whether joining it or only a new login is missing. */
static int denied(const char *path, struct isol8_err *err)
{
	struct stat st;
	struct group *gr;
	struct passwd *pw;
	char gname[64];

	if (stat(path, &st) < 0)
		return unreachable(path, strerror(EACCES), err);
	if (st.st_gid == 0)
		return isol8_err_set(
			err, ISOL8_E_AUTH, 0,
			"permission denied on %s: only root may use this isol8d (its socket belongs to group "
			"root); ask an admin to start isol8d with --socket-group isol8",
			path);
	gr = getgrgid(st.st_gid);
	if (gr)
		snprintf(gname, sizeof gname, "%s", gr->gr_name);
	else
		snprintf(gname, sizeof gname, "%u", (unsigned)st.st_gid);
	pw = getpwuid(getuid());
	if (has_group_now(st.st_gid))
		return isol8_err_set(err, ISOL8_E_AUTH, 0,
				     "permission denied on %s although you are in its group '%s': its mode does not "
				     "let the group connect; ask an admin to start isol8d with --socket-mode 0660",
				     path, gname);
	if (pw && member_in_db(pw->pw_name, pw->pw_gid, st.st_gid))
		return isol8_err_set(err, ISOL8_E_AUTH, 0,
				     "permission denied on %s: you were added to the group '%s' after this login; log "
				     "in again (or run 'newgrp %s')",
				     path, gname, gname);
	return isol8_err_set(err, ISOL8_E_AUTH, 0,
			     "permission denied on %s: only members of the group '%s' may use isol8d; ask an admin "
			     "to run 'usermod -aG %s %s', then log in again",
			     path, gname, gname, pw ? pw->pw_name : "YOUR-USER");
}

int broker_error_from_msg(struct isol8_msg *m, struct isol8_err *err)
{
	struct isol8_err perr = ISOL8_ERR_INIT;
	_cleanup_free_ char *text = NULL;
	uint16_t code;

	if (isol8_get_u16(m, &code, &perr) < 0 || isol8_get_str(m, &text, ISOL8_MAX_ERROR_MSG, &perr) < 0 ||
	    isol8_msg_end(m, &perr) < 0) {
		*err = perr;
		return isol8_err_wrap(err, "malformed error reply from isol8d");
	}
	/* An out-of-range code from the peer is reported as internal rather than trusted blindly. */
	if (code == ISOL8_E_OK || code >= ISOL8_E__MAX)
		code = ISOL8_E_INTERNAL;
	/* Control bytes from the peer must not drive the user's terminal. */
	for (char *p = text; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\n' && *p != '\t')
			*p = '?';
	return isol8_err_set(err, code, 0, "%s", text);
}

int broker_send(int sock, uint8_t type, const void *payload, size_t len, const int *fds, unsigned nfds,
		struct isol8_err *err)
{
	struct isol8_err rerr = ISOL8_ERR_INIT;
	struct isol8_msg m;

	if (isol8_ipc_send(sock, type, 0, payload, len, fds, nfds, err) == 0)
		return 0;
	if (err->code != ISOL8_E_IO || (err->errnum != EPIPE && err->errnum != ECONNRESET))
		return -1;
	/* The peer has closed, so this read cannot block: the queued refusal, or EOF. */
	if (isol8_ipc_recv(sock, &m, &rerr) > 0) {
		if (m.type == WK_ERROR &&
		    isol8_proto_check(PEER_FRONTEND, PEER_BROKER | PEER_WORKER, &m, NULL, &rerr) == 0)
			broker_error_from_msg(&m, err);
		isol8_msg_free(&m);
	}
	return -1;
}

int broker_send_buf(int sock, uint8_t type, const struct isol8_buf *b, const int *fds, unsigned nfds,
		    struct isol8_err *err)
{
	return b ? broker_send(sock, type, b->data, b->len, fds, nfds, err)
		 : broker_send(sock, type, NULL, 0, fds, nfds, err);
}

int broker_recv(int sock, struct isol8_msg *m, struct isol8_err *err)
{
	int r = isol8_ipc_recv(sock, m, err);

	if (r < 0)
		return isol8_err_wrap(err, "reading from isol8d");
	if (r == 0)
		return isol8_err_set(err, ISOL8_E_UNAVAIL, 0, "isol8d closed the connection (worker died?)");
	/* Before routing the broker answers (a refusal), after it the worker. The worker handles
	 * hostile input and may be another tenant's compromised process: the table lets an fd from
	 * it through only as a sealed memfd. */
	if (isol8_proto_check(PEER_FRONTEND, PEER_BROKER | PEER_WORKER, m, NULL, err) < 0) {
		isol8_msg_free(m);
		return isol8_err_wrap(err, "reply from isol8d");
	}
	if (m->type == WK_ERROR) {
		broker_error_from_msg(m, err);
		isol8_msg_free(m);
		return -1;
	}
	return 1;
}

int broker_expect(int sock, uint8_t type, struct isol8_msg *m, struct isol8_err *err)
{
	if (broker_recv(sock, m, err) < 0)
		return -1;
	if (m->type != type) {
		uint8_t got = m->type;
		isol8_msg_free(m);
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "unexpected reply type %u from isol8d (wanted %u)", got,
				     type);
	}
	return 1;
}

/* The sealed memfd's content, at most max bytes (the worker could have sealed any size). */
static int read_memfd(int fd, size_t max, struct isol8_buf *out, struct isol8_err *err)
{
	struct stat st;
	size_t off = 0;

	if (fstat(fd, &st) < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "output files: fstat");
	if (st.st_size < 0 || (uint64_t)st.st_size > max)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "output files from isol8d larger than %zu bytes", max);
	isol8_buf_reserve(out, (size_t)st.st_size + 1);
	while (off < (size_t)st.st_size) {
		ssize_t n = pread(fd, out->data + off, (size_t)st.st_size - off, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return isol8_err_set(err, ISOL8_E_IO, n < 0 ? errno : 0, "output files: read");
		off += (size_t)n;
	}
	out->len = off;
	out->data[off] = '\0';
	return 0;
}

int broker_expect_result(int sock, struct isol8_msg *m, struct isol8_err *err)
{
	if (broker_recv(sock, m, err) < 0)
		return -1;
	return broker_result_from(sock, m, err);
}

int broker_result_from(int sock, struct isol8_msg *m, struct isol8_err *err)
{
	struct isol8_buf files = ISOL8_BUF_INIT, merged = ISOL8_BUF_INIT;
	bool have_files = false;

	if (m->type == WK_FILE) {
		int r = read_memfd(m->fds[0], BROKER_FILES_MAX, &files, err);
		isol8_msg_free(m);
		if (r < 0 || broker_recv(sock, m, err) < 0) {
			isol8_buf_free(&files);
			return -1;
		}
		have_files = true;
	}
	if (m->type != WK_RESULT) {
		uint8_t got = m->type;
		isol8_msg_free(m);
		isol8_buf_free(&files);
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "unexpected reply type %u from isol8d (wanted %u)", got,
				     WK_RESULT);
	}
	if (!have_files)
		return 1;
	/* Spliced, not parsed and rebuilt: the files may be tens of MiB of base64. Both texts must
	 * at least look like objects; the caller's parser checks the rest. */
	if (m->len < 3 || m->payload[0] != '{' || m->payload[m->len - 1] != '}' || files.len < 2 ||
	    files.data[0] != '{' || files.data[files.len - 1] != '}') {
		isol8_msg_free(m);
		isol8_buf_free(&files);
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "malformed result or output files from isol8d");
	}
	isol8_buf_append(&merged, m->payload, m->len - 1);
	isol8_buf_puts(&merged, ",\"files\":");
	isol8_buf_append(&merged, files.data, files.len);
	isol8_buf_putc(&merged, '}');
	isol8_buf_free(&files);
	free(m->payload);
	m->len = (uint32_t)merged.len;
	m->payload = (uint8_t *)isol8_buf_steal(&merged, NULL);
	m->pos = 0;
	return 1;
}

/* Connect and send the hello: FE_HELLO, or FE_HELLO_KEY when key_name is set (only a trusted
 * HTTP frontend may send that; the broker checks). */
int broker_connect(const char *path, struct isol8_err *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;
	int r;

	if (strlen(path) >= sizeof sa.sun_path)
		return unreachable(path, "socket path too long", err);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "socket");
	do
		r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
	while (r < 0 && errno == EINTR);
	if (r < 0 && errno == EACCES)
		return denied(path, err);
	if (r < 0)
		return unreachable(path, strerror(errno), err);
	return steal_fd(&fd);
}

void broker_hello_payload(struct isol8_buf *b, uint8_t op, const char *session, const char *key_name,
			  const char *key_id)
{
	isol8_put_u8(b, op);
	isol8_put_str(b, session ? session : "");
	if (key_name) {
		isol8_put_str(b, key_name);
		isol8_put_str(b, key_id ? key_id : "");
	}
}

static int open_hello(const char *path, uint8_t op, const char *session, const char *key_name, const char *key_id,
		      struct isol8_err *err)
{
	_cleanup_close_ int fd = broker_connect(path, err);
	struct isol8_buf b = ISOL8_BUF_INIT;
	int r;

	if (fd < 0)
		return -1;
	broker_hello_payload(&b, op, session, key_name, key_id);
	r = isol8_ipc_send_buf(fd, key_name ? FE_HELLO_KEY : FE_HELLO, 0, &b, NULL, 0, err);
	isol8_buf_free(&b);
	if (r < 0)
		return isol8_err_wrap(err, "send hello to isol8d");
	return steal_fd(&fd);
}

int broker_open(const char *path, uint8_t op, const char *session, struct isol8_err *err)
{
	return open_hello(path, op, session, NULL, NULL, err);
}

int broker_open_key(const char *path, uint8_t op, const char *session, const char *key_name, const char *key_id,
		    struct isol8_err *err)
{
	return open_hello(path, op, session, key_name ? key_name : "", key_id ? key_id : "", err);
}
