/*
 * test_builtin.c: the job argv of the built-in step kinds (builtin.h): what the runner receives
 * for a backup, a restore and an off-site copy, with the destination resolved from the inventory.
 */
#include "builtin.h"
#include "json.h"
#include "runbook.h"
#include "yb.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static const char text[] =
	"version: 1\nname: fs\nkind: backup\ntargets: { hosts: [fs-01] }\nsteps:\n"
	"  - name: share\n    backup: { source: /srv/share, repository: /backup/share, generations: 5 }\n"
	"  - name: db\n    backup: { command: pg_dump -Fc resident, repository: /backup/db }\n"
	"  - name: drill\n    restore: { repository: /backup/share, generation: 2, to: /srv/drill }\n"
	"  - name: vault\n    offsite: { repository: /backup/share, destination: { host: vault-dr-01, "
	"path: /vault }, key_file: /etc/yoban/keys/offsite.pub, keep: 12 }\n"
	"  - name: plain\n    run: echo\n";

static struct yb_json *spec_of(const struct yb_json *argv)
{
	ck_assert_uint_eq(yb_json_len(argv), 5);
	ck_assert_str_eq(yb_json_string_value(yb_json_at(argv, 0)), "yoban-runner");
	ck_assert_str_eq(yb_json_string_value(yb_json_at(argv, 1)), "step");
	ck_assert_str_eq(yb_json_string_value(yb_json_at(argv, 3)), "--spec");
	const char *t = yb_json_string_value(yb_json_at(argv, 4));
	struct yb_json *spec = NULL;
	ck_assert_int_eq(yb_json_parse(t, strlen(t), &spec, NULL), 0);
	return spec;
}

START_TEST(builtin_argv)
{
	struct rb_runbook *rb = NULL;
	struct rb_diags d;
	rb_diags_init(&d);
	ck_assert_int_eq(rb_runbook_parse("t.yaml", text, strlen(text), &rb, &d), 0);
	rb_diags_release(&d);
	struct rb_host hosts[] = { { .name = "vault-dr-01", .transport = RB_TRANSPORT_SSH,
				     .address = "198.51.100.7", .port = 2222, .user = "yoban-vault",
				     .host_key = "SHA256:abc" } };
	struct rb_inventory inv = { .hosts = hosts, .n_hosts = 1 };
	struct yb_json *argv, *spec;
	struct yb_err err;

	ck_assert(rb_step_is_builtin(&rb->steps[0]) && !rb_step_is_builtin(&rb->steps[4]));
	ck_assert_int_eq(rb_builtin_argv(&inv, rb, &rb->steps[0], &argv, &err), 0);
	ck_assert_str_eq(yb_json_string_value(yb_json_at(argv, 2)), "backup");
	spec = spec_of(argv);
	ck_assert_str_eq(yb_json_get_str(spec, "source"), "/srv/share");
	ck_assert_str_eq(yb_json_get_str(spec, "repository"), "/backup/share");
	ck_assert_int_eq(yb_json_get_int(spec, "generations", 0), 5);
	ck_assert(yb_json_get_bool(spec, "verify", false));
	yb_json_free(spec);
	yb_json_free(argv);

	ck_assert_int_eq(rb_builtin_argv(&inv, rb, &rb->steps[1], &argv, &err), 0);
	spec = spec_of(argv);
	ck_assert_str_eq(yb_json_get_str(spec, "command"), "pg_dump -Fc resident");
	ck_assert_ptr_null(yb_json_get_str(spec, "source"));
	yb_json_free(spec);
	yb_json_free(argv);

	ck_assert_int_eq(rb_builtin_argv(&inv, rb, &rb->steps[2], &argv, &err), 0);
	ck_assert_str_eq(yb_json_string_value(yb_json_at(argv, 2)), "restore");
	spec = spec_of(argv);
	ck_assert_int_eq(yb_json_get_int(spec, "generation", -1), 2);
	ck_assert_str_eq(yb_json_get_str(spec, "to"), "/srv/drill");
	yb_json_free(spec);
	yb_json_free(argv);

	ck_assert_int_eq(rb_builtin_argv(&inv, rb, &rb->steps[3], &argv, &err), 0);
	ck_assert_str_eq(yb_json_string_value(yb_json_at(argv, 2)), "offsite");
	spec = spec_of(argv);
	struct yb_json *dest = yb_json_get(spec, "destination");
	ck_assert_str_eq(yb_json_get_str(dest, "address"), "198.51.100.7");
	ck_assert_int_eq(yb_json_get_int(dest, "port", 0), 2222);
	ck_assert_str_eq(yb_json_get_str(dest, "user"), "yoban-vault");
	ck_assert_str_eq(yb_json_get_str(dest, "host_key"), "SHA256:abc");
	ck_assert_str_eq(yb_json_get_str(dest, "path"), "/vault");
	ck_assert_str_eq(yb_json_get_str(spec, "public_key"), "/etc/yoban/keys/offsite.pub");
	ck_assert_str_eq(yb_json_get_str(spec, "name"), "fs-vault");
	ck_assert_int_eq(yb_json_get_int(spec, "keep", 0), 12);
	yb_json_free(spec);
	yb_json_free(argv);

	struct rb_inventory empty = { 0 };
	ck_assert_int_eq(rb_builtin_argv(&empty, rb, &rb->steps[3], &argv, &err), YB_ENOENT);
	ck_assert_msg(strstr(err.msg, "vault-dr-01"), "%s", err.msg);
	ck_assert_int_eq(rb_builtin_argv(&inv, rb, &rb->steps[4], &argv, &err), YB_EINVAL);
	rb_runbook_free(rb);
}
END_TEST

