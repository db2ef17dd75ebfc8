/*
 * test_restore_step.c: the `restore` step kind in a runbook (restore drills): its keys, its
 * defaults, and the mistakes an operator makes, each named at its place.
 */
#include "runbook.h"
#include "yb.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static const char head[] = "version: 1\nname: drill\nkind: backup\ntargets: { hosts: [fs-01] }\n"
			   "steps:\n";

static int parse(const char *steps, struct rb_runbook **rb, char *first, size_t cap)
{
	char *text = xasprintf("%s%s", head, steps);
	struct rb_diags d;
	rb_diags_init(&d);
	int rc = rb_runbook_parse("t.yaml", text, strlen(text), rb, &d);
	rb_diags_sort(&d);
	snprintf(first, cap, "%s", d.n ? d.items[0].msg : "");
	rb_diags_release(&d);
	free(text);
	return rc;
}

START_TEST(a_restore_step_parses)
{
	struct rb_runbook *rb = NULL;
	char msg[512];
	ck_assert_int_eq(parse("  - name: drill\n    restore: { repository: /backup/share, to: /srv/d }\n"
			       "  - name: two\n    restore: { repository: /b, generation: 2, to: /srv/e }\n",
			       &rb, msg, sizeof(msg)), 0);
	ck_assert_int_eq(rb->steps[0].kind, RB_STEP_RESTORE);
	ck_assert_str_eq(rb->steps[0].restore.repository, "/backup/share");
	ck_assert_str_eq(rb->steps[0].restore.to, "/srv/d");
	ck_assert_int_eq(rb->steps[0].restore.generation, 0);
	ck_assert_int_eq(rb->steps[1].restore.generation, 2);
	ck_assert_str_eq(rb_step_kind_name(rb->steps[1].kind), "restore");
	rb_runbook_free(rb);
}
END_TEST

START_TEST(restore_mistakes_are_named)
{
	static const struct {
		const char *step, *expect;
	} cases[] = {
		{ "    restore: { repository: /b }\n", "missing required key 'to'" },
		{ "    restore: { to: /x }\n", "missing required key 'repository'" },
		{ "    restore: { repository: /b, to: rel }\n", "'to' must be an absolute path" },
		{ "    restore: { repository: /b, to: /x, generation: -1 }\n", "generation" },
		{ "    restore: { repository: /b, to: /x, generatoin: 1 }\n", "did you mean 'generation'" },
		{ "    restore: /b\n", "restore" },
	};
	for (size_t i = 0; i < YB_ARRAY_LEN(cases); i++) {
		struct rb_runbook *rb = NULL;
		char msg[512], *steps = xasprintf("  - name: s\n%s", cases[i].step);
		ck_assert_int_lt(parse(steps, &rb, msg, sizeof(msg)), 0);
		ck_assert_msg(strstr(msg, cases[i].expect), "case %zu: '%s' lacks '%s'", i, msg,
			      cases[i].expect);
		free(steps);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("restore_step");
	TCase *tc = tcase_create("restore_step");
	tcase_add_test(tc, a_restore_step_parses);
	tcase_add_test(tc, restore_mistakes_are_named);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
