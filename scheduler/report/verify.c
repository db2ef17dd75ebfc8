/*
 * verify.c: `yoban verify`'s checks (the list is in verify.h), against one snapshot.
 *
 * The one idea: nothing the database says about itself is taken on trust where it can be
 * recomputed. The walk recomputes every payload digest and entry hash here, in C, from the
 * entry's text (so a mismatch between the SQL of 013 and chain.h is found too); the records are
 * compared through the same SQL function the triggers used to chain them; a job's output is
 * decompressed and hashed here. Everything is read a page at a time, so a chain of millions of
 * entries or a job of a gigabyte of output never has to fit in memory.
 */
#include "verify.h"

#include "chain.h"
#include "compress.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WALK_PAGE 2000
#define OUTPUT_PAGE 64
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const char walk_sql[] =
	"SELECT seq, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), actor,"
	" source, record_id, action, coalesce(run_id::text, ''), payload::text,"
	" encode(payload_sha256, 'hex'), encode(prev_hash, 'hex'), encode(hash, 'hex')"
	" FROM yoban.evidence_chain WHERE seq >= $1::bigint ORDER BY seq LIMIT " "2000";

/* The latest entry of each record (at or after --from) whose record is not what it chained. */
static const char records_sql[] =
	"WITH latest AS (SELECT DISTINCT ON (source, record_id) seq, source, record_id, payload"
	" FROM yoban.evidence_chain WHERE seq >= $1::bigint ORDER BY source, record_id, seq DESC),"
	" cmp AS (SELECT l.seq, l.source, l.record_id, l.payload AS was, p.payload AS now"
	" FROM latest l CROSS JOIN LATERAL yoban.yoban_evidence_payload(l.source, l.record_id) p)"
	" SELECT (SELECT count(*) FROM cmp), b.seq, b.source, b.record_id, b.now IS NULL,"
	" (SELECT string_agg(k.key, ', ' ORDER BY k.key) FROM (SELECT coalesce(x.key, y.key) AS key"
	"  FROM jsonb_each(b.was) x FULL JOIN jsonb_each(b.now) y ON x.key = y.key"
	"  WHERE x.value IS DISTINCT FROM y.value) k)"
	" FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT * FROM cmp WHERE now IS DISTINCT FROM was"
	" ORDER BY seq LIMIT 1) b ON true";

static const char unchained_sql[] =
	"SELECT source, record_id FROM yoban.yoban_evidence_unchained(1)";

/* Stored output chunks of ended jobs whose output was not cut, in order, after a key. */
static const char output_sql[] =
	"SELECT o.job_id, o.stream, o.\"offset\", o.raw_len, o.zstd, o.raw,"
	" CASE o.stream WHEN 'stdout' THEN j.stdout_sha256 ELSE j.stderr_sha256 END"
	" FROM yoban.output_chunks o JOIN yoban.jobs j ON j.id = o.job_id"
	" WHERE j.ended_at IS NOT NULL AND j.dropped_bytes = 0"
	" AND (o.job_id, o.stream, o.\"offset\") > ($1::bigint, $2::yoban.output_stream, $3::bigint)"
	" AND ($4::bigint <= 1 OR EXISTS (SELECT 1 FROM yoban.evidence_chain c WHERE c.source = 'jobs'"
	"  AND c.record_id = j.id::text AND c.seq >= $4::bigint))"
	" ORDER BY o.job_id, o.stream, o.\"offset\" LIMIT 64";

