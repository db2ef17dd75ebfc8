/*
 * test_tree.c: timeout and cancel end the whole tree (issue 8 §5). A step whose processes leave
 * its process group (setsid, coreutils timeout, a daemonising double fork) must leave nothing
 * behind: after EXIT no process of the job survives, found the way an operator would look, with
 * pgrep on a marker that only the job's processes carry (a program named after the test). The
 * EXIT record names what was killed. A step that ends normally but leaves a daemonised
 * grandchild gets the grandchild killed too; a process outside the job with the very same name
 * is left alone.
 */
#include "runner_test.h"

/* The EXIT names what was killed, among it a process called name (NULL: any). */
static void check_killed(const struct jobout *jo, const char *name)
{
	struct yb_json *killed = yb_json_get(jo->exit, "killed");
	ck_assert_msg(yb_json_is_array(killed), "EXIT has no 'killed' list");
	ck_assert_int_ge(yb_json_get_int(jo->exit, "killed_count", 0), 1);
	bool found = false;
	struct yb_buf seen; /* "pid comm, ..." for the message */
	yb_buf_init(&seen, 0);
	for (size_t i = 0; i < yb_json_len(killed); i++) {
		struct yb_json *k = yb_json_at(killed, i);
		ck_assert_int_gt(yb_json_get_int(k, "pid", 0), 1);
		found |= name && !strcmp(yb_json_get_str(k, "comm"), name);
		char *one = xasprintf("%s%lld %s", i ? ", " : "", (long long)yb_json_get_int(k, "pid", 0),
				      yb_json_get_str(k, "comm"));
		yb_buf_append(&seen, one, strlen(one));
		free(one);
	}
	yb_buf_append(&seen, "", 1);
	ck_assert_msg(found || !name, "'%s' is not among the killed (%s)", name, seen.data);
	yb_buf_release(&seen);
}

static const char setsid_script[] = "setsid @ 120 & echo ready; wait";
static const char timeout_script[] = "echo ready; timeout 1000 @ 120; echo after";
static const char double_fork_script[] = "( setsid @ 120 & ); echo ready; sleep 120";
static const char stubborn_script[] = "trap '' TERM; setsid @ 120 & echo ready; wait";

enum ending { BY_TIMEOUT, BY_CANCEL };

/* script with every "@" replaced by the marker program's path */
static char *with_prog(const char *script, const char *prog)
{
	struct yb_buf b;
	yb_buf_init(&b, 0);
	for (const char *p = script; *p; p++) {
		if (*p == '@')
			yb_buf_append(&b, prog, strlen(prog));
		else
			yb_buf_append(&b, p, 1);
	}
	char *out = xstrdup(b.data);
	yb_buf_release(&b);
	return out;
}

/* Runs script (@: the marker program's path) until it is ended by a 1 s timeout or by
 * CANCEL once the marker runs; then nothing of it may be left. */
static void tree_case(const char *fmt, enum ending how, char tag)
{
	char *state = state_new();
	char name[32];
	char *prog = marker_prog(state, tag, name, sizeof(name));
	char *script = with_prog(fmt, prog);
	struct rn r;
	struct jobout jo;
	rn_spawn(&r, state);
	rn_hello(&r);
	jobs_init(&jo, 1);
	snprintf(jo.job, sizeof(jo.job), "tree");
	struct yb_json *s = shell_job("tree", script);
	yb_json_set(s, "grace_ms", yb_json_int(500));
	if (how == BY_TIMEOUT)
		yb_json_set(s, "timeout_ms", yb_json_int(1000));
	rn_send(&r, WIRE_START, s);
	if (how == BY_CANCEL) {
		rn_collect(&r, &jo, 1, 6); /* "ready\n" */
		/* the marker program itself (by its name, not a command line naming it: the step's
		 * shell has one): CANCELled before its exec, it would die as sh or setsid, and the EXIT
		 * would rightly name that, not the marker (seen on a loaded machine) */
		wait_marker_alive(name);
		rn_send(&r, WIRE_CANCEL, job_obj("tree"));
	}
	rn_collect(&r, &jo, 1, 0);
	ck_assert_ptr_nonnull(jo.exit);
	ck_assert(yb_json_get_bool(jo.exit, how == BY_TIMEOUT ? "timed_out" : "cancelled", false));
	/* the record is written only once every process is gone: nothing to wait for */
	ck_assert_msg(!marker_alive(name), "a process of the job survived: script '%s'", fmt);
	/* coreutils timeout passes SIGTERM on to its child, which may end before we reach it */
	check_killed(&jo, fmt == timeout_script ? NULL : name);
	/* and the step's main process (/bin/sh), although it dies at once of the group's SIGTERM */
	check_killed(&jo, "sh");
	ck_assert_ptr_null(yb_json_get(jo.exit, "error"));
	jobs_release(&jo, 1);
	rn_close(&r);
	free(script);
	free(prog);
	state_free(state);
}

