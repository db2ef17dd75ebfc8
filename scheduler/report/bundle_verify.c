/*
 * bundle_verify.c: `yoban evidence verify FILE`, offline: an evidence bundle checked against
 * itself and the chain formula, without the database (see bundle.h, docs/evidence-bundles.md).
 *
 * The one idea: every claim in the bundle is tied to a chain entry, and every chain entry is tied
 * to its neighbours and its payload by SHA-256. So the checks run from the chain outwards:
 *   1. the archive reads cleanly (safe names, regular files only, caps) and matches the manifest
 *      file for file, byte count and digest;
 *   2. each line of chain.jsonl is an entry whose payload digest and hash are right
 *      (yb_chain_check), in increasing seq order, and an entry whose predecessor is present
 *      carries that predecessor's hash as prev_hash;
 *   3. each job's output files have the byte counts and digests of its latest 'jobs' entry, each
 *      artifact file those of its 'artifacts' entry, and no output or artifact file is left over;
 *   4. run.json, what people read, holds every record of chain.jsonl exactly as its latest entry's
 *      payload (equal as JSON), and nothing else.
 * The first problem found is the answer, naming the file, line or entry.
 */
#include "bundle.h"
#include "chain.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct vfile {
	char *path;
	uint64_t size;
	unsigned char sha256[YB_SHA256_LEN];
	char *data;    /* manifest.json, run.json and chain.jsonl only */
	size_t len;
	bool listed;   /* in the manifest */
	bool claimed;  /* an output or artifact some chain entry accounts for */
};

struct ventry {
	struct yb_chain_entry e;
	char *at, *actor, *source, *record_id, *action, *run_id;
	char *payload;
	size_t line;
	struct yb_json *parsed; /* the payload as JSON */
	bool latest;            /* the last entry of its record in chain.jsonl */
	bool shown;             /* run.json holds it */
};

struct verify {
	struct vfile *files;
	size_t n_files;
	struct ventry *entries;
	size_t n_entries;
	struct ventry **by_record; /* the entries sorted by (source, record_id, seq) */
	struct yb_json *manifest, *run;
	struct yb_bundle_report rep;
};

static const char *const json_files[] = { "manifest.json", "run.json", "chain.jsonl" };

static int on_file(void *ctx, const struct aio_file *f, struct yb_err *err)
{
	struct verify *v = ctx;
	bool keep = false;
	for (size_t i = 0; i < YB_ARRAY_LEN(json_files); i++)
		keep |= !strcmp(f->path, json_files[i]);
	if (keep && !f->data)
		return yb_err_set(err, YB_ENOMEM, "'%s' is larger than %u bytes", f->path,
				  YB_BUNDLE_MAX_KEPT);
	v->files = xrealloc(v->files, (v->n_files + 1) * sizeof(*v->files));
	struct vfile *x = &v->files[v->n_files++];
	memset(x, 0, sizeof(*x));
	x->path = xstrdup(f->path);
	x->size = f->size;
	memcpy(x->sha256, f->sha256, YB_SHA256_LEN);
	if (keep) {
		x->data = xmalloc((size_t)f->size + 1);
		memcpy(x->data, f->data, (size_t)f->size);
		x->data[f->size] = '\0';
		x->len = (size_t)f->size;
	}
	return 0;
}

static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct vfile *)a)->path, ((const struct vfile *)b)->path);
}

static struct vfile *find_file(struct verify *v, const char *path)
{
	struct vfile key = { .path = (char *)path };
	return bsearch(&key, v->files, v->n_files, sizeof(*v->files), cmp_file);
}

static bool is_hex64(const char *s)
{
	unsigned char tmp[YB_SHA256_LEN];
	return s && yb_chain_unhex(s, tmp);
}

/* ---- 1. the manifest ----------------------------------------------------------------------- */

