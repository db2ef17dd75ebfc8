/*
 * test_bundle.c: the offline verifier of evidence bundles, over bundles built in memory.
 *
 * The fixture is a run's bundle made here from chain entries hashed with chain.h's formula (a
 * run record, a job's insert and its end with output digests, an artifact; one entry of another
 * run leaves a gap in the seq numbers), written through the bundle writer. It verifies; then each
 * way a bundle can be changed is tried on a copy, and each must fail naming the file or entry:
 * a member rewritten into a new valid tar.zst with the manifest left as it was and with the
 * manifest recomputed too (so the chain checks are what catches it), a forger who recomputes an
 * entry's payload digest or even its hash, every single byte of the compressed file flipped, a
 * truncated file, and tar streams with unsafe names, links and duplicates.
 */
#include "bundle.h"
#include "chain.h"
#include "compress.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char out_stdout[] = "updated 12 rows\n住所コード 0123 -> 0132\n";
static const char out_stderr[] = "";
static const char csv[] = "id,address_code\r\n1,0123\r\n2,0123\r\n";

#define N_ENT 5

struct fx {
	struct yb_chain_entry e[N_ENT];
	char *payload[N_ENT];
	char at[N_ENT][YB_CHAIN_AT_LEN + 1];
};

static const struct {
	int64_t seq;
	const char *source, *record_id, *action, *run_id;
} shape[N_ENT] = {
	{ 10, "runs", "5", "insert", "5" },
	{ 11, "jobs", "17", "insert", "5" },
	{ 12, "jobs", "17", "update", "5" },
	/* 13 belongs to another run */
	{ 14, "artifacts", "17/before", "insert", "5" },
	{ 15, "runs", "5", "update", "5" },
};

/* Payloads and entries; payload i may be overridden (text) before hashing. */
static void fx_make(struct fx *f, const char *const *override)
{
	char so[YB_SHA256_HEX_LEN], se[YB_SHA256_HEX_LEN], sc[YB_SHA256_HEX_LEN];
	yb_sha256_hex(out_stdout, strlen(out_stdout), so);
	yb_sha256_hex(out_stderr, strlen(out_stderr), se);
	yb_sha256_hex(csv, strlen(csv), sc);
	memset(f, 0, sizeof(*f));
	f->payload[0] = xstrdup("{\"id\": 5, \"mode\": \"production\", \"state\": \"pending\", "
				"\"runbook\": \"fix-address\"}");
	f->payload[1] = xstrdup("{\"id\": 17, \"host\": \"db1\", \"step\": \"fix\", \"state\": "
				"\"dispatched\", \"run_id\": 5, \"attempt\": 1, \"exit_status\": null, "
				"\"stderr_bytes\": 0, \"stdout_bytes\": 0, \"stderr_sha256\": null, "
				"\"stdout_sha256\": null}");
	f->payload[2] = xasprintf("{\"id\": 17, \"host\": \"db1\", \"step\": \"fix\", \"state\": "
				  "\"succeeded\", \"run_id\": 5, \"attempt\": 1, \"exit_status\": 0, "
				  "\"stderr_bytes\": %zu, \"stdout_bytes\": %zu, \"dropped_bytes\": 0, "
				  "\"stderr_sha256\": \"%s\", \"stdout_sha256\": \"%s\"}",
				  strlen(out_stderr), strlen(out_stdout), se, so);
	f->payload[3] = xasprintf("{\"name\": \"before\", \"rows\": 2, \"bytes\": %zu, \"job_id\": "
				  "17, \"sha256\": \"%s\", \"hours\": 1.50}", strlen(csv), sc);
	f->payload[4] = xstrdup("{\"id\": 5, \"mode\": \"production\", \"state\": \"succeeded\", "
				"\"runbook\": \"fix-address\", \"note\": \"完了\"}");
	for (int i = 0; i < N_ENT; i++) {
		if (override && override[i]) {
			free(f->payload[i]);
			f->payload[i] = xstrdup(override[i]);
		}
		struct yb_chain_entry *e = &f->e[i];
		snprintf(f->at[i], sizeof(f->at[i]), "2026-12-01T16:45:%02d.000100Z", i);
		e->seq = shape[i].seq;
		e->at = f->at[i];
		e->actor = i == 0 ? "鈴木" : "yoband";
		e->source = shape[i].source;
		e->record_id = shape[i].record_id;
		e->action = shape[i].action;
		e->run_id = shape[i].run_id;
		yb_sha256(f->payload[i], strlen(f->payload[i]), e->payload_sha256);
		if (i > 0 && shape[i].seq == shape[i - 1].seq + 1)
			memcpy(e->prev_hash, f->e[i - 1].hash, YB_SHA256_LEN);
		else
			memset(e->prev_hash, 0x40 + i, YB_SHA256_LEN); /* whatever came before */
		yb_chain_hash(e, e->hash);
	}
}

