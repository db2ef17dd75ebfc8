/*
 * test_identity.c: a job is only ever the job that was started (issue 8 §1, the runner's side).
 * The runner journals the digest of each START's spec; a START for a journaled id with the same
 * digest answers "exists" (the client ATTACHes: its own START got there before a reconnect), one
 * with another digest answers "conflict" and changes nothing, also after serve restarts, also
 * when two STARTs race on two connections. ATTACH, CANCEL and FORGET that name a digest act only
 * on the job that has it.
 */
#include "runner_test.h"

/* The next control frame, which must be of type want, for job. */
static struct yb_json *expect_frame(struct rn *r, uint8_t want, const char *job)
{
	uint8_t type;
	struct yb_json *v = rn_json(r, &type);
	ck_assert_msg(type == want, "got %s (%s), expected %s", wire_type_name(type),
		      yb_json_get_str(v, "message") ? yb_json_get_str(v, "message") : "", wire_type_name(want));
	ck_assert_str_eq(yb_json_get_str(v, "job"), job);
	return v;
}

/* An ERROR with code for job; returns its spec_sha256 (copied into out). */
static void expect_error(struct rn *r, const char *job, const char *code, char out[65])
{
	struct yb_json *v = expect_frame(r, WIRE_ERROR, job);
	ck_assert_msg(!strcmp(yb_json_get_str(v, "code"), code), "code '%s' (%s), expected '%s'",
		      yb_json_get_str(v, "code"), yb_json_get_str(v, "message"), code);
	if (out) {
		const char *d = yb_json_get_str(v, "spec_sha256");
		ck_assert_ptr_nonnull(d);
		snprintf(out, 65, "%s", d);
	}
	yb_json_free(v);
}

/* START, then the ACK; its spec digest into digest. */
static void start_acked(struct rn *r, struct yb_json *start, char digest[65])
{
	char job[WIRE_MAX_JOB_ID + 1];
	snprintf(job, sizeof(job), "%s", yb_json_get_str(start, "job"));
	rn_send(r, WIRE_START, start);
	struct yb_json *v = expect_frame(r, WIRE_ACK, job);
	const char *d = yb_json_get_str(v, "spec_sha256");
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(strlen(d), 64);
	snprintf(digest, 65, "%s", d);
	yb_json_free(v);
}

static char *read_text(const char *dir, const char *job, const char *name)
{
	char *path = xasprintf("%s/jobs/%s/%s", dir, job, name), *text = NULL;
	struct yb_err err;
	ck_assert_msg(yb_read_file(path, 1 << 20, &text, NULL, &err) == 0, "%s", err.msg);
	free(path);
	return text;
}

START_TEST(same_spec_exists_and_is_followed)
{
	char *state = state_new();
	char *go = xasprintf("%s/go", state);
	char *script = xasprintf("echo first; while [ ! -e '%s' ]; do sleep 0.02; done; echo second", go);
	struct rn r, r2;
	char digest[65], again[65];
	rn_spawn(&r, state);
	rn_hello(&r);
	start_acked(&r, shell_job("same", script), digest);
	/* the digest is journaled, and spec.json repeats it */
	char *text = read_text(state, "same", "spec.sha256");
	ck_assert_int_eq(strncmp(text, digest, 64), 0);
	free(text);
	text = read_text(state, "same", "spec.json");
	ck_assert_ptr_nonnull(strstr(text, digest));
	free(text);

	/* the same START again on another connection (a reconnect): "exists", same digest */
	rn_spawn(&r2, state);
	rn_hello(&r2);
	rn_send(&r2, WIRE_START, shell_job("same", script));
	expect_error(&r2, "same", "exists", again);
	ck_assert_str_eq(again, digest);
	/* the same spec in another key order and with the defaults spelled out is the same job */
	struct yb_json *s = yb_json_object();
	yb_json_set(s, "grace_ms", yb_json_int(10000));
	yb_json_set(s, "cwd", yb_json_str("/"));
	yb_json_set(s, "shell", yb_json_str(script));
	yb_json_set(s, "job", yb_json_str("same"));
	rn_send(&r2, WIRE_START, s);
	expect_error(&r2, "same", "exists", NULL);

	/* and is followed by ATTACH naming the digest: the whole output, the exit */
	write_file(go, "", 0);
	struct jobout jo;
	jobs_init(&jo, 1);
	snprintf(jo.job, sizeof(jo.job), "same");
	jo.acked = true;
	struct yb_json *a = attach_obj("same", 0);
	yb_json_set(a, "spec_sha256", yb_json_str(digest));
	rn_send(&r2, WIRE_ATTACH, a);
	rn_collect(&r2, &jo, 1, 0);
	ck_assert_str_eq(jo.stream[1].data, "first\nsecond\n");
	ck_assert_int_eq(yb_json_get_int(jo.exit, "status", -1), 0);
	jobs_release(&jo, 1);
	rn_close(&r2);
	rn_close(&r);
	free(script);
	free(go);
	state_free(state);
}
END_TEST

