/*
 * verify.h: `yoban verify`: re-walks the evidence chain and the records it covers, and names the
 * first bad row and what is wrong with it (docs/evidence.md).
 *
 * All checks read one snapshot (a REPEATABLE READ, READ ONLY transaction), so a daemon writing
 * meanwhile cannot make a sound chain look broken:
 *   1. the walk, in seq order, a page at a time: no gap, each prev_hash the previous entry's hash,
 *      each payload digest and hash recomputed here (yb_chain_check, chain.h), and, with a
 *      checkpoint, its entry's hash the signed one and the head not below it;
 *   2. the records: the latest entry of each record equals the record's payload now
 *      (yoban_evidence_payload), and the record still exists;
 *   3. every record that should have an entry has one (yoban_evidence_unchained);
 *   4. each ended job's stored output hashes to its stdout_sha256 / stderr_sha256 (output cut at
 *      the runner's cap, dropped_bytes > 0, cannot be checked and is skipped).
 * The first problem found stops the check; it is the problem of the lowest seq within its kind.
 */
#ifndef YB_VERIFY_H
#define YB_VERIFY_H

#include "checkpoint.h"
#include "db.h"

struct yb_verify_opts {
	int64_t from;                        /* walk from this seq (1: all) */
	const struct yb_checkpoint *checkpoint; /* NULL: none; its signature is checked here */
	const unsigned char *pinned_key;     /* with a checkpoint: the key that must have signed it */
	/* Called after each page of the walk (may be NULL). */
	void (*progress)(void *ctx, int64_t done, int64_t total);
	void *ctx;
};

struct yb_verify_report {
	bool ok;
	char *problem;            /* the first bad row and what is wrong; NULL when ok */
	int64_t head_seq;         /* 0: an empty chain */
	char head_hash[2 * YB_SHA256_LEN + 1];
	int64_t entries;          /* entries walked */
	int64_t records;          /* records compared with their latest entry */
	int64_t outputs;          /* job streams whose stored output was hashed */
	bool checkpoint_ok;       /* a checkpoint was given and the chain extends it */
};

/* Runs the checks on c. Returns 0 with *out filled (ok or not), or a negative YB_E* code when the
 * checks could not be made (the database refused, a lost connection). */
int yb_verify_run(struct db_conn *c, const struct yb_verify_opts *o, struct yb_verify_report *out,
		  struct yb_err *err);
void yb_verify_report_release(struct yb_verify_report *r);

#endif
