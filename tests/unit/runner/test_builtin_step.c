/*
 * test_builtin_step.c: a built-in step (START "step":"sql") through the real runner, without a
 * database: the runner runs itself in step mode under the job's supervisor, and the step's result
 * comes back as EXIT's "step". A step that cannot connect changes nothing and says so; a step
 * missing its inputs names them; a step cancelled while it connects is settled by its supervisor
 * (no transaction was begun: "not started"), and the EXIT says cancelled. The patch itself
 * against a real PostgreSQL is tests/integration/test_sql_step.sh.
 */
#include "runner_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>

static struct yb_json *sql_job(const char *job, const char *dsn, const char *patch)
{
	struct yb_json *o = job_obj(job), *env = yb_json_object();
	yb_json_set(o, "step", yb_json_str("sql"));
	if (dsn)
		yb_json_set(env, "YOBAN_SQL_DSN", yb_json_str(dsn));
	if (patch)
		yb_json_set(env, "YOBAN_SQL_PATCH", yb_json_str(patch));
	yb_json_set(o, "env", env);
	return o;
}

static const struct yb_json *step_of(const struct jobout *jo)
{
	const struct yb_json *s = yb_json_get(jo->exit, "step");
	ck_assert_msg(s != NULL, "the EXIT carries no step result");
	ck_assert_str_eq(yb_json_get_str(s, "kind"), "sql");
	return s;
}

START_TEST(unreachable_database_changes_nothing)
{
	char *state = state_new();
	struct jobout jo;
	run_one(state, sql_job("sq1", "host=/nonexistent-yoban-socket-dir dbname=x", "UPDATE t SET a = 1"),
		&jo);
	ck_assert_int_eq(yb_json_get_int(jo.exit, "status", -1), 1);
	const struct yb_json *s = step_of(&jo);
	ck_assert_str_eq(yb_json_get_str(s, "outcome"), "not started");
	ck_assert_ptr_nonnull(strstr(yb_json_get_str(s, "message"), "cannot connect to the database"));
	ck_assert_ptr_nonnull(strstr(yb_json_get_str(s, "message"), "nothing was changed"));
	ck_assert_uint_eq(yb_json_len(yb_json_get(s, "artifacts")), 0);
	ck_assert_ptr_null(yb_json_get(s, "txid"));
	/* the step's own account is in its output too */
	ck_assert_ptr_nonnull(strstr(jo.stream[WIRE_STDERR].data ? jo.stream[WIRE_STDERR].data : "",
				     "sql: cannot connect"));
	check_digests(&jo);
	jobs_release(&jo, 1);
	state_free(state);
}
END_TEST

START_TEST(missing_inputs_are_named)
{
	char *state = state_new();
	struct jobout jo;
	run_one(state, sql_job("sq2", "service=resident", NULL), &jo);
	ck_assert_int_eq(yb_json_get_int(jo.exit, "status", -1), 1);
	const struct yb_json *s = step_of(&jo);
	ck_assert_str_eq(yb_json_get_str(s, "outcome"), "not started");
	ck_assert_ptr_nonnull(strstr(yb_json_get_str(s, "message"), "YOBAN_SQL_PATCH"));
	jobs_release(&jo, 1);
	state_free(state);
}
END_TEST

/* A server that accepts and never answers: the step waits in its connect until cancelled. */
START_TEST(cancelled_while_connecting_is_settled_not_started)
{
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	ck_assert_int_eq(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(ls, 4), 0);
	ck_assert_int_eq(getsockname(ls, (struct sockaddr *)&a, &alen), 0);
	char dsn[128];
	snprintf(dsn, sizeof(dsn), "host=127.0.0.1 port=%d dbname=x connect_timeout=5",
		 ntohs(a.sin_port));

	char *state = state_new();
	struct rn r;
	uint8_t type;
	rn_spawn(&r, state);
	rn_hello(&r);
	rn_send(&r, WIRE_START, sql_job("sq3", dsn, "UPDATE t SET a = 1"));
	struct yb_json *ack = rn_json(&r, &type);
	ck_assert_uint_eq(type, WIRE_ACK);
	yb_json_free(ack);
	usleep(300 * 1000); /* it is in its connect by now (or soon: CANCEL works either way) */
	rn_send(&r, WIRE_CANCEL, job_obj("sq3"));
	struct jobout jo;
	jobs_init(&jo, 1);
	snprintf(jo.job, sizeof(jo.job), "sq3");
	jo.acked = true;
	rn_collect(&r, &jo, 1, 0);
	ck_assert(yb_json_get_bool(jo.exit, "cancelled", false));
	const struct yb_json *s = step_of(&jo);
	ck_assert_str_eq(yb_json_get_str(s, "outcome"), "not started");
	ck_assert_ptr_nonnull(strstr(yb_json_get_str(s, "message"), "before its transaction began"));
	rn_close(&r);
	jobs_release(&jo, 1);
	close(ls);
	state_free(state);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("builtin_step");
	TCase *tc = tcase_create("builtin_step");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, adopt_orphans, reap_orphans);
	tcase_add_test(tc, unreachable_database_changes_nothing);
	tcase_add_test(tc, missing_inputs_are_named);
	tcase_add_test(tc, cancelled_while_connecting_is_settled_not_started);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
