/* Offline bootstrap of the FROM image with debootstrap + docker import. */
#include "config.h"
#include "images/bootstrap.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/buf.h"
#include "common/cleanup.h"
#include "common/xalloc.h"
#include "images/images.h"

#define SOURCES_MAX (1u << 20)
#define LOG_TAIL_LINES 40

/* ---- apt sources ---- */

bool isol8_mirror_url_ok(const char *url)
{
	if (!url || strlen(url) > 1024)
		return false;
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0 && strncmp(url, "file:///", 8) != 0)
		return false;
	for (const char *c = url; *c; c++)
		if (*c <= ' ' || *c == 0x7f || *c == '"' || *c == '\'' || *c == '\\' || *c == '`')
			return false;
	return true;
}

static bool debian_like(const char *url)
{
	size_t n = strlen(url);

	while (n > 0 && url[n - 1] == '/')
		n--;
	return n >= 7 && strncmp(url + n - 7, "/debian", 7) == 0;
}

struct pick {
	char *exact;    /* lists the suite */
	char *fallback; /* a /debian archive */
};

static void consider(struct pick *p, const char *url, size_t url_len, const char *suites, const char *suite)
{
	_cleanup_free_ char *u = xstrndup(url, url_len);
	bool has_suite = false, security = strstr(u, "security") != NULL;

	if (!isol8_mirror_url_ok(u))
		return;
	for (const char *s = suites; s && *s;) {
		size_t n = strcspn(s, " \t");
		if (n == strlen(suite) && strncmp(s, suite, n) == 0)
			has_suite = true;
		s += n;
		s += strspn(s, " \t");
	}
	if (has_suite && !security && !p->exact)
		p->exact = steal_ptr(&u);
	else if (!security && !p->fallback && debian_like(u))
		p->fallback = steal_ptr(&u);
}

static int pick_result(struct pick *p, char **out)
{
	if (p->exact) {
		*out = p->exact;
		free(p->fallback);
		return 2;
	}
	if (p->fallback) {
		*out = p->fallback;
		return 1;
	}
	return 0;
}

/* "deb [opt=a opt=b] URL suite comp..." */
static void parse_one_line(struct pick *p, char *line, const char *suite)
{
	char *save = NULL, *tok, *url = NULL;
	char *hash = strchr(line, '#');

	if (hash)
		*hash = '\0';
	tok = strtok_r(line, " \t", &save);
	if (!tok || strcmp(tok, "deb") != 0)
		return;
	tok = strtok_r(NULL, " \t", &save);
	if (tok && tok[0] == '[') {
		while (tok && !strchr(tok, ']'))
			tok = strtok_r(NULL, " \t", &save);
		tok = tok ? strtok_r(NULL, " \t", &save) : NULL;
	}
	url = tok;
	tok = strtok_r(NULL, " \t", &save);
	if (url && tok)
		consider(p, url, strlen(url), tok, suite);
}

struct stanza {
	bool deb, disabled;
	char *uris, *suites;
};

static void stanza_end(struct pick *p, struct stanza *s, const char *suite)
{
	if (s->deb && !s->disabled && s->uris && s->suites) {
		const char *u = s->uris + strspn(s->uris, " \t");
		consider(p, u, strcspn(u, " \t"), s->suites, suite);
	}
	free(s->uris);
	free(s->suites);
	*s = (struct stanza){0};
}

static char *field_value(const char *line, const char *name)
{
	size_t n = strlen(name);
	const char *v;

	if (strncasecmp(line, name, n) != 0 || line[n] != ':')
		return NULL;
	v = line + n + 1;
	v += strspn(v, " \t");
	return xstrdup(v);
}

