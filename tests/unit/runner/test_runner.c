/*
 * test_runner.c: yoban-runner as the scheduler sees it. Each test starts the real binary on a
 * socketpair with a fresh state folder, speaks the protocol, and checks what a user would check:
 * the bytes of each stream (against the EXIT digests and our own), exits, timeouts that leave no
 * process behind, cancellation, re-attachment after the serve process is killed, forgetting,
 * retention, secret masking, and hostile peers. The journal and the masker are also tested
 * directly, at every offset and every split.
 */
#include "yb_version.h"
#include "runner_test.h"

/* ---- the protocol ---- */

START_TEST(hello_version_mismatch_is_refused_by_name)
{
	char *state = state_new();
	struct rn r;
	uint8_t type;
	rn_spawn(&r, state);
	struct yb_json *h = hello_obj(2);
	yb_json_set(h, "version", yb_json_str("9.9.9"));
	rn_send(&r, WIRE_HELLO, h);
	struct yb_json *v = rn_json(&r, &type);
	ck_assert_uint_eq(type, WIRE_ERROR);
	ck_assert_str_eq(yb_json_get_str(v, "code"), "version");
	const char *msg = yb_json_get_str(v, "message");
	ck_assert_ptr_nonnull(strstr(msg, "yoban 9.9.9 speaks protocol 2"));
	ck_assert_ptr_nonnull(strstr(msg, "speaks protocol 1"));
	yb_json_free(v);
	struct wire_frame f;
	ck_assert_int_eq(rn_frame(&r, &f), 0); /* then it hangs up */
	char errtext[2048];
	rn_stderr(&r, errtext, sizeof(errtext));
	ck_assert_ptr_nonnull(strstr(errtext, "protocol version mismatch"));
	int status = rn_wait(&r);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	state_free(state);
}
END_TEST

START_TEST(ping_and_hello_first)
{
	char *state = state_new();
	struct rn r;
	uint8_t type;
	rn_spawn(&r, state);
	rn_hello(&r);
	struct yb_json *p = yb_json_object();
	yb_json_set(p, "seq", yb_json_int(41));
	rn_send(&r, WIRE_PING, p);
	struct yb_json *v = rn_json(&r, &type);
	ck_assert_uint_eq(type, WIRE_PONG);
	ck_assert_int_eq(yb_json_get_int(v, "seq", 0), 41);
	yb_json_free(v);
	rn_close(&r);

	/* anything before HELLO is a protocol error */
	rn_spawn(&r, state);
	rn_send(&r, WIRE_PING, yb_json_object());
	v = rn_json(&r, &type);
	ck_assert_uint_eq(type, WIRE_ERROR);
	ck_assert_ptr_nonnull(strstr(yb_json_get_str(v, "message"), "expected HELLO first"));
	yb_json_free(v);
	int status = rn_wait(&r);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	state_free(state);
}
END_TEST

START_TEST(cli_help_version_and_usage)
{
	ck_assert_int_eq(system(RUNNER " --help | grep -q 'yoban-runner serve'"), 0);
	ck_assert_int_eq(system(RUNNER " --version | grep -q '^yoban-runner " YB_VERSION "'"), 0);
	int st = system(RUNNER " frobnicate 2>/dev/null");
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
	st = system(RUNNER " gc --retention soon 2>/dev/null");
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
}
END_TEST

/* A hostile or broken peer: an ERROR without a job, a message on stderr, exit status 1. */
static void expect_protocol_error(const void *data, size_t len, const char *needle)
{
	char *state = state_new();
	struct rn r;
	rn_spawn(&r, state);
	rn_send_raw(&r, data, len);
	struct wire_frame f;
	struct yb_err err;
	int rc;
	bool got_error = false;
	while ((rc = rn_frame(&r, &f)) == 1) {
		if (f.type != WIRE_ERROR)
			continue; /* e.g. the HELLO answered before the garbage */
		struct yb_json *v = NULL;
		ck_assert_int_eq(wire_parse_json(&f, &v, &err), 0);
		ck_assert_ptr_null(yb_json_get(v, "job"));
		ck_assert_str_eq(yb_json_get_str(v, "code"), "proto");
		ck_assert_msg(strstr(yb_json_get_str(v, "message"), needle), "message '%s' lacks '%s'",
			      yb_json_get_str(v, "message"), needle);
		yb_json_free(v);
		got_error = true;
	}
	ck_assert_int_eq(rc, 0);
	ck_assert(got_error);
	char errtext[2048];
	rn_stderr(&r, errtext, sizeof(errtext));
	ck_assert_msg(strstr(errtext, needle), "stderr '%s' lacks '%s'", errtext, needle);
	int status = rn_wait(&r);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status 0x%x", status);
	state_free(state);
}

static size_t hello_bytes(unsigned char *p)
{
	struct yb_buf b;
	yb_buf_init(&b, 0);
	struct yb_json *h = hello_obj(WIRE_PROTO);
	wire_put_json(&b, WIRE_HELLO, h, NULL);
	yb_json_free(h);
	memcpy(p, b.data, b.len);
	size_t n = b.len;
	yb_buf_release(&b);
	return n;
}

START_TEST(hostile_peers_get_an_error_and_a_clean_exit)
{
	unsigned char buf[4096];
	size_t n;
	/* random garbage */
	unsigned char garbage[512];
	for (size_t i = 0; i < sizeof(garbage); i++)
		garbage[i] = (unsigned char)(i * 151 + 7);
	garbage[0] = 0x7f; /* a length far beyond the cap */
	expect_protocol_error(garbage, sizeof(garbage), "larger than the limit");
	/* an unknown frame type */
	n = hello_bytes(buf);
	memcpy(buf + n, "\0\0\0\3\x2a{}", 7);
	expect_protocol_error(buf, n + 7, "unknown frame type 42");
	/* bad JSON */
	n = hello_bytes(buf);
	memcpy(buf + n, "\0\0\0\5\2{\"jo", 9);
	expect_protocol_error(buf, n + 9, "bad JSON");
	/* a bad job id: path tricks */
	n = hello_bytes(buf);
	static const char bad_id[] = "{\"job\":\"../../etc\",\"shell\":\"true\"}";
	buf[n] = 0, buf[n + 1] = 0, buf[n + 2] = 0, buf[n + 3] = (unsigned char)(sizeof(bad_id));
	buf[n + 4] = WIRE_START;
	memcpy(buf + n + 5, bad_id, sizeof(bad_id) - 1);
	expect_protocol_error(buf, n + 5 + sizeof(bad_id) - 1, "bad job id");
	/* an OUTPUT frame (truncated, and in the wrong direction anyway) */
	n = hello_bytes(buf);
	memcpy(buf + n, "\0\0\0\4\3\2j1", 8);
	expect_protocol_error(buf, n + 8, "OUTPUT frames go from the runner");
	/* a START without a job */
	n = hello_bytes(buf);
	memcpy(buf + n, "\0\0\0\3\2{}", 7);
	expect_protocol_error(buf, n + 7, "START frame without a 'job'");
}
END_TEST

