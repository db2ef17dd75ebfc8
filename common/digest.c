/*
 * digest.c: SHA-256, base64 and randomness through libsodium, the only file that includes
 * sodium.h. A revision, a procedure pin and an output digest are all computed here.
 */
#include "digest.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(crypto_hash_sha256_state) <= sizeof(((struct yb_sha256 *)0)->state),
	       "struct yb_sha256 too small for libsodium's state");

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
	ensure_init();
	crypto_hash_sha256_init((crypto_hash_sha256_state *)h->state);
}

void yb_sha256_update(struct yb_sha256 *h, const void *data, size_t len)
{
	crypto_hash_sha256_update((crypto_hash_sha256_state *)h->state, data, len);
}

void yb_sha256_final(struct yb_sha256 *h, unsigned char out[YB_SHA256_LEN])
{
	crypto_hash_sha256_final((crypto_hash_sha256_state *)h->state, out);
}

void yb_sha256(const void *data, size_t len, unsigned char out[YB_SHA256_LEN])
{
	ensure_init();
	crypto_hash_sha256(out, data, len);
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
