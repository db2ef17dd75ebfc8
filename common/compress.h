/*
 * compress.h: zstd compression (common/compress.c is the only file that includes zstd.h).
 * Decompression is always capped: a frame that would expand past max_out is refused, so a
 * hostile peer cannot make us allocate without bound.
 */
#ifndef YB_COMPRESS_H
#define YB_COMPRESS_H

#include "buf.h"
#include "yb.h"

/* Appends one zstd frame holding data to out. */
int yb_zstd_compress(struct yb_buf *out, const void *data, size_t len, int level, struct yb_err *err);
/* Appends the decompressed content of one or more zstd frames to out, refusing (YB_ENOMEM) to
 * produce more than max_out bytes. */
int yb_zstd_decompress(struct yb_buf *out, const void *data, size_t len, size_t max_out,
		       struct yb_err *err);

#endif