/* ---- jobs ---- */

START_TEST(binary_output_arrives_intact)
{
	char *state = state_new();
	/* every byte value, then 600 KiB of noise: several chunks, NULs, invalid UTF-8 */
	size_t len = 256 + (600u << 10);
	unsigned char *data = xmalloc(len);
	for (size_t i = 0; i < 256; i++)
		data[i] = (unsigned char)i;
	uint32_t x = 12345;
	for (size_t i = 256; i < len; i++) {
		x = x * 1103515245u + 12345u;
		data[i] = (unsigned char)(x >> 16);
	}
	char *path = xasprintf("%s/blob", state);
	write_file(path, data, len);

	struct jobout jo;
	struct yb_json *start = job_obj("bin.1");
	struct yb_json *argv = yb_json_array();
	yb_json_push(argv, yb_json_str("cat"));
	yb_json_push(argv, yb_json_str(path));
	yb_json_set(start, "argv", argv);
	run_one(state, start, &jo);
	ck_assert_int_eq(yb_json_get_int(jo.exit, "status", -1), 0);
	ck_assert_uint_eq(jo.stream[1].len, len);
	ck_assert(memcmp(jo.stream[1].data, data, len) == 0);
	check_digests(&jo);
	char hex[65];
	sha_hex(data, len, hex);
	ck_assert_str_eq(yb_json_get_str(jo.exit, "stdout_sha256"), hex);
	jobs_release(&jo, 1);

	/* the same bytes on stderr, through the shell */
	char *script = xasprintf("cat '%s' >&2; printf tail", path);
	run_one(state, shell_job("bin.2", script), &jo);
	ck_assert_uint_eq(jo.stream[2].len, len);
	ck_assert(memcmp(jo.stream[2].data, data, len) == 0);
	ck_assert_str_eq(jo.stream[1].data, "tail");
	check_digests(&jo);
	ck_assert_str_eq(yb_json_get_str(jo.exit, "stderr_sha256"), hex);
	ck_assert_int_eq(yb_json_get_int(jo.exit, "spool_bytes", 0), (int64_t)len + 4);
	ck_assert_int_eq(yb_json_get_int(jo.exit, "dropped_bytes", -1), 0);
	ck_assert_int_ge(yb_json_get_int(jo.exit, "ended_at_us", 0),
			 yb_json_get_int(jo.exit, "started_at_us", 1));
	jobs_release(&jo, 1);
	free(script);
	free(path);
	free(data);
	state_free(state);
}
END_TEST

START_TEST(exit_status_and_signal)
{
	char *state = state_new();
	struct jobout jo;
	run_one(state, shell_job("st", "exit 7"), &jo);
	ck_assert_int_eq(yb_json_get_int(jo.exit, "status", -1), 7);
	ck_assert(!yb_json_is_int(yb_json_get(jo.exit, "signal")));
	jobs_release(&jo, 1);
	run_one(state, shell_job("sig", "kill -KILL $$"), &jo);
	ck_assert(!yb_json_is_int(yb_json_get(jo.exit, "status")));
	ck_assert_int_eq(yb_json_get_int(jo.exit, "signal", -1), SIGKILL);
	ck_assert(!yb_json_get_bool(jo.exit, "timed_out", true));
	jobs_release(&jo, 1);
	state_free(state);
}
END_TEST

START_TEST(environment_is_exactly_as_given)
{
	char *state = state_new();
	struct jobout jo;
	struct yb_json *start = job_obj("env");
	struct yb_json *argv = yb_json_array();
	yb_json_push(argv, yb_json_str("env"));
	yb_json_set(start, "argv", argv);
	struct yb_json *env = yb_json_object();
	yb_json_set(env, "YOBAN_PARAM_A", yb_json_str("x y"));
	yb_json_set(env, "HOME", yb_json_str("/nowhere"));
	yb_json_set(start, "env", env);
	yb_json_set(start, "cwd", yb_json_str("/tmp"));
	run_one(state, start, &jo);
	/* and the job's marker, last (test_tree.c, test_lost.c) */
	char *expect = xasprintf("YOBAN_PARAM_A=x y\nHOME=/nowhere\nPATH=%s\nLANG=C.UTF-8\n"
				 "YOBAN_RUNNER_JOB=env:%s\n",
				 "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", state);
	ck_assert_str_eq(jo.stream[1].data, expect);
	free(expect);
	jobs_release(&jo, 1);

	/* parameters stay data: shell syntax in a value is never run */
	char *marker = xasprintf("%s/pwned", state);
	char *value = xasprintf("'; touch %s; echo '$(touch %s)`touch %s`", marker, marker, marker);
	start = shell_job("param", "printf '%s' \"$YOBAN_PARAM_X\"; pwd");
	env = yb_json_object();
	yb_json_set(env, "YOBAN_PARAM_X", yb_json_str(value));
	yb_json_set(start, "env", env);
	yb_json_set(start, "cwd", yb_json_str(state));
	run_one(state, start, &jo);
	char *out = xasprintf("%s%s\n", value, state);
	ck_assert_str_eq(jo.stream[1].data, out);
	ck_assert_int_ne(access(marker, F_OK), 0);
	free(out);
	free(value);
	free(marker);
	jobs_release(&jo, 1);
	state_free(state);
}
END_TEST

