/*
 * compress.c: the zstd wrapper (the only file that includes zstd.h).
 *
 * The one idea: decompression never trusts the frame. Output is produced in bounded pieces and
 * counted against the caller's max_out, and the decoder's window is limited to what max_out could
 * need, so neither a "zstd bomb" nor a frame claiming a huge window can make us allocate without
 * bound. The contexts are kept between calls (the runner and the scheduler are single-threaded).
 */
#include "compress.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>
#include <zstd_errors.h>

static ZSTD_CCtx *cctx;
static ZSTD_DCtx *dctx;

/* The buffer back to the length it had, keeping its NUL terminator. */
static void buf_truncate(struct yb_buf *b, size_t len)
{
	b->len = len;
	if (b->data)
		b->data[len] = '\0';
}

int yb_zstd_compress(struct yb_buf *out, const void *data, size_t len, int level, struct yb_err *err)
{
	if (!cctx && !(cctx = ZSTD_createCCtx()))
		BUG("ZSTD_createCCtx failed");
	size_t bound = ZSTD_compressBound(len);
	if (ZSTD_isError(bound))
		return yb_err_set(err, YB_ENOMEM, "cannot compress %zu bytes: too large for zstd", len);
	char *dst = yb_buf_reserve(out, bound);
	if (!dst)
		return yb_err_set(err, YB_ENOMEM, "compressed data would exceed the buffer's cap of %zu bytes",
				  out->max);
	if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel())
		level = ZSTD_CLEVEL_DEFAULT;
	size_t n = ZSTD_compressCCtx(cctx, dst, bound, data, len, level);
	if (ZSTD_isError(n))
		return yb_err_set(err, YB_EIO, "zstd compression failed: %s", ZSTD_getErrorName(n));
	yb_buf_commit(out, n);
	return 0;
}

/* The smallest window log (within zstd's limits) that covers max_out, but never below 1 MiB so
 * that frames from an ordinary compressor are accepted. */
static int window_log_for(size_t max_out)
{
	int log = 20;
	while (log < 27 && ((size_t)1 << log) < max_out)
		log++;
	return log;
}

int yb_zstd_decompress(struct yb_buf *out, const void *data, size_t len, size_t max_out,
		       struct yb_err *err)
{
	size_t old_len = out->len;
	size_t produced = 0;
	int rc = 0;

	if (len == 0)
		return yb_err_set(err, YB_EINVAL, "empty zstd data (expected at least one frame)");
	if (!dctx && !(dctx = ZSTD_createDCtx()))
		BUG("ZSTD_createDCtx failed");
	ZSTD_DCtx_reset(dctx, ZSTD_reset_session_and_parameters);
	size_t set = ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, window_log_for(max_out));
	if (ZSTD_isError(set))
		BUG("ZSTD_d_windowLogMax: %s", ZSTD_getErrorName(set));

	ZSTD_inBuffer in = { data, len, 0 };
	for (;;) {
		/* Room for one byte beyond max_out, so that a frame producing more is caught. */
		size_t room = ZSTD_DStreamOutSize();
		if (max_out - produced < room)
			room = max_out - produced + 1;
		char *dst = yb_buf_reserve(out, room);
		if (!dst) {
			rc = yb_err_set(err, YB_ENOMEM,
					"decompressed data would exceed the buffer's cap of %zu bytes", out->max);
			goto out;
		}
		ZSTD_outBuffer o = { dst, room, 0 };
		size_t ret = ZSTD_decompressStream(dctx, &o, &in);
		if (ZSTD_isError(ret) && ZSTD_getErrorCode(ret) == ZSTD_error_frameParameter_windowTooLarge) {
			rc = yb_err_set(err, YB_ENOMEM, "zstd frame needs a window larger than the limit of "
					"%zu bytes allows", max_out);
			goto out;
		}
		if (ZSTD_isError(ret)) {
			rc = yb_err_set(err, YB_EINVAL, "bad zstd data: %s", ZSTD_getErrorName(ret));
			goto out;
		}
		yb_buf_commit(out, o.pos);
		produced += o.pos;
		if (produced > max_out) {
			rc = yb_err_set(err, YB_ENOMEM, "zstd data expands past the limit of %zu bytes",
					max_out);
			goto out;
		}
		/* 0: a frame is complete and flushed; with no input left, we are done. */
		if (ret == 0 && in.pos == in.size)
			break;
		if (in.pos == in.size && o.pos < o.size) {
			rc = yb_err_set(err, YB_EINVAL, "truncated zstd data (the last frame is incomplete)");
			goto out;
		}
	}
out:
	if (rc < 0)
		buf_truncate(out, old_len);
	return rc;
}

/* ---- streams ---------------------------------------------------------------------------- */

struct yb_zstd_enc {
	ZSTD_CCtx *cctx;
	void *out;
	size_t out_size;
};

