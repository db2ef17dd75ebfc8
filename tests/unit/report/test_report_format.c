/*
 * test_report_format.c: how the monthly report writes for people, checked without a database:
 * Japanese dates and era years (令和元年 begins on 2019-05-01), 1,234 grouping, percents with
 * their space, durations, HTML escaping of every character that could open markup, RFC 4180
 * fields, Markdown cells; and the renderers on a hand-made model: what the database held comes
 * out escaped in HTML, whole in CSV, and the same figure in every format.
 */
#include "report.h"
#include "report_fmt.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char buf[256];

START_TEST(test_grouping)
{
	ck_assert_str_eq(report_fmt_int(0, buf, sizeof buf), "0");
	ck_assert_str_eq(report_fmt_int(999, buf, sizeof buf), "999");
	ck_assert_str_eq(report_fmt_int(1000, buf, sizeof buf), "1,000");
	ck_assert_str_eq(report_fmt_int(1234567, buf, sizeof buf), "1,234,567");
	ck_assert_str_eq(report_fmt_int(-1234, buf, sizeof buf), "-1,234");
	ck_assert_str_eq(report_fmt_int(100000, buf, sizeof buf), "100,000");
	ck_assert_str_eq(report_fmt_num(1234.5, 1, buf, sizeof buf), "1,234.5");
	ck_assert_str_eq(report_fmt_num(43080, 0, buf, sizeof buf), "43,080");
	ck_assert_str_eq(report_fmt_num(0.125, 2, buf, sizeof buf), "0.13");
	ck_assert_str_eq(report_fmt_num(-0.001, 2, buf, sizeof buf), "0.00");
	ck_assert_str_eq(report_fmt_num(999999.996, 2, buf, sizeof buf), "1,000,000.00");
}
END_TEST

START_TEST(test_percent)
{
	ck_assert_str_eq(report_fmt_percent(99.95, 2, REPORT_JA, buf, sizeof buf), "99.95 %");
	ck_assert_str_eq(report_fmt_percent(99.95, 2, REPORT_EN, buf, sizeof buf), "99.95%");
	ck_assert_str_eq(report_fmt_percent(99.8607, 3, REPORT_JA, buf, sizeof buf), "99.861 %");
	ck_assert_str_eq(report_fmt_percent(100, 1, REPORT_JA, buf, sizeof buf), "100.0 %");
}
END_TEST

START_TEST(test_dates)
{
	ck_assert_str_eq(report_fmt_date("2026-12-01", REPORT_JA, buf, sizeof buf), "2026年12月1日");
	ck_assert_str_eq(report_fmt_date("2026-12-01", REPORT_EN, buf, sizeof buf), "2026-12-01");
	ck_assert_str_eq(report_fmt_time("2026-11-09T01:03:01+09:00", REPORT_JA, buf, sizeof buf),
			 "2026年11月9日 01:03");
	ck_assert_str_eq(report_fmt_time("2026-11-09T01:03:01.123456+09:00", REPORT_EN, buf,
					 sizeof buf), "2026-11-09 01:03");
	ck_assert_str_eq(report_fmt_time(NULL, REPORT_JA, buf, sizeof buf), "-");
	ck_assert_str_eq(report_fmt_date("garbage", REPORT_JA, buf, sizeof buf), "garbage");
	ck_assert_str_eq(report_fmt_month("2026-12", REPORT_JA, buf, sizeof buf),
			 "2026年（令和8年）12月");
	ck_assert_str_eq(report_fmt_month("2026-12", REPORT_EN, buf, sizeof buf), "December 2026");
	ck_assert_str_eq(report_fmt_month("2019-05", REPORT_JA, buf, sizeof buf),
			 "2019年（令和元年）5月");
	ck_assert_str_eq(report_fmt_month("2019-04", REPORT_JA, buf, sizeof buf),
			 "2019年（平成31年）4月");
	ck_assert_str_eq(report_fmt_month("1980-01", REPORT_JA, buf, sizeof buf), "1980年1月");
}
END_TEST

