/*
 * test_chain.c: the evidence chain's entry hash is the formula chain.h writes down, byte for
 * byte: the expected digests below were computed outside Yoban (Python's hashlib over the same
 * length-prefixed fields), so a change to the formula, which would orphan every chain already in
 * a database, fails here. Any one changed field, a broken link or a payload that is not the one
 * chained is caught; Ed25519 signatures (checkpoints) verify only for their key and message.
 */
#include "chain.h"
#include "digest.h"
#include "yb.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static const char payload[] = "{\"id\": 7, \"state\": \"succeeded\"}";

static void hex_is(const unsigned char *bytes, const char *want)
{
	char got[2 * YB_SHA256_LEN + 1];
	yb_hex(bytes, YB_SHA256_LEN, got);
	ck_assert_str_eq(got, want);
}

static void two_entries(struct yb_chain_entry *e1, struct yb_chain_entry *e2)
{
	memset(e1, 0, sizeof *e1);
	e1->seq = 1;
	e1->at = "2026-12-01T16:45:00.123456Z";
	e1->actor = "yoban";
	e1->source = "jobs";
	e1->record_id = "7";
	e1->action = "update";
	e1->run_id = "3";
	yb_sha256(payload, strlen(payload), e1->payload_sha256);
	yb_chain_hash(e1, e1->hash);

	memset(e2, 0, sizeof *e2);
	e2->seq = 2;
	e2->at = "2026-12-01T16:45:01.000000Z";
	e2->actor = "鈴木";
	e2->source = "approvals";
	e2->record_id = "12";
	e2->action = "insert";
	e2->run_id = "";
	memcpy(e2->payload_sha256, e1->payload_sha256, YB_SHA256_LEN);
	memcpy(e2->prev_hash, e1->hash, YB_SHA256_LEN);
	yb_chain_hash(e2, e2->hash);
}

START_TEST(hash_is_the_written_formula)
{
	struct yb_chain_entry e1, e2;
	two_entries(&e1, &e2);
	hex_is(e1.payload_sha256, "5c93c8db0885c266e27429a5c00ed9b83fb19020adf7a23b98e235f3704dd81b");
	hex_is(e1.hash, "1922cf5725fb426ff0583bcf0ce063089a8fe656a01fca6b1fb82f1fac938390");
	hex_is(e2.hash, "2a93a91bac31a06530a1c24ad59a616ed067f5ec60377ad64be2a40348ae627c");
}
END_TEST

START_TEST(any_change_is_caught)
{
	struct yb_chain_entry e1, e2;
	struct yb_err err = { 0 };
	two_entries(&e1, &e2);
	ck_assert_int_eq(yb_chain_check(&e1, payload, strlen(payload), &err), 0);
	ck_assert_int_eq(yb_chain_check(&e2, payload, strlen(payload), &err), 0);

	/* the payload is not the one chained */
	ck_assert_int_eq(yb_chain_check(&e1, "{\"id\": 7, \"state\": \"failed\"}", 29, &err), YB_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "entry 1 (jobs 7)"));
	ck_assert_ptr_nonnull(strstr(err.msg, "payload"));

	/* one field changed, the hash left as it was */
	struct yb_chain_entry x = e2;
	x.actor = "tanaka";
	ck_assert_int_eq(yb_chain_check(&x, NULL, 0, &err), YB_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "entry 2 (approvals 12)"));
	x = e2;
	x.run_id = "3";
	ck_assert_int_eq(yb_chain_check(&x, NULL, 0, &err), YB_EINVAL);
	x = e2;
	x.seq = 3;
	ck_assert_int_eq(yb_chain_check(&x, NULL, 0, &err), YB_EINVAL);
	/* a field moved into its neighbour still differs: the length prefixes */
	x = e2;
	x.source = "approvals1";
	x.record_id = "2";
	ck_assert_int_eq(yb_chain_check(&x, NULL, 0, &err), YB_EINVAL);
	/* a broken link: the previous hash is not entry 1's */
	x = e2;
	x.prev_hash[0] ^= 1;
	ck_assert_int_eq(yb_chain_check(&x, NULL, 0, &err), YB_EINVAL);
	/* a time that is not UTC in the one form */
	x = e2;
	x.at = "2026-12-02T01:45:01.000000+09:00";
	ck_assert_int_eq(yb_chain_check(&x, NULL, 0, &err), YB_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "UTC"));
	yb_err_clear(&err);
}
END_TEST

START_TEST(unhex)
{
	unsigned char b[YB_SHA256_LEN];
	ck_assert(yb_chain_unhex("1922cf5725fb426ff0583bcf0ce063089a8fe656a01fca6b1fb82f1fac938390", b));
	hex_is(b, "1922cf5725fb426ff0583bcf0ce063089a8fe656a01fca6b1fb82f1fac938390");
	ck_assert(!yb_chain_unhex("1922CF5725fb426ff0583bcf0ce063089a8fe656a01fca6b1fb82f1fac938390", b));
	ck_assert(!yb_chain_unhex("1922", b));
	ck_assert(!yb_chain_unhex(NULL, b));
}
END_TEST

START_TEST(signatures)
{
	unsigned char pk[YB_SIGN_PUBLIC_LEN], sk[YB_SIGN_SECRET_LEN], pk2[YB_SIGN_PUBLIC_LEN],
		sk2[YB_SIGN_SECRET_LEN], back[YB_SIGN_PUBLIC_LEN], sig[YB_SIGN_LEN];
	const char msg[] = "yoban-checkpoint/1\nseq 2\n";
	yb_sign_keypair(pk, sk);
	yb_sign_keypair(pk2, sk2);
	yb_sign_public(sk, back);
	ck_assert_mem_eq(pk, back, YB_SIGN_PUBLIC_LEN);
	yb_sign(sig, msg, strlen(msg), sk);
	ck_assert(yb_sign_verify(sig, msg, strlen(msg), pk));
	ck_assert(!yb_sign_verify(sig, msg, strlen(msg), pk2));
	ck_assert(!yb_sign_verify(sig, "yoban-checkpoint/1\nseq 3\n", strlen(msg), pk));
	sig[5] ^= 0x10;
	ck_assert(!yb_sign_verify(sig, msg, strlen(msg), pk));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("chain");
	TCase *tc = tcase_create("chain");
	tcase_add_test(tc, hash_is_the_written_formula);
	tcase_add_test(tc, any_change_is_caught);
	tcase_add_test(tc, unhex);
	tcase_add_test(tc, signatures);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
