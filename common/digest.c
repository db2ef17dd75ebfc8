/*
 * digest.c: SHA-256 (through OpenSSL's libcrypto), base64, randomness and the encryption of
 * off-site copies (sealed boxes, secretstream) through libsodium: the only file that includes
 * sodium.h or an OpenSSL header. A revision, a procedure
 * pin and an output digest are all computed here.
 */
#include "digest.h"

/* SHA-256 itself comes from OpenSSL's libcrypto (already beside libssh2): it uses the CPU's SHA
 * instructions, several times faster than libsodium's portable code, and backups hash every byte
 * more than once. The low-level SHA256_* calls keep the state in our struct, with no allocation. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(SHA256_CTX) <= sizeof(((struct yb_sha256 *)0)->state),
	       "struct yb_sha256 too small for libcrypto's state");

_Static_assert(sizeof(crypto_secretstream_xchacha20poly1305_state) <=
		       sizeof(((struct yb_stream *)0)->state),
	       "struct yb_stream too small for libsodium's state");
_Static_assert(crypto_sign_PUBLICKEYBYTES == YB_SIGN_PUBLIC_LEN &&
		       crypto_sign_SECRETKEYBYTES == YB_SIGN_SECRET_LEN && crypto_sign_BYTES == YB_SIGN_LEN,
	       "Ed25519 sizes");
_Static_assert(crypto_box_PUBLICKEYBYTES == YB_BOX_KEY_LEN && crypto_box_SECRETKEYBYTES == YB_BOX_KEY_LEN &&
		       crypto_box_SEALBYTES == YB_SEAL_OVERHEAD &&
		       crypto_secretstream_xchacha20poly1305_KEYBYTES == YB_STREAM_KEY_LEN &&
		       crypto_secretstream_xchacha20poly1305_HEADERBYTES == YB_STREAM_HEADER_LEN &&
		       crypto_secretstream_xchacha20poly1305_ABYTES == YB_STREAM_OVERHEAD,
	       "libsodium sizes differ from digest.h");

static void ensure_init(void)
{
	static int done;
	if (!done) {
		if (sodium_init() < 0)
			BUG("sodium_init failed");
		done = 1;
	}
}

void yb_sha256_init(struct yb_sha256 *h)
{
	SHA256_Init((SHA256_CTX *)h->state);
}

void yb_sha256_update(struct yb_sha256 *h, const void *data, size_t len)
{
	SHA256_Update((SHA256_CTX *)h->state, data, len);
}

void yb_sha256_final(struct yb_sha256 *h, unsigned char out[YB_SHA256_LEN])
{
	SHA256_Final(out, (SHA256_CTX *)h->state);
}

void yb_sha256(const void *data, size_t len, unsigned char out[YB_SHA256_LEN])
{
	SHA256(data, len, out);
}

void yb_hex(const unsigned char *bytes, size_t len, char *out)
{
	sodium_bin2hex(out, len * 2 + 1, bytes, len);
}

void yb_sha256_hex(const void *data, size_t len, char out[YB_SHA256_HEX_LEN])
{
	unsigned char d[YB_SHA256_LEN];
	yb_sha256(data, len, d);
	yb_hex(d, sizeof(d), out);
}

void yb_base64_nopad(const unsigned char *bytes, size_t len, char *out, size_t out_size)
{
	ensure_init();
	if (out_size < sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL_NO_PADDING))
		BUG("base64 output buffer too small");
	sodium_bin2base64(out, out_size, bytes, len, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
}

char *yb_base64(const void *bytes, size_t len)
{
	ensure_init();
	size_t size = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	char *out = xmalloc(size);
	sodium_bin2base64(out, size, bytes, len, sodium_base64_VARIANT_ORIGINAL);
	return out;
}

int yb_base64_decode(const char *text, unsigned char **out, size_t *len, struct yb_err *err)
{
	ensure_init();
	size_t text_len = strlen(text);
	unsigned char *bytes = xmalloc(text_len / 4 * 3 + 1);
	size_t n = 0;
	const char *end = NULL;
	if (sodium_base642bin(bytes, text_len / 4 * 3 + 1, text, text_len, NULL, &n, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 || end != text + text_len) {
		free(bytes);
		return yb_err_set(err, YB_EINVAL, "not base64 (standard alphabet, with padding)");
	}
	bytes[n] = '\0';
	*out = bytes;
	*len = n;
	return 0;
}

void yb_wipe(void *p, size_t n)
{
	if (p && n)
		sodium_memzero(p, n);
}

void yb_random_bytes(void *buf, size_t len)
{
	ensure_init();
	randombytes_buf(buf, len);
}

void yb_box_keypair(unsigned char pk[YB_BOX_KEY_LEN], unsigned char sk[YB_BOX_KEY_LEN])
{
	ensure_init();
	crypto_box_keypair(pk, sk);
}

void yb_box_public(const unsigned char sk[YB_BOX_KEY_LEN], unsigned char pk[YB_BOX_KEY_LEN])
{
	ensure_init();
	crypto_scalarmult_base(pk, sk);
}

void yb_seal(unsigned char *out, const unsigned char *msg, size_t len,
	     const unsigned char pk[YB_BOX_KEY_LEN])
{
	ensure_init();
	if (crypto_box_seal(out, msg, len, pk) != 0)
		BUG("crypto_box_seal failed");
}

int yb_seal_open(unsigned char *out, const unsigned char *sealed, size_t sealed_len,
		 const unsigned char pk[YB_BOX_KEY_LEN], const unsigned char sk[YB_BOX_KEY_LEN],
		 struct yb_err *err)
{
	ensure_init();
	if (sealed_len < YB_SEAL_OVERHEAD || crypto_box_seal_open(out, sealed, sealed_len, pk, sk) != 0)
		return yb_err_set(err, YB_EPERM, "the key does not open this copy (another recipient's "
				  "key, or the copy's key block was altered)");
	return 0;
}

void yb_stream_key(unsigned char key[YB_STREAM_KEY_LEN])
{
	ensure_init();
	crypto_secretstream_xchacha20poly1305_keygen(key);
}

void yb_stream_push_init(struct yb_stream *s, unsigned char header[YB_STREAM_HEADER_LEN],
			 const unsigned char key[YB_STREAM_KEY_LEN])
{
	ensure_init();
	crypto_secretstream_xchacha20poly1305_init_push(
		(crypto_secretstream_xchacha20poly1305_state *)s->state, header, key);
}

void yb_stream_push(struct yb_stream *s, unsigned char *out, const void *msg, size_t len,
		    const void *ad, size_t ad_len, bool final)
{
	if (crypto_secretstream_xchacha20poly1305_push(
		    (crypto_secretstream_xchacha20poly1305_state *)s->state, out, NULL, msg, len, ad,
		    ad_len, final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0) != 0)
		BUG("secretstream push failed");
}

int yb_stream_pull_init(struct yb_stream *s, const unsigned char header[YB_STREAM_HEADER_LEN],
			const unsigned char key[YB_STREAM_KEY_LEN], struct yb_err *err)
{
	ensure_init();
	if (crypto_secretstream_xchacha20poly1305_init_pull(
		    (crypto_secretstream_xchacha20poly1305_state *)s->state, header, key) != 0)
		return yb_err_set(err, YB_EINVAL, "the copy's stream header is invalid");
	return 0;
}

int yb_stream_pull(struct yb_stream *s, unsigned char *out, const unsigned char *c, size_t clen,
		   const void *ad, size_t ad_len, bool *final, struct yb_err *err)
{
	unsigned char tag = 0;
	if (clen < YB_STREAM_OVERHEAD ||
	    crypto_secretstream_xchacha20poly1305_pull(
		    (crypto_secretstream_xchacha20poly1305_state *)s->state, out, NULL, &tag, c, clen,
		    ad, ad_len) != 0)
		return yb_err_set(err, YB_EINVAL, "a record does not authenticate (the copy was "
				  "altered, reordered or is not from this stream)");
	*final = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
	return 0;
}

void yb_sign_keypair(unsigned char pk[YB_SIGN_PUBLIC_LEN], unsigned char sk[YB_SIGN_SECRET_LEN])
{
	ensure_init();
	crypto_sign_keypair(pk, sk);
}

void yb_sign_public(const unsigned char sk[YB_SIGN_SECRET_LEN], unsigned char pk[YB_SIGN_PUBLIC_LEN])
{
	ensure_init();
	crypto_sign_ed25519_sk_to_pk(pk, sk);
}

void yb_sign(unsigned char sig[YB_SIGN_LEN], const void *msg, size_t len,
	     const unsigned char sk[YB_SIGN_SECRET_LEN])
{
	ensure_init();
	if (crypto_sign_detached(sig, NULL, msg, len, sk) != 0)
		BUG("crypto_sign_detached failed");
}

bool yb_sign_verify(const unsigned char sig[YB_SIGN_LEN], const void *msg, size_t len,
		    const unsigned char pk[YB_SIGN_PUBLIC_LEN])
{
	ensure_init();
	return crypto_sign_verify_detached(sig, msg, len, pk) == 0;
}