START_TEST(many_jobs_on_one_connection)
{
	enum { N = 50 };
	char *state = state_new();
	struct rn r;
	struct jobout jo[N];
	rn_spawn(&r, state);
	rn_hello(&r);
	jobs_init(jo, N);
	for (int i = 0; i < N; i++) {
		snprintf(jo[i].job, sizeof(jo[i].job), "many-%02d", i);
		char *script = xasprintf("i=0; while [ $i -lt %d ]; do echo \"job %d line $i\"; "
					 "echo \"e$i\" >&2; i=$((i+1)); done; exit %d",
					 100 + i * 10, i, i % 5);
		rn_send(&r, WIRE_START, shell_job(jo[i].job, script));
		free(script);
	}
	rn_collect(&r, jo, N, 0);
	for (int i = 0; i < N; i++) {
		struct yb_buf expect_out, expect_err;
		yb_buf_init(&expect_out, 0);
		yb_buf_init(&expect_err, 0);
		for (int k = 0; k < 100 + i * 10; k++) {
			yb_buf_appendf(&expect_out, "job %d line %d\n", i, k);
			yb_buf_appendf(&expect_err, "e%d\n", k);
		}
		ck_assert_str_eq(jo[i].stream[1].data, expect_out.data);
		ck_assert_str_eq(jo[i].stream[2].data, expect_err.data);
		ck_assert_int_eq(yb_json_get_int(jo[i].exit, "status", -1), i % 5);
		check_digests(&jo[i]);
		yb_buf_release(&expect_out);
		yb_buf_release(&expect_err);
	}
	jobs_release(jo, N);
	rn_close(&r);
	state_free(state);
}
END_TEST

START_TEST(start_errors)
{
	char *state = state_new();
	struct rn r;
	struct jobout jo[5];
	rn_spawn(&r, state);
	rn_hello(&r);
	jobs_init(jo, 5);
	/* a program that does not exist: ERROR spawn, nothing journaled */
	snprintf(jo[0].job, sizeof(jo[0].job), "nope");
	struct yb_json *s = job_obj("nope");
	struct yb_json *argv = yb_json_array();
	yb_json_push(argv, yb_json_str("/nonexistent/program"));
	yb_json_set(s, "argv", argv);
	rn_send(&r, WIRE_START, s);
	/* both argv and shell */
	snprintf(jo[1].job, sizeof(jo[1].job), "both");
	s = shell_job("both", "true");
	yb_json_set(s, "argv", yb_json_array());
	rn_send(&r, WIRE_START, s);
	/* a cwd that does not exist */
	snprintf(jo[2].job, sizeof(jo[2].job), "nocwd");
	s = shell_job("nocwd", "true");
	yb_json_set(s, "cwd", yb_json_str("/nonexistent/folder"));
	rn_send(&r, WIRE_START, s);
	/* a bad env name */
	snprintf(jo[3].job, sizeof(jo[3].job), "badenv");
	s = shell_job("badenv", "true");
	struct yb_json *env = yb_json_object();
	yb_json_set(env, "A=B", yb_json_str("x"));
	yb_json_set(s, "env", env);
	rn_send(&r, WIRE_START, s);
	/* a timeout that is not a duration */
	snprintf(jo[4].job, sizeof(jo[4].job), "badtime");
	s = shell_job("badtime", "true");
	yb_json_set(s, "timeout_ms", yb_json_int(-1));
	rn_send(&r, WIRE_START, s);
	rn_collect(&r, jo, 5, 0);
	ck_assert_str_eq(jo[0].error, "spawn");
	ck_assert_str_eq(jo[1].error, "bad-spec");
	ck_assert_str_eq(jo[2].error, "spawn");
	ck_assert_str_eq(jo[3].error, "bad-spec");
	ck_assert_str_eq(jo[4].error, "bad-spec");
	for (int i = 0; i < 5; i++)
		ck_assert(!journal_job_exists(state, jo[i].job));
	jobs_release(jo, 5);

	/* the same id twice: "exists" with the same spec, "conflict" with another (test_identity.c) */
	jobs_init(jo, 1);
	snprintf(jo[0].job, sizeof(jo[0].job), "twice");
	rn_send(&r, WIRE_START, shell_job("twice", "echo once"));
	rn_collect(&r, jo, 1, 0);
	ck_assert_str_eq(jo[0].stream[1].data, "once\n");
	jobs_release(jo, 1);
	jobs_init(jo, 1);
	snprintf(jo[0].job, sizeof(jo[0].job), "twice");
	rn_send(&r, WIRE_START, shell_job("twice", "echo again"));
	rn_collect(&r, jo, 1, 0);
	ck_assert_str_eq(jo[0].error, "conflict");
	jobs_release(jo, 1);
	rn_close(&r);
	state_free(state);
}
END_TEST

/* A tree: the main shell, a child, grandchildren; every pid written down. */
static char *tree_script(const char *dir, bool ignore_term)
{
	return xasprintf("%s"
			 "sleep 300 & echo $! > %s/g1; "
			 "sh -c 'sleep 300 & echo $! > %s/g2; sleep 300 & echo $! > %s/g3; wait' & "
			 "echo $! > %s/c1; echo $$ > %s/main; "
			 "while [ ! -s %s/g2 ] || [ ! -s %s/g3 ]; do sleep 0.01; done; echo ready; wait",
			 ignore_term ? "trap '' TERM; " : "", dir, dir, dir, dir, dir, dir, dir);
}

static void check_tree_gone(const char *dir)
{
	static const char *const names[] = { "main", "c1", "g1", "g2", "g3" };
	for (size_t i = 0; i < YB_ARRAY_LEN(names); i++) {
		pid_t pid = read_pid(dir, names[i]);
		ck_assert_msg(pid_gone(pid), "process '%s' (%d) of the tree survived", names[i], (int)pid);
	}
}