int isol8_apt_mirror_parse(const char *text, bool deb822, const char *suite, char **out)
{
	struct pick p = {0};
	struct stanza s = {0};
	_cleanup_free_ char *copy = xstrdup(text ? text : "");
	char *save = NULL;

	*out = NULL;
	/* strtok_r would merge blank lines, which end deb822 stanzas: split by hand. */
	for (char *line = copy; line; line = save) {
		char *nl = strchr(line, '\n');
		save = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		if (nl && nl > line && nl[-1] == '\r')
			nl[-1] = '\0';
		if (!deb822) {
			parse_one_line(&p, line, suite);
			continue;
		}
		if (line[0] == '#')
			continue;
		if (line[strspn(line, " \t")] == '\0') {
			stanza_end(&p, &s, suite);
			continue;
		}
		if (line[0] == ' ' || line[0] == '\t')
			continue; /* continuation lines (e.g. an inline Signed-By key) */
		char *v;
		if ((v = field_value(line, "Types"))) {
			s.deb = false;
			for (char *t = v; *t;) {
				size_t n = strcspn(t, " \t");
				if (n == 3 && strncmp(t, "deb", 3) == 0)
					s.deb = true;
				t += n;
				t += strspn(t, " \t");
			}
			free(v);
		} else if ((v = field_value(line, "URIs"))) {
			free(s.uris);
			s.uris = v;
		} else if ((v = field_value(line, "Suites"))) {
			free(s.suites);
			s.suites = v;
		} else if ((v = field_value(line, "Enabled"))) {
			s.disabled = strcasecmp(v, "no") == 0;
			free(v);
		}
	}
	if (deb822)
		stanza_end(&p, &s, suite);
	return pick_result(&p, out);
}

static int read_text(const char *path, struct isol8_buf *b)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	char chunk[4096];
	ssize_t n;

	isol8_buf_reset(b);
	if (fd < 0)
		return -1;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0 && b->len < SOURCES_MAX)
		isol8_buf_append(b, chunk, (size_t)n);
	isol8_buf_putc(b, '\0');
	return 0;
}

static bool has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Keep the best candidate: an exact suite match (2) beats a /debian fallback (1). */
static void keep_best(char **best, int *rank, char *url, int r)
{
	if (r > *rank) {
		free(*best);
		*best = url;
		*rank = r;
	} else {
		free(url);
	}
}

int isol8_apt_mirror_from_host(char **out, struct isol8_err *err)
{
	struct isol8_buf b = ISOL8_BUF_INIT;
	struct dirent **names = NULL;
	char *best = NULL, *url = NULL;
	int n, rank = 0, r;

	*out = NULL;
	if (read_text("/etc/apt/sources.list", &b) == 0 &&
	    (r = isol8_apt_mirror_parse(b.data, false, ISOL8_BOOTSTRAP_SUITE, &url)))
		keep_best(&best, &rank, url, r);
	n = scandir("/etc/apt/sources.list.d", &names, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		const char *nm = names[i]->d_name;
		bool list = has_suffix(nm, ".list"), d822 = has_suffix(nm, ".sources");
		_cleanup_free_ char *path = xasprintf("/etc/apt/sources.list.d/%s", nm);
		if ((list || d822) && read_text(path, &b) == 0 &&
		    (r = isol8_apt_mirror_parse(b.data, d822, ISOL8_BOOTSTRAP_SUITE, &url)))
			keep_best(&best, &rank, url, r);
		free(names[i]);
	}
	free(names);
	isol8_buf_free(&b);
	if (!best)
		return isol8_err_set(err, ISOL8_E_NOTFOUND, 0,
				     "no Debian mirror found in /etc/apt/sources.list{,.d}: pass --mirror URL");
	*out = best;
	return 0;
}

/* ---- running debootstrap ---- */

static void print_log_tail(const char *path)
{
	struct isol8_buf b = ISOL8_BUF_INIT;
	size_t start, lines = 0;

	if (read_text(path, &b) < 0 || b.len < 2) {
		isol8_buf_free(&b);
		return;
	}
	start = b.len - 1;
	while (start > 0 && lines <= LOG_TAIL_LINES)
		if (b.data[--start] == '\n')
			lines++;
	fprintf(stderr, "%s", b.data + start + (b.data[start] == '\n'));
	isol8_buf_free(&b);
}

