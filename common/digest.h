/*
 * digest.h: SHA-256 (through libsodium; common/digest.c is the only file that includes sodium.h).
 * A runbook's revision, a procedure document's pin, an output stream's evidence digest: all are
 * SHA-256, written as 64 lowercase hex digits.
 */
#ifndef YB_DIGEST_H
#define YB_DIGEST_H

#include "yb.h"

#define YB_SHA256_LEN 32
#define YB_SHA256_HEX_LEN 65 /* with the NUL */

struct yb_sha256 {
	_Alignas(16) unsigned char state[128]; /* libsodium's crypto_hash_sha256_state */
};

void yb_sha256_init(struct yb_sha256 *h);
void yb_sha256_update(struct yb_sha256 *h, const void *data, size_t len);
void yb_sha256_final(struct yb_sha256 *h, unsigned char out[YB_SHA256_LEN]);
void yb_sha256(const void *data, size_t len, unsigned char out[YB_SHA256_LEN]);
void yb_hex(const unsigned char *bytes, size_t len, char *out /* 2*len+1 */);
/* SHA-256 of data as hex, into out[YB_SHA256_HEX_LEN]. */
void yb_sha256_hex(const void *data, size_t len, char out[YB_SHA256_HEX_LEN]);
/* Base64 without padding, as OpenSSH prints fingerprints ("SHA256:..."). out needs 4*len/3+4. */
void yb_base64_nopad(const unsigned char *bytes, size_t len, char *out, size_t out_size);
/* Standard base64 with padding (RFC 4648 section 4); the caller frees the result. */
char *yb_base64(const void *bytes, size_t len);
/* Decodes standard base64 (padding required, no white space) into a new buffer with a NUL after
 * the bytes (not counted in *len); the caller frees it. YB_EINVAL when text is not base64. */
int yb_base64_decode(const char *text, unsigned char **out, size_t *len, struct yb_err *err);
/* Overwrites n bytes at p with zeros in a way the compiler keeps (a secret's copy before free). */
void yb_wipe(void *p, size_t n);
/* Fills buf with random bytes. */
void yb_random_bytes(void *buf, size_t len);

#endif