START_TEST(another_spec_is_refused_never_adopted)
{
	char *state = state_new();
	struct rn r;
	struct jobout jo;
	char digest[65], theirs[65];
	rn_spawn(&r, state);
	rn_hello(&r);
	jobs_init(&jo, 1);
	snprintf(jo.job, sizeof(jo.job), "taken");
	rn_send(&r, WIRE_START, shell_job("taken", "echo mine"));
	rn_collect(&r, &jo, 1, 0);
	ck_assert_str_eq(jo.stream[1].data, "mine\n");
	jobs_release(&jo, 1);
	char *before = read_text(state, "taken", "spec.json");

	/* another command, another environment, another timeout: each a different job */
	rn_send(&r, WIRE_START, shell_job("taken", "echo theirs"));
	expect_error(&r, "taken", "conflict", theirs);
	struct yb_json *s = shell_job("taken", "echo mine");
	struct yb_json *env = yb_json_object();
	yb_json_set(env, "X", yb_json_str("1"));
	yb_json_set(s, "env", env);
	rn_send(&r, WIRE_START, s);
	expect_error(&r, "taken", "conflict", NULL);
	s = shell_job("taken", "echo mine");
	yb_json_set(s, "timeout_ms", yb_json_int(1000));
	rn_send(&r, WIRE_START, s);
	expect_error(&r, "taken", "conflict", NULL);
	/* nothing of the journaled job changed, and the message says why and what to do */
	char *after = read_text(state, "taken", "spec.json");
	ck_assert_str_eq(before, after);
	free(after);
	free(before);

	/* requests naming the other digest leave the job alone */
	struct yb_json *a = attach_obj("taken", 0);
	yb_json_set(a, "spec_sha256", yb_json_str(theirs));
	rn_send(&r, WIRE_ATTACH, a);
	expect_error(&r, "taken", "conflict", NULL);
	a = job_obj("taken");
	yb_json_set(a, "spec_sha256", yb_json_str(theirs));
	rn_send(&r, WIRE_FORGET, a);
	expect_error(&r, "taken", "conflict", NULL);
	ck_assert(journal_job_exists(state, "taken"));
	a = job_obj("taken");
	yb_json_set(a, "spec_sha256", yb_json_str("short"));
	rn_send(&r, WIRE_CANCEL, a);
	expect_error(&r, "taken", "bad-spec", NULL);
	/* and with the right one, FORGET goes on */
	rn_send(&r, WIRE_START, shell_job("taken", "echo mine"));
	expect_error(&r, "taken", "exists", digest);
	a = job_obj("taken");
	yb_json_set(a, "spec_sha256", yb_json_str(digest));
	rn_send(&r, WIRE_FORGET, a);
	struct yb_json *v = expect_frame(&r, WIRE_ACK, "taken");
	ck_assert_str_eq(yb_json_get_str(v, "op"), "forget");
	yb_json_free(v);
	ck_assert(!journal_job_exists(state, "taken"));
	/* the id is free again: a new job may have it */
	jobs_init(&jo, 1);
	snprintf(jo.job, sizeof(jo.job), "taken");
	rn_send(&r, WIRE_START, shell_job("taken", "echo theirs"));
	rn_collect(&r, &jo, 1, 0);
	ck_assert_str_eq(jo.stream[1].data, "theirs\n");
	jobs_release(&jo, 1);
	rn_close(&r);
	state_free(state);
}
END_TEST

