/* Decoding the FE_RUN bundle: a tar (cli/run_bundle.h) with the optional entries `code`,
 * `stdin` and `files/<relative path>`, sent by a client of a worker that other tenants share.
 *
 * Every size in the tar is a claim. A 10 KiB tar declaring a 16 GiB sparse file once made the
 * worker fill its holes until it aborted on out-of-memory, taking every tenant's sessions with
 * it. So: nothing is allocated by a declared size; decoded bytes are counted as they are copied,
 * per entry and in total, and the limits are checked before each copy; only regular files and
 * directories are accepted (no links, devices, FIFOs, sockets), sparse entries never; entry
 * counts and name lengths are bounded. */
#ifndef ISOL8_WORKER_BUNDLE_H
#define ISOL8_WORKER_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

#define BUNDLE_RAW_MAX (256u << 20)  /* bytes of tar read from the bundle fd */
#define BUNDLE_CODE_MAX (16u << 20)  /* = the CLI's RUN_MAX_CODE */
#define BUNDLE_STDIN_MAX (64u << 20) /* = the CLI's RUN_MAX_STDIN */
#define BUNDLE_MAX_FILES 10000u      /* files/ entries */
#define BUNDLE_MAX_ENTRIES 20000u    /* headers of any kind, directories included */
#define BUNDLE_NAME_MAX 1024u        /* = ISOL8_MAX_PATH, "files/" included */

struct bundle_limits {
	size_t code_max, stdin_max; /* decoded bytes of `code`, of `stdin` */
	size_t file_max;            /* decoded bytes of one files/ entry */
	size_t files_total;         /* decoded bytes of all files/ entries together */
	size_t total;               /* decoded bytes of everything */
	size_t max_files, max_entries, name_max;
};

/* The limits for a run whose /sandbox holds sandbox_size bytes: the files may not exceed it
 * (nor BUNDLE_RAW_MAX: without holes a tar never decodes to more than it holds). */
void bundle_limits_for(struct bundle_limits *l, uint64_t sandbox_size);

struct bundle {
	struct isol8_buf code, stdin_data;
	bool has_code, has_stdin;   /* the entry was present (possibly empty) */
	struct isol8_buf files_tar; /* files/ re-packed for /sandbox (owned by 100:101) */
	size_t n_files;
};

/* Decode the tar in raw (consumed: freed before the files are re-packed, so at most two copies
 * are alive) into *out (zeroed first). On failure *out is left empty and err says why:
 * ISOL8_E_LIMIT for a limit, ISOL8_E_USAGE for a malformed or refused entry. */
int bundle_decode(struct isol8_buf *raw, const struct bundle_limits *l, struct bundle *out, struct isol8_err *err);
void bundle_free(struct bundle *b);

/* All connections of a worker together may hold at most BUNDLE_BUDGET bytes of bundles being
 * read and decoded (charged twice a bundle's size: the raw tar, then the decoded files and
 * their re-packed tar). Beyond it a request is refused, to be retried, instead of letting a
 * dozen concurrent 256 MiB bundles take the shared worker past its memory. */
#define BUNDLE_BUDGET (1ull << 30)
/* Charge n bytes; false (nothing charged) when that would exceed the budget. */
bool bundle_budget_take(uint64_t n);
void bundle_budget_give(uint64_t n);

#endif
