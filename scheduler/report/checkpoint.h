/*
 * checkpoint.h: signed heads of the evidence chain (`yoban checkpoint`, `yoban verify
 * --checkpoint`), Ed25519 through common/digest.h.
 *
 * A checkpoint file is JSON:
 *   {"format": "yoban-checkpoint/1", "site": "<yoban.site.id>", "seq": N, "hash": "<64 hex>",
 *    "signed_at": "YYYY-MM-DDTHH:MM:SS.ffffffZ", "public_key": "<64 hex>", "signature": "<128 hex>"}
 * and the signature covers this text, every line ending in one LF, nothing else:
 *   yoban-checkpoint/1
 *   site <site>
 *   seq <N in decimal>
 *   hash <64 lowercase hex>
 *   signed_at <signed_at>
 *
 * Key files (`yoban checkpoint keygen -o KEYFILE`): KEYFILE holds the 64-byte Ed25519 secret key
 * as 128 hex digits and a newline (mode 0600, read only when private to its owner); KEYFILE.pub
 * the 32-byte public key as 64 hex digits and a newline. The secret key never enters the database.
 */
#ifndef YB_CHECKPOINT_H
#define YB_CHECKPOINT_H

#include "digest.h"
#include "yb.h"

#include <stdint.h>

#define YB_CHECKPOINT_FORMAT "yoban-checkpoint/1"

struct yb_checkpoint {
	char site[64];
	int64_t seq;
	char hash[2 * YB_SHA256_LEN + 1];
	char signed_at[32];
	char public_key[2 * YB_SIGN_PUBLIC_LEN + 1];
	char signature[2 * YB_SIGN_LEN + 1];
};

/* The signed text (above); the caller frees it. */
char *yb_checkpoint_message(const struct yb_checkpoint *cp);
/* Fills public_key and signature from the secret key. */
void yb_checkpoint_sign(struct yb_checkpoint *cp, const unsigned char sk[YB_SIGN_SECRET_LEN]);
/* Checks the signature, and that it was made by pinned (when not NULL). YB_EPERM naming what is
 * wrong otherwise. */
int yb_checkpoint_check(const struct yb_checkpoint *cp,
			const unsigned char pinned[YB_SIGN_PUBLIC_LEN], struct yb_err *err);

/* The checkpoint as the JSON text of a file (indented, newline-terminated); the caller frees. */
char *yb_checkpoint_json(const struct yb_checkpoint *cp);
/* Parses a checkpoint file's text; YB_EINVAL naming the field when it is not one. */
int yb_checkpoint_parse(const char *text, size_t len, struct yb_checkpoint *out, struct yb_err *err);
/* Reads and parses a checkpoint file. */
int yb_checkpoint_load(const char *path, struct yb_checkpoint *out, struct yb_err *err);

/* Makes a key pair: path (secret, 0600) and path.pub; YB_EEXIST when either exists already. */
int yb_checkpoint_keygen(const char *path, unsigned char pk[YB_SIGN_PUBLIC_LEN], struct yb_err *err);
/* Reads a secret key file (it must be private to its owner). */
int yb_checkpoint_load_secret(const char *path, unsigned char sk[YB_SIGN_SECRET_LEN],
			      struct yb_err *err);
/* A public key given as 64 hex digits, or the path of a .pub file holding them. */
int yb_checkpoint_load_public(const char *file_or_hex, unsigned char pk[YB_SIGN_PUBLIC_LEN],
			      struct yb_err *err);

/* Decodes exactly n bytes from 2n lowercase or uppercase hex digits; false otherwise. */
bool yb_unhex_n(const char *text, size_t n, unsigned char *out);

#endif