START_TEST(setsid_timeout)     { tree_case(setsid_script, BY_TIMEOUT, 'a'); }
END_TEST
START_TEST(setsid_cancel)      { tree_case(setsid_script, BY_CANCEL, 'b'); }
END_TEST
START_TEST(timeout_timeout)    { tree_case(timeout_script, BY_TIMEOUT, 'c'); }
END_TEST
START_TEST(timeout_cancel)     { tree_case(timeout_script, BY_CANCEL, 'd'); }
END_TEST
START_TEST(double_fork_timeout) { tree_case(double_fork_script, BY_TIMEOUT, 'e'); }
END_TEST
START_TEST(double_fork_cancel) { tree_case(double_fork_script, BY_CANCEL, 'f'); }
END_TEST
/* SIGTERM ignored (and inherited so by the escaped process): SIGKILL after the grace */
START_TEST(stubborn_timeout)   { tree_case(stubborn_script, BY_TIMEOUT, 'g'); }
END_TEST

START_TEST(normal_exit_kills_the_daemonised_grandchild)
{
	char *state = state_new();
	char name[32];
	char *prog = marker_prog(state, 'h', name, sizeof(name));
	/* a process outside the job with the same program and name: not the job's, left alone */
	pid_t decoy = fork();
	ck_assert_int_ge(decoy, 0);
	if (decoy == 0) {
		execl(prog, name, "120", (char *)NULL);
		_exit(127);
	}
	wait_marker_alive(name);
	/* it ends once its grandchild runs (then two processes are called so, by their comm, which
	 * setsid has until it execs: the decoy and it) */
	char *script = xasprintf("( setsid %s 120 & ); "
				 "while [ \"$(pgrep -c -x '%s')\" -lt 2 ]; do sleep 0.01; done; echo forked",
				 prog, name);
	struct jobout jo;
	int64_t t0 = yb_mono_ms();
	run_one(state, shell_job("daemon", script), &jo);
	ck_assert_int_eq(yb_json_get_int(jo.exit, "status", -1), 0);
	ck_assert_str_eq(jo.stream[1].data, "forked\n");
	check_killed(&jo, name);
	/* not held up by the escaped process's copy of the output pipes */
	ck_assert_int_lt(yb_mono_ms() - t0, 1500);
	/* the job's copy is gone; the decoy lives */
	ck_assert(!pid_gone(decoy));
	struct yb_json *killed = yb_json_get(jo.exit, "killed");
	for (size_t i = 0; i < yb_json_len(killed); i++)
		ck_assert_int_ne(yb_json_get_int(yb_json_at(killed, i), "pid", 0), decoy);
	kill(decoy, SIGKILL);
	ck_assert_int_eq(waitpid(decoy, NULL, 0), decoy);
	ck_assert(!marker_alive(name));
	jobs_release(&jo, 1);

	/* a step that leaves nothing behind kills nothing */
	run_one(state, shell_job("clean", "echo clean"), &jo);
	ck_assert_int_eq(yb_json_get_int(jo.exit, "killed_count", -1), 0);
	ck_assert_uint_eq(yb_json_len(yb_json_get(jo.exit, "killed")), 0);
	jobs_release(&jo, 1);
	free(script);
	free(prog);
	state_free(state);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tree");
	TCase *tc = tcase_create("tree");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, adopt_orphans, reap_orphans);
	tcase_add_test(tc, setsid_timeout);
	tcase_add_test(tc, setsid_cancel);
	tcase_add_test(tc, timeout_timeout);
	tcase_add_test(tc, timeout_cancel);
	tcase_add_test(tc, double_fork_timeout);
	tcase_add_test(tc, double_fork_cancel);
	tcase_add_test(tc, stubborn_timeout);
	tcase_add_test(tc, normal_exit_kills_the_daemonised_grandchild);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