static void fx_free(struct fx *f)
{
	for (int i = 0; i < N_ENT; i++)
		free(f->payload[i]);
}

static char *chain_text(const struct fx *f)
{
	struct yb_buf b;
	yb_buf_init(&b, 0);
	for (int i = 0; i < N_ENT; i++) {
		const struct yb_chain_entry *e = &f->e[i];
		char ph[YB_SHA256_HEX_LEN], pv[YB_SHA256_HEX_LEN], h[YB_SHA256_HEX_LEN];
		yb_hex(e->payload_sha256, YB_SHA256_LEN, ph);
		yb_hex(e->prev_hash, YB_SHA256_LEN, pv);
		yb_hex(e->hash, YB_SHA256_LEN, h);
		struct yb_json *o = yb_json_object();
		yb_json_set(o, "seq", yb_json_int(e->seq));
		yb_json_set(o, "at", yb_json_str(e->at));
		yb_json_set(o, "actor", yb_json_str(e->actor));
		yb_json_set(o, "source", yb_json_str(e->source));
		yb_json_set(o, "record_id", yb_json_str(e->record_id));
		yb_json_set(o, "action", yb_json_str(e->action));
		yb_json_set(o, "run_id", yb_json_str(e->run_id));
		yb_json_set(o, "payload", yb_json_str(f->payload[i]));
		yb_json_set(o, "payload_sha256", yb_json_str(ph));
		yb_json_set(o, "prev_hash", yb_json_str(pv));
		yb_json_set(o, "hash", yb_json_str(h));
		char *line = yb_json_dump(o, 0);
		yb_buf_appendf(&b, "%s\n", line);
		free(line);
		yb_json_free(o);
	}
	return yb_buf_detach(&b, NULL);
}

/* run.json: the latest entry of each record (indexes 2, 3, 4). */
static char *run_text(const struct fx *f)
{
	static const int latest[] = { 4, 2, 3 };
	struct yb_json *run = yb_json_object(), *records = yb_json_object();
	yb_json_set(run, "format", yb_json_str(YB_BUNDLE_RUN_FORMAT));
	yb_json_set(run, "run_id", yb_json_int(5));
	for (size_t k = 0; k < YB_ARRAY_LEN(latest); k++) {
		const struct yb_chain_entry *e = &f->e[latest[k]];
		struct yb_json *item = yb_json_object(), *rec = NULL;
		ck_assert_int_eq(yb_json_parse(f->payload[latest[k]], strlen(f->payload[latest[k]]),
					       &rec, NULL), 0);
		yb_json_set(item, "record_id", yb_json_str(e->record_id));
		yb_json_set(item, "seq", yb_json_int(e->seq));
		yb_json_set(item, "action", yb_json_str(e->action));
		yb_json_set(item, "at", yb_json_str(e->at));
		yb_json_set(item, "actor", yb_json_str(e->actor));
		yb_json_set(item, "record", rec);
		struct yb_json *items = yb_json_array();
		yb_json_push(items, item);
		yb_json_set(records, e->source, items);
	}
	yb_json_set(run, "records", records);
	char *text = yb_json_dump(run, YB_JSON_PRETTY);
	yb_json_free(run);
	return text;
}

static int buf_sink(void *ctx, const void *data, size_t len, struct yb_err *err)
{
	return yb_buf_append(ctx, data, len) < 0 ? yb_err_set(err, YB_ENOMEM, "full") : 0;
}

