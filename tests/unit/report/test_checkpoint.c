/*
 * test_checkpoint.c: a checkpoint signs exactly the text checkpoint.h documents (the message is
 * checked against its written form, and the signature against libsodium through yb_sign_verify
 * on that text); it survives its own JSON file; any changed field, another key than the pinned
 * one, or a malformed file is refused; key files are made once, private, and read back.
 */
#include "checkpoint.h"
#include "digest.h"
#include "yb.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void sample(struct yb_checkpoint *cp)
{
	memset(cp, 0, sizeof *cp);
	snprintf(cp->site, sizeof cp->site, "0123456789abcdef");
	cp->seq = 42;
	snprintf(cp->hash, sizeof cp->hash, "%s",
		 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	snprintf(cp->signed_at, sizeof cp->signed_at, "2026-12-01T16:45:00.123456Z");
}

START_TEST(message_is_the_documented_text)
{
	struct yb_checkpoint cp;
	sample(&cp);
	char *m = yb_checkpoint_message(&cp);
	ck_assert_str_eq(m, "yoban-checkpoint/1\nsite 0123456789abcdef\nseq 42\n"
			    "hash e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
			    "signed_at 2026-12-01T16:45:00.123456Z\n");
	free(m);
}
END_TEST

START_TEST(sign_check_and_tamper)
{
	unsigned char pk[YB_SIGN_PUBLIC_LEN], sk[YB_SIGN_SECRET_LEN], pk2[YB_SIGN_PUBLIC_LEN],
		sk2[YB_SIGN_SECRET_LEN], sig[YB_SIGN_LEN];
	struct yb_checkpoint cp, back, bad;
	struct yb_err err = { 0 };

	yb_sign_keypair(pk, sk);
	yb_sign_keypair(pk2, sk2);
	sample(&cp);
	yb_checkpoint_sign(&cp, sk);
	/* the signature is over the documented message, verifiable without this module */
	char *m = yb_checkpoint_message(&cp);
	ck_assert(yb_unhex_n(cp.signature, YB_SIGN_LEN, sig));
	ck_assert(yb_sign_verify(sig, m, strlen(m), pk));
	free(m);
	ck_assert_int_eq(yb_checkpoint_check(&cp, NULL, &err), 0);
	ck_assert_int_eq(yb_checkpoint_check(&cp, pk, &err), 0);
	ck_assert_int_eq(yb_checkpoint_check(&cp, pk2, &err), YB_EPERM);
	ck_assert_ptr_nonnull(strstr(err.msg, "pinned"));

	char *json = yb_checkpoint_json(&cp);
	ck_assert_int_eq(yb_checkpoint_parse(json, strlen(json), &back, &err), 0);
	free(json);
	ck_assert_int_eq(memcmp(&back, &cp, sizeof cp), 0);

	bad = cp;
	bad.seq = 41;
	ck_assert_int_eq(yb_checkpoint_check(&bad, NULL, &err), YB_EPERM);
	bad = cp;
	bad.hash[0] = 'f';
	ck_assert_int_eq(yb_checkpoint_check(&bad, NULL, &err), YB_EPERM);
	bad = cp;
	bad.signed_at[3] = '7';
	ck_assert_int_eq(yb_checkpoint_check(&bad, NULL, &err), YB_EPERM);
	bad = cp;
	bad.site[0] = '9';
	ck_assert_int_eq(yb_checkpoint_check(&bad, NULL, &err), YB_EPERM);
	/* a forger's own key signs fine, which is why verify pins the key */
	bad = cp;
	bad.seq = 7;
	yb_checkpoint_sign(&bad, sk2);
	ck_assert_int_eq(yb_checkpoint_check(&bad, NULL, &err), 0);
	ck_assert_int_eq(yb_checkpoint_check(&bad, pk, &err), YB_EPERM);
}
END_TEST

START_TEST(malformed_files)
{
	struct yb_checkpoint cp;
	struct yb_err err = { 0 };
	static const char *bad[] = {
		"[]",
		"{\"format\": \"yoban-checkpoint/2\"}",
		"{\"format\": \"yoban-checkpoint/1\", \"site\": \"a\", \"seq\": 0, \"hash\": \"x\"}",
		"{\"format\": \"yoban-checkpoint/1\", \"site\": \"a\", \"seq\": 3, \"hash\": \"ABCD\","
		" \"signed_at\": \"t\", \"public_key\": \"00\", \"signature\": \"00\"}",
		"{\"format\": \"yoban-checkpoint/1\", \"site\": \"a\", \"seq\": \"3\"}",
		"not json",
	};
	for (size_t i = 0; i < YB_ARRAY_LEN(bad); i++)
		ck_assert_int_lt(yb_checkpoint_parse(bad[i], strlen(bad[i]), &cp, &err), 0);
}
END_TEST

START_TEST(key_files)
{
	char dir[] = "/tmp/yb-cpkey-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char *path = xasprintf("%s/site.key", dir), *pub = xasprintf("%s/site.key.pub", dir);
	unsigned char pk[YB_SIGN_PUBLIC_LEN], sk[YB_SIGN_SECRET_LEN], pk_back[YB_SIGN_PUBLIC_LEN],
		derived[YB_SIGN_PUBLIC_LEN];
	struct yb_err err = { 0 };
	struct stat st;

	ck_assert_int_eq(yb_checkpoint_keygen(path, pk, &err), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(yb_checkpoint_keygen(path, pk_back, &err), YB_EEXIST);
	ck_assert_int_eq(yb_checkpoint_load_secret(path, sk, &err), 0);
	yb_sign_public(sk, derived);
	ck_assert_int_eq(memcmp(derived, pk, sizeof pk), 0);
	ck_assert_int_eq(yb_checkpoint_load_public(pub, pk_back, &err), 0);
	ck_assert_int_eq(memcmp(pk_back, pk, sizeof pk), 0);
	char hex[2 * YB_SIGN_PUBLIC_LEN + 1];
	yb_hex(pk, sizeof pk, hex);
	ck_assert_int_eq(yb_checkpoint_load_public(hex, pk_back, &err), 0);
	ck_assert_int_eq(memcmp(pk_back, pk, sizeof pk), 0);
	/* a secret key others may read is refused */
	ck_assert_int_eq(chmod(path, 0644), 0);
	ck_assert_int_lt(yb_checkpoint_load_secret(path, sk, &err), 0);
	unlink(path);
	unlink(pub);
	rmdir(dir);
	free(path);
	free(pub);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("checkpoint");
	TCase *tc = tcase_create("checkpoint");
	tcase_add_test(tc, message_is_the_documented_text);
	tcase_add_test(tc, sign_check_and_tamper);
	tcase_add_test(tc, malformed_files);
	tcase_add_test(tc, key_files);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
