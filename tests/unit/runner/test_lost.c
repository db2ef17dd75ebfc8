/*
 * test_lost.c: lost is not free (issue 8 §6, the runner's side). When a job's folder, or the
 * whole state folder, is removed while its step runs, the runner still tells "nothing of this job
 * runs here" ("unknown-job") from "no journal, but its processes still run" ("unknown-running",
 * with how many and which), found by the marker every step carries; CANCEL kills what is left.
 * A job whose supervisor died says in its EXIT how many of its processes still run. And the
 * runner makes its folders again, so that later jobs work.
 */
#include "runner_test.h"

/* The next control frame for job, of type want; its code checked if it is an ERROR. */
static struct yb_json *expect(struct rn *r, uint8_t want, const char *job, const char *code)
{
	uint8_t type;
	struct yb_json *v = rn_json(r, &type);
	ck_assert_msg(type == want, "got %s (%s), expected %s", wire_type_name(type),
		      yb_json_get_str(v, "message") ? yb_json_get_str(v, "message") : "", wire_type_name(want));
	ck_assert_str_eq(yb_json_get_str(v, "job"), job);
	if (code)
		ck_assert_msg(!strcmp(yb_json_get_str(v, "code"), code), "code '%s' (%s), expected '%s'",
			      yb_json_get_str(v, "code"), yb_json_get_str(v, "message"), code);
	return v;
}

static bool pids_name(const struct yb_json *v, const char *name)
{
	struct yb_json *pids = yb_json_get(v, "pids");
	for (size_t i = 0; i < yb_json_len(pids); i++)
		if (!strcmp(yb_json_get_str(yb_json_at(pids, i), "comm"), name))
			return true;
	return false;
}

static void rm_rf(const char *path)
{
	char *cmd = xasprintf("rm -rf '%s'", path);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
}

/* Starts job running prog on a connection of its own (then gone, as after a dropped
 * connection), and waits until prog runs; the supervisor's pid. */
static pid_t start_marked(const char *state, const char *job, const char *prog, const char *name)
{
	struct rn r;
	rn_spawn(&r, state);
	rn_hello(&r);
	char *script = xasprintf("%s 120 & echo ready; wait", prog);
	rn_send(&r, WIRE_START, shell_job(job, script));
	struct yb_json *v = expect(&r, WIRE_ACK, job, NULL);
	pid_t supervisor = (pid_t)yb_json_get_int(v, "pid", 0);
	yb_json_free(v);
	rn_close(&r);
	wait_marker_alive(name);
	free(script);
	return supervisor;
}

/* A supervisor whose serve is gone is our child (we stand in for init): it ends by itself. */
static void wait_ended(pid_t pid)
{
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
}

START_TEST(job_folder_removed_while_its_step_runs)
{
	char *state = state_new();
	char name[32];
	char *prog = marker_prog(state, 'a', name, sizeof(name));
	pid_t supervisor = start_marked(state, "doomed", prog, name);
	struct rn r;
	rn_spawn(&r, state);
	rn_hello(&r);
	char *dir = xasprintf("%s/jobs/doomed", state);
	rm_rf(dir);

	/* no journal, but not free: the step still runs, and is named */
	rn_send(&r, WIRE_ATTACH, attach_obj("doomed", 0));
	struct yb_json *v = expect(&r, WIRE_ERROR, "doomed", "unknown-running");
	ck_assert_int_ge(yb_json_get_int(v, "processes", 0), 1);
	ck_assert(pids_name(v, name));
	yb_json_free(v);
	/* another id, never started: nothing of it here */
	rn_send(&r, WIRE_ATTACH, attach_obj("never", 0));
	v = expect(&r, WIRE_ERROR, "never", "unknown-job");
	ck_assert_int_eq(yb_json_get_int(v, "processes", -1), 0);
	yb_json_free(v);

	/* CANCEL kills what is left; then the id is unknown and nothing of it runs */
	rn_send(&r, WIRE_CANCEL, job_obj("doomed"));
	v = expect(&r, WIRE_ERROR, "doomed", "unknown-job");
	ck_assert_int_ge(yb_json_get_int(v, "killed", 0), 1);
	ck_assert_int_eq(yb_json_get_int(v, "processes", -1), 0);
	yb_json_free(v);
	ck_assert(!marker_alive(name));
	wait_ended(supervisor); /* which ends too, its step gone */
	rn_send(&r, WIRE_ATTACH, attach_obj("doomed", 0));
	v = expect(&r, WIRE_ERROR, "doomed", "unknown-job");
	yb_json_free(v);
	rn_close(&r);
	free(dir);
	free(prog);
	state_free(state);
}
END_TEST