/* The fixture's bundle into out (an empty buffer). */
static void build(const struct fx *f, struct yb_buf *out)
{
	struct yb_err err = { 0 };
	struct yb_bundle_writer *w = yb_bundle_writer_new(buf_sink, out, 1796000000, &err);
	ck_assert_msg(w, "%s", err.msg);
	char *chain = chain_text(f), *run = run_text(f);
	char *o = yb_bundle_output_name(17, "fix", "db1", false);
	char *e = yb_bundle_output_name(17, "fix", "db1", true);
	char *a = yb_bundle_artifact_name(17, "before");
	ck_assert_int_eq(yb_bundle_add(w, "README.txt", "hello\n", 6, &err), 0);
	ck_assert_int_eq(yb_bundle_add(w, "run.json", run, strlen(run), &err), 0);
	ck_assert_int_eq(yb_bundle_add(w, "chain.jsonl", chain, strlen(chain), &err), 0);
	ck_assert_int_eq(yb_bundle_add(w, o, out_stdout, strlen(out_stdout), &err), 0);
	ck_assert_int_eq(yb_bundle_add(w, e, out_stderr, strlen(out_stderr), &err), 0);
	ck_assert_int_eq(yb_bundle_add(w, a, csv, strlen(csv), &err), 0);
	struct yb_json *m = yb_json_object(), *h = yb_json_object();
	char head[YB_SHA256_HEX_LEN];
	yb_hex(f->e[N_ENT - 1].hash, YB_SHA256_LEN, head);
	yb_json_set(m, "format", yb_json_str(YB_BUNDLE_FORMAT));
	yb_json_set(m, "site", yb_json_str("0123456789abcdef"));
	yb_json_set(m, "run_id", yb_json_int(5));
	yb_json_set(m, "runbook", yb_json_str("fix-address"));
	yb_json_set(m, "exported_at", yb_json_str("2026-12-01T17:00:00.000000Z"));
	yb_json_set(m, "exported_by", yb_json_str("auditor"));
	yb_json_set(h, "seq", yb_json_int(f->e[N_ENT - 1].seq));
	yb_json_set(h, "hash", yb_json_str(head));
	yb_json_set(m, "chain_head", h);
	ck_assert_msg(yb_bundle_finish(w, m, &err) == 0, "%s", err.msg);
	yb_json_free(m);
	yb_bundle_writer_free(w);
	free(chain);
	free(run);
	free(o);
	free(e);
	free(a);
}

/* ---- repacking: the members of a bundle, changed, into a new valid tar.zst -------------------- */

struct member {
	char *path;
	struct yb_buf data;
};

struct members {
	struct member m[32];
	size_t n;
};

static int collect(void *ctx, const struct aio_file *f, struct yb_err *err)
{
	struct members *ms = ctx;
	ck_assert_uint_lt(ms->n, 32);
	struct member *m = &ms->m[ms->n++];
	m->path = xstrdup(f->path);
	yb_buf_init(&m->data, 0);
	yb_buf_append(&m->data, f->data, (size_t)f->size);
	return 0;
}

struct mem_src {
	const char *p;
	size_t left;
};

static ssize_t mem_next(void *ctx, const void **data, struct yb_err *err)
{
	struct mem_src *s = ctx;
	size_t n = s->left < 1000 ? s->left : 1000;
	*data = s->p;
	s->p += n;
	s->left -= n;
	return (ssize_t)n;
}

static void unpack(const struct yb_buf *bundle, struct members *ms)
{
	struct yb_err err = { 0 };
	struct mem_src s = { bundle->data, bundle->len };
	memset(ms, 0, sizeof(*ms));
	ck_assert_msg(yb_bundle_read(mem_next, &s, false, collect, ms, &err) == 0, "%s", err.msg);
}

static struct member *member(struct members *ms, const char *path)
{
	for (size_t i = 0; i < ms->n; i++)
		if (!strcmp(ms->m[i].path, path))
			return &ms->m[i];
	ck_abort_msg("no member %s", path);
	return NULL;
}

/* The manifest's digests and sizes made to match the members again (the forger's next step). */
static void fix_manifest(struct members *ms)
{
	struct member *man = member(ms, "manifest.json");
	struct yb_json *m = NULL;
	ck_assert_int_eq(yb_json_parse(man->data.data, man->data.len, &m, NULL), 0);
	struct yb_json *files = yb_json_array();
	for (size_t i = 0; i < ms->n; i++) {
		if (!strcmp(ms->m[i].path, "manifest.json"))
			continue;
		char hex[YB_SHA256_HEX_LEN];
		yb_sha256_hex(ms->m[i].data.data ? ms->m[i].data.data : "", ms->m[i].data.len, hex);
		struct yb_json *f = yb_json_object();
		yb_json_set(f, "path", yb_json_str(ms->m[i].path));
		yb_json_set(f, "bytes", yb_json_int((int64_t)ms->m[i].data.len));
		yb_json_set(f, "sha256", yb_json_str(hex));
		yb_json_push(files, f);
	}
	yb_json_set(m, "files", files);
	char *text = yb_json_dump(m, YB_JSON_PRETTY);
	yb_json_free(m);
	yb_buf_reset(&man->data);
	yb_buf_append(&man->data, text, strlen(text));
	free(text);
}

