/*
 * output.c: jobs' output on its way into yoban.output_chunks: the form each chunk is kept in,
 * the INSERTs that carry them, and the bound on what may wait in memory.
 *
 * The one idea: output never waits in memory without a bound. Chunks (each a piece of one job's
 * output, at most 256 KiB as the runner sent it) are collected into one INSERT whose bytes travel
 * as binary bytea[] parameters (no hex text, no second copy); while more than YD_OUT_HIGH bytes
 * wait to be sent to the database, the runner connections that bring output stop being read
 * (rclient_pause), and they are read again once what waits is under YD_OUT_LOW. The runners keep
 * spooling to disk meanwhile, so nothing is lost, and everything else (heartbeats, fires, other
 * hosts' jobs, writes to the paused runner) goes on. docs/daemon.md, *Memory*, gives the figures.
 *
 * Each chunk is compressed with zstd (level 3); one that does not shrink by an eighth (random or
 * already compressed bytes) is kept raw instead (column `raw`, migration 009), so incompressible
 * output costs neither a decoder at read time nor extra bytes. Chunks under YD_RAW_MIN bytes are
 * always compressed: their frame costs a few bytes and nothing measurable in speed.
 */
#include "yoband.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compress.h"

/* What may wait in memory to be sent: reading from runners stops above HIGH, resumes below LOW. */
#define YD_OUT_HIGH (32u << 20)
#define YD_OUT_LOW (16u << 20)
/* One INSERT carries at most this many chunk bytes, or rows. */
#define YD_STMT_BYTES (4u << 20)
#define YD_STMT_ROWS 1000
/* Chunks smaller than this are always compressed. */
#define YD_RAW_MIN 4096
/* What a row costs beyond its bytes (the array texts and element headers), for the count. */
#define YD_ROW_COST 64
#define BYTEA_OID 17
#define YD_PAUSE_LOG_MS 60000

static const char insert_sql[] =
	"INSERT INTO yoban.output_chunks (job_id, stream, \"offset\", raw_len, zstd, raw) "
	"SELECT * FROM unnest($1::bigint[], $2::yoban.output_stream[], $3::bigint[], "
	"$4::integer[], $5::bytea[], $6::bytea[]) ON CONFLICT DO NOTHING";

/* The rows of one INSERT being collected: text array literals for the numbers and streams, and
 * PostgreSQL's binary array format (array_send) for the two bytea columns. */
struct yd_out_batch {
	struct yb_buf ids, streams, offsets, lens;
	struct yb_buf zstd, raw;
	size_t rows, bytes;
	bool nulls_zstd, nulls_raw;
};

static void put_be32(char *p, uint32_t v)
{
	p[0] = (char)(v >> 24);
	p[1] = (char)(v >> 16);
	p[2] = (char)(v >> 8);
	p[3] = (char)v;
}

/* The header of a one-dimensional bytea[]: ndim, has-nulls, element type, length, lower bound;
 * the flags and the length are written when the batch is sent. */
static void bytea_array_open(struct yb_buf *b)
{
	char *p = yb_buf_reserve(b, 20);
	put_be32(p, 1);
	put_be32(p + 4, 0);
	put_be32(p + 8, BYTEA_OID);
	put_be32(p + 12, 0);
	put_be32(p + 16, 1);
	yb_buf_commit(b, 20);
}

static void bytea_array_add(struct yb_buf *b, const void *data, size_t len, bool null)
{
	char *p = yb_buf_reserve(b, 4 + (null ? 0 : len));
	put_be32(p, null ? 0xffffffffu : (uint32_t)len);
	if (!null)
		memcpy(p + 4, data, len);
	yb_buf_commit(b, 4 + (null ? 0 : len));
}

static void bytea_array_close(struct yb_buf *b, size_t rows, bool nulls)
{
	put_be32(b->data + 4, nulls ? 1 : 0);
	put_be32(b->data + 12, (uint32_t)rows);
}

static struct yd_out_batch *batch_new(void)
{
	static bool malloc_tuned;
	if (!malloc_tuned) {
		/* INSERTs of output (megabytes each) come and go many times a second. glibc's
		 * malloc raises its mmap threshold to the size of each mapped block freed, so after
		 * the first one they would come from the heap, which keeps what is freed: 20 MiB
		 * more at the peak with four busy jobs (docs/benchmarks.md). A fixed threshold keeps
		 * them mapped, and returned to the system when freed. */
		mallopt(M_MMAP_THRESHOLD, 1 << 20);
		malloc_tuned = true;
	}
	struct yd_out_batch *o = xcalloc(1, sizeof(*o));
	yb_buf_init(&o->ids, 0);
	yb_buf_init(&o->streams, 0);
	yb_buf_init(&o->offsets, 0);
	yb_buf_init(&o->lens, 0);
	yb_buf_init(&o->zstd, 0);
	yb_buf_init(&o->raw, 0);
	bytea_array_open(&o->zstd);
	bytea_array_open(&o->raw);
	return o;
}

static void batch_free(struct yd_out_batch *o)
{
	if (!o)
		return;
	yb_buf_release(&o->ids);
	yb_buf_release(&o->streams);
	yb_buf_release(&o->offsets);
	yb_buf_release(&o->lens);
	yb_buf_release(&o->zstd);
	yb_buf_release(&o->raw);
	free(o);
}

static char *array_text(struct yb_buf *b)
{
	yb_buf_append(b, "}", 1);
	return yb_buf_detach(b, NULL);
}