START_TEST(timeout_kills_the_whole_tree)
{
	char *state = state_new();
	struct jobout jo;
	char *script = tree_script(state, false);
	struct yb_json *s = shell_job("slow", script);
	yb_json_set(s, "timeout_ms", yb_json_int(3000)); /* ample time to build the tree */
	yb_json_set(s, "grace_ms", yb_json_int(30000));
	run_one(state, s, &jo);
	ck_assert(yb_json_get_bool(jo.exit, "timed_out", false));
	ck_assert(!yb_json_get_bool(jo.exit, "cancelled", true));
	ck_assert_int_eq(yb_json_get_int(jo.exit, "signal", -1), SIGTERM);
	ck_assert_str_eq(jo.stream[1].data, "ready\n");
	check_tree_gone(state);
	jobs_release(&jo, 1);
	free(script);

	/* a tree that ignores SIGTERM gets SIGKILL after the grace */
	char *sub = xasprintf("%s/t2", state);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	script = tree_script(sub, true);
	s = shell_job("stubborn", script);
	yb_json_set(s, "timeout_ms", yb_json_int(3000));
	yb_json_set(s, "grace_ms", yb_json_int(500));
	run_one(state, s, &jo);
	ck_assert(yb_json_get_bool(jo.exit, "timed_out", false));
	ck_assert_int_eq(yb_json_get_int(jo.exit, "signal", -1), SIGKILL);
	check_tree_gone(sub);
	jobs_release(&jo, 1);
	free(script);
	free(sub);
	state_free(state);
}
END_TEST

START_TEST(cancel_stops_the_job)
{
	char *state = state_new();
	struct rn r;
	struct jobout jo;
	rn_spawn(&r, state);
	rn_hello(&r);
	jobs_init(&jo, 1);
	snprintf(jo.job, sizeof(jo.job), "long");
	char *script = tree_script(state, false);
	rn_send(&r, WIRE_START, shell_job("long", script));
	rn_collect(&r, &jo, 1, 6); /* "ready\n": the tree is up */
	rn_send(&r, WIRE_CANCEL, job_obj("long"));
	rn_collect(&r, &jo, 1, 0);
	ck_assert(yb_json_get_bool(jo.exit, "cancelled", false));
	ck_assert(!yb_json_get_bool(jo.exit, "timed_out", true));
	ck_assert_int_eq(yb_json_get_int(jo.exit, "signal", -1), SIGTERM);
	check_tree_gone(state);
	jobs_release(&jo, 1);
	/* cancelling what is unknown */
	jobs_init(&jo, 1);
	snprintf(jo.job, sizeof(jo.job), "ghost");
	rn_send(&r, WIRE_CANCEL, job_obj("ghost"));
	rn_collect(&r, &jo, 1, 0);
	ck_assert_str_eq(jo.error, "unknown-job");
	jobs_release(&jo, 1);
	rn_close(&r);
	free(script);
	state_free(state);
}
END_TEST

START_TEST(serve_killed_mid_job_then_reattach)
{
	char *state = state_new();
	char *go = xasprintf("%s/go", state);
	struct rn r;
	struct jobout jo;
	rn_spawn(&r, state);
	rn_hello(&r);
	jobs_init(&jo, 1);
	snprintf(jo.job, sizeof(jo.job), "survivor");
	/* some output, then wait for our signal (a file), then more output */
	char *script = xasprintf("i=0; while [ $i -lt 200 ]; do echo \"before $i\"; i=$((i+1)); done; "
				 "while [ ! -e '%s' ]; do sleep 0.05; done; "
				 "i=0; while [ $i -lt 3000 ]; do echo \"after $i\"; echo \"err $i\" >&2; "
				 "i=$((i+1)); done; exit 3", go);
	rn_send(&r, WIRE_START, shell_job("survivor", script));
	rn_collect(&r, &jo, 1, 100);
	uint64_t received = jo.next_off;
	ck_assert_uint_gt(received, 0);
	/* the serve process dies hard; the job does not notice */
	kill(r.pid, SIGKILL);
	int status = rn_wait(&r);
	ck_assert(WIFSIGNALED(status));
	write_file(go, "", 0);

	/* a new serve on the same state: ATTACH at what we already have */
	rn_spawn(&r, state);
	rn_hello(&r);
	rn_send(&r, WIRE_ATTACH, attach_obj("survivor", received));
	rn_collect(&r, &jo, 1, 0);
	ck_assert_int_eq(yb_json_get_int(jo.exit, "status", -1), 3);
	struct yb_buf expect_out, expect_err;
	yb_buf_init(&expect_out, 0);
	yb_buf_init(&expect_err, 0);
	for (int i = 0; i < 200; i++)
		yb_buf_appendf(&expect_out, "before %d\n", i);
	for (int i = 0; i < 3000; i++) {
		yb_buf_appendf(&expect_out, "after %d\n", i);
		yb_buf_appendf(&expect_err, "err %d\n", i);
	}
	ck_assert_str_eq(jo.stream[1].data, expect_out.data);
	ck_assert_str_eq(jo.stream[2].data, expect_err.data);
	check_digests(&jo);

	/* attaching again, after the end: from the start, or just the EXIT */
	struct jobout again[1];
	jobs_init(again, 1);
	snprintf(again[0].job, sizeof(again[0].job), "survivor");
	again[0].acked = true;
	rn_send(&r, WIRE_ATTACH, attach_obj("survivor", 0));
	rn_collect(&r, again, 1, 0);
	ck_assert_uint_eq(again[0].all.len, jo.all.len);
	ck_assert(memcmp(again[0].all.data, jo.all.data, jo.all.len) == 0);
	jobs_release(again, 1);
	jobs_init(again, 1);
	snprintf(again[0].job, sizeof(again[0].job), "survivor");
	again[0].acked = true;
	again[0].next_off = jo.next_off;
	rn_send(&r, WIRE_ATTACH, attach_obj("survivor", jo.next_off));
	rn_collect(&r, again, 1, 0);
	ck_assert_uint_eq(again[0].all.len, 0);
	ck_assert_ptr_nonnull(again[0].exit);
	jobs_release(again, 1);
	/* past the end is refused */
	jobs_init(again, 1);
	snprintf(again[0].job, sizeof(again[0].job), "survivor");
	rn_send(&r, WIRE_ATTACH, attach_obj("survivor", jo.next_off + 1));
	rn_collect(&r, again, 1, 0);
	ck_assert_str_eq(again[0].error, "bad-offset");
	jobs_release(again, 1);

	yb_buf_release(&expect_out);
	yb_buf_release(&expect_err);
	jobs_release(&jo, 1);
	rn_close(&r);
	free(script);
	free(go);
	state_free(state);
}
END_TEST