static int check_manifest(struct verify *v, struct yb_err *err)
{
	struct vfile *m = find_file(v, "manifest.json");
	int rc;
	if (!m)
		return yb_err_set(err, YB_EINVAL, "the bundle has no manifest.json (is this an "
				  "evidence bundle? see docs/evidence-bundles.md)");
	if ((rc = yb_json_parse(m->data, m->len, &v->manifest, err)) < 0)
		return yb_err_prefix(err, "manifest.json");
	const char *format = yb_json_get_str(v->manifest, "format");
	if (!format || strcmp(format, YB_BUNDLE_FORMAT))
		return yb_err_set(err, YB_EINVAL, "manifest.json: format '%.100s' is not '%s' (made by "
				  "another version of yoban?)", format ? format : "",
				  YB_BUNDLE_FORMAT);
	struct yb_json *run = yb_json_get(v->manifest, "run_id");
	if (!yb_json_is_int(run) || yb_json_int_value(run) < 1)
		return yb_err_set(err, YB_EINVAL, "manifest.json: run_id is not a run number");
	v->rep.run_id = yb_json_int_value(run);
	static const char *const strs[] = { "runbook", "site", "exported_at", "exported_by" };
	char **dst[] = { &v->rep.runbook, &v->rep.site, &v->rep.exported_at, &v->rep.exported_by };
	for (size_t i = 0; i < YB_ARRAY_LEN(strs); i++) {
		const char *s = yb_json_get_str(v->manifest, strs[i]);
		if (!s)
			return yb_err_set(err, YB_EINVAL, "manifest.json: %s is missing", strs[i]);
		*dst[i] = xstrdup(s);
	}
	struct yb_json *head = yb_json_get(v->manifest, "chain_head");
	struct yb_json *hseq = yb_json_get(head, "seq");
	const char *hhash = yb_json_get_str(head, "hash");
	if (!yb_json_is_int(hseq) || yb_json_int_value(hseq) < 1 || !is_hex64(hhash))
		return yb_err_set(err, YB_EINVAL, "manifest.json: chain_head is not {seq, hash}");
	v->rep.head_seq = yb_json_int_value(hseq);
	snprintf(v->rep.head_hash, sizeof(v->rep.head_hash), "%s", hhash);

	struct yb_json *files = yb_json_get(v->manifest, "files");
	if (!yb_json_is_array(files))
		return yb_err_set(err, YB_EINVAL, "manifest.json: files is not a list");
	for (size_t i = 0; i < yb_json_len(files); i++) {
		struct yb_json *f = yb_json_at(files, i);
		const char *path = yb_json_get_str(f, "path"), *sha = yb_json_get_str(f, "sha256");
		struct yb_json *bytes = yb_json_get(f, "bytes");
		if (!path || !is_hex64(sha) || !yb_json_is_int(bytes) || yb_json_int_value(bytes) < 0)
			return yb_err_set(err, YB_EINVAL, "manifest.json: files[%zu] is not {path, "
					  "bytes, sha256}", i);
		if (!strcmp(path, "manifest.json"))
			return yb_err_set(err, YB_EINVAL, "manifest.json lists itself");
		struct vfile *x = find_file(v, path);
		if (!x)
			return yb_err_set(err, YB_EINVAL, "'%.300s' is listed in manifest.json but "
					  "missing from the bundle", path);
		if (x->listed)
			return yb_err_set(err, YB_EINVAL, "manifest.json lists '%.300s' twice", path);
		x->listed = true;
		if (x->size != (uint64_t)yb_json_int_value(bytes))
			return yb_err_set(err, YB_EINVAL, "'%.300s' holds %llu bytes, manifest.json "
					  "says %lld", path, (unsigned long long)x->size,
					  (long long)yb_json_int_value(bytes));
		char hex[YB_SHA256_HEX_LEN];
		yb_hex(x->sha256, YB_SHA256_LEN, hex);
		if (strcmp(hex, sha))
			return yb_err_set(err, YB_EINVAL, "'%.300s' has sha256 %s, manifest.json says "
					  "%s: the file or the manifest was changed", path, hex, sha);
	}
	for (size_t i = 0; i < v->n_files; i++)
		if (!v->files[i].listed && strcmp(v->files[i].path, "manifest.json"))
			return yb_err_set(err, YB_EINVAL, "'%.300s' is in the bundle but not listed in "
					  "manifest.json (added afterwards?)", v->files[i].path);
	v->rep.files = yb_json_len(files);
	for (size_t i = 1; i < YB_ARRAY_LEN(json_files); i++)
		if (!find_file(v, json_files[i]))
			return yb_err_set(err, YB_EINVAL, "the bundle has no %s", json_files[i]);
	return 0;
}

/* ---- 2. the chain entries ------------------------------------------------------------------ */

