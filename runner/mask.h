/*
 * mask.h: masking secret values in a stream of output before it is spooled.
 *
 * A masker sees one stream (stdout or stderr) in arbitrary pieces and replaces every occurrence of
 * a secret with MASK_TEXT, even one split across two pieces: it holds back the tail of a piece
 * that could still be the start of a secret (at most the longest secret less one byte) until the
 * next piece or the end of the stream decides. At one position the longest matching secret wins.
 * The secrets are borrowed; they must outlive the masker.
 */
#ifndef YB_MASK_H
#define YB_MASK_H

#include "buf.h"
#include "yb.h"

#define MASK_TEXT "********"
#define MASK_MAX_SECRETS 256
#define MASK_MAX_SECRET_LEN 4096

struct mask {
	const char **secrets; /* sorted longest first; empty ones left out */
	size_t *lens;
	size_t n;
	bool first[256];      /* bytes a secret starts with: all others are skipped fast */
	struct yb_buf held;   /* a possible prefix of a secret, waiting for more bytes */
};

/* The caller receives masked bytes through this. */
typedef void (*mask_emit_fn)(void *ctx, const void *data, size_t len);

void mask_init(struct mask *m, const char *const *secrets, size_t n_secrets);
void mask_release(struct mask *m);
/* Masks data and emits what is decided; may hold back a tail. */
void mask_feed(struct mask *m, const void *data, size_t len, mask_emit_fn emit, void *ctx);
/* End of the stream: emits what was held back (no secret can match it any more). */
void mask_flush(struct mask *m, mask_emit_fn emit, void *ctx);

#endif