START_TEST(evidence_rows)
{
	static const char out[] =
		"backup: generation 'gen-000004-20261201T140000Z' committed\n"
		"yoban-evidence {\"kind\":\"old\"}\n"
		"yoban-evidence {\"kind\":\"backup\",\"repository\":\"/backup/share\","
		"\"generation\":\"gen-000004-20261201T140000Z\",\"manifest_sha256\":\"aa\","
		"\"data_bytes\":10,\"data_sha256\":\"bb\",\"content_bytes\":20,\"files\":3,"
		"\"verified\":true,\"verified_at\":\"2026-12-01T14:00:03Z\","
		"\"pruned\":[\"gen-000001-20261128T140000Z\"],\"ok\":true}\n";
	struct yb_json *ev = NULL, *rows;
	struct yb_err err;
	ck_assert_int_eq(rb_evidence_find(out, strlen(out), &ev, &err), 0);
	rows = rb_evidence_rows(ev);
	ck_assert_uint_eq(yb_json_len(rows), 2);
	struct yb_json *b = yb_json_at(rows, 0), *p = yb_json_at(rows, 1);
	ck_assert_str_eq(yb_json_get_str(b, "event"), "backup");
	ck_assert_str_eq(yb_json_get_str(b, "generation"), "gen-000004-20261201T140000Z");
	ck_assert_str_eq(yb_json_get_str(b, "manifest_sha256"), "aa");
	ck_assert_int_eq(yb_json_get_int(b, "files", 0), 3);
	ck_assert_str_eq(yb_json_get_str(b, "verified_at"), "2026-12-01T14:00:03Z");
	ck_assert(yb_json_get_bool(b, "ok", false));
	ck_assert_str_eq(yb_json_get_str(yb_json_get(b, "detail"), "kind"), "backup");
	ck_assert_str_eq(yb_json_get_str(p, "event"), "prune");
	ck_assert_str_eq(yb_json_get_str(p, "generation"), "gen-000001-20261128T140000Z");
	ck_assert_str_eq(yb_json_get_str(yb_json_get(p, "detail"), "committed"),
			 "gen-000004-20261201T140000Z");
	yb_json_free(rows);
	yb_json_free(ev);

	static const char failed[] = "yoban-evidence {\"kind\":\"restore\",\"repository\":\"/r\","
				     "\"to\":\"/t\",\"ok\":false,\"error\":\"not empty\"}";
	ck_assert_int_eq(rb_evidence_find(failed, strlen(failed), &ev, &err), 0);
	rows = rb_evidence_rows(ev);
	ck_assert_uint_eq(yb_json_len(rows), 1);
	ck_assert(!yb_json_get_bool(yb_json_at(rows, 0), "ok", true));
	ck_assert_str_eq(yb_json_get_str(yb_json_at(rows, 0), "error"), "not empty");
	ck_assert_str_eq(yb_json_get_str(yb_json_at(rows, 0), "destination"), "/t");
	yb_json_free(rows);
	yb_json_free(ev);

	ck_assert_int_eq(rb_evidence_find("no evidence\n", 12, &ev, &err), YB_ENOENT);
	ck_assert_int_eq(rb_evidence_find("yoban-evidence {bad", 19, &ev, &err), YB_EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("builtin");
	TCase *tc = tcase_create("builtin");
	tcase_add_test(tc, builtin_argv);
	tcase_add_test(tc, evidence_rows);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
