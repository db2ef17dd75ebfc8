/*
 * bundle.c: `yoban evidence export RUN -o FILE`: one run's evidence from the database into a
 * self-contained bundle (the format is in bundle.h and docs/evidence-bundles.md).
 *
 * The one idea: the bundle is built from the evidence chain, not beside it. The run's chain
 * entries are read first; run.json shows each record as its latest entry's payload, and the
 * outputs and artifacts written are those the entries' payloads name, so every byte of the
 * bundle is accounted for by a hashed entry. Everything is read in one REPEATABLE READ READ ONLY
 * transaction (one snapshot: the chain, outputs and artifacts agree with each other), written to
 * FILE.tmp, checked by the offline verifier exactly as an auditor would check it, and renamed to
 * FILE only then. A FILE that exists is whole and verified; a refused or failed export leaves
 * nothing (a crash may leave FILE.tmp, never FILE).
 */
#include "bundle.h"
#include "compress.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_CHUNK_RAW (64u << 20) /* no stored chunk expands past this, whatever the row says */
#define PAGE_CHUNKS "64"

static const char run_sql[] =
	"SELECT r.runbook, (SELECT s.id FROM yoban.site s), session_user,"
	" to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
	" floor(extract(epoch FROM now()))::bigint"
	" FROM yoban.runs r WHERE r.id = $1::bigint";

/* Run before the transaction: a refusal (no such run, no read access, no chain table) then
 * leaves the session as it was, with its SQLSTATE for the caller to explain. */
static const char probe_sql[] =
	"SELECT EXISTS (SELECT 1 FROM yoban.evidence_chain c WHERE c.run_id = $1::bigint)"
	" FROM yoban.runs r WHERE r.id = $1::bigint";

static const char head_sql[] =
	"SELECT c.seq, encode(c.hash, 'hex') FROM yoban.evidence_chain c ORDER BY c.seq DESC LIMIT 1";

/* The contract's query (HELPERS.md, chain.h): the run's entries, the time as the hash takes it;
 * and the entries of the request that made the run (a trigger request is chained before its run
 * exists, so its entries carry no run). Both use an index of 013 (run_id, seq; source, record_id). */
static const char entries_sql[] =
	"SELECT c.seq, to_char(c.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
	" c.actor, c.source, c.record_id, c.action, coalesce(c.run_id::text, ''), c.payload::text,"
	" encode(c.payload_sha256, 'hex'), encode(c.prev_hash, 'hex'), encode(c.hash, 'hex')"
	" FROM yoban.evidence_chain c WHERE c.run_id = $1::bigint"
	" OR (c.source = 'requests' AND c.record_id = (SELECT r.request_id::text FROM yoban.runs r"
	" WHERE r.id = $1::bigint)) ORDER BY c.seq";

static const char chunks_sql[] =
	"SELECT c.stream::text, c.\"offset\", c.raw_len, c.zstd, c.raw FROM yoban.output_chunks c"
	" WHERE c.job_id = $1::bigint AND c.\"offset\" >= $2::bigint"
	" ORDER BY c.\"offset\" LIMIT " PAGE_CHUNKS;

static const char artifact_sql[] =
	"SELECT a.content FROM yoban.artifacts a WHERE a.job_id = $1::bigint AND a.name = $2";

/* run.json's sections in the order people read a run; other sources follow as they come. */
static const char *const section_order[] = {
	"runs", "run_transitions", "requests", "approval_requests", "approvals", "gate_decisions",
	"jobs", "artifacts", "sql_results", "backup_evidence", "incidents", "notify_events",
	"notify_attempts", "notifications", "effort_entries", "audit",
};

