/*
 * bundle.h: evidence bundles, one run's evidence in one self-contained file that anyone can
 * check without the database (docs/evidence-bundles.md).
 *
 * A bundle is a pax tar stream compressed with zstd (".tar.zst"), holding regular files only:
 *   manifest.json   format YB_BUNDLE_FORMAT, site, run, runbook, exported_at (UTC) and _by, the
 *                   chain head at export {seq, hash}, and every other file {path, bytes, sha256}
 *   run.json        the run's records for people to read, each as its latest chain entry holds it
 *   chain.jsonl     the chain entries of the run, one JSON object a line, with the payload's text
 *   outputs/JOB-STEP-HOST.stdout|.stderr   each ended job's output, as stored
 *   artifacts/JOB-NAME.csv                 each artifact's bytes (a data patch's before/after)
 *   README.txt      what this is and how to check it (ja and en)
 *
 * Writing (yb_bundle_export, bundle.c) reads the database in one read-only snapshot, writes
 * FILE.tmp, verifies that file with the offline verifier below and only then renames it to
 * FILE: a FILE that exists is always whole and checked. Reading (yb_bundle_verify,
 * bundle_verify.c) trusts nothing in the file: every read is capped, names are checked, nothing
 * touches the disk, and the first problem is returned in err naming the file or entry.
 *
 * bundle_io.c holds what both share: the tar.zst writer and the capped tar.zst reader (through
 * common/archive_io.c and common/compress.c), and the file names of outputs and artifacts.
 */
#ifndef YB_BUNDLE_H
#define YB_BUNDLE_H

#include "archive_io.h"
#include "buf.h"
#include "db.h"
#include "digest.h"
#include "json.h"
#include "yb.h"

#define YB_BUNDLE_FORMAT "yoban-evidence-bundle/1"
#define YB_BUNDLE_RUN_FORMAT "yoban-evidence-run/1"

/* What a reader accepts (aio_read_files limits): a file of at most 4 GiB, 64 GiB in all, 200,000
 * files; the JSON files (manifest.json, run.json, chain.jsonl) must each fit in 256 MiB. */
#define YB_BUNDLE_MAX_FILE (4ull << 30)
#define YB_BUNDLE_MAX_TOTAL (64ull << 30)
#define YB_BUNDLE_MAX_FILES 200000
#define YB_BUNDLE_MAX_KEPT (256u << 20)

/* ---- the tar.zst stream (bundle_io.c) ---- */

struct yb_bundle_writer;

/* A writer whose compressed bytes go to sink; every file gets mtime_s. The writer lists each
 * file it is given (path, bytes, sha256) for the manifest. */
struct yb_bundle_writer *yb_bundle_writer_new(yb_sink_fn sink, void *sink_ctx, int64_t mtime_s,
					      struct yb_err *err);
int yb_bundle_add(struct yb_bundle_writer *w, const char *path, const void *data, size_t len,
		  struct yb_err *err);
/* Writes manifest.json (head, with "files" added: every file added so far, in order), ends the
 * tar stream and the zstd frame. head is borrowed. */
int yb_bundle_finish(struct yb_bundle_writer *w, const struct yb_json *head, struct yb_err *err);
void yb_bundle_writer_free(struct yb_bundle_writer *w);
/* Bytes of compressed output and files written so far (for progress). */
uint64_t yb_bundle_written(const struct yb_bundle_writer *w);
size_t yb_bundle_files(const struct yb_bundle_writer *w);

/* Reads a tar.zst stream whose compressed bytes come from source and hands each file to
 * on_file (aio_read_files with the YB_BUNDLE_* limits; with json_only, only manifest.json,
 * run.json and chain.jsonl come with their bytes, the others with their size and digest). A
 * damaged zstd frame or tar header is YB_EINVAL with a message saying which. */
int yb_bundle_read(aio_source_fn source, void *source_ctx, bool json_only, aio_file_fn on_file,
		   void *file_ctx, struct yb_err *err);

/* "outputs/17-fix-address-code-db1.stdout", "artifacts/17-before.csv": names built from what a
 * chain payload records; characters outside [A-Za-z0-9._-] become '_'. The caller frees them. */
char *yb_bundle_output_name(int64_t job_id, const char *step, const char *host, bool stderr_);
char *yb_bundle_artifact_name(int64_t job_id, const char *name);

/* ---- verifying (bundle_verify.c) ---- */

struct yb_bundle_report {
	int64_t run_id;
	char *runbook, *site, *exported_at, *exported_by;
	size_t entries;            /* chain entries in chain.jsonl */
	size_t records;            /* records in run.json */
	size_t files;              /* files in the manifest (manifest.json not counted) */
	size_t outputs, artifacts; /* output and artifact files checked against the chain */
	size_t partial;            /* outputs the runner cut (dropped_bytes): length-checked only */
	int64_t first_seq, last_seq;
	int64_t head_seq;
	char head_hash[YB_SHA256_HEX_LEN];
};

/* Verifies a whole bundle; 0 with *out filled, or YB_EINVAL (a problem, named in err) or another
 * YB_E* code. out may be NULL. */
int yb_bundle_verify(aio_source_fn source, void *source_ctx, struct yb_bundle_report *out,
		     struct yb_err *err);
int yb_bundle_verify_mem(const void *data, size_t len, struct yb_bundle_report *out,
			 struct yb_err *err);
int yb_bundle_verify_file(const char *path, struct yb_bundle_report *out, struct yb_err *err);
void yb_bundle_report_release(struct yb_bundle_report *r);
/* The report as JSON (for --format json). */
struct yb_json *yb_bundle_report_json(const struct yb_bundle_report *r);

/* ---- exporting (bundle.c) ---- */

/* Called now and then while the bundle is written (the CLI shows it on a terminal). */
typedef void (*yb_bundle_progress_fn)(void *ctx, uint64_t bytes, size_t files);

struct yb_bundle_export {
	int64_t run_id;
	const char *file;          /* written as FILE.tmp, verified, renamed */
	bool force;                /* replace an existing FILE */
	yb_bundle_progress_fn progress;
	void *progress_ctx;
};

/* Exports run o->run_id from the database c into o->file. YB_ENOENT when the run does not exist
 * or has no chain entries, YB_EEXIST when the file exists and !force, YB_EDB/YB_EIO on failures,
 * YB_EINVAL when what was written does not verify (the stored records disagree with the chain:
 * run `yoban verify`). On success *out (may be NULL) is the verifier's report of the file. */
int yb_bundle_export(struct db_conn *c, const struct yb_bundle_export *o,
		     struct yb_bundle_report *out, struct yb_err *err);

#endif