START_TEST(client_gone_jobs_go_on)
{
	char *state = state_new();
	char *go = xasprintf("%s/go", state);
	struct rn r;
	struct jobout jo;
	rn_spawn(&r, state);
	rn_hello(&r);
	jobs_init(&jo, 1);
	snprintf(jo.job, sizeof(jo.job), "orphan");
	char *script = xasprintf("while [ ! -e '%s' ]; do sleep 0.05; done; echo done", go);
	rn_send(&r, WIRE_START, shell_job("orphan", script));
	/* wait for the ACK, then hang up: serve exits 0 at once */
	uint8_t type;
	struct yb_json *v = rn_json(&r, &type);
	ck_assert_uint_eq(type, WIRE_ACK);
	yb_json_free(v);
	rn_close(&r);
	write_file(go, "", 0);
	rn_spawn(&r, state);
	rn_hello(&r);
	jo.acked = true;
	rn_send(&r, WIRE_ATTACH, attach_obj("orphan", 0));
	rn_collect(&r, &jo, 1, 0);
	ck_assert_str_eq(jo.stream[1].data, "done\n");
	ck_assert_int_eq(yb_json_get_int(jo.exit, "status", -1), 0);
	jobs_release(&jo, 1);
	rn_close(&r);
	free(script);
	free(go);
	state_free(state);
}
END_TEST

START_TEST(supervisor_killed_job_is_recorded_lost)
{
	char *state = state_new();
	struct rn r;
	struct jobout jo;
	uint8_t type;
	rn_spawn(&r, state);
	rn_hello(&r);
	char *script = xasprintf("echo $$ > '%s/main'; echo started; exec sleep 300", state);
	rn_send(&r, WIRE_START, shell_job("doomed", script));
	struct yb_json *v = rn_json(&r, &type);
	ck_assert_uint_eq(type, WIRE_ACK);
	pid_t supervisor = (pid_t)yb_json_get_int(v, "pid", 0);
	yb_json_free(v);
	jobs_init(&jo, 1);
	snprintf(jo.job, sizeof(jo.job), "doomed");
	jo.acked = true;
	rn_collect(&r, &jo, 1, 8); /* "started\n" */
	ck_assert_int_eq(kill(supervisor, SIGKILL), 0);
	rn_collect(&r, &jo, 1, 0);
	ck_assert_ptr_nonnull(strstr(yb_json_get_str(jo.exit, "error"), "supervisor died"));
	ck_assert(!yb_json_is_int(yb_json_get(jo.exit, "status")));
	ck_assert(!yb_json_is_int(yb_json_get(jo.exit, "signal")));
	ck_assert_str_eq(jo.stream[1].data, "started\n");
	check_digests(&jo);
	/* the step itself was orphaned by the kill: clean it up */
	kill(read_pid(state, "main"), SIGKILL);
	jobs_release(&jo, 1);
	rn_close(&r);
	free(script);
	state_free(state);
}
END_TEST

START_TEST(attach_unknown_job)
{
	char *state = state_new();
	struct rn r;
	struct jobout jo;
	uint8_t type;
	rn_spawn(&r, state);
	rn_hello(&r);
	jobs_init(&jo, 1);
	snprintf(jo.job, sizeof(jo.job), "nobody");
	rn_send(&r, WIRE_ATTACH, attach_obj("nobody", 0));
	rn_collect(&r, &jo, 1, 0);
	ck_assert_str_eq(jo.error, "unknown-job");
	jobs_release(&jo, 1);
	/* a job-level error: the connection goes on */
	rn_send(&r, WIRE_PING, yb_json_object());
	struct yb_json *v = rn_json(&r, &type);
	ck_assert_uint_eq(type, WIRE_PONG);
	yb_json_free(v);
	rn_close(&r);
	state_free(state);
}
END_TEST

START_TEST(forget_removes_the_folder)
{
	char *state = state_new();
	struct rn r;
	struct jobout jo;
	uint8_t type;
	rn_spawn(&r, state);
	rn_hello(&r);
	char *go = xasprintf("%s/go", state);
	char *script = xasprintf("echo hi; while [ ! -e '%s' ]; do sleep 0.05; done; echo bye", go);
	jobs_init(&jo, 1);
	snprintf(jo.job, sizeof(jo.job), "f1");
	rn_send(&r, WIRE_START, shell_job("f1", script));
	rn_collect(&r, &jo, 1, 3);
	/* still running: refused */
	rn_send(&r, WIRE_FORGET, job_obj("f1"));
	struct yb_json *v;
	for (;;) {
		struct wire_frame f;
		struct yb_err err;
		ck_assert_int_eq(rn_frame(&r, &f), 1);
		if (f.type == WIRE_OUTPUT)
			continue;
		ck_assert_int_eq(wire_parse_json(&f, &v, &err), 0);
		break;
	}
	ck_assert_str_eq(yb_json_get_str(v, "code"), "running");
	yb_json_free(v);
	ck_assert(journal_job_exists(state, "f1"));
	jobs_release(&jo, 1);
	jobs_init(&jo, 1);
	snprintf(jo.job, sizeof(jo.job), "f1");
	jo.acked = true;
	rn_send(&r, WIRE_ATTACH, attach_obj("f1", 0)); /* before more output, so no overlap */
	rn_collect(&r, &jo, 1, 3);
	write_file(go, "", 0);
	rn_collect(&r, &jo, 1, 0);
	ck_assert_str_eq(jo.stream[1].data, "hi\nbye\n");
	jobs_release(&jo, 1);
	/* ended: forgotten, folder gone, and then unknown */
	rn_send(&r, WIRE_FORGET, job_obj("f1"));
	v = rn_json(&r, &type);
	ck_assert_uint_eq(type, WIRE_ACK);
	ck_assert_str_eq(yb_json_get_str(v, "op"), "forget");
	yb_json_free(v);
	ck_assert(!journal_job_exists(state, "f1"));
	rn_send(&r, WIRE_ATTACH, attach_obj("f1", 0));
	v = rn_json(&r, &type);
	ck_assert_uint_eq(type, WIRE_ERROR);
	ck_assert_str_eq(yb_json_get_str(v, "code"), "unknown-job");
	yb_json_free(v);
	rn_close(&r);
	/* its files went to STATE/forgotten (serve removes them when idle); gc leaves none there */
	int removed = -1;
	struct yb_err gerr;
	ck_assert_int_eq(journal_gc(state, JOURNAL_DEFAULT_RETENTION_MS, &removed, &gerr), 0);
	ck_assert_int_eq(journal_purge_forgotten(state), 0);
	char *trash = xasprintf("%s/forgotten", state);
	DIR *td = opendir(trash);
	int left = 0;
	for (struct dirent *e; td && (e = readdir(td));)
		left += e->d_name[0] != '.';
	if (td)
		closedir(td);
	ck_assert_int_eq(left, 0);
	free(trash);
	free(script);
	free(go);
	state_free(state);
}
END_TEST