struct zs {
	struct yb_zstd_enc *z;
	struct yb_buf *out;
};

static int z_sink(void *ctx, const void *data, size_t len, struct yb_err *err)
{
	struct zs *z = ctx;
	return yb_zstd_enc_write(z->z, data, len, buf_sink, z->out, err);
}

static void repack(struct members *ms, struct yb_buf *out)
{
	struct yb_err err = { 0 };
	struct zs z = { yb_zstd_enc_new(3, 1, NULL), out };
	struct aio_writer *w = NULL;
	yb_buf_reset(out);
	ck_assert_int_eq(aio_writer_open(&w, z_sink, &z, &err), 0);
	for (size_t i = 0; i < ms->n; i++)
		ck_assert_msg(aio_writer_add(w, ms->m[i].path, ms->m[i].data.data ? ms->m[i].data.data : "",
					     ms->m[i].data.len, 0, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(aio_writer_close(w, &err), 0);
	ck_assert_int_eq(yb_zstd_enc_finish(z.z, buf_sink, out, &err), 0);
	aio_writer_free(w);
	yb_zstd_enc_free(z.z);
}

static void members_free(struct members *ms)
{
	for (size_t i = 0; i < ms->n; i++) {
		free(ms->m[i].path);
		yb_buf_release(&ms->m[i].data);
	}
	ms->n = 0;
}

/* Verifies b and expects failure with a message holding each of the needles. */
static void fails_with(const struct yb_buf *b, const char *n1, const char *n2)
{
	struct yb_err err = { 0 };
	int rc = yb_bundle_verify_mem(b->data, b->len, NULL, &err);
	ck_assert_msg(rc < 0, "the changed bundle verified (wanted '%s')", n1);
	ck_assert_msg(strstr(err.msg, n1), "'%s' not in: %s", n1, err.msg);
	if (n2)
		ck_assert_msg(strstr(err.msg, n2), "'%s' not in: %s", n2, err.msg);
}

/* The fixture, one member changed by edit (and the manifest recomputed when fix is true). */
static void changed(void (*edit)(struct members *), bool fix, struct yb_buf *out)
{
	struct fx f;
	struct yb_buf orig;
	struct members ms;
	fx_make(&f, NULL);
	yb_buf_init(&orig, 0);
	build(&f, &orig);
	unpack(&orig, &ms);
	edit(&ms);
	if (fix)
		fix_manifest(&ms);
	yb_buf_init(out, 0);
	repack(&ms, out);
	members_free(&ms);
	yb_buf_release(&orig);
	fx_free(&f);
}

/* ---- the tests ----------------------------------------------------------------------------- */

START_TEST(good_bundle_verifies)
{
	struct fx f;
	struct yb_buf b;
	struct yb_bundle_report r = { 0 };
	struct yb_err err = { 0 };
	fx_make(&f, NULL);
	yb_buf_init(&b, 0);
	build(&f, &b);
	ck_assert_msg(yb_bundle_verify_mem(b.data, b.len, &r, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(r.run_id, 5);
	ck_assert_str_eq(r.runbook, "fix-address");
	ck_assert_uint_eq(r.entries, N_ENT);
	ck_assert_uint_eq(r.records, 3);
	ck_assert_uint_eq(r.files, 6);
	ck_assert_uint_eq(r.outputs, 2);
	ck_assert_uint_eq(r.artifacts, 1);
	ck_assert_int_eq(r.first_seq, 10);
	ck_assert_int_eq(r.last_seq, 15);
	ck_assert_int_eq(r.head_seq, 15);
	yb_bundle_report_release(&r);

	/* repacked unchanged (another tar writer's layout, same members) it still verifies */
	struct members ms;
	struct yb_buf again;
	yb_buf_init(&again, 0);
	unpack(&b, &ms);
	repack(&ms, &again);
	ck_assert_msg(yb_bundle_verify_mem(again.data, again.len, NULL, &err) == 0, "%s", err.msg);
	members_free(&ms);
	yb_buf_release(&again);
	yb_buf_release(&b);
	fx_free(&f);
}
END_TEST

static void edit_output(struct members *ms)
{
	member(ms, "outputs/17-fix-db1.stdout")->data.data[3] ^= 0x01;
}

static void edit_payload(struct members *ms)
{
	struct member *m = member(ms, "chain.jsonl");
	char *p = strstr(m->data.data, "\\\"exit_status\\\": 0");
	ck_assert_ptr_nonnull(p);
	p[strlen("\\\"exit_status\\\": ")] = '1';
}

static void edit_manifest_digest(struct members *ms)
{
	struct member *m = member(ms, "manifest.json");
	char *p = strstr(m->data.data, "\"sha256\": \"");
	ck_assert_ptr_nonnull(p);
	p += strlen("\"sha256\": \"");
	*p = *p == '0' ? '1' : '0';
}

static void edit_run_record(struct members *ms)
{
	struct member *m = member(ms, "run.json");
	char *p = strstr(m->data.data, "\"succeeded\"");
	ck_assert_ptr_nonnull(p);
	memcpy(p + 1, "SUCCEEDED", 9);
}

static void edit_run_actor(struct members *ms)
{
	struct member *m = member(ms, "run.json");
	char *p = strstr(m->data.data, "\"yoband\"");
	ck_assert_ptr_nonnull(p);
	p[1] = 'Y';
}

static void edit_artifact(struct members *ms)
{
	member(ms, "artifacts/17-before.csv")->data.data[20] = '9';
}

static void drop_artifact(struct members *ms)
{
	struct member *m = member(ms, "artifacts/17-before.csv");
	free(m->path);
	yb_buf_release(&m->data);
	*m = ms->m[--ms->n];
}

static void add_extra(struct members *ms)
{
	struct member *m = &ms->m[ms->n++];
	m->path = xstrdup("artifacts/17-after.csv");
	yb_buf_init(&m->data, 0);
	yb_buf_append(&m->data, "id\r\n", 4);
}

START_TEST(changed_members_are_caught)
{
	struct yb_buf b;
	/* the manifest left as it was: the manifest check names the file */
	changed(edit_output, false, &b);
	fails_with(&b, "'outputs/17-fix-db1.stdout' has sha256", "manifest.json says");
	yb_buf_release(&b);
	/* the manifest recomputed too: the job's chain entry is what catches it */
	changed(edit_output, true, &b);
	fails_with(&b, "'outputs/17-fix-db1.stdout' has sha256", "chain entry 12 (jobs 17)");
	yb_buf_release(&b);
	changed(edit_artifact, true, &b);
	fails_with(&b, "'artifacts/17-before.csv' has sha256", "chain entry 14 (artifacts 17/before)");
	yb_buf_release(&b);
	changed(edit_payload, false, &b);
	fails_with(&b, "'chain.jsonl' has sha256", NULL);
	yb_buf_release(&b);
	changed(edit_payload, true, &b);
	fails_with(&b, "chain.jsonl line 3", "entry 12 (jobs 17): its payload does not match");
	yb_buf_release(&b);
	changed(edit_manifest_digest, false, &b);
	fails_with(&b, "manifest.json says", NULL);
	yb_buf_release(&b);
	changed(edit_run_record, true, &b);
	fails_with(&b, "run.json: records.runs[0] (runs 5) is not the payload of chain entry 15",
		   NULL);
	yb_buf_release(&b);
	changed(edit_run_actor, true, &b);
	fails_with(&b, "its actor is not that of chain entry", NULL);
	yb_buf_release(&b);
	changed(drop_artifact, false, &b);
	fails_with(&b, "'artifacts/17-before.csv' is listed in manifest.json but missing", NULL);
	yb_buf_release(&b);
	changed(drop_artifact, true, &b);
	fails_with(&b, "'artifacts/17-before.csv' is missing: chain entry 14", NULL);
	yb_buf_release(&b);
	changed(add_extra, false, &b);
	fails_with(&b, "'artifacts/17-after.csv' is in the bundle but not listed", NULL);
	yb_buf_release(&b);
	changed(add_extra, true, &b);
	fails_with(&b, "'artifacts/17-after.csv' is not the output or artifact of any entry", NULL);
	yb_buf_release(&b);
}
END_TEST

/* A forger rewriting chain.jsonl itself: a payload with its digest recomputed breaks the hash;
 * with the hash recomputed too it breaks the link to the next entry; only the last entry, whose
 * hash is the head recorded in the manifest, needs the manifest rewritten as well. */
START_TEST(forged_entries_are_caught)
{
	struct fx good, forged;
	fx_make(&good, NULL);
	const char *over[N_ENT] = { NULL };
	over[1] = "{\"id\": 17, \"host\": \"evil\", \"step\": \"fix\"}";
	fx_make(&forged, over);

	struct yb_buf b;
	yb_buf_init(&b, 0);
	/* entry 11 with a new payload and payload digest but its old hash */
	memcpy(forged.e[1].hash, good.e[1].hash, YB_SHA256_LEN);
	memcpy(forged.e[2].prev_hash, good.e[2].prev_hash, YB_SHA256_LEN);
	yb_chain_hash(&forged.e[2], forged.e[2].hash);
	build(&forged, &b);
	fails_with(&b, "entry 11 (jobs 17): its hash is not the hash of its fields", NULL);
	yb_buf_release(&b);

	/* entry 11 rehashed, entry 12 left as it was: the link breaks */
	struct fx f2;
	fx_make(&f2, over);
	memcpy(f2.e[2].prev_hash, good.e[2].prev_hash, YB_SHA256_LEN);
	yb_chain_hash(&f2.e[2], f2.e[2].hash);
	yb_buf_init(&b, 0);
	build(&f2, &b);
	fails_with(&b, "entry 12 does not link to entry 11", NULL);
	yb_buf_release(&b);
	fx_free(&f2);
	fx_free(&forged);
	fx_free(&good);
}
END_TEST

START_TEST(every_compressed_byte_matters)
{
	struct fx f;
	struct yb_buf b;
	fx_make(&f, NULL);
	yb_buf_init(&b, 0);
	build(&f, &b);
	size_t step = b.len > 4000 ? b.len / 4000 : 1;
	size_t tried = 0, same = 0;
	struct yb_buf tar;
	yb_buf_init(&tar, 0);
	ck_assert_int_eq(yb_zstd_decompress(&tar, b.data, b.len, 1u << 24, NULL), 0);
	for (size_t i = 0; i < b.len; i += step) {
		for (int bit = 0; bit < 8; bit += 3) {
			struct yb_err err = { 0 };
			b.data[i] ^= (char)(1 << bit);
			int rc = yb_bundle_verify_mem(b.data, b.len, NULL, &err);
			b.data[i] ^= (char)(1 << bit);
			if (rc == 0) {
				/* only a change that leaves the content as it was may pass (the
				 * frame header's window size, a few redundant bits of the entropy
				 * coding): the tar bytes must be exactly the same */
				struct yb_buf changed_tar;
				yb_buf_init(&changed_tar, 0);
				b.data[i] ^= (char)(1 << bit);
				ck_assert_int_eq(yb_zstd_decompress(&changed_tar, b.data, b.len, 1u << 24,
								    NULL), 0);
				b.data[i] ^= (char)(1 << bit);
				ck_assert_msg(changed_tar.len == tar.len &&
						      !memcmp(changed_tar.data, tar.data, tar.len),
					      "a flip of bit %d at byte %zu of %zu changed the content "
					      "and went unnoticed", bit, i, b.len);
				yb_buf_release(&changed_tar);
				same++;
				continue;
			}
			ck_assert_msg(err.msg[0], "no message for a flip at byte %zu", i);
			tried++;
		}
	}
	ck_assert_uint_gt(tried, 100);
	ck_assert_uint_lt(same * 20, tried); /* zstd's few redundant bits (window size, ...) */
	yb_buf_release(&tar);
	/* cut short anywhere */
	for (size_t n = 0; n < b.len; n += b.len / 50 + 1) {
		struct yb_err err = { 0 };
		ck_assert_msg(yb_bundle_verify_mem(b.data, n, NULL, &err) < 0, "a bundle cut at %zu "
			      "verified", n);
	}
	struct yb_err err = { 0 };
	ck_assert_int_lt(yb_bundle_verify_mem("", 0, NULL, &err), 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "zstd"));
	yb_buf_release(&b);
	fx_free(&f);
}
END_TEST

/* ---- hostile tar streams ------------------------------------------------------------------- */

/* One ustar header block (and size bytes of content, padded) appended to t. */
static void tar_entry(struct yb_buf *t, const char *name, char type, const char *link,
		      const char *content)
{
	char h[512];
	size_t size = content ? strlen(content) : 0;
	memset(h, 0, sizeof(h));
	snprintf(h, 100, "%s", name);
	snprintf(h + 100, 8, "%07o", 0644);
	snprintf(h + 108, 8, "%07o", 0);
	snprintf(h + 116, 8, "%07o", 0);
	snprintf(h + 124, 12, "%011o", (unsigned)size & 07777777777u);
	snprintf(h + 136, 12, "%011o", 0);
	h[156] = type;
	if (link)
		snprintf(h + 157, 100, "%s", link);
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	unsigned sum = 0;
	for (int i = 0; i < 512; i++)
		sum += (unsigned char)h[i];
	snprintf(h + 148, 8, "%06o", sum);
	yb_buf_append(t, h, sizeof(h));
	if (size) {
		char pad[512] = { 0 };
		yb_buf_append(t, content, size);
		yb_buf_append(t, pad, (512 - size % 512) % 512);
	}
}

static void tar_end_zstd(struct yb_buf *t, struct yb_buf *out)
{
	char zeros[1024] = { 0 };
	yb_buf_append(t, zeros, sizeof(zeros));
	yb_buf_init(out, 0);
	ck_assert_int_eq(yb_zstd_compress(out, t->data, t->len, 3, NULL), 0);
}

static void hostile(const char *name, char type, const char *link, const char *content,
		    bool twice, const char *needle)
{
	struct yb_buf t, z;
	yb_buf_init(&t, 0);
	tar_entry(&t, "README.txt", '0', NULL, "x");
	tar_entry(&t, name, type, link, content);
	if (twice)
		tar_entry(&t, name, type, link, content);
	tar_end_zstd(&t, &z);
	fails_with(&z, needle, NULL);
	yb_buf_release(&t);
	yb_buf_release(&z);
}

START_TEST(hostile_archives_are_refused)
{
	hostile("../etc/passwd", '0', NULL, "root", false, "holds '..'");
	hostile("/etc/passwd", '0', NULL, "root", false, "absolute name");
	hostile("outputs/./x", '0', NULL, "root", false, "holds '.'");
	hostile("run.json", '2', "/etc/passwd", NULL, false, "is a symbolic link");
	hostile("run.json", '1', "README.txt", NULL, false, "is a hard link");
	hostile("dev", '3', NULL, NULL, false, "is a device");
	hostile("fifo", '6', NULL, NULL, false, "is a FIFO");
	hostile("outputs", '5', NULL, NULL, false, "is a folder");
	hostile("run.json", '0', NULL, "{}", true, "'run.json' appears twice");
	/* a damaged header: libarchive's words, with ours around them */
	struct yb_buf t, z;
	yb_buf_init(&t, 0);
	tar_entry(&t, "README.txt", '0', NULL, "x");
	t.data[150] ^= 0x5a; /* the checksum */
	tar_end_zstd(&t, &z);
	fails_with(&z, "cannot read the archive", NULL);
	yb_buf_release(&t);
	yb_buf_release(&z);
	/* not an evidence bundle */
	yb_buf_init(&t, 0);
	tar_entry(&t, "README.txt", '0', NULL, "x");
	tar_end_zstd(&t, &z);
	fails_with(&z, "no manifest.json", NULL);
	yb_buf_release(&t);
	yb_buf_release(&z);
}
END_TEST

START_TEST(names)
{
	char *o = yb_bundle_output_name(17, "fix/../x", "db 1", true);
	ck_assert_str_eq(o, "outputs/17-fix_.._x-db_1.stderr");
	free(o);
	o = yb_bundle_artifact_name(3, "after");
	ck_assert_str_eq(o, "artifacts/3-after.csv");
	free(o);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bundle");
	TCase *tc = tcase_create("bundle");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, good_bundle_verifies);
	tcase_add_test(tc, changed_members_are_caught);
	tcase_add_test(tc, forged_entries_are_caught);
	tcase_add_test(tc, every_compressed_byte_matters);
	tcase_add_test(tc, hostile_archives_are_refused);
	tcase_add_test(tc, names);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
