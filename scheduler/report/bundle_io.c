/*
 * bundle_io.c: an evidence bundle's tar.zst stream, written and read (see bundle.h).
 *
 * The one idea: the two outside formats are each handled by their one wrapper (tar by
 * common/archive_io.c, zstd by common/compress.c) and joined here by a sink and a source, so a
 * bundle is never whole in memory on the way out, and on the way in the decompressed stream is
 * fed to the tar reader in pieces whose size is bounded: a small input can never make one piece
 * large (a zstd "bomb" is cut by the reader's total cap, a piece at a time).
 */
#include "bundle.h"

#include <stdlib.h>
#include <string.h>

/* ---- writing ------------------------------------------------------------------------------- */

struct yb_bundle_writer {
	struct aio_writer *tar;
	struct yb_zstd_enc *zstd;
	yb_sink_fn sink;
	void *sink_ctx;
	int64_t mtime_s;
	uint64_t written;
	struct yb_json *files; /* [{path, bytes, sha256}] */
};

static int counted_sink(void *ctx, const void *data, size_t len, struct yb_err *err)
{
	struct yb_bundle_writer *w = ctx;
	w->written += len;
	return w->sink(w->sink_ctx, data, len, err);
}

/* The tar stream's sink: compress, then hand on. */
static int tar_sink(void *ctx, const void *data, size_t len, struct yb_err *err)
{
	struct yb_bundle_writer *w = ctx;
	return yb_zstd_enc_write(w->zstd, data, len, counted_sink, w, err);
}

struct yb_bundle_writer *yb_bundle_writer_new(yb_sink_fn sink, void *sink_ctx, int64_t mtime_s,
					      struct yb_err *err)
{
	struct yb_bundle_writer *w = xcalloc(1, sizeof(*w));
	w->sink = sink;
	w->sink_ctx = sink_ctx;
	w->mtime_s = mtime_s;
	w->files = yb_json_array();
	w->zstd = yb_zstd_enc_new(9, 1, NULL);
	if (aio_writer_open(&w->tar, tar_sink, w, err) < 0) {
		yb_bundle_writer_free(w);
		return NULL;
	}
	return w;
}

int yb_bundle_add(struct yb_bundle_writer *w, const char *path, const void *data, size_t len,
		  struct yb_err *err)
{
	char hex[YB_SHA256_HEX_LEN];
	int rc = aio_writer_add(w->tar, path, data, len, w->mtime_s, err);
	if (rc < 0)
		return yb_err_prefix(err, "writing '%s' into the bundle", path);
	yb_sha256_hex(data, len, hex);
	struct yb_json *f = yb_json_object();
	yb_json_set(f, "path", yb_json_str(path));
	yb_json_set(f, "bytes", yb_json_int((int64_t)len));
	yb_json_set(f, "sha256", yb_json_str(hex));
	yb_json_push(w->files, f);
	return 0;
}

int yb_bundle_finish(struct yb_bundle_writer *w, const struct yb_json *head, struct yb_err *err)
{
	struct yb_json *m = yb_json_object();
	void *it = NULL;
	const char *key;
	struct yb_json *value;
	int rc;

	while (yb_json_next_member(head, &it, &key, &value))
		yb_json_set(m, key, yb_json_ref(value));
	yb_json_set(m, "files", yb_json_ref(w->files));
	char *text = yb_json_dump(m, YB_JSON_PRETTY);
	yb_json_free(m);
	size_t len = strlen(text);
	text[len] = '\0';
	rc = aio_writer_add(w->tar, "manifest.json", text, len, w->mtime_s, err);
	free(text);
	if (rc < 0)
		return rc;
	if ((rc = aio_writer_close(w->tar, err)) < 0)
		return rc;
	return yb_zstd_enc_finish(w->zstd, counted_sink, w, err);
}

void yb_bundle_writer_free(struct yb_bundle_writer *w)
{
	if (!w)
		return;
	aio_writer_free(w->tar);
	yb_zstd_enc_free(w->zstd);
	yb_json_free(w->files);
	free(w);
}

uint64_t yb_bundle_written(const struct yb_bundle_writer *w)
{
	return w->written;
}

size_t yb_bundle_files(const struct yb_bundle_writer *w)
{
	return yb_json_len(w->files);
}

/* ---- reading ------------------------------------------------------------------------------- */

/* Input is fed to the decoder this many bytes at a time, and what one piece decompresses to is
 * capped: zstd's largest expansion of 256 bytes stays far below the cap. */
#define IN_PIECE 256
#define OUT_CAP (64u << 20)

