/*
 * chain.h: the evidence chain's entry hash, the one formula shared by the database (the
 * chain trigger of 013_evidence_chain.sql computes it in SQL), `yoban verify` (which recomputes
 * it here, independently of the database) and `yoban evidence verify` (offline, from a bundle).
 *
 *   hash = SHA-256( prev_hash                  32 bytes; 32 zero bytes before entry 1
 *                || seq                        8 bytes, big-endian
 *                || lp(at)                     UTC, "YYYY-MM-DDTHH:MM:SS.ffffffZ" (6 digits)
 *                || lp(actor)                  session_user of the writing transaction
 *                || lp(source)                 the table the record is in, e.g. "jobs"
 *                || lp(record_id)              the record's key as text
 *                || lp(action)                 "insert", "update", ...
 *                || lp(run_id)                 decimal, or "" when the record has no run
 *                || payload_sha256 )           32 bytes: SHA-256 of the payload's JSON text
 *
 *   lp(s) = s's length in bytes as 4 bytes big-endian, then its UTF-8 bytes.
 *
 * Every field is length-prefixed, so no two different entries hash the same bytes.
 */
#ifndef YB_CHAIN_H
#define YB_CHAIN_H

#include "digest.h"
#include "yb.h"

#include <stdint.h>

#define YB_CHAIN_AT_LEN 27 /* "2026-12-01T16:45:00.123456Z" */

struct yb_chain_entry {
	int64_t seq;
	const char *at;        /* UTC, YB_CHAIN_AT_LEN characters */
	const char *actor;
	const char *source;
	const char *record_id;
	const char *action;
	const char *run_id;    /* decimal or "" */
	unsigned char payload_sha256[YB_SHA256_LEN];
	unsigned char prev_hash[YB_SHA256_LEN];
	unsigned char hash[YB_SHA256_LEN];
};

/* The hash entry e should carry (from its fields and prev_hash; e->hash is not read). */
void yb_chain_hash(const struct yb_chain_entry *e, unsigned char out[YB_SHA256_LEN]);

/* Checks one entry on its own: the payload's digest, the at format and the hash. On a mismatch
 * returns YB_EINVAL with err naming the entry's seq and what differs. payload may be NULL to
 * skip the payload digest check. */
int yb_chain_check(const struct yb_chain_entry *e, const char *payload, size_t payload_len,
		   struct yb_err *err);

/* Decodes 64 hex digits into 32 bytes; false when text is not that. */
bool yb_chain_unhex(const char *text, unsigned char out[YB_SHA256_LEN]);

#endif