static void age_file(const char *dir, const char *name, int64_t seconds)
{
	char *path = name ? xasprintf("%s/%s", dir, name) : xstrdup(dir);
	struct timeval tv[2];
	gettimeofday(&tv[0], NULL);
	tv[0].tv_sec -= seconds;
	tv[1] = tv[0];
	ck_assert_int_eq(utimes(path, tv), 0);
	free(path);
}

START_TEST(retention_removes_only_old_jobs)
{
	char *state = state_new();
	char *go = xasprintf("%s/go", state);
	struct rn r;
	struct jobout jo[3];
	rn_spawn(&r, state);
	rn_hello(&r);
	jobs_init(jo, 3);
	snprintf(jo[0].job, sizeof(jo[0].job), "old");
	snprintf(jo[1].job, sizeof(jo[1].job), "new");
	rn_send(&r, WIRE_START, shell_job("old", "echo old"));
	rn_send(&r, WIRE_START, shell_job("new", "echo new"));
	rn_collect(&r, jo, 2, 0);
	char *script = xasprintf("while [ ! -e '%s' ]; do sleep 0.05; done", go);
	snprintf(jo[2].job, sizeof(jo[2].job), "running");
	rn_send(&r, WIRE_START, shell_job("running", script));
	uint8_t type;
	struct yb_json *v = rn_json(&r, &type);
	ck_assert_uint_eq(type, WIRE_ACK);
	yb_json_free(v);
	jo[2].acked = true;

	char *old_dir = journal_job_dir(state, "old"), *run_dir = journal_job_dir(state, "running");
	age_file(old_dir, "exit.json", 8 * 86400);
	age_file(run_dir, "spec.json", 30 * 86400);
	age_file(run_dir, NULL, 30 * 86400);
	/* a job whose supervisor died long ago, never recorded */
	char *lost_dir = journal_job_dir(state, "lost");
	ck_assert_int_eq(mkdir(lost_dir, 0700), 0);
	char *spec = xasprintf("%s/spec.json", lost_dir);
	write_file(spec, "{}", 2);
	age_file(lost_dir, "spec.json", 9 * 86400);
	age_file(lost_dir, NULL, 9 * 86400);
	/* and something that is not a job */
	char *junk = xasprintf("%s/jobs/not a job", state);
	ck_assert_int_eq(mkdir(junk, 0700), 0);
	char *file = xasprintf("%s/jobs/a-file", state);
	write_file(file, "x", 1);
	age_file(file, NULL, 30 * 86400);

	char *cmd = xasprintf(RUNNER " gc --state-dir '%s' --retention 7d", state);
	FILE *p = popen(cmd, "r");
	char line[256] = "";
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), p));
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_msg(!strncmp(line, "removed 2 job journals from '", 29), "gc said '%s'", line);
	ck_assert(!journal_job_exists(state, "old"));
	ck_assert(!journal_job_exists(state, "lost"));
	ck_assert(journal_job_exists(state, "new"));
	ck_assert(journal_job_exists(state, "running"));
	ck_assert_int_eq(access(junk, F_OK), 0);
	ck_assert_int_eq(access(file, F_OK), 0);
	free(file);

	write_file(go, "", 0);
	rn_collect(&r, jo + 2, 1, 0);
	ck_assert_int_eq(yb_json_get_int(jo[2].exit, "status", -1), 0);
	rn_close(&r);
	jobs_release(jo, 3);
	free(cmd);
	free(junk);
	free(spec);
	free(lost_dir);
	free(old_dir);
	free(run_dir);
	free(script);
	free(go);
	state_free(state);
}
END_TEST

START_TEST(secrets_are_masked_across_reads)
{
	char *state = state_new();
	struct jobout jo;
	/* the secret is cut in two by a pause, so the supervisor reads it in two pieces */
	struct yb_json *s = shell_job("sec", "printf 'abc hun'; sleep 0.3; printf 'ter2 def\\n'; "
				      "printf 'hunter2hunter2 hunte' >&2; printf '%s' \"$PW\"");
	struct yb_json *secrets = yb_json_array();
	yb_json_push(secrets, yb_json_str("hunter2"));
	yb_json_push(secrets, yb_json_str("s3cr3t-value"));
	yb_json_set(s, "secrets", secrets);
	struct yb_json *env = yb_json_object();
	yb_json_set(env, "PW", yb_json_str("s3cr3t-value"));
	yb_json_set(s, "env", env);
	run_one(state, s, &jo);
	ck_assert_str_eq(jo.stream[1].data, "abc ******** def\n********");
	ck_assert_str_eq(jo.stream[2].data, "**************** hunte");
	check_digests(&jo);
	/* and the secret is nowhere in the journal */
	char *cmd = xasprintf("grep -rqs -e hunter2 -e s3cr3t-value '%s/jobs'", state);
	ck_assert_int_ne(system(cmd), 0);
	free(cmd);
	jobs_release(&jo, 1);
	state_free(state);
}
END_TEST

START_TEST(output_cap_counts_what_is_dropped)
{
	char *state = state_new();
	struct jobout jo;
	struct yb_json *s = shell_job("capped", "head -c 100000 /dev/zero; echo tail >&2");
	yb_json_set(s, "output_cap", yb_json_int(1000));
	run_one(state, s, &jo);
	ck_assert_uint_eq(jo.all.len, 1000);
	ck_assert_int_eq(yb_json_get_int(jo.exit, "spool_bytes", 0), 1000);
	ck_assert_int_eq(yb_json_get_int(jo.exit, "dropped_bytes", 0), 100000 + 5 - 1000);
	check_digests(&jo);
	jobs_release(&jo, 1);
	state_free(state);
}
END_TEST