START_TEST(test_era_boundaries)
{
	ck_assert_str_eq(report_fmt_era(2019, 4, 30, buf, sizeof buf), "平成31年");
	ck_assert_str_eq(report_fmt_era(2019, 5, 1, buf, sizeof buf), "令和元年");
	ck_assert_str_eq(report_fmt_era(2020, 1, 1, buf, sizeof buf), "令和2年");
	ck_assert_str_eq(report_fmt_era(1989, 1, 7, buf, sizeof buf), "");
	ck_assert_str_eq(report_fmt_era(1989, 1, 8, buf, sizeof buf), "平成元年");
}
END_TEST

START_TEST(test_seconds)
{
	ck_assert_str_eq(report_fmt_seconds(0.4, REPORT_JA, buf, sizeof buf), "0.4秒");
	ck_assert_str_eq(report_fmt_seconds(185, REPORT_JA, buf, sizeof buf), "3分05秒");
	ck_assert_str_eq(report_fmt_seconds(7380, REPORT_JA, buf, sizeof buf), "2時間03分");
	ck_assert_str_eq(report_fmt_seconds(100800, REPORT_JA, buf, sizeof buf), "1日04時間");
	ck_assert_str_eq(report_fmt_seconds(185, REPORT_EN, buf, sizeof buf), "3 min 05 s");
	ck_assert_str_eq(report_fmt_seconds(-1, REPORT_EN, buf, sizeof buf), "-");
}
END_TEST

static char *escaped(int (*f)(struct yb_buf *, const char *), const char *s)
{
	struct yb_buf b;
	yb_buf_init(&b, 0);
	ck_assert_int_eq(f(&b, s), 0);
	yb_buf_append(&b, "", 0);
	return yb_buf_detach(&b, NULL);
}