static int parse_entry(struct verify *v, struct ventry *x, const char *line, size_t len,
		       struct yb_err *err)
{
	struct yb_json *o = NULL;
	int rc = yb_json_parse(line, len, &o, err);
	if (rc < 0)
		return rc;
	struct yb_json *seq = yb_json_get(o, "seq");
	static const char *const keys[] = { "at", "actor", "source", "record_id", "action",
					    "run_id", "payload" };
	char **dst[] = { &x->at, &x->actor, &x->source, &x->record_id, &x->action, &x->run_id,
			 &x->payload };
	if (!yb_json_is_int(seq)) {
		rc = yb_err_set(err, YB_EINVAL, "seq is not a number");
		goto out;
	}
	x->e.seq = yb_json_int_value(seq);
	for (size_t i = 0; i < YB_ARRAY_LEN(keys); i++) {
		const char *s = yb_json_get_str(o, keys[i]);
		if (!s) {
			rc = yb_err_set(err, YB_EINVAL, "entry %lld: %s is missing",
					(long long)x->e.seq, keys[i]);
			goto out;
		}
		*dst[i] = xstrdup(s);
	}
	static const char *const hexes[] = { "payload_sha256", "prev_hash", "hash" };
	unsigned char *hdst[] = { x->e.payload_sha256, x->e.prev_hash, x->e.hash };
	for (size_t i = 0; i < YB_ARRAY_LEN(hexes); i++)
		if (!yb_chain_unhex(yb_json_get_str(o, hexes[i]), hdst[i])) {
			rc = yb_err_set(err, YB_EINVAL, "entry %lld: %s is not 64 hex digits",
					(long long)x->e.seq, hexes[i]);
			goto out;
		}
	x->e.at = x->at;
	x->e.actor = x->actor;
	x->e.source = x->source;
	x->e.record_id = x->record_id;
	x->e.action = x->action;
	x->e.run_id = x->run_id;
	if ((rc = yb_chain_check(&x->e, x->payload, strlen(x->payload), err)) < 0)
		goto out;
	if ((rc = yb_json_parse(x->payload, strlen(x->payload), &x->parsed, err)) < 0) {
		yb_err_prefix(err, "entry %lld: its payload", (long long)x->e.seq);
		goto out;
	}
	char run[24];
	snprintf(run, sizeof(run), "%lld", (long long)v->rep.run_id);
	/* the request that made the run may name another run (a rerun's names the one it reruns) */
	if (x->run_id[0] && strcmp(x->run_id, run) && strcmp(x->source, "requests"))
		rc = yb_err_set(err, YB_EINVAL, "entry %lld belongs to run %.30s, not to run %s",
				(long long)x->e.seq, x->run_id, run);
out:
	yb_json_free(o);
	return rc;
}

static int cmp_record(const void *a, const void *b)
{
	const struct ventry *x = *(struct ventry *const *)a, *y = *(struct ventry *const *)b;
	int c = strcmp(x->source, y->source);
	if (!c)
		c = strcmp(x->record_id, y->record_id);
	if (!c)
		c = x->e.seq < y->e.seq ? -1 : x->e.seq > y->e.seq;
	return c;
}