static int run_debootstrap(const char *rootfs, const char *mirror, const char *log, struct isol8_err *err)
{
	const char *prog = access("/usr/sbin/debootstrap", X_OK) == 0 ? "/usr/sbin/debootstrap" : "debootstrap";
	/* argv array, never a shell string: the mirror comes from the command line or apt config. */
	char *const argv[] = {(char *)prog,   "--variant=minbase", ISOL8_BOOTSTRAP_SUITE,
			      (char *)rootfs, (char *)mirror,      NULL};
	_cleanup_close_ int logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int status;
	pid_t pid;

	if (logfd < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "create %s", log);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "fork");
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		if (null < 0 || dup2(null, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
			_exit(126);
		execvp(prog, argv);
		dprintf(2, "exec %s: %s\n", prog, strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return isol8_err_set(err, ISOL8_E_IO, errno, "waitpid");
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	print_log_tail(log);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return isol8_err_set(err, ISOL8_E_NOTFOUND, 0, "debootstrap not found (apt-get install debootstrap)");
	return isol8_err_set(err, ISOL8_E_IO, 0, "debootstrap failed (status %d, log %s)",
			     WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), log);
}

/* Paths whose contents are left out of the image (the folder itself is kept). */
static const char *const skip_contents[] = {
	"var/lib/apt/lists",
	"var/cache/apt",
	"usr/share/doc",
	"usr/share/man",
	"usr/share/info",
	"dev",
	"proc",
	"sys",
	"run",
	"tmp",
	NULL,
};

static bool keep_contents(const char *rel)
{
	for (size_t i = 0; skip_contents[i]; i++)
		if (strcmp(rel, skip_contents[i]) == 0)
			return false;
	return true;
}

static int tar_rootfs(const char *rootfs, const char *tarpath, struct isol8_err *err)
{
	struct archive *disk = archive_read_disk_new(), *w = archive_write_new();
	struct archive_entry *e = NULL;
	size_t plen = strlen(rootfs);
	int r = -1, ar;
	char buf[65536];

	if (!disk || !w)
		abort();
	archive_read_disk_set_symlink_physical(disk);
	if (archive_write_set_format_pax_restricted(w) != ARCHIVE_OK ||
	    archive_write_open_filename(w, tarpath) != ARCHIVE_OK) {
		isol8_err_set(err, ISOL8_E_IO, 0, "create %s: %s", tarpath, archive_error_string(w));
		goto out;
	}
	if (archive_read_disk_open(disk, rootfs) != ARCHIVE_OK) {
		isol8_err_set(err, ISOL8_E_IO, 0, "read %s: %s", rootfs, archive_error_string(disk));
		goto out;
	}
	for (;;) {
		const char *path;
		const char *rel;
		e = archive_entry_new();
		ar = archive_read_next_header2(disk, e);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN) {
			isol8_err_set(err, ISOL8_E_IO, 0, "read %s: %s", rootfs, archive_error_string(disk));
			goto out;
		}
		path = archive_entry_pathname(e);
		if (strncmp(path, rootfs, plen) != 0 || (path[plen] != '/' && path[plen] != '\0')) {
			isol8_err_set(err, ISOL8_E_INTERNAL, 0, "unexpected path %s", path);
			goto out;
		}
		rel = path[plen] == '/' ? path + plen + 1 : "";
		if (archive_read_disk_can_descend(disk) && (!*rel || keep_contents(rel)))
			archive_read_disk_descend(disk);
		if (!*rel) {
			archive_entry_free(e);
			continue;
		}
		_cleanup_free_ char *name = xstrdup(rel);
		archive_entry_set_pathname(e, name);
		if (archive_write_header(w, e) < ARCHIVE_WARN) {
			isol8_err_set(err, ISOL8_E_IO, 0, "tar %s: %s", name, archive_error_string(w));
			goto out;
		}
		if (archive_entry_filetype(e) == AE_IFREG && archive_entry_size(e) > 0) {
			la_ssize_t n;
			while ((n = archive_read_data(disk, buf, sizeof(buf))) > 0)
				if (archive_write_data(w, buf, (size_t)n) < 0) {
					isol8_err_set(err, ISOL8_E_IO, 0, "tar %s: %s", name, archive_error_string(w));
					goto out;
				}
			if (n < 0) {
				isol8_err_set(err, ISOL8_E_IO, 0, "read %s: %s", name, archive_error_string(disk));
				goto out;
			}
		}
		archive_entry_free(e);
	}
	if (archive_write_close(w) != ARCHIVE_OK) {
		isol8_err_set(err, ISOL8_E_IO, 0, "write %s: %s", tarpath, archive_error_string(w));
		goto out;
	}
	r = 0;
out:
	archive_entry_free(e);
	archive_read_free(disk);
	archive_write_free(w);
	return r;
}

