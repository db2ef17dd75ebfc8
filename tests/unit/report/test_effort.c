/*
 * test_effort.c: the arithmetic of `yoban effort summary` and the monthly report (effort.h),
 * checked against figures worked out by hand from the domain's conversion (1 person-day = 8 h,
 * 1 person-month = 20 person-days, so 160 h a month): person-days, person-months, the percent of
 * a monthly and of a total cap, incident never capped, other terms, months and category names.
 */
#include "effort.h"
#include "yb.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static struct yb_effort_terms sapporo(void)
{
	struct yb_effort_terms t = { .hours_per_day = 8, .days_per_month = 20 };
	t.cap_month[YB_EFFORT_SERVICE] = 3;
	t.cap_total[YB_EFFORT_SERVICE] = 48;
	t.cap_month[YB_EFFORT_MODIFICATION] = 1;
	t.cap_total[YB_EFFORT_MODIFICATION] = 12;
	t.cap_month[YB_EFFORT_INCIDENT] = 5; /* ignored: incident recovery is never capped */
	t.cap_total[YB_EFFORT_INCIDENT] = 5;
	return t;
}

#define NEAR(a, b) ck_assert_msg(fabs((a) - (b)) < 1e-9, "%s = %.12f, want %.12f", #a, (a), (b))

START_TEST(service_against_its_caps)
{
	struct yb_effort_terms t = sapporo();
	/* 384 h = 48 person-days = 2.4 person-months = 80 % of 3; 1,920 h to date = 12 of 48 = 25 % */
	struct yb_effort_line l = { .category = YB_EFFORT_SERVICE, .hours = 384, .total_hours = 1920 };
	yb_effort_line_compute(&l, &t);
	NEAR(l.person_days, 48.0);
	NEAR(l.person_months, 2.4);
	NEAR(l.cap_month, 3.0);
	NEAR(l.month_percent, 80.0);
	NEAR(l.total_person_months, 12.0);
	NEAR(l.cap_total, 48.0);
	NEAR(l.total_percent, 25.0);
}
END_TEST

START_TEST(modification_over_its_cap)
{
	struct yb_effort_terms t = sapporo();
	/* 172 h = 21.5 person-days = 1.075 person-months = 107.5 % of 1 */
	struct yb_effort_line l = { .category = YB_EFFORT_MODIFICATION, .hours = 172, .total_hours = 172 };
	yb_effort_line_compute(&l, &t);
	NEAR(l.person_days, 21.5);
	NEAR(l.person_months, 1.075);
	NEAR(l.month_percent, 107.5);
	NEAR(l.total_percent, 1.075 / 12 * 100);
}
END_TEST

START_TEST(incident_is_never_capped)
{
	struct yb_effort_terms t = sapporo();
	struct yb_effort_line l = { .category = YB_EFFORT_INCIDENT, .hours = 3.5, .total_hours = 10 };
	yb_effort_line_compute(&l, &t);
	NEAR(l.person_days, 3.5 / 8);
	NEAR(l.person_months, 3.5 / 160);
	ck_assert(l.cap_month < 0 && l.month_percent < 0);
	ck_assert(l.cap_total < 0 && l.total_percent < 0);
}
END_TEST

START_TEST(no_cap_and_other_terms)
{
	/* 7.5-hour days, 21-day months: 157.5 h is exactly one person-month */
	struct yb_effort_terms t = { .hours_per_day = 7.5, .days_per_month = 21 };
	for (int i = 0; i < YB_EFFORT_N; i++)
		t.cap_month[i] = t.cap_total[i] = -1;
	struct yb_effort_line l = { .category = YB_EFFORT_SERVICE, .hours = 157.5, .total_hours = 315 };
	yb_effort_line_compute(&l, &t);
	NEAR(l.person_days, 21.0);
	NEAR(l.person_months, 1.0);
	NEAR(l.total_person_months, 2.0);
	ck_assert(l.month_percent < 0 && l.total_percent < 0);
	NEAR(yb_effort_person_months(-7.5, &t), -1.0 / 21); /* a correction counts negative */
}
END_TEST

START_TEST(json_rounds_to_two_decimals)
{
	struct yb_effort_month m = { .year = 2026, .month = 12, .terms = sapporo() };
	strcpy(m.terms.team, "operations-team");
	for (int i = 0; i < YB_EFFORT_N; i++) {
		m.lines[i].category = (enum yb_effort_category)i;
		m.lines[i].hours = i == YB_EFFORT_SERVICE ? 100 : 0; /* 0.625 person-months */
		yb_effort_line_compute(&m.lines[i], &m.terms);
	}
	struct yb_json *j = yb_effort_month_json(&m);
	char *text = yb_json_dump(j, 0);
	ck_assert_msg(strstr(text, "\"month\": \"2026-12\"") || strstr(text, "\"month\":\"2026-12\""),
		      "%s", text);
	struct yb_json *cats = yb_json_get(j, "categories");
	ck_assert_uint_eq(yb_json_len(cats), 3);
	struct yb_json *svc = yb_json_at(cats, 0), *inc = yb_json_at(cats, 1);
	ck_assert_str_eq(yb_json_get_str(svc, "category"), "service");
	ck_assert_msg(strstr(text, "0.63"), "person-months rounded: %s", text); /* 0.625 */
	ck_assert(yb_json_is_null(yb_json_get(inc, "cap_month")));
	ck_assert(yb_json_is_null(yb_json_get(inc, "total_percent")));
	free(text);
	yb_json_free(j);
}
END_TEST

START_TEST(names_and_months)
{
	enum yb_effort_category c;
	ck_assert_int_eq(yb_effort_category_parse("modification", &c), 0);
	ck_assert_int_eq(c, YB_EFFORT_MODIFICATION);
	ck_assert_int_eq(yb_effort_category_parse("Service", &c), -1);
	ck_assert_str_eq(yb_effort_category_name(YB_EFFORT_INCIDENT), "incident");
	ck_assert_ptr_null(yb_effort_category_name(YB_EFFORT_N));
	int y, m;
	ck_assert_int_eq(yb_effort_month_parse("2026-12", &y, &m), 0);
	ck_assert_int_eq(y * 100 + m, 202612);
	ck_assert_int_eq(yb_effort_month_parse("2026-13", &y, &m), -1);
	ck_assert_int_eq(yb_effort_month_parse("2026-1", &y, &m), -1);
	ck_assert_int_eq(yb_effort_month_parse("2026-12-01", &y, &m), -1);
	ck_assert_int_eq(yb_effort_month_parse("26-12", &y, &m), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("effort");
	TCase *tc = tcase_create("effort");
	tcase_add_test(tc, service_against_its_caps);
	tcase_add_test(tc, modification_over_its_cap);
	tcase_add_test(tc, incident_is_never_capped);
	tcase_add_test(tc, no_cap_and_other_terms);
	tcase_add_test(tc, json_rounds_to_two_decimals);
	tcase_add_test(tc, names_and_months);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