static int check_chain(struct verify *v, struct yb_err *err)
{
	struct vfile *f = find_file(v, "chain.jsonl");
	const char *p = f->data, *end = f->data + f->len;
	size_t line = 0;
	int rc;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		line++;
		if (len == 0)
			return yb_err_set(err, YB_EINVAL, "chain.jsonl line %zu is empty", line);
		v->entries = xrealloc(v->entries, (v->n_entries + 1) * sizeof(*v->entries));
		struct ventry *x = &v->entries[v->n_entries++];
		memset(x, 0, sizeof(*x));
		x->line = line;
		if ((rc = parse_entry(v, x, p, len, err)) < 0)
			return yb_err_prefix(err, "chain.jsonl line %zu", line);
		if (v->n_entries > 1) {
			struct ventry *prev = &v->entries[v->n_entries - 2];
			if (x->e.seq <= prev->e.seq)
				return yb_err_set(err, YB_EINVAL, "chain.jsonl line %zu: entry %lld comes "
						  "after entry %lld (entries must be in increasing "
						  "order)", line, (long long)x->e.seq,
						  (long long)prev->e.seq);
			if (x->e.seq == prev->e.seq + 1 &&
			    memcmp(x->e.prev_hash, prev->e.hash, YB_SHA256_LEN))
				return yb_err_set(err, YB_EINVAL, "chain.jsonl line %zu: entry %lld does "
						  "not link to entry %lld (its prev_hash is not that "
						  "entry's hash)", line, (long long)x->e.seq,
						  (long long)prev->e.seq);
		} else if (x->e.seq == 1 && memcmp(x->e.prev_hash,
						   (const unsigned char[YB_SHA256_LEN]){ 0 },
						   YB_SHA256_LEN)) {
			return yb_err_set(err, YB_EINVAL, "chain.jsonl line %zu: entry 1 has a "
					  "prev_hash that is not all zeros", line);
		}
		if (x->e.seq == v->rep.head_seq) {
			char hex[YB_SHA256_HEX_LEN];
			yb_hex(x->e.hash, YB_SHA256_LEN, hex);
			if (strcmp(hex, v->rep.head_hash))
				return yb_err_set(err, YB_EINVAL, "manifest.json: the chain head (entry "
						  "%lld, %s) is not that entry's hash in chain.jsonl",
						  (long long)x->e.seq, v->rep.head_hash);
		}
		p += len + (nl ? 1 : 0);
	}
	if (!v->n_entries)
		return yb_err_set(err, YB_EINVAL, "chain.jsonl holds no chain entries");
	v->rep.entries = v->n_entries;
	v->rep.first_seq = v->entries[0].e.seq;
	v->rep.last_seq = v->entries[v->n_entries - 1].e.seq;
	if (v->rep.last_seq > v->rep.head_seq)
		return yb_err_set(err, YB_EINVAL, "manifest.json: the chain head (entry %lld) is "
				  "older than entry %lld of chain.jsonl", (long long)v->rep.head_seq,
				  (long long)v->rep.last_seq);
	v->by_record = xmalloc(v->n_entries * sizeof(*v->by_record));
	for (size_t i = 0; i < v->n_entries; i++)
		v->by_record[i] = &v->entries[i];
	qsort(v->by_record, v->n_entries, sizeof(*v->by_record), cmp_record);
	for (size_t i = 0; i < v->n_entries; i++) {
		struct ventry *x = v->by_record[i];
		struct ventry *next = i + 1 < v->n_entries ? v->by_record[i + 1] : NULL;
		x->latest = !next || strcmp(next->source, x->source) ||
			    strcmp(next->record_id, x->record_id);
	}
	return 0;
}