static long vm_hwm_kb(pid_t pid)
{
	char *path = xasprintf("/proc/%d/status", (int)pid), *text = NULL;
	long kb = -1;
	if (yb_read_file(path, 1 << 16, &text, NULL, NULL) == 0) {
		char *p = strstr(text, "VmHWM:");
		if (p)
			kb = strtol(p + 6, NULL, 10);
	}
	free(text);
	free(path);
	return kb;
}

START_TEST(one_gib_streams_in_bounded_memory)
{
	char *state = state_new();
	struct rn r;
	struct yb_err err;
	rn_spawn(&r, state);
	rn_hello(&r);
	rn_send(&r, WIRE_START, shell_job("big", "head -c 1073741824 /dev/zero"));
	uint64_t got = 0;
	struct yb_buf raw;
	yb_buf_init(&raw, WIRE_MAX_CHUNK);
	struct yb_json *exit = NULL;
	while (!exit) {
		struct wire_frame f;
		ck_assert_int_eq(rn_frame(&r, &f), 1);
		if (f.type == WIRE_OUTPUT) {
			struct wire_output o;
			ck_assert_int_eq(wire_parse_output(&f, &o, &err), 0);
			ck_assert_uint_eq(o.offset, got);
			yb_buf_reset(&raw);
			ck_assert_int_eq(wire_output_data(&o, &raw, &err), 0);
			got += raw.len;
		} else if (f.type == WIRE_EXIT) {
			ck_assert_int_eq(wire_parse_json(&f, &exit, &err), 0);
		}
	}
	ck_assert_uint_eq(got, 1ULL << 30);
	ck_assert_int_eq(yb_json_get_int(exit, "spool_bytes", 0), 1LL << 30);
	long hwm = vm_hwm_kb(r.pid);
	ck_assert_msg(hwm > 0 && hwm < 64 * 1024, "serve's peak RSS was %ld KiB", hwm);
	yb_json_free(exit);
	yb_buf_release(&raw);
	rn_close(&r);
	state_free(state);
}
END_TEST

START_TEST(slow_client_is_not_buffered_for)
{
	/* 64 MiB that does not compress, and a client that reads nothing until the job has ended:
	 * serve must stop reading the spool rather than queue it all in memory */
	char *state = state_new();
	struct rn r;
	struct yb_err err;
	rn_spawn(&r, state);
	rn_hello(&r);
	rn_send(&r, WIRE_START, shell_job("flood", "head -c 67108864 /dev/urandom"));
	char *exit_path = xasprintf("%s/jobs/flood/exit.json", state);
	for (int i = 0; i < 6000 && access(exit_path, F_OK) != 0; i++)
		usleep(10000);
	ck_assert_int_eq(access(exit_path, F_OK), 0);
	long idle_hwm = vm_hwm_kb(r.pid);
	struct yb_sha256 h;
	yb_sha256_init(&h);
	uint64_t got = 0;
	struct yb_buf raw;
	yb_buf_init(&raw, WIRE_MAX_CHUNK);
	struct yb_json *exit = NULL;
	while (!exit) {
		struct wire_frame f;
		ck_assert_int_eq(rn_frame(&r, &f), 1);
		if (f.type == WIRE_OUTPUT) {
			struct wire_output o;
			ck_assert_int_eq(wire_parse_output(&f, &o, &err), 0);
			ck_assert_uint_eq(o.offset, got);
			yb_buf_reset(&raw);
			ck_assert_int_eq(wire_output_data(&o, &raw, &err), 0);
			yb_sha256_update(&h, raw.data, raw.len);
			got += raw.len;
		} else if (f.type == WIRE_EXIT) {
			ck_assert_int_eq(wire_parse_json(&f, &exit, &err), 0);
		}
	}
	unsigned char md[YB_SHA256_LEN];
	char hex[65];
	yb_sha256_final(&h, md);
	yb_hex(md, sizeof(md), hex);
	ck_assert_uint_eq(got, 64u << 20);
	ck_assert_str_eq(yb_json_get_str(exit, "stdout_sha256"), hex);
	ck_assert_msg(idle_hwm > 0 && idle_hwm < 32 * 1024, "serve grew to %ld KiB waiting", idle_hwm);
	long hwm = vm_hwm_kb(r.pid);
	ck_assert_msg(hwm < 32 * 1024, "serve's peak RSS was %ld KiB", hwm);
	yb_json_free(exit);
	yb_buf_release(&raw);
	free(exit_path);
	rn_close(&r);
	state_free(state);
}
END_TEST

/* ---- the journal and the masker, directly ---- */