START_TEST(test_html_escape)
{
	char *s = escaped(report_html_escape, "<script>alert(\"x\")</script> & 'q' 住所");
	ck_assert_str_eq(s, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39; 住所");
	free(s);
	s = escaped(report_html_escape, "plain");
	ck_assert_str_eq(s, "plain");
	free(s);
	s = escaped(report_html_escape, "");
	ck_assert_str_eq(s, "");
	free(s);
}
END_TEST

START_TEST(test_csv_field)
{
	char *s = escaped(report_csv_field, "a,b");
	ck_assert_str_eq(s, "\"a,b\"");
	free(s);
	s = escaped(report_csv_field, "say \"hi\"");
	ck_assert_str_eq(s, "\"say \"\"hi\"\"\"");
	free(s);
	s = escaped(report_csv_field, "two\r\nlines");
	ck_assert_str_eq(s, "\"two\r\nlines\"");
	free(s);
	s = escaped(report_csv_field, "住所コード");
	ck_assert_str_eq(s, "住所コード");
	free(s);
	s = escaped(report_csv_field, " padded");
	ck_assert_str_eq(s, "\" padded\"");
	free(s);
	s = escaped(report_csv_field, NULL);
	ck_assert_str_eq(s, "");
	free(s);
}
END_TEST

START_TEST(test_md_cell)
{
	char *s = escaped(report_md_cell, "a|b\nc <x>");
	ck_assert_str_eq(s, "a\\|b c &lt;x&gt;");
	free(s);
	s = escaped(report_md_cell, NULL);
	ck_assert_str_eq(s, "-");
	free(s);
}
END_TEST

START_TEST(test_labels)
{
	ck_assert_str_eq(report_label(REPORT_JA, "title"), "月次運用報告書");
	ck_assert_str_eq(report_label(REPORT_EN, "title"), "Monthly operations report");
	for (int s = 0; s < REPORT_N_STATES; s++) {
		char key[48];
		snprintf(key, sizeof key, "st_%s", report_states[s]);
		ck_assert_ptr_nonnull(report_label(REPORT_JA, key)); /* BUG() when absent */
	}
}
END_TEST

/* A small month by hand: one runbook, one incident whose summary holds markup. */
static void model(struct report *r)
{
	memset(r, 0, sizeof *r);
	snprintf(r->month, sizeof r->month, "2026-11");
	r->zone = "Asia/Tokyo";
	r->from_at = "2026-11-01T00:00:00+09:00";
	r->to_at = "2026-12-01T00:00:00+09:00";
	r->generated_at = "2026-12-01T09:00:00+09:00";
	static struct report_runbook_runs books[1];
	books[0] = (struct report_runbook_runs){ .runbook = "nightly", .total = 1234 };
	books[0].by_state[0] = 1234;
	r->runbooks = books;
	r->n_runbooks = 1;
	r->runs_by_state[0] = 1234;
	r->runs_total = 1234;
	static struct report_day_runs days[30];
	days[0].n[REPORT_DAY_OK] = 1234;
	r->days = days;
	r->n_days = 30;
	r->sched_total = 4;
	r->sched_on_time = 3;
	r->sched_started = 4;
	r->on_time_percent = 75;
	r->late_p50 = 1.5;
	r->late_p99 = 90;
	r->late_max = 100;
	static struct report_incident inc[1];
	inc[0] = (struct report_incident){ .id = 7, .runbook = "nightly",
					   .summary = "disk <full> & \"quota\", again",
					   .detected_at = "2026-11-09T01:03:01+09:00", .pass = false };
	inc[0].report.state = "breached";
	r->incidents = inc;
	r->n_incidents = 1;
	r->effort.terms.hours_per_day = 8;
	r->effort.terms.days_per_month = 20;
	for (int k = 0; k < YB_EFFORT_N; k++) {
		r->effort.lines[k].category = k;
		r->effort.lines[k].cap_month = r->effort.lines[k].cap_total = -1;
		r->effort.lines[k].month_percent = r->effort.lines[k].total_percent = -1;
	}
	r->avail_percent = 99.95;
	r->avail_target = 99.9;
	r->avail_minutes = 43080;
}

static char *render(const struct report *r, enum report_format f, enum report_lang lang)
{
	struct yb_buf b;
	yb_buf_init(&b, 0);
	ck_assert_int_eq(report_render(r, f, lang, &b), 0);
	return yb_buf_detach(&b, NULL);
}

START_TEST(test_renderers)
{
	struct report r;
	model(&r);
	char *html = render(&r, REPORT_HTML, REPORT_JA);
	ck_assert_ptr_nonnull(strstr(html, "disk &lt;full&gt; &amp; &quot;quota&quot;, again"));
	ck_assert_ptr_null(strstr(html, "<full>"));
	ck_assert_ptr_nonnull(strstr(html, "1,234"));
	ck_assert_ptr_nonnull(strstr(html, "99.950 %"));
	ck_assert_ptr_nonnull(strstr(html, "2026年（令和8年）11月"));
	ck_assert_ptr_nonnull(strstr(html, "2026年11月9日 01:03"));
	ck_assert_ptr_null(strstr(html, "<script"));
	free(html);
	char *csv = render(&r, REPORT_CSV, REPORT_JA);
	ck_assert_ptr_nonnull(strstr(csv, "section,key,field,value\r\n"));
	ck_assert_ptr_nonnull(strstr(csv, "incidents,7,summary,\"disk <full> & \"\"quota\"\", again\"\r\n"));
	ck_assert_ptr_nonnull(strstr(csv, "runs,nightly,succeeded,1234\r\n"));
	free(csv);
	char *md = render(&r, REPORT_MD, REPORT_EN);
	ck_assert_ptr_nonnull(strstr(md, "# Monthly operations report November 2026"));
	ck_assert_ptr_nonnull(strstr(md, "| nightly | 1,234 |"));
	free(md);
	char *json = render(&r, REPORT_JSON, REPORT_JA);
	ck_assert_ptr_nonnull(strstr(json, "\"total\": 1234"));
	ck_assert_ptr_nonnull(strstr(json, "\"summary\": \"disk <full> & \\\"quota\\\", again\""));
	free(json);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("report_format");
	TCase *tc = tcase_create("format");
	tcase_add_test(tc, test_grouping);
	tcase_add_test(tc, test_percent);
	tcase_add_test(tc, test_dates);
	tcase_add_test(tc, test_era_boundaries);
	tcase_add_test(tc, test_seconds);
	tcase_add_test(tc, test_html_escape);
	tcase_add_test(tc, test_csv_field);
	tcase_add_test(tc, test_md_cell);
	tcase_add_test(tc, test_labels);
	tcase_add_test(tc, test_renderers);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