static struct ventry *entry_by_seq(struct verify *v, int64_t seq)
{
	size_t lo = 0, hi = v->n_entries;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v->entries[mid].e.seq == seq)
			return &v->entries[mid];
		if (v->entries[mid].e.seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ---- 3. outputs and artifacts -------------------------------------------------------------- */

static int check_blob(struct verify *v, const struct ventry *x, const char *path,
		      const char *want_sha, struct yb_json *bytes, bool partial,
		      struct yb_err *err)
{
	struct vfile *f = find_file(v, path);
	if (!f)
		return yb_err_set(err, YB_EINVAL, "'%.300s' is missing: chain entry %lld (%s %s) "
				  "records it", path, (long long)x->e.seq, x->source, x->record_id);
	f->claimed = true;
	if (!yb_json_is_int(bytes))
		return yb_err_set(err, YB_EINVAL, "chain entry %lld (%s %s): its payload has no byte "
				  "count for '%.300s'", (long long)x->e.seq, x->source,
				  x->record_id, path);
	uint64_t want = (uint64_t)yb_json_int_value(bytes);
	if (partial) {
		if (f->size > want)
			return yb_err_set(err, YB_EINVAL, "'%.300s' holds %llu bytes, more than the "
					  "%llu that chain entry %lld records", path,
					  (unsigned long long)f->size, (unsigned long long)want,
					  (long long)x->e.seq);
		return 0;
	}
	if (f->size != want)
		return yb_err_set(err, YB_EINVAL, "'%.300s' holds %llu bytes, chain entry %lld (%s %s) "
				  "records %llu", path, (unsigned long long)f->size,
				  (long long)x->e.seq, x->source, x->record_id,
				  (unsigned long long)want);
	char hex[YB_SHA256_HEX_LEN];
	yb_hex(f->sha256, YB_SHA256_LEN, hex);
	if (strcmp(hex, want_sha))
		return yb_err_set(err, YB_EINVAL, "'%.300s' has sha256 %s, chain entry %lld (%s %s) "
				  "records %s: the file was changed", path, hex,
				  (long long)x->e.seq, x->source, x->record_id, want_sha);
	return 0;
}

static int check_job(struct verify *v, const struct ventry *x, struct yb_err *err)
{
	const struct yb_json *p = x->parsed;
	struct yb_json *id = yb_json_get(p, "id");
	const char *step = yb_json_get_str(p, "step"), *host = yb_json_get_str(p, "host");
	if (!yb_json_is_int(id) || !step || !host)
		return yb_err_set(err, YB_EINVAL, "chain entry %lld (jobs %s): its payload has no id, "
				  "step or host", (long long)x->e.seq, x->record_id);
	bool partial = yb_json_get_int(p, "dropped_bytes", 0) > 0;
	for (int s = 0; s < 2; s++) {
		const char *sha = yb_json_get_str(p, s ? "stderr_sha256" : "stdout_sha256");
		if (!sha)
			continue; /* the job has not ended: no output in the bundle */
		if (!is_hex64(sha))
			return yb_err_set(err, YB_EINVAL, "chain entry %lld (jobs %s): its %s digest "
					  "is not 64 hex digits", (long long)x->e.seq, x->record_id,
					  s ? "stderr" : "stdout");
		char *name = yb_bundle_output_name(yb_json_int_value(id), step, host, s);
		int rc = check_blob(v, x, name, sha, yb_json_get(p, s ? "stderr_bytes" : "stdout_bytes"),
				    partial, err);
		free(name);
		if (rc < 0)
			return rc;
		v->rep.outputs++;
		v->rep.partial += partial;
	}
	return 0;
}

static int check_artifact(struct verify *v, const struct ventry *x, struct yb_err *err)
{
	const struct yb_json *p = x->parsed;
	struct yb_json *job = yb_json_get(p, "job_id");
	const char *name = yb_json_get_str(p, "name"), *sha = yb_json_get_str(p, "sha256");
	if (!yb_json_is_int(job) || !name || !is_hex64(sha))
		return yb_err_set(err, YB_EINVAL, "chain entry %lld (artifacts %s): its payload has no "
				  "job_id, name or sha256", (long long)x->e.seq, x->record_id);
	char *path = yb_bundle_artifact_name(yb_json_int_value(job), name);
	int rc = check_blob(v, x, path, sha, yb_json_get(p, "bytes"), false, err);
	free(path);
	if (rc == 0)
		v->rep.artifacts++;
	return rc;
}

static int check_blobs(struct verify *v, struct yb_err *err)
{
	int rc;
	for (size_t i = 0; i < v->n_entries; i++) {
		struct ventry *x = &v->entries[i];
		if (!x->latest)
			continue;
		if (!strcmp(x->source, "jobs") && (rc = check_job(v, x, err)) < 0)
			return rc;
		if (!strcmp(x->source, "artifacts") && (rc = check_artifact(v, x, err)) < 0)
			return rc;
	}
	for (size_t i = 0; i < v->n_files; i++) {
		struct vfile *f = &v->files[i];
		bool blob = !strncmp(f->path, "outputs/", 8) || !strncmp(f->path, "artifacts/", 10);
		if (blob && !f->claimed)
			return yb_err_set(err, YB_EINVAL, "'%.300s' is not the output or artifact of any "
					  "entry in chain.jsonl", f->path);
	}
	return 0;
}

/* ---- 4. run.json --------------------------------------------------------------------------- */

static int check_item(struct verify *v, const char *section, size_t i, struct yb_json *item,
		      struct yb_err *err)
{
	struct yb_json *seq = yb_json_get(item, "seq");
	const char *rid = yb_json_get_str(item, "record_id");
	struct yb_json *record = yb_json_get(item, "record");
	if (!yb_json_is_int(seq) || !rid || !record)
		return yb_err_set(err, YB_EINVAL, "run.json: records.%.60s[%zu] is not {seq, "
				  "record_id, record}", section, i);
	struct ventry *x = entry_by_seq(v, yb_json_int_value(seq));
	if (!x)
		return yb_err_set(err, YB_EINVAL, "run.json: records.%.60s[%zu] names chain entry "
				  "%lld, which chain.jsonl does not hold", section, i,
				  (long long)yb_json_int_value(seq));
	if (strcmp(x->source, section) || strcmp(x->record_id, rid))
		return yb_err_set(err, YB_EINVAL, "run.json: records.%.60s[%zu] (%.60s %.60s) names "
				  "chain entry %lld, which is %s %s", section, i, section, rid,
				  (long long)x->e.seq, x->source, x->record_id);
	if (!x->latest)
		return yb_err_set(err, YB_EINVAL, "run.json: records.%.60s[%zu] (%s %s) shows chain "
				  "entry %lld, not the record's latest entry in chain.jsonl", section,
				  i, x->source, x->record_id, (long long)x->e.seq);
	if (x->shown)
		return yb_err_set(err, YB_EINVAL, "run.json shows %s %s twice", x->source,
				  x->record_id);
	const char *fields[] = { "action", "at", "actor" };
	const char *want[] = { x->action, x->at, x->actor };
	for (size_t k = 0; k < YB_ARRAY_LEN(fields); k++) {
		const char *got = yb_json_get_str(item, fields[k]);
		if (!got || strcmp(got, want[k]))
			return yb_err_set(err, YB_EINVAL, "run.json: records.%.60s[%zu] (%s %s): its %s "
					  "is not that of chain entry %lld", section, i, x->source,
					  x->record_id, fields[k], (long long)x->e.seq);
	}
	x->shown = true;
	if (!yb_json_equal(record, x->parsed))
		return yb_err_set(err, YB_EINVAL, "run.json: records.%.60s[%zu] (%s %s) is not the "
				  "payload of chain entry %lld: run.json was changed", section, i,
				  x->source, x->record_id, (long long)x->e.seq);
	v->rep.records++;
	return 0;
}

static int check_run(struct verify *v, struct yb_err *err)
{
	struct vfile *f = find_file(v, "run.json");
	int rc;
	if ((rc = yb_json_parse(f->data, f->len, &v->run, err)) < 0)
		return yb_err_prefix(err, "run.json");
	const char *format = yb_json_get_str(v->run, "format");
	if (!format || strcmp(format, YB_BUNDLE_RUN_FORMAT))
		return yb_err_set(err, YB_EINVAL, "run.json: format is not '%s'", YB_BUNDLE_RUN_FORMAT);
	if (yb_json_get_int(v->run, "run_id", 0) != v->rep.run_id)
		return yb_err_set(err, YB_EINVAL, "run.json is about another run than manifest.json "
				  "(%lld)", (long long)v->rep.run_id);
	struct yb_json *records = yb_json_get(v->run, "records");
	if (!yb_json_is_object(records))
		return yb_err_set(err, YB_EINVAL, "run.json: records is not an object");
	void *it = NULL;
	const char *section;
	struct yb_json *items;
	while (yb_json_next_member(records, &it, &section, &items)) {
		if (!yb_json_is_array(items))
			return yb_err_set(err, YB_EINVAL, "run.json: records.%.60s is not a list",
					  section);
		for (size_t i = 0; i < yb_json_len(items); i++)
			if ((rc = check_item(v, section, i, yb_json_at(items, i), err)) < 0)
				return rc;
	}
	for (size_t i = 0; i < v->n_entries; i++) {
		struct ventry *x = &v->entries[i];
		if (x->latest && !x->shown)
			return yb_err_set(err, YB_EINVAL, "run.json leaves out %s %s (chain entry %lld)",
					  x->source, x->record_id, (long long)x->e.seq);
	}
	return 0;
}

/* ---- the whole ----------------------------------------------------------------------------- */

static void verify_release(struct verify *v)
{
	for (size_t i = 0; i < v->n_files; i++) {
		free(v->files[i].path);
		free(v->files[i].data);
	}
	for (size_t i = 0; i < v->n_entries; i++) {
		struct ventry *x = &v->entries[i];
		free(x->at);
		free(x->actor);
		free(x->source);
		free(x->record_id);
		free(x->action);
		free(x->run_id);
		free(x->payload);
		yb_json_free(x->parsed);
	}
	free(v->files);
	free(v->entries);
	free(v->by_record);
	yb_json_free(v->manifest);
	yb_json_free(v->run);
	yb_bundle_report_release(&v->rep);
}

int yb_bundle_verify(aio_source_fn source, void *source_ctx, struct yb_bundle_report *out,
		     struct yb_err *err)
{
	struct verify v = { 0 };
	int rc;
	if ((rc = yb_bundle_read(source, source_ctx, true, on_file, &v, err)) < 0)
		goto out;
	qsort(v.files, v.n_files, sizeof(*v.files), cmp_file);
	if ((rc = check_manifest(&v, err)) < 0 || (rc = check_chain(&v, err)) < 0 ||
	    (rc = check_blobs(&v, err)) < 0 || (rc = check_run(&v, err)) < 0)
		goto out;
	if (out) {
		*out = v.rep;
		memset(&v.rep, 0, sizeof(v.rep));
	}
out:
	verify_release(&v);
	return rc;
}

struct mem_source {
	const unsigned char *p;
	size_t left;
};

static ssize_t mem_next(void *ctx, const void **data, struct yb_err *err)
{
	struct mem_source *m = ctx;
	(void)err;
	size_t n = m->left < (64u << 10) ? m->left : (64u << 10);
	*data = m->p;
	m->p += n;
	m->left -= n;
	return (ssize_t)n;
}

int yb_bundle_verify_mem(const void *data, size_t len, struct yb_bundle_report *out,
			 struct yb_err *err)
{
	struct mem_source m = { data, len };
	return yb_bundle_verify(mem_next, &m, out, err);
}

struct fd_source {
	int fd;
	const char *path;
	char buf[64 * 1024];
};

static ssize_t fd_next(void *ctx, const void **data, struct yb_err *err)
{
	struct fd_source *s = ctx;
	ssize_t n;
	do
		n = read(s->fd, s->buf, sizeof(s->buf));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return yb_err_set(err, YB_EIO, "cannot read '%s': %s", s->path, strerror(errno));
	*data = s->buf;
	return n;
}

int yb_bundle_verify_file(const char *path, struct yb_bundle_report *out, struct yb_err *err)
{
	struct fd_source *s = xmalloc(sizeof(*s));
	int rc;
	s->path = path;
	s->fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (s->fd < 0) {
		rc = yb_err_set(err, errno == ENOENT ? YB_ENOENT : YB_EIO, "cannot open '%s': %s", path,
				strerror(errno));
		free(s);
		return rc;
	}
	struct stat st;
	if (fstat(s->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = yb_err_set(err, YB_EINVAL, "'%s' is not a regular file", path);
		goto out;
	}
	fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) & ~O_NONBLOCK);
	rc = yb_bundle_verify(fd_next, s, out, err);
	if (rc < 0 && rc != YB_EIO)
		yb_err_prefix(err, "'%s'", path);
out:
	close(s->fd);
	free(s);
	return rc;
}