static const char readme[] =
	"Yoban evidence bundle / Yoban 証跡バンドル\n"
	"==========================================\n"
	"\n"
	"[日本語]\n"
	"このファイルは Yoban (夜番) が実行した一つの実行 (run) の証跡一式です。\n"
	"  manifest.json  サイト、実行番号、ランブック、出力日時 (UTC)、出力者、出力時点の\n"
	"                 証跡チェーンの先頭 (seq と hash)、他の全ファイルのバイト数と SHA-256\n"
	"  run.json       実行・状態遷移・ジョブ・申請・承認・ゲート判定・成果物・障害・通知・\n"
	"                 工数などの記録 (各記録は証跡チェーンの最新エントリの内容そのもの)\n"
	"  chain.jsonl    この実行の証跡チェーンのエントリ (1 行 1 エントリ、payload の原文付き)\n"
	"  outputs/       各ジョブの標準出力 (.stdout) と標準エラー出力 (.stderr)\n"
	"  artifacts/     データパッチの変更前 (before) と変更後 (after) の結果 (CSV)\n"
	"確認方法: yoban evidence verify このファイル (データベース不要)。\n"
	"手作業なら: tar --zstd -xf このファイル -C 空のフォルダ で展開し、manifest.json の各\n"
	"ファイルの sha256 を sha256sum の結果と突き合わせます。チェーンの各エントリの hash の\n"
	"計算式は Yoban の docs/evidence-bundles.md にあります。\n"
	"このバンドルが示すのは、各エントリがチェーンの計算式どおりに互いに結び付いていること、\n"
	"出力と成果物がジョブ終了時に記録されたダイジェストと一致すること、run.json がチェーンの\n"
	"内容と一致することです。全ダイジェストを計算し直した偽造は、署名付きチェックポイント\n"
	"(yoban verify --checkpoint) またはデータベース (yoban verify) と照合して初めて検出できます。\n"
	"\n"
	"[English]\n"
	"This file holds the evidence of one run of Yoban (the night-shift scheduler).\n"
	"  manifest.json  site, run, runbook, when (UTC) and by whom it was exported, the evidence\n"
	"                 chain's head at export (seq and hash), and every other file's size and SHA-256\n"
	"  run.json       the run, its transitions, jobs, requests, approvals, gate decisions,\n"
	"                 artifacts, incidents, notices and effort: each record exactly as its latest\n"
	"                 evidence chain entry holds it\n"
	"  chain.jsonl    the run's evidence chain entries, one a line, with each payload's text\n"
	"  outputs/       each job's standard output (.stdout) and standard error (.stderr)\n"
	"  artifacts/     a data patch's before and after result sets (CSV)\n"
	"To check it: yoban evidence verify THIS-FILE (no database needed).\n"
	"By hand: tar --zstd -xf THIS-FILE -C an-empty-folder, then compare each file's sha256 in\n"
	"manifest.json with sha256sum; the chain's hash formula is in Yoban's docs/evidence-bundles.md.\n"
	"What it proves: the entries are linked by the chain's formula, the outputs and artifacts\n"
	"have the digests recorded when their jobs ended, and run.json says what the chain says. A\n"
	"forger who recomputes every digest is caught only against a signed checkpoint\n"
	"(yoban verify --checkpoint) or the database (yoban verify).\n";

struct xentry {
	int64_t seq;
	const char *at, *actor, *source, *record_id, *action, *payload;
	struct yb_json *parsed;
	bool latest;
};

struct export {
	struct db_conn *c;
	const struct yb_bundle_export *o;
	struct yb_bundle_writer *w;
	int fd;
	char *tmp;
	struct db_result *run, *entries;
	struct xentry *e;
	size_t n;
	char run_id[24];
};

