/* chain.c: the evidence chain's entry hash (the formula is in chain.h). */
#include "chain.h"

#include <string.h>

static void put_lp(struct yb_sha256 *h, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	unsigned char len[4] = { (unsigned char)(n >> 24), (unsigned char)(n >> 16),
				 (unsigned char)(n >> 8), (unsigned char)n };
	yb_sha256_update(h, len, sizeof len);
	if (n)
		yb_sha256_update(h, s, n);
}

void yb_chain_hash(const struct yb_chain_entry *e, unsigned char out[YB_SHA256_LEN])
{
	struct yb_sha256 h;
	unsigned char seq[8];
	uint64_t v = (uint64_t)e->seq;

	for (int i = 7; i >= 0; i--, v >>= 8)
		seq[i] = (unsigned char)v;
	yb_sha256_init(&h);
	yb_sha256_update(&h, e->prev_hash, YB_SHA256_LEN);
	yb_sha256_update(&h, seq, sizeof seq);
	put_lp(&h, e->at);
	put_lp(&h, e->actor);
	put_lp(&h, e->source);
	put_lp(&h, e->record_id);
	put_lp(&h, e->action);
	put_lp(&h, e->run_id);
	yb_sha256_update(&h, e->payload_sha256, YB_SHA256_LEN);
	yb_sha256_final(&h, out);
}

static bool at_well_formed(const char *at)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";

	if (!at || strlen(at) != YB_CHAIN_AT_LEN)
		return false;
	for (size_t i = 0; i < YB_CHAIN_AT_LEN; i++) {
		if (shape[i] == 'd' ? (at[i] < '0' || at[i] > '9') : at[i] != shape[i])
			return false;
	}
	return true;
}

int yb_chain_check(const struct yb_chain_entry *e, const char *payload, size_t payload_len,
		   struct yb_err *err)
{
	unsigned char want[YB_SHA256_LEN];

	if (e->seq < 1)
		return yb_err_set(err, YB_EINVAL, "entry %lld: a sequence number below 1",
				  (long long)e->seq);
	if (!at_well_formed(e->at))
		return yb_err_set(err, YB_EINVAL,
				  "entry %lld: its time '%s' is not UTC as YYYY-MM-DDTHH:MM:SS.ffffffZ",
				  (long long)e->seq, e->at ? e->at : "");
	if (payload) {
		yb_sha256(payload, payload_len, want);
		if (memcmp(want, e->payload_sha256, YB_SHA256_LEN) != 0)
			return yb_err_set(err, YB_EINVAL,
					  "entry %lld (%s %s): its payload does not match the payload "
					  "digest it was chained with",
					  (long long)e->seq, e->source ? e->source : "",
					  e->record_id ? e->record_id : "");
	}
	yb_chain_hash(e, want);
	if (memcmp(want, e->hash, YB_SHA256_LEN) != 0)
		return yb_err_set(err, YB_EINVAL,
				  "entry %lld (%s %s): its hash is not the hash of its fields and the "
				  "previous hash",
				  (long long)e->seq, e->source ? e->source : "",
				  e->record_id ? e->record_id : "");
	return 0;
}

bool yb_chain_unhex(const char *text, unsigned char out[YB_SHA256_LEN])
{
	if (!text || strlen(text) != 2 * YB_SHA256_LEN)
		return false;
	for (size_t i = 0; i < YB_SHA256_LEN; i++) {
		int v = 0;
		for (int k = 0; k < 2; k++) {
			char c = text[2 * i + k];
			int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
			if (d < 0)
				return false;
			v = v * 16 + d;
		}
		out[i] = (unsigned char)v;
	}
	return true;
}
