/*
 * stream.h: the byte paths of the backup steps, each digesting what passes.
 *
 *   writing:  content -> [SHA-256, count] -> zstd -> [SHA-256, count] -> file (fd)
 *   reading:  file (fd) -> [SHA-256, count] -> unzstd -> [SHA-256, count] -> a pull source
 *
 * and progress: one line on stderr, rewritten at most five times a second, only when asked
 * (a terminal: isatty, or the job spec's "progress"); never in a pipe or a journal.
 */
#ifndef YB_STREAM_H
#define YB_STREAM_H

#include <sys/types.h>

#include "compress.h"
#include "digest.h"
#include "yb.h"

struct progress {
	bool on;
	const char *what;      /* "backup", "verify", "restore" */
	int64_t start_ms, last_ms;
	uint64_t bytes, files;
	uint64_t total_bytes;  /* 0: unknown (no time left shown) */
};

void progress_start(struct progress *p, bool on, const char *what, uint64_t total_bytes);
void progress_tick(struct progress *p);
void progress_end(struct progress *p);

/* The writing path (see above). */
struct wstream {
	int fd;
	const char *path;
	struct yb_zstd_enc *enc;
	struct yb_sha256 content_sha, data_sha;
	uint64_t content_bytes, data_bytes;
	struct progress *progress;
	bool skip_content_sha; /* a folder's tar stream: its entries have digests of their own */
};

int wstream_open(struct wstream *w, const char *path, int level, int threads, int *threads_used,
		 struct yb_err *err);
/* A yb_sink_fn taking content (ctx is the wstream). */
int wstream_write(void *ctx, const void *data, size_t len, struct yb_err *err);
/* Ends the frame, fsyncs and closes the file, drops it from the page cache (so that a read-back
 * reads the disk), and gives the digests as hex. */
int wstream_finish(struct wstream *w, char content_hex[YB_SHA256_HEX_LEN],
		   char data_hex[YB_SHA256_HEX_LEN], struct yb_err *err);
void wstream_abort(struct wstream *w);

/* The reading path (see above). The bytes come from a file, or from a raw source (a decrypted
 * off-site copy). */
typedef ssize_t (*rstream_raw_fn)(void *ctx, const void **data, struct yb_err *err);
struct rstream_block;
/* The reading, the file digest, the decompression and the content digest run on a thread of
 * their own from the first rstream_read, handing decompressed blocks (a few, bounded) to the
 * caller's thread, which parses and extracts: two cores work on one restore. A raw source is
 * called on that thread only. The struct must not move once read from. */
struct rstream {
	int fd;
	rstream_raw_fn raw;
	void *raw_ctx;
	const char *path;
	struct yb_zstd_dec *dec;
	struct yb_sha256 content_sha, data_sha; /* the worker's until it is joined */
	bool skip_content_sha;                  /* set before the first read: see wstream */
	uint64_t content_bytes, data_bytes;
	char *in;
	struct rstream_block *filling;          /* the worker's block being filled */
	struct progress *progress;
	/* between the threads, under lock */
	void *sync;                             /* pthread mutex, condition, queue */
	struct rstream_block *current;          /* the block the caller holds */
	bool started, joined;
	int worker_rc;
	struct yb_err worker_err;
};

int rstream_open(struct rstream *r, const char *path, struct yb_err *err);
/* The same over a raw source; name is for messages. */
void rstream_open_source(struct rstream *r, const char *name, rstream_raw_fn raw, void *ctx);
/* An aio_source_fn (ctx is the rstream): the next piece of uncompressed content. */
ssize_t rstream_read(void *ctx, const void **data, struct yb_err *err);
/* Reads what is left, then gives the digests as hex; YB_EINVAL if the zstd frame is cut short. */
int rstream_finish(struct rstream *r, char content_hex[YB_SHA256_HEX_LEN],
		   char data_hex[YB_SHA256_HEX_LEN], struct yb_err *err);
void rstream_close(struct rstream *r);

#endif