/* Ended jobs that claim output of a stream of which no chunk is stored. */
static const char no_output_sql[] =
	"SELECT j.id, s.stream FROM yoban.jobs j CROSS JOIN LATERAL (VALUES ('stdout', j.stdout_sha256),"
	" ('stderr', j.stderr_sha256)) s(stream, sha)"
	" WHERE j.ended_at IS NOT NULL AND j.dropped_bytes = 0 AND s.sha IS NOT NULL"
	" AND s.sha <> '" EMPTY_SHA256 "'"
	" AND NOT EXISTS (SELECT 1 FROM yoban.output_chunks o WHERE o.job_id = j.id"
	"  AND o.stream::text = s.stream)"
	" AND ($1::bigint <= 1 OR EXISTS (SELECT 1 FROM yoban.evidence_chain c WHERE c.source = 'jobs'"
	"  AND c.record_id = j.id::text AND c.seq >= $1::bigint))"
	" ORDER BY j.id LIMIT 1";

static const char job_entry_sql[] =
	"SELECT max(seq) FROM yoban.evidence_chain WHERE source = 'jobs' AND record_id = $1";

static void problem(struct yb_verify_report *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void problem(struct yb_verify_report *out, const char *fmt, ...)
{
	va_list ap;
	char buf[2048];
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	out->ok = false;
	free(out->problem);
	out->problem = xstrdup(buf);
}

static bool checked_hex(const char *hex, unsigned char out[YB_SHA256_LEN])
{
	return yb_chain_unhex(hex, out);
}

/* 1. The walk. */
static int walk(struct db_conn *c, const struct yb_verify_opts *o, struct yb_verify_report *out,
		struct yb_err *err)
{
	unsigned char prev[YB_SHA256_LEN] = { 0 };
	int64_t expect = o->from < 1 ? 1 : o->from;
	const struct yb_checkpoint *cp = o->checkpoint;
	char seqtext[24];
	int rc = 0;
	struct db_result *r = NULL;

	if (expect > 1) {
		char *hex = NULL;
		snprintf(seqtext, sizeof seqtext, "%" PRId64, expect - 1);
		const char *p[] = { seqtext };
		rc = db_query_value(c, "SELECT encode(hash, 'hex') FROM yoban.evidence_chain "
				    "WHERE seq = $1::bigint", 1, p, &hex, err);
		if (rc == YB_ENOENT) {
			problem(out, "the chain has no entry %" PRId64 " to start after (--from %" PRId64
				"; the head is %" PRId64 ")", expect - 1, expect, out->head_seq);
			return 0;
		}
		if (rc < 0)
			return rc;
		bool good = checked_hex(hex, prev);
		free(hex);
		if (!good) {
			problem(out, "chain entry %" PRId64 ": its hash is not 32 bytes", expect - 1);
			return 0;
		}
	}
	for (;;) {
		snprintf(seqtext, sizeof seqtext, "%" PRId64, expect);
		const char *p[] = { seqtext };
		db_result_free(r);
		r = NULL;
		if ((rc = db_exec(c, walk_sql, 1, p, &r, err)) < 0)
			goto out;
		int n = db_result_rows(r);
		for (int i = 0; i < n; i++) {
			struct yb_chain_entry e = { 0 };
			struct yb_err why = { 0 };
			e.seq = strtoll(db_result_get(r, i, 0), NULL, 10);
			e.at = db_result_get(r, i, 1);
			e.actor = db_result_get(r, i, 2);
			e.source = db_result_get(r, i, 3);
			e.record_id = db_result_get(r, i, 4);
			e.action = db_result_get(r, i, 5);
			e.run_id = db_result_get(r, i, 6);
			const char *payload = db_result_get(r, i, 7);
			if (e.seq != expect) {
				problem(out, "chain entry %" PRId64 " is missing: the chain goes from %" PRId64
					" to %" PRId64 " (entries were deleted)", expect, expect - 1, e.seq);
				goto out;
			}
			if (!checked_hex(db_result_get(r, i, 8), e.payload_sha256) ||
			    !checked_hex(db_result_get(r, i, 9), e.prev_hash) ||
			    !checked_hex(db_result_get(r, i, 10), e.hash)) {
				problem(out, "chain entry %" PRId64 " (%s %s): a digest is not 32 bytes",
					e.seq, e.source, e.record_id);
				goto out;
			}
			if (memcmp(e.prev_hash, prev, YB_SHA256_LEN) != 0) {
				problem(out, "chain entry %" PRId64 " (%s %s): its prev_hash is not the hash "
					"of entry %" PRId64 " (an entry before it was rewritten or removed)",
					e.seq, e.source, e.record_id, e.seq - 1);
				goto out;
			}
			if (yb_chain_check(&e, payload, strlen(payload), &why) < 0) {
				problem(out, "chain %s", why.msg);
				goto out;
			}
			if (cp && e.seq == cp->seq) {
				char hex[2 * YB_SHA256_LEN + 1];
				yb_hex(e.hash, YB_SHA256_LEN, hex);
				if (strcmp(hex, cp->hash)) {
					problem(out, "chain entry %" PRId64 " (%s %s) has hash %s, but the "
						"checkpoint signed %s at that entry: the chain was rewritten "
						"since the checkpoint", e.seq, e.source, e.record_id, hex,
						cp->hash);
					goto out;
				}
				out->checkpoint_ok = true;
			}
			memcpy(prev, e.hash, YB_SHA256_LEN);
			expect++;
			out->entries++;
		}
		if (o->progress)
			o->progress(o->ctx, expect - 1, out->head_seq);
		if (n < WALK_PAGE)
			break;
	}
	if (expect - 1 != out->head_seq)
		problem(out, "the chain's head is entry %" PRId64 " but the walk ended at %" PRId64,
			out->head_seq, expect - 1);
out:
	db_result_free(r);
	return rc;
}

/* 2. and 3. The records. */
static int records(struct db_conn *c, int64_t from, struct yb_verify_report *out, struct yb_err *err)
{
	char seqtext[24];
	struct db_result *r = NULL;
	int rc;

	snprintf(seqtext, sizeof seqtext, "%" PRId64, from < 1 ? 1 : from);
	const char *p[] = { seqtext };
	if ((rc = db_exec(c, records_sql, 1, p, &r, err)) < 0)
		return rc;
	out->records = strtoll(db_result_get(r, 0, 0), NULL, 10);
	if (db_result_get(r, 0, 1)) {
		const char *seq = db_result_get(r, 0, 1), *src = db_result_get(r, 0, 2),
			   *id = db_result_get(r, 0, 3);
		if (!strcmp(db_result_get(r, 0, 4), "t"))
			problem(out, "chain entry %s (%s %s): the record no longer exists (deleted)", seq,
				src, id);
		else
			problem(out, "chain entry %s (%s %s): the record no longer matches what was "
				"chained: %s changed", seq, src, id,
				db_result_get(r, 0, 5) ? db_result_get(r, 0, 5) : "its payload");
		goto out;
	}
	db_result_free(r);
	r = NULL;
	if ((rc = db_exec(c, unchained_sql, 0, NULL, &r, err)) < 0)
		return rc;
	if (db_result_rows(r) > 0)
		problem(out, "%s %s has no chain entry: it was written without the chain's trigger",
			db_result_get(r, 0, 0), db_result_get(r, 0, 1));
out:
	db_result_free(r);
	return 0;
}

/* One job stream being hashed. */
struct stream_check {
	char job[24];
	char stream[8];
	char want[2 * YB_SHA256_LEN + 1]; /* "" when the job claims no digest */
	int64_t bytes;
	struct yb_sha256 h;
	bool open;
};

static int job_problem(struct db_conn *c, struct yb_verify_report *out, const char *job,
		       const char *what, struct yb_err *err)
{
	char *seq = NULL;
	const char *p[] = { job };
	int rc = db_query_value(c, job_entry_sql, 1, p, &seq, err);
	if (rc < 0 && rc != YB_ENOENT)
		return rc;
	problem(out, "chain entry %s (jobs %s): %s", seq ? seq : "-", job, what);
	free(seq);
	return 0;
}

static int stream_end(struct db_conn *c, struct stream_check *s, struct yb_verify_report *out,
		      struct yb_err *err)
{
	unsigned char md[YB_SHA256_LEN];
	char hex[2 * YB_SHA256_LEN + 1], what[256];

	if (!s->open)
		return 0;
	s->open = false;
	yb_sha256_final(&s->h, md);
	if (!s->want[0])
		return 0;
	out->outputs++;
	yb_hex(md, sizeof md, hex);
	if (strcmp(hex, s->want) == 0)
		return 0;
	snprintf(what, sizeof what, "its stored %s does not hash to %s_sha256 (%" PRId64 " bytes "
		 "hash to %.16s...): the output was altered", s->stream, s->stream, s->bytes, hex);
	return job_problem(c, out, s->job, what, err);
}

/* 4. The outputs. */
static int outputs(struct db_conn *c, int64_t from, struct yb_verify_report *out, struct yb_err *err)
{
	char job[24] = "0", stream[8] = "stdout", offset[24] = "-1", fromtext[24], what[1400];
	struct stream_check s = { 0 };
	struct db_result *r = NULL;
	struct yb_buf raw;
	int rc = 0;

	yb_buf_init(&raw, 0);
	snprintf(fromtext, sizeof fromtext, "%" PRId64, from < 1 ? 1 : from);
	for (;;) {
		const char *p[] = { job, stream, offset, fromtext };
		db_result_free(r);
		r = NULL;
		if ((rc = db_exec(c, output_sql, 4, p, &r, err)) < 0)
			goto out;
		int n = db_result_rows(r);
		for (int i = 0; i < n && out->ok; i++) {
			const char *jid = db_result_get(r, i, 0), *st = db_result_get(r, i, 1);
			int64_t off = strtoll(db_result_get(r, i, 2), NULL, 10);
			int64_t raw_len = strtoll(db_result_get(r, i, 3), NULL, 10);
			if (!s.open || strcmp(s.job, jid) || strcmp(s.stream, st)) {
				if ((rc = stream_end(c, &s, out, err)) < 0 || !out->ok)
					goto out;
				snprintf(s.job, sizeof s.job, "%s", jid);
				snprintf(s.stream, sizeof s.stream, "%s", st);
				snprintf(s.want, sizeof s.want, "%s",
					 db_result_get(r, i, 6) ? db_result_get(r, i, 6) : "");
				s.bytes = 0;
				yb_sha256_init(&s.h);
				s.open = true;
			}
			unsigned char *bytes = NULL;
			size_t len = 0;
			struct yb_err why = { 0 };
			int col = db_result_get(r, i, 4) ? 4 : 5;
			if (db_result_bytes(r, i, col, &bytes, &len, &why) < 0) {
				snprintf(what, sizeof what, "a stored %s chunk at byte %" PRId64 " is "
					 "unreadable: %.200s", st, off, why.msg);
				rc = job_problem(c, out, jid, what, err);
				goto out;
			}
			if (col == 4) {
				yb_buf_reset(&raw);
				int drc = yb_zstd_decompress(&raw, bytes, len, (size_t)raw_len, &why);
				free(bytes);
				if (drc < 0 || (int64_t)raw.len != raw_len) {
					snprintf(what, sizeof what, "the stored %s chunk at byte %" PRId64
						 " does not decompress to its %" PRId64 " bytes: the output "
						 "was altered", st, off, raw_len);
					rc = job_problem(c, out, jid, what, err);
					goto out;
				}
				yb_sha256_update(&s.h, raw.data, raw.len);
			} else {
				yb_sha256_update(&s.h, bytes, len);
				free(bytes);
			}
			s.bytes += raw_len;
			snprintf(job, sizeof job, "%s", jid);
			snprintf(stream, sizeof stream, "%s", st);
			snprintf(offset, sizeof offset, "%" PRId64, off);
		}
		if (n < OUTPUT_PAGE)
			break;
	}
	if ((rc = stream_end(c, &s, out, err)) < 0 || !out->ok)
		goto out;
	db_result_free(r);
	r = NULL;
	const char *p[] = { fromtext };
	if ((rc = db_exec(c, no_output_sql, 1, p, &r, err)) < 0)
		goto out;
	if (db_result_rows(r) > 0) {
		snprintf(what, sizeof what, "none of its %s is stored, but its %s_sha256 says there "
			 "was some: the output was removed", db_result_get(r, 0, 1),
			 db_result_get(r, 0, 1));
		char id[24];
		snprintf(id, sizeof id, "%s", db_result_get(r, 0, 0));
		rc = job_problem(c, out, id, what, err);
	}
out:
	yb_buf_release(&raw);
	db_result_free(r);
	return rc;
}

static int head(struct db_conn *c, struct yb_verify_report *out, struct yb_err *err)
{
	struct db_result *r = NULL;
	int rc = db_exec(c, "SELECT seq, encode(hash, 'hex') FROM yoban.evidence_chain "
			 "ORDER BY seq DESC LIMIT 1", 0, NULL, &r, err);
	if (rc < 0)
		return rc;
	if (db_result_rows(r) > 0) {
		out->head_seq = strtoll(db_result_get(r, 0, 0), NULL, 10);
		snprintf(out->head_hash, sizeof out->head_hash, "%s", db_result_get(r, 0, 1));
	}
	db_result_free(r);
	return 0;
}

static int checkpoint_first(struct db_conn *c, const struct yb_verify_opts *o,
			    struct yb_verify_report *out, struct yb_err *err)
{
	const struct yb_checkpoint *cp = o->checkpoint;
	struct yb_err why = { 0 };
	char *site = NULL;
	int rc;

	if (yb_checkpoint_check(cp, o->pinned_key, &why) < 0) {
		problem(out, "checkpoint: %s", why.msg);
		return 0;
	}
	if ((rc = db_query_value(c, "SELECT id FROM yoban.site", 0, NULL, &site, err)) < 0)
		return rc;
	if (!site || strcmp(site, cp->site))
		problem(out, "the checkpoint is of site %s, this database is site %s", cp->site,
			site ? site : "-");
	else if (out->head_seq < cp->seq)
		problem(out, "the chain ends at entry %" PRId64 ", below the checkpoint's entry %" PRId64
			" (signed %s): the chain was truncated", out->head_seq, cp->seq, cp->signed_at);
	else if (o->from > cp->seq)
		problem(out, "--from %" PRId64 " starts after the checkpoint's entry %" PRId64
			": walk from at most %" PRId64, o->from, cp->seq, cp->seq);
	free(site);
	return 0;
}

int yb_verify_run(struct db_conn *c, const struct yb_verify_opts *o, struct yb_verify_report *out,
		  struct yb_err *err)
{
	struct yb_verify_report rep = { .ok = true };
	int rc;

	if ((rc = db_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, NULL,
			  err)) < 0)
		return rc;
	if ((rc = head(c, &rep, err)) < 0)
		goto out;
	if (o->checkpoint && (rc = checkpoint_first(c, o, &rep, err)) < 0)
		goto out;
	if (rep.ok && (rc = walk(c, o, &rep, err)) < 0)
		goto out;
	if (rep.ok && o->checkpoint && !rep.checkpoint_ok)
		problem(&rep, "the walk did not reach the checkpoint's entry %" PRId64,
			o->checkpoint->seq);
	if (rep.ok && (rc = records(c, o->from, &rep, err)) < 0)
		goto out;
	if (rep.ok && (rc = outputs(c, o->from, &rep, err)) < 0)
		goto out;
out:
	db_exec(c, "COMMIT", 0, NULL, NULL, NULL);
	if (rc < 0) {
		yb_verify_report_release(&rep);
		return rc;
	}
	*out = rep;
	return 0;
}

void yb_verify_report_release(struct yb_verify_report *r)
{
	if (!r)
		return;
	free(r->problem);
	r->problem = NULL;
}