START_TEST(state_folder_removed_while_serving)
{
	char *state = state_new(), *bin = state_new();
	char name[32];
	char *prog = marker_prog(bin, 'b', name, sizeof(name));
	struct rn r;
	struct jobout jo;
	start_marked(state, "before", prog, name);
	rn_spawn(&r, state);
	rn_hello(&r);
	rm_rf(state);

	/* later jobs work: the folders are made again */
	for (int i = 0; i < 2; i++) {
		char job[16];
		snprintf(job, sizeof(job), "after%d", i);
		jobs_init(&jo, 1);
		snprintf(jo.job, sizeof(jo.job), "%s", job);
		rn_send(&r, WIRE_START, shell_job(job, "echo fine"));
		rn_collect(&r, &jo, 1, 0);
		ck_assert_msg(!jo.error[0], "START after the state folder went: %s", jo.error);
		ck_assert_str_eq(jo.stream[1].data, "fine\n");
		check_digests(&jo);
		jobs_release(&jo, 1);
		ck_assert(journal_job_exists(state, job));
	}
	/* the job from before: still running, so not free */
	rn_send(&r, WIRE_ATTACH, attach_obj("before", 0));
	struct yb_json *v = expect(&r, WIRE_ERROR, "before", "unknown-running");
	ck_assert(pids_name(v, name));
	yb_json_free(v);
	rn_send(&r, WIRE_CANCEL, job_obj("before"));
	v = expect(&r, WIRE_ERROR, "before", "unknown-job");
	ck_assert_int_ge(yb_json_get_int(v, "killed", 0), 1);
	yb_json_free(v);
	ck_assert(!marker_alive(name));
	rn_close(&r);
	free(prog);
	state_free(bin);
	state_free(state);
}
END_TEST

START_TEST(supervisor_killed_exit_says_what_still_runs)
{
	char *state = state_new();
	char name[32];
	char *prog = marker_prog(state, 'c', name, sizeof(name));
	struct rn r;
	struct jobout jo;
	pid_t supervisor = start_marked(state, "orphaned", prog, name);
	rn_spawn(&r, state);
	rn_hello(&r);
	ck_assert_int_eq(kill(supervisor, SIGKILL), 0);
	ck_assert_int_eq(waitpid(supervisor, NULL, 0), supervisor); /* we stand in for init */
	jobs_init(&jo, 1);
	snprintf(jo.job, sizeof(jo.job), "orphaned");
	jo.acked = true;
	rn_send(&r, WIRE_ATTACH, attach_obj("orphaned", 0));
	rn_collect(&r, &jo, 1, 0);
	ck_assert_ptr_nonnull(strstr(yb_json_get_str(jo.exit, "error"), "supervisor died"));
	ck_assert(yb_json_get_bool(jo.exit, "lost", false));
	ck_assert_int_ge(yb_json_get_int(jo.exit, "processes", 0), 1);
	ck_assert(pids_name(jo.exit, name));
	jobs_release(&jo, 1);
	/* CANCEL: nobody listens for it, so serve kills what is left and says so */
	rn_send(&r, WIRE_CANCEL, job_obj("orphaned"));
	struct yb_json *v = expect(&r, WIRE_ACK, "orphaned", NULL);
	ck_assert_str_eq(yb_json_get_str(v, "op"), "cancel");
	ck_assert_int_ge(yb_json_get_int(v, "killed", 0), 1);
	ck_assert_int_eq(yb_json_get_int(v, "processes", -1), 0);
	yb_json_free(v);
	ck_assert(!marker_alive(name));
	/* and the EXIT, asked again, now says nothing is left */
	jobs_init(&jo, 1);
	snprintf(jo.job, sizeof(jo.job), "orphaned");
	jo.acked = true;
	rn_send(&r, WIRE_ATTACH, attach_obj("orphaned", 0));
	rn_collect(&r, &jo, 1, 0);
	ck_assert_int_eq(yb_json_get_int(jo.exit, "processes", -1), 0);
	jobs_release(&jo, 1);
	rn_close(&r);
	free(prog);
	state_free(state);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("lost");
	TCase *tc = tcase_create("lost");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, adopt_orphans, reap_orphans);
	tcase_add_test(tc, job_folder_removed_while_its_step_runs);
	tcase_add_test(tc, state_folder_removed_while_serving);
	tcase_add_test(tc, supervisor_killed_exit_says_what_still_runs);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