static int fd_sink(void *ctx, const void *data, size_t len, struct yb_err *err)
{
	struct export *x = ctx;
	const char *p = data;
	while (len) {
		ssize_t n = write(x->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return yb_err_set(err, YB_EIO, "cannot write '%s': %s", x->tmp, strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int add(struct export *x, const char *path, const void *data, size_t len,
	       struct yb_err *err)
{
	int rc = yb_bundle_add(x->w, path, data, len, err);
	if (rc == 0 && x->o->progress)
		x->o->progress(x->o->progress_ctx, yb_bundle_written(x->w), yb_bundle_files(x->w));
	return rc;
}

/* ---- the chain entries -------------------------------------------------------------------- */

static int cmp_record(const void *a, const void *b)
{
	const struct xentry *p = *(struct xentry *const *)a, *q = *(struct xentry *const *)b;
	int c = strcmp(p->source, q->source);
	if (!c)
		c = strcmp(p->record_id, q->record_id);
	if (!c)
		c = p->seq < q->seq ? -1 : p->seq > q->seq;
	return c;
}

static int load_entries(struct export *x, struct yb_err *err)
{
	const char *p[] = { x->run_id };
	int rc = db_exec(x->c, entries_sql, 1, p, &x->entries, err);
	if (rc < 0)
		return rc;
	x->n = (size_t)db_result_rows(x->entries);
	if (!x->n)
		return yb_err_set(err, YB_ENOENT, "run %s has no evidence chain entries (its records "
				  "were never chained: 'yoban verify' tells why)", x->run_id);
	x->e = xcalloc(x->n, sizeof(*x->e));
	for (size_t i = 0; i < x->n; i++) {
		struct xentry *e = &x->e[i];
		const struct db_result *r = x->entries;
		e->seq = strtoll(db_result_get(r, (int)i, 0), NULL, 10);
		e->at = db_result_get(r, (int)i, 1);
		e->actor = db_result_get(r, (int)i, 2);
		e->source = db_result_get(r, (int)i, 3);
		e->record_id = db_result_get(r, (int)i, 4);
		e->action = db_result_get(r, (int)i, 5);
		e->payload = db_result_get(r, (int)i, 7);
		if ((rc = yb_json_parse(e->payload, strlen(e->payload), &e->parsed, err)) < 0)
			return yb_err_prefix(err, "chain entry %lld's payload", (long long)e->seq);
	}
	struct xentry **sorted = xmalloc(x->n * sizeof(*sorted));
	for (size_t i = 0; i < x->n; i++)
		sorted[i] = &x->e[i];
	qsort(sorted, x->n, sizeof(*sorted), cmp_record);
	for (size_t i = 0; i < x->n; i++)
		sorted[i]->latest = i + 1 == x->n || strcmp(sorted[i + 1]->source, sorted[i]->source) ||
				    strcmp(sorted[i + 1]->record_id, sorted[i]->record_id);
	free(sorted);
	return 0;
}

static int write_chain(struct export *x, struct yb_err *err)
{
	static const char *const keys[] = { "seq", "at", "actor", "source", "record_id", "action",
					     "run_id", "payload", "payload_sha256", "prev_hash", "hash" };
	struct yb_buf b;
	int rc;
	yb_buf_init(&b, 0);
	for (size_t i = 0; i < x->n; i++) {
		struct yb_json *o = yb_json_object();
		yb_json_set(o, keys[0], yb_json_int(x->e[i].seq));
		for (size_t k = 1; k < YB_ARRAY_LEN(keys); k++)
			yb_json_set(o, keys[k], yb_json_str(db_result_get(x->entries, (int)i, (int)k)));
		char *line = yb_json_dump(o, 0);
		yb_json_free(o);
		yb_buf_appendf(&b, "%s\n", line);
		free(line);
	}
	rc = add(x, "chain.jsonl", b.data, b.len, err);
	yb_buf_release(&b);
	return rc;
}

/* ---- run.json ------------------------------------------------------------------------------ */

static struct yb_json *item_of(const struct xentry *e)
{
	struct yb_json *it = yb_json_object();
	yb_json_set(it, "record_id", yb_json_str(e->record_id));
	yb_json_set(it, "seq", yb_json_int(e->seq));
	yb_json_set(it, "action", yb_json_str(e->action));
	yb_json_set(it, "at", yb_json_str(e->at));
	yb_json_set(it, "actor", yb_json_str(e->actor));
	yb_json_set(it, "record", yb_json_ref(e->parsed));
	return it;
}

static int write_run(struct export *x, struct yb_err *err)
{
	struct yb_json *run = yb_json_object(), *records = yb_json_object();
	yb_json_set(run, "format", yb_json_str(YB_BUNDLE_RUN_FORMAT));
	yb_json_set(run, "run_id", yb_json_int(x->o->run_id));
	yb_json_set(run, "runbook", yb_json_str(db_result_get(x->run, 0, 0)));
	yb_json_set(run, "exported_at", yb_json_str(db_result_get(x->run, 0, 3)));
	struct yb_json *about = yb_json_object();
	yb_json_set(about, "en", yb_json_str("Every record of this run in the evidence chain, by "
					     "table, as its latest chain entry (seq) holds it."));
	yb_json_set(about, "ja", yb_json_str("この実行の証跡チェーン上の全記録 (テーブル別)。各記録は"
					     "最新のチェーンエントリ (seq) の内容そのものです。"));
	yb_json_set(run, "about", about);
	/* the known sections in order, then the others in the order they first appear */
	for (size_t s = 0; s <= YB_ARRAY_LEN(section_order); s++) {
		for (size_t i = 0; i < x->n; i++) {
			const struct xentry *e = &x->e[i];
			bool known = false;
			for (size_t k = 0; k < YB_ARRAY_LEN(section_order); k++)
				known |= !strcmp(e->source, section_order[k]);
			if (!e->latest ||
			    (s < YB_ARRAY_LEN(section_order) ? strcmp(e->source, section_order[s])
							     : known))
				continue;
			struct yb_json *items = yb_json_get(records, e->source);
			if (!items) {
				items = yb_json_array();
				yb_json_set(records, e->source, items);
			}
			yb_json_push(items, item_of(e));
		}
	}
	yb_json_set(run, "records", records);
	char *text = yb_json_dump(run, YB_JSON_PRETTY);
	yb_json_free(run);
	int rc = add(x, "run.json", text, strlen(text), err);
	free(text);
	return rc;
}

/* ---- outputs and artifacts ----------------------------------------------------------------- */

/* Appends job_id's stored output to out[0] (stdout) and out[1] (stderr), in offset order. */
static int read_output(struct export *x, const char *job_id, struct yb_buf out[2],
		       struct yb_err *err)
{
	long long next = 0;
	int rc = 0;
	for (;;) {
		char from[24];
		struct db_result *r = NULL;
		snprintf(from, sizeof(from), "%lld", next);
		const char *p[] = { job_id, from };
		if ((rc = db_exec(x->c, chunks_sql, 2, p, &r, err)) < 0)
			return rc;
		int rows = db_result_rows(r);
		for (int i = 0; i < rows && rc == 0; i++) {
			int s = !strcmp(db_result_get(r, i, 0), "stderr");
			long long offset = strtoll(db_result_get(r, i, 1), NULL, 10);
			long long raw_len = strtoll(db_result_get(r, i, 2), NULL, 10);
			unsigned char *bytes = NULL;
			size_t len = 0;
			bool raw = db_result_get(r, i, 4) != NULL;
			if (raw_len <= 0 || raw_len > (long long)MAX_CHUNK_RAW) {
				rc = yb_err_set(err, YB_EPROTO, "job %s: the chunk at offset %lld says "
						"%lld bytes", job_id, offset, raw_len);
				break;
			}
			if ((rc = db_result_bytes(r, i, raw ? 4 : 3, &bytes, &len, err)) < 0)
				break;
			size_t before = out[s].len;
			if (raw)
				rc = yb_buf_append(&out[s], bytes, len) < 0
					     ? yb_err_set(err, YB_ENOMEM, "job %s's output is too large",
							  job_id)
					     : 0;
			else
				rc = yb_zstd_decompress(&out[s], bytes, len, (size_t)raw_len, err);
			free(bytes);
			if (rc == 0 && out[s].len - before != (size_t)raw_len)
				rc = yb_err_set(err, YB_EPROTO, "job %s: the chunk at offset %lld holds "
						"%zu bytes, not %lld", job_id, offset,
						out[s].len - before, raw_len);
			next = offset + raw_len;
		}
		db_result_free(r);
		if (rc < 0)
			return yb_err_prefix(err, "reading job %s's output", job_id);
		if (rows < atoi(PAGE_CHUNKS))
			return 0;
	}
}

static int write_job(struct export *x, const struct xentry *e, struct yb_err *err)
{
	const struct yb_json *p = e->parsed;
	struct yb_json *id = yb_json_get(p, "id");
	const char *step = yb_json_get_str(p, "step"), *host = yb_json_get_str(p, "host");
	bool has[2] = { yb_json_get_str(p, "stdout_sha256") != NULL,
			yb_json_get_str(p, "stderr_sha256") != NULL };
	struct yb_buf out[2];
	char job_id[24];
	int rc = 0;

	if (!yb_json_is_int(id) || !step || !host)
		return yb_err_set(err, YB_EINVAL, "chain entry %lld (jobs %s): its payload has no id, "
				  "step or host", (long long)e->seq, e->record_id);
	if (!has[0] && !has[1])
		return 0; /* not ended: no digests to hold output against */
	snprintf(job_id, sizeof(job_id), "%lld", (long long)yb_json_int_value(id));
	yb_buf_init(&out[0], YB_BUNDLE_MAX_FILE);
	yb_buf_init(&out[1], YB_BUNDLE_MAX_FILE);
	if ((rc = read_output(x, job_id, out, err)) < 0)
		goto out;
	for (int s = 0; s < 2 && rc == 0; s++) {
		if (!has[s])
			continue;
		char *name = yb_bundle_output_name(yb_json_int_value(id), step, host, s);
		rc = add(x, name, out[s].data ? out[s].data : "", out[s].len, err);
		free(name);
	}
out:
	yb_buf_release(&out[0]);
	yb_buf_release(&out[1]);
	return rc;
}

static int write_artifact(struct export *x, const struct xentry *e, struct yb_err *err)
{
	struct yb_json *job = yb_json_get(e->parsed, "job_id");
	const char *name = yb_json_get_str(e->parsed, "name");
	struct db_result *r = NULL;
	unsigned char *data = NULL;
	size_t len = 0;
	char job_id[24];
	int rc;

	if (!yb_json_is_int(job) || !name)
		return yb_err_set(err, YB_EINVAL, "chain entry %lld (artifacts %s): its payload has no "
				  "job_id or name", (long long)e->seq, e->record_id);
	snprintf(job_id, sizeof(job_id), "%lld", (long long)yb_json_int_value(job));
	const char *p[] = { job_id, name };
	if ((rc = db_exec(x->c, artifact_sql, 2, p, &r, err)) < 0)
		return rc;
	if (db_result_rows(r) != 1) {
		rc = yb_err_set(err, YB_EINVAL, "artifact '%s' of job %s is in the chain (entry %lld) "
				"but not in yoban.artifacts: run 'yoban verify'", name, job_id,
				(long long)e->seq);
		goto out;
	}
	if ((rc = db_result_bytes(r, 0, 0, &data, &len, err)) < 0)
		goto out;
	char *path = yb_bundle_artifact_name(yb_json_int_value(job), name);
	rc = add(x, path, data, len, err);
	free(path);
out:
	free(data);
	db_result_free(r);
	return rc;
}

/* ---- the whole ----------------------------------------------------------------------------- */

static int write_bundle(struct export *x, struct yb_err *err)
{
	struct db_result *head = NULL;
	int rc;
	const char *p[] = { x->run_id };

	if ((rc = db_exec(x->c, run_sql, 1, p, &x->run, err)) < 0)
		return rc;
	if (db_result_rows(x->run) != 1)
		return yb_err_set(err, YB_ENOENT, "run %s does not exist (see 'yoban runs')", x->run_id);
	if ((rc = db_exec(x->c, head_sql, 0, NULL, &head, err)) < 0)
		return rc;
	if ((rc = load_entries(x, err)) < 0)
		goto out;
	x->w = yb_bundle_writer_new(fd_sink, x,
				    strtoll(db_result_get(x->run, 0, 4), NULL, 10), err);
	if (!x->w) {
		rc = err ? err->code : YB_EIO;
		goto out;
	}
	if ((rc = add(x, "README.txt", readme, sizeof(readme) - 1, err)) < 0 ||
	    (rc = write_run(x, err)) < 0 || (rc = write_chain(x, err)) < 0)
		goto out;
	for (size_t i = 0; i < x->n; i++) {
		const struct xentry *e = &x->e[i];
		if (!e->latest)
			continue;
		if (!strcmp(e->source, "jobs") && (rc = write_job(x, e, err)) < 0)
			goto out;
		if (!strcmp(e->source, "artifacts") && (rc = write_artifact(x, e, err)) < 0)
			goto out;
	}
	struct yb_json *m = yb_json_object(), *h = yb_json_object();
	yb_json_set(m, "format", yb_json_str(YB_BUNDLE_FORMAT));
	yb_json_set(m, "site", yb_json_str(db_result_get(x->run, 0, 1)));
	yb_json_set(m, "run_id", yb_json_int(x->o->run_id));
	yb_json_set(m, "runbook", yb_json_str(db_result_get(x->run, 0, 0)));
	yb_json_set(m, "exported_at", yb_json_str(db_result_get(x->run, 0, 3)));
	yb_json_set(m, "exported_by", yb_json_str(db_result_get(x->run, 0, 2)));
	yb_json_set(h, "seq", yb_json_int(strtoll(db_result_get(head, 0, 0), NULL, 10)));
	yb_json_set(h, "hash", yb_json_str(db_result_get(head, 0, 1)));
	yb_json_set(m, "chain_head", h);
	rc = yb_bundle_finish(x->w, m, err);
	yb_json_free(m);
	if (rc == 0 && x->o->progress)
		x->o->progress(x->o->progress_ctx, yb_bundle_written(x->w), yb_bundle_files(x->w));
out:
	db_result_free(head);
	return rc;
}

static void fsync_dir(const char *file)
{
	char *copy = xstrdup(file);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(copy);
}

int yb_bundle_export(struct db_conn *c, const struct yb_bundle_export *o,
		     struct yb_bundle_report *out, struct yb_err *err)
{
	struct export x = { .c = c, .o = o, .fd = -1 };
	struct stat st;
	bool in_tx = false, made = false;
	int rc;

	snprintf(x.run_id, sizeof(x.run_id), "%lld", (long long)o->run_id);
	if (!o->force && lstat(o->file, &st) == 0)
		return yb_err_set(err, YB_EEXIST, "'%s' exists: give --force to replace it, or another "
				  "-o FILE", o->file);
	x.tmp = xasprintf("%s.tmp", o->file);
	const char *p[] = { x.run_id };
	struct db_result *probe = NULL;
	if ((rc = db_exec(c, probe_sql, 1, p, &probe, err)) < 0)
		goto out;
	if (db_result_rows(probe) != 1)
		rc = yb_err_set(err, YB_ENOENT, "run %s does not exist (see 'yoban runs')", x.run_id);
	else if (strcmp(db_result_get(probe, 0, 0), "t"))
		rc = yb_err_set(err, YB_ENOENT, "run %s has no evidence chain entries (its records were "
				"never chained: 'yoban verify' tells why)", x.run_id);
	db_result_free(probe);
	if (rc < 0)
		goto out;
	if ((rc = db_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, NULL,
			  err)) < 0)
		goto out;
	in_tx = true;
	/* payloads are hashed as UTF-8 (chain.h): take them as such whatever the login's default */
	if ((rc = db_exec(c, "SET LOCAL client_encoding = 'UTF8'", 0, NULL, NULL, err)) < 0)
		goto out;
	x.fd = open(x.tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (x.fd < 0) {
		rc = yb_err_set(err, YB_EIO, "cannot create '%s': %s", x.tmp, strerror(errno));
		goto out;
	}
	made = true;
	if ((rc = write_bundle(&x, err)) < 0)
		goto out;
	if (fsync(x.fd) < 0 || close(x.fd) < 0) {
		x.fd = -1;
		rc = yb_err_set(err, YB_EIO, "cannot write '%s': %s", x.tmp, strerror(errno));
		goto out;
	}
	x.fd = -1;
	if ((rc = db_exec(c, "COMMIT", 0, NULL, NULL, err)) < 0)
		goto out;
	in_tx = false;
	/* the file as an auditor will check it */
	struct yb_err verr = { 0 };
	if ((rc = yb_bundle_verify_file(x.tmp, out, &verr)) < 0) {
		rc = yb_err_set(err, YB_EINVAL, "the bundle written does not verify, so it was not "
				"kept (the database's records disagree with the chain: run 'yoban "
				"verify'): %s", verr.msg);
		goto out;
	}
	if (o->force) {
		if (rename(x.tmp, o->file) < 0)
			rc = yb_err_set(err, YB_EIO, "cannot rename '%s' to '%s': %s", x.tmp, o->file,
					strerror(errno));
	} else if (link(x.tmp, o->file) < 0) {
		/* link never replaces: a FILE made meanwhile is kept */
		rc = yb_err_set(err, errno == EEXIST ? YB_EEXIST : YB_EIO, "cannot create '%s': %s",
				o->file, strerror(errno));
	} else {
		unlink(x.tmp);
	}
	if (rc < 0) {
		yb_bundle_report_release(out);
		goto out;
	}
	made = false;
	fsync_dir(o->file);
out:
	if (x.fd >= 0)
		close(x.fd);
	if (made)
		unlink(x.tmp);
	if (in_tx)
		db_exec(c, "ROLLBACK", 0, NULL, NULL, NULL);
	yb_bundle_writer_free(x.w);
	for (size_t i = 0; i < x.n; i++)
		yb_json_free(x.e ? x.e[i].parsed : NULL);
	free(x.e);
	db_result_free(x.run);
	db_result_free(x.entries);
	free(x.tmp);
	return rc;
}