START_TEST(the_digest_survives_a_restart)
{
	char *state = state_new();
	struct rn r;
	struct jobout jo;
	char digest[65], seen[65];
	rn_spawn(&r, state);
	rn_hello(&r);
	jobs_init(&jo, 1);
	snprintf(jo.job, sizeof(jo.job), "kept");
	rn_send(&r, WIRE_START, shell_job("kept", "echo kept"));
	rn_collect(&r, &jo, 1, 0);
	jobs_release(&jo, 1);
	kill(r.pid, SIGKILL); /* serve dies hard */
	rn_wait(&r);

	rn_spawn(&r, state);
	rn_hello(&r);
	rn_send(&r, WIRE_START, shell_job("kept", "echo kept"));
	expect_error(&r, "kept", "exists", digest);
	rn_send(&r, WIRE_START, shell_job("kept", "echo other"));
	expect_error(&r, "kept", "conflict", NULL);
	/* spec.sha256 lost (it is not fsynced): spec.json, which is, still says it */
	char *path = xasprintf("%s/jobs/kept/spec.sha256", state);
	ck_assert_int_eq(unlink(path), 0);
	rn_send(&r, WIRE_START, shell_job("kept", "echo kept"));
	expect_error(&r, "kept", "exists", seen);
	ck_assert_str_eq(seen, digest);
	/* neither says: no way to know it is the same job, so it is not adopted */
	free(path);
	path = xasprintf("%s/jobs/kept/spec.json", state);
	ck_assert_int_eq(unlink(path), 0);
	rn_send(&r, WIRE_START, shell_job("kept", "echo kept"));
	expect_error(&r, "kept", "conflict", NULL);
	free(path);
	rn_close(&r);
	state_free(state);
}
END_TEST

/* Two connections START the same id at once: one job runs, the other START is answered. */
static void race(const char *script_a, const char *script_b, const char *loser_code)
{
	char *state = state_new();
	struct rn r[2];
	for (int round = 0; round < 20; round++) {
		char job[32];
		snprintf(job, sizeof(job), "race%d", round);
		for (int i = 0; i < 2; i++) {
			rn_spawn(&r[i], state);
			rn_hello(&r[i]);
		}
		rn_send(&r[0], WIRE_START, shell_job(job, script_a));
		rn_send(&r[1], WIRE_START, shell_job(job, script_b));
		int acks = 0, losers = 0;
		for (int i = 0; i < 2; i++) {
			uint8_t type;
			struct yb_json *v = rn_json(&r[i], &type);
			if (type == WIRE_ACK)
				acks++;
			else if (type == WIRE_ERROR && !strcmp(yb_json_get_str(v, "code"), loser_code))
				losers++;
			else
				ck_abort_msg("round %d: %s %s", round, wire_type_name(type),
					     yb_json_get_str(v, "message"));
			yb_json_free(v);
		}
		ck_assert_int_eq(acks, 1);
		ck_assert_int_eq(losers, 1);
		for (int i = 0; i < 2; i++)
			rn_close(&r[i]);
	}
	state_free(state);
}

START_TEST(racing_starts_make_one_job)
{
	race("true", "true", "exists");
	race("true", "false", "conflict");
}
END_TEST

START_TEST(long_ids_work)
{
	char *state = state_new();
	struct jobout jo;
	char id[WIRE_MAX_JOB_ID + 1];
	/* the longest id the wire takes, with every kind of character */
	for (size_t i = 0; i < WIRE_MAX_JOB_ID; i++)
		id[i] = "Az09._-"[i % 7];
	id[WIRE_MAX_JOB_ID] = '\0';
	run_one(state, shell_job(id, "echo long"), &jo);
	ck_assert_str_eq(jo.stream[1].data, "long\n");
	ck_assert(journal_job_exists(state, id));
	jobs_release(&jo, 1);
	state_free(state);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("identity");
	TCase *tc = tcase_create("identity");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, adopt_orphans, reap_orphans);
	tcase_add_test(tc, same_spec_exists_and_is_followed);
	tcase_add_test(tc, another_spec_is_refused_never_adopted);
	tcase_add_test(tc, the_digest_survives_a_restart);
	tcase_add_test(tc, racing_starts_make_one_job);
	tcase_add_test(tc, long_ids_work);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
