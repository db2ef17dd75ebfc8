/*
 * test_sql_csv.c: the sql step's CSV writer (runner/steps/sql_csv.c) and the reading of
 * txid_status (sql.c): the bytes of the evidence for every kind of field (RFC 4180 quoting, NULL
 * apart from the empty string, CRLF), the cap that never leaves half a record, and the outcomes
 * that may and may not be recorded.
 */
#include "sql.h"
#include "yb.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static const char *csv_of(struct sql_csv *c)
{
	return c->buf.data ? c->buf.data : "";
}

START_TEST(fields_quoted_only_when_needed)
{
	struct sql_csv c;
	struct yb_err err;
	sql_csv_init(&c, SQL_MAX_CSV);
	const char *head[] = { "id", "note" };
	const char *r1[] = { "1", "plain" };
	const char *r2[] = { "2", "a,b" };
	const char *r3[] = { "3", "say \"hi\"" };
	const char *r4[] = { "4", "two\r\nlines" };
	const char *r5[] = { "5", "" };
	const char *r6[] = { "6", NULL };
	const char *r7[] = { "7", "住所 0123" };
	ck_assert_int_eq(sql_csv_record(&c, head, 2, true, &err), 0);
	ck_assert_int_eq(sql_csv_record(&c, r1, 2, false, &err), 0);
	ck_assert_int_eq(sql_csv_record(&c, r2, 2, false, &err), 0);
	ck_assert_int_eq(sql_csv_record(&c, r3, 2, false, &err), 0);
	ck_assert_int_eq(sql_csv_record(&c, r4, 2, false, &err), 0);
	ck_assert_int_eq(sql_csv_record(&c, r5, 2, false, &err), 0);
	ck_assert_int_eq(sql_csv_record(&c, r6, 2, false, &err), 0);
	ck_assert_int_eq(sql_csv_record(&c, r7, 2, false, &err), 0);
	ck_assert_str_eq(csv_of(&c), "id,note\r\n1,plain\r\n2,\"a,b\"\r\n3,\"say \"\"hi\"\"\"\r\n"
				     "4,\"two\r\nlines\"\r\n5,\"\"\r\n6,\r\n7,住所 0123\r\n");
	ck_assert_int_eq(c.rows, 7);
	sql_csv_release(&c);
}
END_TEST

START_TEST(no_columns_and_no_rows)
{
	struct sql_csv c;
	struct yb_err err;
	sql_csv_init(&c, 64);
	const char *head[] = { "n" };
	ck_assert_int_eq(sql_csv_record(&c, head, 1, true, &err), 0);
	ck_assert_str_eq(csv_of(&c), "n\r\n");
	ck_assert_int_eq(c.rows, 0);
	ck_assert_int_eq(sql_csv_record(&c, NULL, 0, false, &err), 0);
	ck_assert_str_eq(csv_of(&c), "n\r\n\r\n");
	sql_csv_release(&c);
}
END_TEST

/* The cap refuses the record that would cross it, whole: what is kept is the records before. */
START_TEST(cap_refuses_a_whole_record)
{
	struct sql_csv c;
	struct yb_err err;
	sql_csv_init(&c, 12);
	const char *a[] = { "abc", "de" }; /* "abc,de\r\n": 8 bytes */
	ck_assert_int_eq(sql_csv_record(&c, a, 2, false, &err), 0);
	ck_assert_int_eq(sql_csv_record(&c, a, 2, false, &err), YB_ENOMEM);
	ck_assert_str_eq(csv_of(&c), "abc,de\r\n");
	ck_assert_uint_eq(c.buf.len, 8);
	ck_assert_int_eq(c.rows, 1);
	ck_assert_ptr_nonnull(strstr(err.msg, "larger than 12 bytes as CSV (after 1 rows)"));
	const char *b[] = { "abc" }; /* "abc\r\n": 8 + 5 = 13 bytes, one past the cap */
	ck_assert_int_eq(sql_csv_record(&c, b, 1, false, &err), YB_ENOMEM);
	const char *d[] = { "ab" }; /* 8 + 4 = 12: at the cap is allowed */
	ck_assert_int_eq(sql_csv_record(&c, d, 1, false, &err), 0);
	ck_assert_str_eq(csv_of(&c), "abc,de\r\nab\r\n");
	sql_csv_release(&c);
}
END_TEST

/* Only what txid_status says for certain is recorded as an outcome. */
START_TEST(txid_status_outcomes)
{
	ck_assert_str_eq(sql_txid_outcome("committed"), "committed");
	ck_assert_str_eq(sql_txid_outcome("aborted"), "rolled back");
	ck_assert_ptr_null(sql_txid_outcome("in progress"));
	ck_assert_ptr_null(sql_txid_outcome(NULL));
	ck_assert_ptr_null(sql_txid_outcome(""));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sql_csv");
	TCase *tc = tcase_create("sql_csv");
	tcase_add_test(tc, fields_quoted_only_when_needed);
	tcase_add_test(tc, no_columns_and_no_rows);
	tcase_add_test(tc, cap_refuses_a_whole_record);
	tcase_add_test(tc, txid_status_outcomes);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