/* The batch becomes one INSERT on the statement queue (its buffers move there, uncopied). */
static void batch_send(struct yd *d)
{
	struct yd_out_batch *o = d->out_batch;
	if (!o || !o->rows)
		return;
	d->out_batch = NULL;
	bytea_array_close(&o->zstd, o->rows, o->nulls_zstd);
	bytea_array_close(&o->raw, o->rows, o->nulls_raw);
	char **values = xcalloc(6, sizeof(*values));
	int *lengths = xcalloc(6, sizeof(*lengths));
	bool *binary = xcalloc(6, sizeof(*binary));
	size_t zlen = o->zstd.len, rlen = o->raw.len;
	values[0] = array_text(&o->ids);
	values[1] = array_text(&o->streams);
	values[2] = array_text(&o->offsets);
	values[3] = array_text(&o->lens);
	values[4] = yb_buf_detach(&o->zstd, NULL);
	values[5] = yb_buf_detach(&o->raw, NULL);
	lengths[4] = (int)zlen;
	lengths[5] = (int)rlen;
	binary[4] = binary[5] = true;
	/* Not waited for: the job's exit, written later on the same connection, comes after it; a
	 * refused INSERT makes the daemon reconcile (re-attach at what is stored). */
	yd_async_owned(d, "output chunks", true, insert_sql, 6, values, lengths, binary, o->bytes);
	batch_free(o);
}

static void batch_add(struct yd *d, int64_t job_id, int stream, uint64_t offset, size_t raw_len,
		      const void *data, size_t len, bool raw)
{
	struct yd_out_batch *o = d->out_batch;
	if (!o)
		o = d->out_batch = batch_new();
	const char *sep = o->rows ? "," : "{";
	yb_buf_appendf(&o->ids, "%s%lld", sep, (long long)job_id);
	yb_buf_appendf(&o->streams, "%s%s", sep, stream == WIRE_STDERR ? "stderr" : "stdout");
	yb_buf_appendf(&o->offsets, "%s%llu", sep, (unsigned long long)offset);
	yb_buf_appendf(&o->lens, "%s%zu", sep, raw_len);
	bytea_array_add(&o->zstd, data, len, raw);
	bytea_array_add(&o->raw, data, len, !raw);
	o->nulls_zstd |= raw;
	o->nulls_raw |= !raw;
	o->rows++;
	o->bytes += len + YD_ROW_COST;
	d->out_waiting += len + YD_ROW_COST;
}

void yd_output_chunk(struct yd *d, struct yd_conn *c, int64_t job_id, int stream, uint64_t offset,
		     const void *data, size_t len)
{
	struct yb_err err = { 0 };
	bool raw = true;
	if (!d->out_z)
		d->out_z = xcalloc(1, sizeof(*d->out_z));
	yb_buf_reset(d->out_z);
	/* A chunk that zstd cannot make an eighth smaller is kept as it is (also when compressing
	 * fails: the bytes are what matters). */
	if (yb_zstd_compress(d->out_z, data, len, 3, &err) == 0)
		raw = len >= YD_RAW_MIN && d->out_z->len > len - len / 8;
	else
		yd_log("output of job %lld kept uncompressed: %s", (long long)job_id, err.msg);
	if (raw)
		batch_add(d, job_id, stream, offset, len, data, len, true);
	else
		batch_add(d, job_id, stream, offset, len, d->out_z->data, d->out_z->len, false);
	if (d->out_batch->bytes >= YD_STMT_BYTES || d->out_batch->rows >= YD_STMT_ROWS)
		batch_send(d);
	if (d->out_waiting > YD_OUT_HIGH && !rclient_paused(c->rc)) {
		/* Back-pressure: this runner's output waits in its spool until the database caught
		 * up; the frames after this one stay unread (rclient_pause). */
		rclient_pause(c->rc, true);
		d->out_paused = true;
		d->out_pauses++;
		int64_t now = yb_mono_ms();
		if (!d->out_pause_logged_ms || now - d->out_pause_logged_ms >= YD_PAUSE_LOG_MS) {
			/* once a minute at most: a busy job pauses its runner many times a minute */
			yd_log("output: reading from the runner on host '%s' paused: %zu MiB wait to be "
			       "stored (the database stores slower than jobs print; reading resumes under "
			       "%u MiB, paused %llu time(s) so far)", c->host, d->out_waiting >> 20,
			       YD_OUT_LOW >> 20, (unsigned long long)d->out_pauses);
			d->out_pause_logged_ms = now;
		}
	}
}

void yd_output_flush(struct yd *d, bool force)
{
	/* While an INSERT of output waits for its turn, new chunks join the batch instead of making
	 * another (fewer, larger INSERTs, one commit each: what arrives while one is stored goes in
	 * the next); the batch goes once none waits, when it is full, or when forced. */
	if (d->out_batch && (force || !d->out_unsent))
		batch_send(d);
}

void yd_output_sent(struct yd *d, size_t bytes)
{
	d->out_waiting -= bytes < d->out_waiting ? bytes : d->out_waiting;
	if (!d->out_paused || d->out_waiting >= YD_OUT_LOW)
		return;
	d->out_paused = false;
	for (struct yd_conn *c = d->conns; c; c = c->next)
		if (rclient_paused(c->rc))
			rclient_pause(c->rc, false);
}

void yd_output_clear(struct yd *d)
{
	if (d->out_batch)
		yd_output_sent(d, d->out_batch->bytes);
	batch_free(d->out_batch);
	d->out_batch = NULL;
	d->out_paused = false;
	if (d->out_z) {
		yb_buf_release(d->out_z);
		free(d->out_z);
		d->out_z = NULL;
	}
}

int yd_flush_chunks(struct yd *d)
{
	yd_output_flush(d, false);
	return d->db_broken ? YB_EIO : 0;
}
