/* SHA-256 (FIPS 180-4), self-contained: the broker chains its audit log with it and links no
 * crypto library; the CLI's verifier and the worker's code hash use the same code. */
#ifndef ISOL8_SHA256_H
#define ISOL8_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define ISOL8_SHA256_LEN 32
#define ISOL8_SHA256_HEXLEN 65 /* 64 lowercase hex digits + NUL */

struct isol8_sha256 {
	uint32_t h[8];
	uint64_t bytes;
	uint8_t block[64];
	size_t fill;
};

void isol8_sha256_init(struct isol8_sha256 *c);
void isol8_sha256_update(struct isol8_sha256 *c, const void *data, size_t len);
void isol8_sha256_final(struct isol8_sha256 *c, uint8_t out[ISOL8_SHA256_LEN]);
/* One-shot digest as lowercase hex. */
void isol8_sha256_hexdigest(const void *data, size_t len, char hex[ISOL8_SHA256_HEXLEN]);

#endif