void yb_bundle_report_release(struct yb_bundle_report *r)
{
	if (!r)
		return;
	free(r->runbook);
	free(r->site);
	free(r->exported_at);
	free(r->exported_by);
	memset(r, 0, sizeof(*r));
}

struct yb_json *yb_bundle_report_json(const struct yb_bundle_report *r)
{
	struct yb_json *o = yb_json_object();
	yb_json_set(o, "ok", yb_json_bool(true));
	yb_json_set(o, "run_id", yb_json_int(r->run_id));
	yb_json_set(o, "runbook", yb_json_str(r->runbook));
	yb_json_set(o, "site", yb_json_str(r->site));
	yb_json_set(o, "exported_at", yb_json_str(r->exported_at));
	yb_json_set(o, "exported_by", yb_json_str(r->exported_by));
	yb_json_set(o, "entries", yb_json_int((int64_t)r->entries));
	yb_json_set(o, "first_seq", yb_json_int(r->first_seq));
	yb_json_set(o, "last_seq", yb_json_int(r->last_seq));
	yb_json_set(o, "records", yb_json_int((int64_t)r->records));
	yb_json_set(o, "files", yb_json_int((int64_t)r->files));
	yb_json_set(o, "outputs", yb_json_int((int64_t)r->outputs));
	yb_json_set(o, "artifacts", yb_json_int((int64_t)r->artifacts));
	yb_json_set(o, "partial_outputs", yb_json_int((int64_t)r->partial));
	struct yb_json *h = yb_json_object();
	yb_json_set(h, "seq", yb_json_int(r->head_seq));
	yb_json_set(h, "hash", yb_json_str(r->head_hash));
	yb_json_set(o, "chain_head", h);
	return o;
}