START_TEST(spool_resumes_at_every_offset)
{
	char *state = state_new();
	struct yb_err err;
	ck_assert_int_eq(journal_prepare(state, &err), 0);
	char *dir = journal_job_dir(state, "sp");
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	struct spool_writer w;
	ck_assert_int_eq(spool_writer_open(&w, dir, &err), 0);
	struct yb_buf all, streams;
	yb_buf_init(&all, 0);
	yb_buf_init(&streams, 0);
	/* records of varied sizes and streams, some consecutive of the same stream */
	for (int i = 0; i < 40; i++) {
		uint8_t stream = (i % 3 == 0) ? WIRE_STDERR : WIRE_STDOUT;
		char piece[64];
		int n = snprintf(piece, sizeof(piece), "<%d:%.*s>", i, i % 17, "abcdefghijklmnopq");
		ck_assert_int_eq(spool_append(&w, stream, piece, (size_t)n, &err), 0);
		yb_buf_append(&all, piece, (size_t)n);
		for (int k = 0; k < n; k++)
			yb_buf_append(&streams, &stream, 1);
	}
	ck_assert_int_eq(spool_sync(&w, &err), 0);
	uint64_t total = w.bytes;
	spool_writer_close(&w);
	uint64_t len;
	ck_assert_int_eq(spool_length(dir, &len, &err), 0);
	ck_assert_uint_eq(len, total);
	struct yb_buf chunk;
	yb_buf_init(&chunk, 0);
	for (uint64_t off = 0; off <= total; off++) {
		struct spool_reader r;
		ck_assert_int_eq(spool_reader_open(&r, dir, &err), 0);
		ck_assert_int_eq(spool_reader_seek(&r, off, &err), 0);
		uint64_t pos = off;
		for (;;) {
			uint8_t stream;
			uint64_t at;
			int n = spool_reader_read(&r, &chunk, 7, &stream, &at, &err);
			ck_assert_int_ge(n, 0);
			if (n == 0)
				break;
			ck_assert_uint_eq(at, pos);
			ck_assert(memcmp(chunk.data, all.data + pos, (size_t)n) == 0);
			for (int k = 0; k < n; k++)
				ck_assert_uint_eq((uint8_t)streams.data[pos + (size_t)k], stream);
			pos += (uint64_t)n;
		}
		ck_assert_uint_eq(pos, total);
		spool_reader_close(&r);
	}
	struct spool_reader r;
	ck_assert_int_eq(spool_reader_open(&r, dir, &err), 0);
	ck_assert_int_eq(spool_reader_seek(&r, total + 1, &err), YB_ERANGE);
	spool_reader_close(&r);
	/* exit records round-trip */
	struct job_exit ex = { .has_status = true, .status = 3, .spool_bytes = total,
			       .stdout_bytes = 5, .started_at_us = 17 };
	snprintf(ex.stdout_sha256, sizeof(ex.stdout_sha256), "%064d", 0);
	ck_assert_int_eq(journal_read_exit(dir, &ex, &err), YB_ENOENT);
	ck_assert_int_eq(journal_write_exit(dir, "sp", &ex, &err), 0);
	struct job_exit back;
	ck_assert_int_eq(journal_read_exit(dir, &back, &err), 0);
	ck_assert(back.has_status && back.status == 3 && !back.has_signal);
	ck_assert_uint_eq(back.spool_bytes, total);
	ck_assert_int_eq(back.started_at_us, 17);
	ck_assert_str_eq(back.stdout_sha256, ex.stdout_sha256);
	ck_assert_int_eq(journal_liveness(dir), JOB_ENDED);
	ck_assert_int_eq(journal_remove_job(state, "sp", &err), 0);
	ck_assert(!journal_job_exists(state, "sp"));
	ck_assert_int_eq(journal_remove_job(state, "sp", &err), 0);
	yb_buf_release(&chunk);
	yb_buf_release(&all);
	yb_buf_release(&streams);
	free(dir);
	state_free(state);
}
END_TEST

static void emit_buf(void *ctx, const void *data, size_t len)
{
	yb_buf_append(ctx, data, len);
}

static void mask_all_splits(const char *const *secrets, size_t n, const char *in, const char *want)
{
	size_t len = strlen(in);
	/* every way of cutting the input in two, and byte by byte */
	for (size_t cut = 0; cut <= len + 1; cut++) {
		struct mask m;
		struct yb_buf out;
		mask_init(&m, secrets, n);
		yb_buf_init(&out, 0);
		if (cut <= len) {
			mask_feed(&m, in, cut, emit_buf, &out);
			mask_feed(&m, in + cut, len - cut, emit_buf, &out);
		} else {
			for (size_t i = 0; i < len; i++)
				mask_feed(&m, in + i, 1, emit_buf, &out);
		}
		mask_flush(&m, emit_buf, &out);
		ck_assert_msg(out.len == strlen(want) && memcmp(out.data, want, out.len) == 0,
			      "cut %zu: '%s' became '%s', expected '%s'", cut, in, out.data, want);
		yb_buf_release(&out);
		mask_release(&m);
	}
}

START_TEST(mask_every_split)
{
	static const char *const one[] = { "hunter2" };
	mask_all_splits(one, 1, "my hunter2 is hunter2", "my ******** is ********");
	mask_all_splits(one, 1, "hunterhunter2hunte", "hunter********hunte");
	mask_all_splits(one, 1, "no secret here", "no secret here");
	static const char *const two[] = { "ab", "abcd", "" };
	mask_all_splits(two, 3, "xabcdyabzabc", "x********y********z********c");
	static const char *const none[] = { NULL };
	mask_all_splits(none, 0, "plain", "plain");
}
END_TEST

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* a runner hanging up on us is something to check, not to die of */
	Suite *s = suite_create("runner");
	TCase *unit = tcase_create("journal");
	tcase_set_timeout(unit, 120);
	tcase_add_test(unit, spool_resumes_at_every_offset);
	tcase_add_test(unit, mask_every_split);
	suite_add_tcase(s, unit);
	TCase *tc = tcase_create("serve");
	tcase_set_timeout(tc, 300);
	tcase_add_checked_fixture(tc, adopt_orphans, reap_orphans);
	tcase_add_test(tc, cli_help_version_and_usage);
	tcase_add_test(tc, hello_version_mismatch_is_refused_by_name);
	tcase_add_test(tc, ping_and_hello_first);
	tcase_add_test(tc, hostile_peers_get_an_error_and_a_clean_exit);
	tcase_add_test(tc, binary_output_arrives_intact);
	tcase_add_test(tc, exit_status_and_signal);
	tcase_add_test(tc, environment_is_exactly_as_given);
	tcase_add_test(tc, many_jobs_on_one_connection);
	tcase_add_test(tc, start_errors);
	tcase_add_test(tc, timeout_kills_the_whole_tree);
	tcase_add_test(tc, cancel_stops_the_job);
	tcase_add_test(tc, serve_killed_mid_job_then_reattach);
	tcase_add_test(tc, client_gone_jobs_go_on);
	tcase_add_test(tc, attach_unknown_job);
	tcase_add_test(tc, supervisor_killed_job_is_recorded_lost);
	tcase_add_test(tc, forget_removes_the_folder);
	tcase_add_test(tc, retention_removes_only_old_jobs);
	tcase_add_test(tc, secrets_are_masked_across_reads);
	tcase_add_test(tc, output_cap_counts_what_is_dropped);
	tcase_add_test(tc, one_gib_streams_in_bounded_memory);
	tcase_add_test(tc, slow_client_is_not_buffered_for);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
