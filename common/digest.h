/*
 * digest.h: SHA-256 (OpenSSL's libcrypto, for its SHA instructions), and the encryption of
 * off-site copies through libsodium (common/digest.c is the only file that includes sodium.h or
 * an OpenSSL header).
 * A runbook's revision, a procedure document's pin, an output stream's evidence digest: all are
 * SHA-256, written as 64 lowercase hex digits.
 */
#ifndef YB_DIGEST_H
#define YB_DIGEST_H

#include "yb.h"

#define YB_SHA256_LEN 32
#define YB_SHA256_HEX_LEN 65 /* with the NUL */

struct yb_sha256 {
	_Alignas(16) unsigned char state[128]; /* libcrypto's SHA256_CTX */
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

/* ---- encryption (off-site copies) ----
 * Sealed boxes (X25519 + XSalsa20-Poly1305, anonymous sender): anyone holding the public key can
 * seal, only the secret key opens. Secret streams (XChaCha20-Poly1305 secretstream): a sequence
 * of authenticated messages under one key whose order is bound (a reordered, dropped or
 * replayed message fails) and whose end is marked (a stream without its final message is
 * truncated). */
#define YB_BOX_KEY_LEN 32       /* public and secret keys alike */
#define YB_SEAL_OVERHEAD 48
#define YB_STREAM_KEY_LEN 32
#define YB_STREAM_HEADER_LEN 24
#define YB_STREAM_OVERHEAD 17

void yb_box_keypair(unsigned char pk[YB_BOX_KEY_LEN], unsigned char sk[YB_BOX_KEY_LEN]);
/* The public key of a secret key. */
void yb_box_public(const unsigned char sk[YB_BOX_KEY_LEN], unsigned char pk[YB_BOX_KEY_LEN]);
/* out gets len + YB_SEAL_OVERHEAD bytes. */
void yb_seal(unsigned char *out, const unsigned char *msg, size_t len,
	     const unsigned char pk[YB_BOX_KEY_LEN]);
/* out gets sealed_len - YB_SEAL_OVERHEAD bytes; YB_EPERM when the keys do not open it. */
int yb_seal_open(unsigned char *out, const unsigned char *sealed, size_t sealed_len,
		 const unsigned char pk[YB_BOX_KEY_LEN], const unsigned char sk[YB_BOX_KEY_LEN],
		 struct yb_err *err);

struct yb_stream {
	_Alignas(16) unsigned char state[64]; /* libsodium's secretstream state */
};

void yb_stream_key(unsigned char key[YB_STREAM_KEY_LEN]);
/* Starts an encrypting stream; header (random) must be stored before the messages. The state
 * may be copied (struct assignment) to encrypt again from that point with the same output. */
void yb_stream_push_init(struct yb_stream *s, unsigned char header[YB_STREAM_HEADER_LEN],
			 const unsigned char key[YB_STREAM_KEY_LEN]);
/* out gets len + YB_STREAM_OVERHEAD bytes; ad (may be NULL) is authenticated, not stored. */
void yb_stream_push(struct yb_stream *s, unsigned char *out, const void *msg, size_t len,
		    const void *ad, size_t ad_len, bool final);
int yb_stream_pull_init(struct yb_stream *s, const unsigned char header[YB_STREAM_HEADER_LEN],
			const unsigned char key[YB_STREAM_KEY_LEN], struct yb_err *err);
/* out gets clen - YB_STREAM_OVERHEAD bytes; *final says whether it was the last message.
 * YB_EINVAL when the message is forged, altered, out of order or not from this stream. */
int yb_stream_pull(struct yb_stream *s, unsigned char *out, const unsigned char *c, size_t clen,
		   const void *ad, size_t ad_len, bool *final, struct yb_err *err);

/* ---- signatures (evidence checkpoints) ----
 * Ed25519 (libsodium crypto_sign): the secret key signs a checkpoint of the evidence chain's
 * head; anyone holding the public key checks it. Detached signatures of YB_SIGN_LEN bytes. */
#define YB_SIGN_PUBLIC_LEN 32
#define YB_SIGN_SECRET_LEN 64
#define YB_SIGN_LEN 64

void yb_sign_keypair(unsigned char pk[YB_SIGN_PUBLIC_LEN], unsigned char sk[YB_SIGN_SECRET_LEN]);
/* The public key that belongs to a secret key. */
void yb_sign_public(const unsigned char sk[YB_SIGN_SECRET_LEN], unsigned char pk[YB_SIGN_PUBLIC_LEN]);
void yb_sign(unsigned char sig[YB_SIGN_LEN], const void *msg, size_t len,
	     const unsigned char sk[YB_SIGN_SECRET_LEN]);
/* true when sig is pk's signature of msg. */
bool yb_sign_verify(const unsigned char sig[YB_SIGN_LEN], const void *msg, size_t len,
		    const unsigned char pk[YB_SIGN_PUBLIC_LEN]);

#endif