struct zsource {
	aio_source_fn raw;
	void *raw_ctx;
	struct yb_zstd_dec *dec;
	const unsigned char *in;
	size_t in_left;
	bool in_end;
	struct yb_buf out;
	uint64_t total;
};

static int out_sink(void *ctx, const void *data, size_t len, struct yb_err *err)
{
	struct zsource *z = ctx;
	if (yb_buf_append(&z->out, data, len) < 0)
		return yb_err_set(err, YB_ENOMEM, "the bundle's zstd stream expands too fast (over "
				  "%u bytes from %d)", OUT_CAP, IN_PIECE);
	z->total += len;
	return 0;
}

/* aio_source_fn over the decompressed stream. */
static ssize_t zsource_next(void *ctx, const void **data, struct yb_err *err)
{
	struct zsource *z = ctx;
	int rc;
	yb_buf_reset(&z->out);
	while (z->out.len == 0) {
		if (!z->in_left) {
			if (z->in_end) {
				if ((rc = yb_zstd_dec_finish(z->dec, err)) < 0) {
					yb_err_prefix(err, "the bundle is not a whole zstd stream");
					return rc;
				}
				return 0;
			}
			const void *p;
			ssize_t n = z->raw(z->raw_ctx, &p, err);
			if (n < 0)
				return n;
			if (n == 0) {
				z->in_end = true;
				continue;
			}
			z->in = p;
			z->in_left = (size_t)n;
		}
		size_t n = z->in_left < IN_PIECE ? z->in_left : IN_PIECE;
		if ((rc = yb_zstd_dec_write(z->dec, z->in, n, out_sink, z, err)) < 0) {
			if (rc == YB_EINVAL)
				yb_err_prefix(err, "the bundle's compressed stream is damaged");
			return rc;
		}
		z->in += n;
		z->in_left -= n;
		if (z->total > YB_BUNDLE_MAX_TOTAL + (YB_BUNDLE_MAX_TOTAL >> 4))
			return yb_err_set(err, YB_ENOMEM, "the bundle expands past %llu bytes",
					  (unsigned long long)YB_BUNDLE_MAX_TOTAL);
	}
	*data = z->out.data;
	return (ssize_t)z->out.len;
}

static bool json_member(const char *path)
{
	return !strcmp(path, "manifest.json") || !strcmp(path, "run.json") ||
	       !strcmp(path, "chain.jsonl");
}

int yb_bundle_read(aio_source_fn source, void *source_ctx, bool json_only, aio_file_fn on_file,
		   void *file_ctx, struct yb_err *err)
{
	const struct aio_limits lim = {
		.max_file = YB_BUNDLE_MAX_FILE,
		.max_total = YB_BUNDLE_MAX_TOTAL,
		.max_files = YB_BUNDLE_MAX_FILES,
		.max_kept = YB_BUNDLE_MAX_KEPT,
		.keep = json_only ? json_member : NULL,
	};
	struct zsource z = { .raw = source, .raw_ctx = source_ctx, .dec = yb_zstd_dec_new() };
	yb_buf_init(&z.out, OUT_CAP);
	int rc = aio_read_files(zsource_next, &z, &lim, on_file, file_ctx, err);
	if (rc == 0 && !z.in_end) {
		/* the tar stream ended: whatever follows must still be a whole zstd stream */
		const void *p;
		ssize_t n;
		while ((n = zsource_next(&z, &p, err)) > 0)
			;
		if (n < 0)
			rc = (int)n;
	}
	yb_zstd_dec_free(z.dec);
	yb_buf_release(&z.out);
	return rc;
}

/* ---- names --------------------------------------------------------------------------------- */

static void append_safe(struct yb_buf *b, const char *s)
{
	for (const char *p = s ? s : ""; *p; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '.' || c == '_' || c == '-';
		yb_buf_append(b, ok ? &c : "_", 1);
	}
}

char *yb_bundle_output_name(int64_t job_id, const char *step, const char *host, bool stderr_)
{
	struct yb_buf b;
	yb_buf_init(&b, 0);
	yb_buf_appendf(&b, "outputs/%lld-", (long long)job_id);
	append_safe(&b, step);
	yb_buf_append(&b, "-", 1);
	append_safe(&b, host);
	yb_buf_appendf(&b, "%s", stderr_ ? ".stderr" : ".stdout");
	return yb_buf_detach(&b, NULL);
}

char *yb_bundle_artifact_name(int64_t job_id, const char *name)
{
	struct yb_buf b;
	yb_buf_init(&b, 0);
	yb_buf_appendf(&b, "artifacts/%lld-", (long long)job_id);
	append_safe(&b, name);
	yb_buf_append(&b, ".csv", 4);
	return yb_buf_detach(&b, NULL);
}
