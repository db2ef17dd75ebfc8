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

/* Streams (backups): the output goes to a sink as it is produced. A sink returns 0, or a negative
 * YB_E* code with err set, which stops the stream and is returned by the call that fed it. */
typedef int (*yb_sink_fn)(void *ctx, const void *data, size_t len, struct yb_err *err);

struct yb_zstd_enc;
/* A compressor at level (1..19) with threads workers (0: one per online CPU); when the installed
 * libzstd has no multi-threading, it compresses on the calling thread. *threads_used (may be
 * NULL) gets the number of workers in use (0: the calling thread). */
struct yb_zstd_enc *yb_zstd_enc_new(int level, int threads, int *threads_used);
int yb_zstd_enc_write(struct yb_zstd_enc *e, const void *data, size_t len, yb_sink_fn sink,
		      void *ctx, struct yb_err *err);
/* Ends the frame and flushes everything to the sink. */
int yb_zstd_enc_finish(struct yb_zstd_enc *e, yb_sink_fn sink, void *ctx, struct yb_err *err);
void yb_zstd_enc_free(struct yb_zstd_enc *e);

struct yb_zstd_dec;
/* A decompressor whose window is at most 128 MiB (a frame asking for more is refused). */
struct yb_zstd_dec *yb_zstd_dec_new(void);
int yb_zstd_dec_write(struct yb_zstd_dec *d, const void *data, size_t len, yb_sink_fn sink,
		      void *ctx, struct yb_err *err);
/* YB_EINVAL when the input ended inside a frame (a truncated file) or held no frame at all. */
int yb_zstd_dec_finish(struct yb_zstd_dec *d, struct yb_err *err);
void yb_zstd_dec_free(struct yb_zstd_dec *d);

#endif
