/*
 * stream.c: the digesting byte paths of the backup steps, and their progress line (stream.h).
 *
 * The one idea: a digest is taken where the bytes are, never recomputed from a copy; the data
 * file's digest comes from the bytes written to it and, on read-back, from the bytes read from
 * it, so "verified" means the disk gave back what we gave it.
 */
#include "stream.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_PIECE (1u << 20)

/* ---- progress ---------------------------------------------------------------------------- */

static void human(uint64_t n, char *out, size_t size)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	size_t u = 0;
	while (v >= 1024 && u + 1 < YB_ARRAY_LEN(units)) {
		v /= 1024;
		u++;
	}
	snprintf(out, size, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

void progress_start(struct progress *p, bool on, const char *what, uint64_t total_bytes)
{
	memset(p, 0, sizeof(*p));
	p->on = on;
	p->what = what;
	p->total_bytes = total_bytes;
	p->start_ms = p->last_ms = yb_mono_ms();
}

static void progress_draw(struct progress *p, int64_t now, bool final)
{
	char done[32], rate[32], left[48] = "";
	double secs = (double)(now - p->start_ms) / 1000.0;
	double bps = secs > 0 ? (double)p->bytes / secs : 0;
	human(p->bytes, done, sizeof(done));
	human((uint64_t)bps, rate, sizeof(rate));
	if (!final && p->total_bytes > p->bytes && bps > 0) {
		char d[24];
		int64_t left_s = (int64_t)((double)(p->total_bytes - p->bytes) / bps) + 1;
		yb_format_duration(left_s * 1000, d, sizeof(d));
		snprintf(left, sizeof(left), ", about %s left", d);
	}
	fprintf(stderr, "\r%s: %s, %llu files, %s/s%s\033[K%s", p->what, done,
		(unsigned long long)p->files, rate, left, final ? "\n" : "");
	fflush(stderr);
}

void progress_tick(struct progress *p)
{
	if (!p || !p->on)
		return;
	int64_t now = yb_mono_ms();
	if (now - p->last_ms < 200)
		return;
	p->last_ms = now;
	progress_draw(p, now, false);
}

void progress_end(struct progress *p)
{
	if (p && p->on)
		progress_draw(p, yb_mono_ms(), true);
}

/* ---- writing ------------------------------------------------------------------------------ */

static int write_file(void *ctx, const void *data, size_t len, struct yb_err *err)
{
	struct wstream *w = ctx;
	const char *p = data;
	yb_sha256_update(&w->data_sha, data, len);
	w->data_bytes += len;
	while (len) {
		ssize_t n = write(w->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return yb_err_set(err, YB_EIO, "cannot write '%s': %s", w->path, strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int wstream_open(struct wstream *w, const char *path, int level, int threads, int *threads_used,
		 struct yb_err *err)
{
	memset(w, 0, sizeof(*w));
	w->path = path;
	w->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (w->fd < 0)
		return yb_err_set(err, YB_EIO, "cannot create '%s': %s", path, strerror(errno));
	w->enc = yb_zstd_enc_new(level, threads, threads_used);
	yb_sha256_init(&w->content_sha);
	yb_sha256_init(&w->data_sha);
	return 0;
}

int wstream_write(void *ctx, const void *data, size_t len, struct yb_err *err)
{
	struct wstream *w = ctx;
	if (!w->skip_content_sha)
		yb_sha256_update(&w->content_sha, data, len);
	w->content_bytes += len;
	if (w->progress) {
		w->progress->bytes += len;
		progress_tick(w->progress);
	}
	return yb_zstd_enc_write(w->enc, data, len, write_file, w, err);
}

int wstream_finish(struct wstream *w, char content_hex[YB_SHA256_HEX_LEN],
		   char data_hex[YB_SHA256_HEX_LEN], struct yb_err *err)
{
	int rc = yb_zstd_enc_finish(w->enc, write_file, w, err);
	if (rc < 0)
		return rc;
	if (fsync(w->fd) < 0)
		return yb_err_set(err, YB_EIO, "cannot fsync '%s': %s", w->path, strerror(errno));
	posix_fadvise(w->fd, 0, 0, POSIX_FADV_DONTNEED);
	if (close(w->fd) < 0) {
		w->fd = -1;
		return yb_err_set(err, YB_EIO, "cannot close '%s': %s", w->path, strerror(errno));
	}
	w->fd = -1;
	unsigned char md[YB_SHA256_LEN];
	yb_sha256_final(&w->content_sha, md);
	yb_hex(md, sizeof(md), content_hex);
	if (w->skip_content_sha)
		content_hex[0] = '\0';
	yb_sha256_final(&w->data_sha, md);
	yb_hex(md, sizeof(md), data_hex);
	yb_zstd_enc_free(w->enc);
	w->enc = NULL;
	return 0;
}

void wstream_abort(struct wstream *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	yb_zstd_enc_free(w->enc);
	w->enc = NULL;
}

/* ---- reading ------------------------------------------------------------------------------ */

#define BLOCK_BYTES (1u << 20)
#define QUEUE_BLOCKS 4

struct rstream_block {
	struct rstream_block *next;
	size_t len;
	char data[];
};

struct rsync {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	pthread_t thread;
	struct rstream_block *head, *tail;
	int queued;
	bool done, stop;
};

static struct rstream_block *block_new(void)
{
	struct rstream_block *b = xmalloc(sizeof(*b) + BLOCK_BYTES);
	b->next = NULL;
	b->len = 0;
	return b;
}

/* The worker hands a full block to the caller; false when told to stop. */
static bool push_block(struct rstream *r, struct rstream_block *b)
{
	struct rsync *q = r->sync;
	pthread_mutex_lock(&q->lock);
	while (q->queued >= QUEUE_BLOCKS && !q->stop)
		pthread_cond_wait(&q->changed, &q->lock);
	bool stop = q->stop;
	if (!stop) {
		if (q->tail)
			q->tail->next = b;
		else
			q->head = b;
		q->tail = b;
		q->queued++;
		pthread_cond_broadcast(&q->changed);
	}
	pthread_mutex_unlock(&q->lock);
	if (stop)
		free(b);
	return !stop;
}

static int collect(void *ctx, const void *data, size_t len, struct yb_err *err)
{
	struct rstream *r = ctx;
	const char *p = data;
	if (!r->skip_content_sha)
		yb_sha256_update(&r->content_sha, data, len);
	r->content_bytes += len;
	while (len) {
		if (!r->filling)
			r->filling = block_new();
		size_t room = BLOCK_BYTES - r->filling->len, n = len < room ? len : room;
		memcpy(r->filling->data + r->filling->len, p, n);
		r->filling->len += n;
		p += n;
		len -= n;
		if (r->filling->len == BLOCK_BYTES) {
			struct rstream_block *full = r->filling;
			r->filling = NULL;
			if (!push_block(r, full))
				return yb_err_set(err, YB_ECLOSED, "stopped");
		}
	}
	return 0;
}

int rstream_open(struct rstream *r, const char *path, struct yb_err *err)
{
	memset(r, 0, sizeof(*r));
	r->path = path;
	r->fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (r->fd < 0)
		return yb_err_set(err, YB_EIO, "cannot open '%s': %s", path, strerror(errno));
	posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	r->dec = yb_zstd_dec_new();
	r->in = xmalloc(READ_PIECE);
	yb_sha256_init(&r->content_sha);
	yb_sha256_init(&r->data_sha);
	return 0;
}

void rstream_open_source(struct rstream *r, const char *name, rstream_raw_fn raw, void *ctx)
{
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->path = name;
	r->raw = raw;
	r->raw_ctx = ctx;
	r->dec = yb_zstd_dec_new();
	yb_sha256_init(&r->content_sha);
	yb_sha256_init(&r->data_sha);
}

/* The next raw (compressed) bytes: from the source, or read into r->in. */
static ssize_t raw_next(struct rstream *r, const void **p, struct yb_err *err)
{
	if (r->raw)
		return r->raw(r->raw_ctx, p, err);
	ssize_t n;
	do
		n = read(r->fd, r->in, READ_PIECE);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return yb_err_set(err, YB_EIO, "cannot read '%s': %s", r->path, strerror(errno));
	*p = r->in;
	return n;
}

static void *worker(void *arg)
{
	struct rstream *r = arg;
	struct rsync *q = r->sync;
	struct yb_err err = { 0 };
	int rc = 0;
	for (;;) {
		const void *in = NULL;
		ssize_t n = raw_next(r, &in, &err);
		if (n < 0) {
			rc = (int)n;
			break;
		}
		if (n == 0) {
			if ((rc = yb_zstd_dec_finish(r->dec, &err)) < 0)
				yb_err_prefix(&err, "'%s'", r->path);
			break;
		}
		yb_sha256_update(&r->data_sha, in, (size_t)n);
		r->data_bytes += (uint64_t)n;
		if ((rc = yb_zstd_dec_write(r->dec, in, (size_t)n, collect, r, &err)) < 0) {
			if (rc != YB_ECLOSED)
				yb_err_prefix(&err, "'%s'", r->path);
			break;
		}
	}
	if (rc == 0 && r->filling && r->filling->len) {
		struct rstream_block *last = r->filling;
		r->filling = NULL;
		push_block(r, last);
	}
	pthread_mutex_lock(&q->lock);
	r->worker_rc = rc;
	r->worker_err = err;
	q->done = true;
	pthread_cond_broadcast(&q->changed);
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

static void start(struct rstream *r)
{
	struct rsync *q = xcalloc(1, sizeof(*q));
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->changed, NULL);
	r->sync = q;
	r->started = true;
	if (pthread_create(&q->thread, NULL, worker, r) != 0)
		BUG("cannot start the reading thread");
}

static void join(struct rstream *r)
{
	struct rsync *q = r->sync;
	if (!r->started || r->joined)
		return;
	pthread_mutex_lock(&q->lock);
	q->stop = true; /* only matters if the caller gives up early */
	pthread_cond_broadcast(&q->changed);
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->thread, NULL);
	r->joined = true;
}

ssize_t rstream_read(void *ctx, const void **data, struct yb_err *err)
{
	struct rstream *r = ctx;
	if (!r->started)
		start(r);
	struct rsync *q = r->sync;
	free(r->current);
	r->current = NULL;
	pthread_mutex_lock(&q->lock);
	while (!q->head && !q->done)
		pthread_cond_wait(&q->changed, &q->lock);
	struct rstream_block *b = q->head;
	if (b) {
		q->head = b->next;
		if (!q->head)
			q->tail = NULL;
		q->queued--;
		pthread_cond_broadcast(&q->changed);
	}
	int rc = r->worker_rc;
	pthread_mutex_unlock(&q->lock);
	if (!b) {
		if (rc < 0) {
			if (err)
				*err = r->worker_err;
			return rc;
		}
		return 0;
	}
	r->current = b;
	if (r->progress) {
		r->progress->bytes += b->len;
		progress_tick(r->progress);
	}
	*data = b->data;
	return (ssize_t)b->len;
}

int rstream_finish(struct rstream *r, char content_hex[YB_SHA256_HEX_LEN],
		   char data_hex[YB_SHA256_HEX_LEN], struct yb_err *err)
{
	const void *ignored;
	ssize_t n;
	while ((n = rstream_read(r, &ignored, err)) > 0)
		;
	if (n < 0)
		return (int)n;
	join(r);
	unsigned char md[YB_SHA256_LEN];
	yb_sha256_final(&r->content_sha, md);
	yb_hex(md, sizeof(md), content_hex);
	if (r->skip_content_sha)
		content_hex[0] = '\0';
	yb_sha256_final(&r->data_sha, md);
	yb_hex(md, sizeof(md), data_hex);
	return 0;
}

void rstream_close(struct rstream *r)
{
	join(r);
	if (r->sync) {
		struct rsync *q = r->sync;
		while (q->head) {
			struct rstream_block *b = q->head;
			q->head = b->next;
			free(b);
		}
		pthread_mutex_destroy(&q->lock);
		pthread_cond_destroy(&q->changed);
		free(q);
		r->sync = NULL;
	}
	free(r->current);
	free(r->filling);
	r->current = r->filling = NULL;
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	yb_zstd_dec_free(r->dec);
	r->dec = NULL;
	free(r->in);
	r->in = NULL;
}
