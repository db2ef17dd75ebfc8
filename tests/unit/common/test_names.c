/*
 * test_names.c: the one set of name rules (common/names.c) as a person meets them: the names the
 * examples and the docs use are accepted, the ones each rule exists to refuse are refused, a
 * parameter's variable is what docs/runbook-reference.md says, and "did you mean" offers the
 * typo's intended word and nothing far from it.
 */
#include "names.h"
#include "yb.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

START_TEST(runbook_and_host_names)
{
	ck_assert(yb_runbook_name_valid("nightly-resident-batch"));
	ck_assert(yb_runbook_name_valid("a"));
	ck_assert(yb_runbook_name_valid("2026-close"));
	ck_assert(!yb_runbook_name_valid(""));
	ck_assert(!yb_runbook_name_valid("-x"));
	ck_assert(!yb_runbook_name_valid("Nightly"));
	ck_assert(!yb_runbook_name_valid("a_b"));
	ck_assert(!yb_runbook_name_valid("a b"));
	ck_assert(!yb_runbook_name_valid("夜番"));
	char n63[64], n64[65];
	memset(n63, 'a', 63), n63[63] = 0;
	memset(n64, 'a', 64), n64[64] = 0;
	ck_assert(yb_runbook_name_valid(n63));
	ck_assert(!yb_runbook_name_valid(n64));
	ck_assert(yb_host_name_valid("batch-01"));
	ck_assert(!yb_host_name_valid("batch_01"));
}
END_TEST

START_TEST(step_names)
{
	ck_assert(yb_step_name_valid("extract"));
	ck_assert(yb_step_name_valid("Load_1.part-2"));
	ck_assert(!yb_step_name_valid(""));
	ck_assert(!yb_step_name_valid("two words"));
	ck_assert(!yb_step_name_valid("a/b"));
}
END_TEST

START_TEST(parameter_names_and_variables)
{
	/* the names a runbook may declare are exactly those `yoban trigger --param` takes */
	ck_assert(yb_param_name_valid("batch-date"));
	ck_assert(yb_param_name_valid("business_date"));
	ck_assert(yb_param_name_valid("BATCH_DATE"));
	ck_assert(yb_param_name_valid("w2"));
	ck_assert(!yb_param_name_valid(""));
	ck_assert(!yb_param_name_valid("_date"));
	ck_assert(!yb_param_name_valid("-date"));
	ck_assert(!yb_param_name_valid("9lives"));
	ck_assert(!yb_param_name_valid("batch date"));
	ck_assert(!yb_param_name_valid("batch.date"));
	ck_assert(!yb_param_name_valid("batch=date"));
	/* NAME=VALUE: only the NAME part counts */
	const char *arg = "batch-date=2026-12-01";
	ck_assert(yb_param_name_valid_n(arg, strcspn(arg, "=")));
	ck_assert(!yb_param_name_valid_n(arg, 0));
	ck_assert(!yb_param_name_valid_n(arg, strlen(arg)));

	char *v = yb_param_env_name("batch-date");
	ck_assert_str_eq(v, "YOBAN_PARAM_BATCH_DATE");
	free(v);
	v = yb_param_env_name("Region_code2");
	ck_assert_str_eq(v, "YOBAN_PARAM_REGION_CODE2");
	ck_assert(yb_env_name_valid(v));
	free(v);
	/* every valid parameter gives a valid variable name */
	char longest[YB_NAME_MAX + 1];
	memset(longest, 'z', YB_NAME_MAX), longest[YB_NAME_MAX] = 0;
	longest[5] = '-';
	v = yb_param_env_name(longest);
	ck_assert(yb_env_name_valid(v));
	free(v);
}
END_TEST

START_TEST(environment_names)
{
	ck_assert(yb_env_name_valid("PGPASSWORD"));
	ck_assert(yb_env_name_valid("_private"));
	ck_assert(yb_env_name_valid("lower_ok1"));
	ck_assert(!yb_env_name_valid(""));
	ck_assert(!yb_env_name_valid("1ST"));
	ck_assert(!yb_env_name_valid("A-B"));
	ck_assert(!yb_env_name_valid("A=B"));
	ck_assert(yb_env_name_valid_n("TOKEN=abc", 5));
	ck_assert(!yb_env_name_valid_n("TOKEN=abc", 6));
	char n128[129], n129[130];
	memset(n128, 'A', 128), n128[128] = 0;
	memset(n129, 'A', 129), n129[129] = 0;
	ck_assert(yb_env_name_valid(n128));
	ck_assert(!yb_env_name_valid(n129));
}
END_TEST

START_TEST(did_you_mean)
{
	ck_assert_int_eq(yb_edit_distance("shedule", "schedule", 3), 1);
	ck_assert_int_eq(yb_edit_distance("same", "same", 3), 0);
	ck_assert_int_eq(yb_edit_distance("abc", "xyzuvw", 2), 3);
	ck_assert_int_eq(yb_edit_distance("kitten", "sitting", 5), 3);
	const char *keys[] = { "timeout", "timezone", "retry" };
	ck_assert_str_eq(yb_closest("timout", keys, 3), "timeout");
	ck_assert_str_eq(yb_closest("timezon", keys, 3), "timezone");
	ck_assert_ptr_null(yb_closest("zzzzzz", keys, 3));
	/* hosts, as `yoban exec --host` offers them; NULL entries are skipped */
	const char *hosts[] = { NULL, "batch-01", "batch-02", "db-01" };
	ck_assert_str_eq(yb_closest("bacth-01", hosts, 4), "batch-01");
	ck_assert_str_eq(yb_closest("db01", hosts, 4), "db-01");
	ck_assert_ptr_null(yb_closest("mail-gw", hosts, 4));
	/* a short word is only a typo of a very close one */
	const char *short_words[] = { "on", "at" };
	ck_assert_str_eq(yb_closest("an", short_words, 2), "on");
	ck_assert_ptr_null(yb_closest("xy", short_words, 2));
	/* too long to compare: no suggestion, never a crash */
	char big[200];
	memset(big, 'a', sizeof(big) - 1), big[sizeof(big) - 1] = 0;
	ck_assert_ptr_null(yb_closest(big, keys, 3));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("names");
	TCase *tc = tcase_create("names");
	tcase_add_test(tc, runbook_and_host_names);
	tcase_add_test(tc, step_names);
	tcase_add_test(tc, parameter_names_and_variables);
	tcase_add_test(tc, environment_names);
	tcase_add_test(tc, did_you_mean);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