/* debootstrap mounts /proc and /sys inside the tree and may leave them behind on failure. */
static void unmount_below(const char *dir)
{
	for (int pass = 0; pass < 8; pass++) {
		FILE *f = fopen("/proc/self/mounts", "re");
		char line[4096];
		bool any = false;
		size_t n = strlen(dir);
		if (!f)
			return;
		while (fgets(line, sizeof(line), f)) {
			char *mp = strchr(line, ' ');
			if (!mp)
				continue;
			mp++;
			mp[strcspn(mp, " ")] = '\0';
			if (strncmp(mp, dir, n) == 0 && mp[n] == '/' && umount2(mp, MNT_DETACH) == 0)
				any = true;
		}
		fclose(f);
		if (!any)
			return;
	}
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static void remove_tree(const char *dir)
{
	unmount_below(dir);
	/* FTW_MOUNT: never cross into a file system that is still mounted below the tree. */
	nftw(dir, rm_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

int isol8_bootstrap_base(struct docker *d, const char *mirror, const char *repo, const char *tag, struct isol8_err *err)
{
	_cleanup_free_ char *url = NULL, *rootfs = NULL, *log = NULL, *tarpath = NULL;
	char tmp[] = "/var/tmp/isol8-bootstrap.XXXXXX";
	const char *const changes[] = {"CMD [\"bash\"]", "LABEL " ISOL8_LABEL_BOOTSTRAP "=debootstrap", NULL};
	_cleanup_close_ int fd = -1;
	double t0;
	int r = -1;

	if (geteuid() != 0)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "bootstrapping %s:%s needs root (debootstrap)", repo, tag);
	if (mirror) {
		if (!isol8_mirror_url_ok(mirror))
			return isol8_err_set(err, ISOL8_E_USAGE, 0,
					     "invalid mirror URL (expected http(s):// or file:///)");
		url = xstrdup(mirror);
	} else if (isol8_apt_mirror_from_host(&url, err) < 0) {
		return -1;
	}
	if (!mkdtemp(tmp))
		return isol8_err_set(err, ISOL8_E_IO, errno, "mkdtemp %s", tmp);
	rootfs = xasprintf("%s/rootfs", tmp);
	log = xasprintf("%s/debootstrap.log", tmp);
	tarpath = xasprintf("%s/rootfs.tar", tmp);

	printf("[..] bootstrap: debootstrap --variant=minbase %s %s %s\n", ISOL8_BOOTSTRAP_SUITE, rootfs, url);
	fflush(stdout);
	t0 = clock_mono_s();
	if (run_debootstrap(rootfs, url, log, err) < 0)
		goto out;
	printf("[OK] bootstrap: debootstrap finished in %.1f s\n", clock_mono_s() - t0);
	t0 = clock_mono_s();
	if (tar_rootfs(rootfs, tarpath, err) < 0)
		goto out;
	fd = open(tarpath, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		isol8_err_set(err, ISOL8_E_IO, errno, "open %s", tarpath);
		goto out;
	}
	if (docker_image_import(d, fd, repo, tag, changes, err) < 0)
		goto out;
	printf("[OK] bootstrap: imported %s:%s in %.1f s\n", repo, tag, clock_mono_s() - t0);
	r = 0;
out:
	if (r < 0)
		isol8_err_wrap(err, "bootstrap %s:%s", repo, tag);
	remove_tree(tmp);
	return r;
}