struct yb_zstd_enc *yb_zstd_enc_new(int level, int threads, int *threads_used)
{
	struct yb_zstd_enc *e = xcalloc(1, sizeof(*e));
	if (!(e->cctx = ZSTD_createCCtx()))
		BUG("ZSTD_createCCtx failed");
	if (level < 1 || level > ZSTD_maxCLevel())
		level = ZSTD_CLEVEL_DEFAULT;
	ZSTD_CCtx_setParameter(e->cctx, ZSTD_c_compressionLevel, level);
	ZSTD_CCtx_setParameter(e->cctx, ZSTD_c_checksumFlag, 1);
	if (threads <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n > 0 ? (int)n : 1;
	}
	/* nbWorkers fails (and stays 0) on a libzstd built without multi-threading */
	int used = 0;
	if (!ZSTD_isError(ZSTD_CCtx_setParameter(e->cctx, ZSTD_c_nbWorkers, threads)))
		used = threads;
	if (threads_used)
		*threads_used = used;
	e->out_size = ZSTD_CStreamOutSize();
	e->out = xmalloc(e->out_size);
	return e;
}

static int enc_run(struct yb_zstd_enc *e, const void *data, size_t len, ZSTD_EndDirective mode,
		   yb_sink_fn sink, void *ctx, struct yb_err *err)
{
	ZSTD_inBuffer in = { data, len, 0 };
	for (;;) {
		ZSTD_outBuffer o = { e->out, e->out_size, 0 };
		size_t left = ZSTD_compressStream2(e->cctx, &o, &in, mode);
		if (ZSTD_isError(left))
			return yb_err_set(err, YB_EIO, "zstd compression failed: %s",
					  ZSTD_getErrorName(left));
		if (o.pos) {
			int rc = sink(ctx, e->out, o.pos, err);
			if (rc < 0)
				return rc;
		}
		if (mode == ZSTD_e_continue ? in.pos == in.size : left == 0)
			return 0;
	}
}

int yb_zstd_enc_write(struct yb_zstd_enc *e, const void *data, size_t len, yb_sink_fn sink,
		      void *ctx, struct yb_err *err)
{
	return enc_run(e, data, len, ZSTD_e_continue, sink, ctx, err);
}

int yb_zstd_enc_finish(struct yb_zstd_enc *e, yb_sink_fn sink, void *ctx, struct yb_err *err)
{
	return enc_run(e, NULL, 0, ZSTD_e_end, sink, ctx, err);
}

void yb_zstd_enc_free(struct yb_zstd_enc *e)
{
	if (!e)
		return;
	ZSTD_freeCCtx(e->cctx);
	free(e->out);
	free(e);
}

struct yb_zstd_dec {
	ZSTD_DCtx *dctx;
	void *out;
	size_t out_size;
	bool in_frame; /* the last call left a frame unfinished */
	bool any;      /* at least one byte of input */
};

struct yb_zstd_dec *yb_zstd_dec_new(void)
{
	struct yb_zstd_dec *d = xcalloc(1, sizeof(*d));
	if (!(d->dctx = ZSTD_createDCtx()))
		BUG("ZSTD_createDCtx failed");
	ZSTD_DCtx_setParameter(d->dctx, ZSTD_d_windowLogMax, 27);
	d->out_size = ZSTD_DStreamOutSize();
	d->out = xmalloc(d->out_size);
	return d;
}

int yb_zstd_dec_write(struct yb_zstd_dec *d, const void *data, size_t len, yb_sink_fn sink,
		      void *ctx, struct yb_err *err)
{
	ZSTD_inBuffer in = { data, len, 0 };
	if (len)
		d->any = true;
	while (in.pos < in.size) {
		ZSTD_outBuffer o = { d->out, d->out_size, 0 };
		size_t ret = ZSTD_decompressStream(d->dctx, &o, &in);
		if (ZSTD_isError(ret))
			return yb_err_set(err, YB_EINVAL, "bad zstd data: %s", ZSTD_getErrorName(ret));
		d->in_frame = ret != 0;
		if (o.pos) {
			int rc = sink(ctx, d->out, o.pos, err);
			if (rc < 0)
				return rc;
		}
		/* the decoder may hold more output than fit: drain it before taking more input */
		while (o.pos == o.size) {
			o.pos = 0;
			ZSTD_inBuffer none = { NULL, 0, 0 };
			ret = ZSTD_decompressStream(d->dctx, &o, &none);
			if (ZSTD_isError(ret))
				return yb_err_set(err, YB_EINVAL, "bad zstd data: %s",
						  ZSTD_getErrorName(ret));
			d->in_frame = ret != 0;
			if (o.pos) {
				int rc = sink(ctx, d->out, o.pos, err);
				if (rc < 0)
					return rc;
			}
		}
	}
	return 0;
}

int yb_zstd_dec_finish(struct yb_zstd_dec *d, struct yb_err *err)
{
	if (!d->any)
		return yb_err_set(err, YB_EINVAL, "empty zstd data (expected at least one frame)");
	if (d->in_frame)
		return yb_err_set(err, YB_EINVAL, "truncated zstd data (the last frame is incomplete)");
	return 0;
}

void yb_zstd_dec_free(struct yb_zstd_dec *d)
{
	if (!d)
		return;
	ZSTD_freeDCtx(d->dctx);
	free(d->out);
	free(d);
}
