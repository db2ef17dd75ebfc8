/*
 * test_spec.c: the START spec parser (runner/spec.c). Good specs become what the supervisor runs
 * (defaults filled in, the environment exactly as given plus PATH, HOME and LANG); every refusal
 * names its field, one test row per rule, each limit tried at its edge and one past it.
 */
#include "json.h"
#include "mask.h"
#include "spec.h"
#include "yb.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct yb_json *parse_json(const char *text)
{
	struct yb_json *v = NULL;
	struct yb_err err;
	ck_assert_msg(yb_json_parse(text, strlen(text), &v, &err) == 0, "%s", err.msg);
	return v;
}

/* Parses text; 0 or the error code, with the message in err. */
static int try_parse(struct yb_json *start, struct job_spec *out, struct yb_err *err)
{
	memset(out, 0xA5, sizeof(*out)); /* set only on success */
	int rc = job_spec_parse(start, out, err);
	yb_json_free(start);
	return rc;
}

static const char *env_get(const struct job_spec *s, const char *name)
{
	size_t n = strlen(name);
	for (char **p = s->env; *p; p++)
		if (!strncmp(*p, name, n) && (*p)[n] == '=')
			return *p + n + 1;
	return NULL;
}

static size_t strv_len(char **v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

START_TEST(argv_spec_with_defaults)
{
	struct job_spec s;
	struct yb_err err;
	ck_assert_int_eq(try_parse(parse_json("{\"job\":\"r1-s2.a_3\",\"argv\":[\"echo\",\"a b\",\"\"]}"),
				   &s, &err), 0);
	ck_assert_str_eq(s.job, "r1-s2.a_3");
	ck_assert_uint_eq(strv_len(s.argv), 3);
	ck_assert_str_eq(s.argv[1], "a b");
	ck_assert_str_eq(s.argv[2], "");
	ck_assert_ptr_null(s.shell);
	ck_assert_ptr_null(s.cwd);
	ck_assert_int_eq(s.timeout_ms, 0);
	ck_assert_int_eq(s.grace_ms, SPEC_DEFAULT_GRACE_MS);
	ck_assert_uint_eq(s.output_cap, SPEC_DEFAULT_OUTPUT_CAP);
	ck_assert_uint_eq(s.n_secrets, 0);
	ck_assert_ptr_nonnull(s.secrets);
	/* nothing given: exactly PATH, HOME and LANG */
	ck_assert_uint_eq(strv_len(s.env), 3);
	ck_assert_str_eq(env_get(&s, "PATH"), SPEC_BASE_PATH);
	ck_assert_ptr_nonnull(env_get(&s, "HOME"));
	ck_assert_str_eq(env_get(&s, "LANG"), "C.UTF-8");
	job_spec_release(&s);
}
END_TEST

START_TEST(shell_spec_keeps_what_is_given)
{
	struct job_spec s;
	struct yb_err err;
	ck_assert_int_eq(try_parse(parse_json("{\"job\":\"j\",\"shell\":\"echo $A\",\"cwd\":\"/tmp\","
					      "\"env\":{\"A\":\"1\",\"PATH\":\"/opt/bin\",\"_x9\":\"\"},"
					      "\"timeout_ms\":5000,\"grace_ms\":0,\"output_cap\":0,"
					      "\"secrets\":[\"hunter2\",\"\"],\"unknown\":[1]}"),
				   &s, &err), 0);
	ck_assert_ptr_null(s.argv);
	ck_assert_str_eq(s.shell, "echo $A");
	ck_assert_str_eq(s.cwd, "/tmp");
	ck_assert_int_eq(s.timeout_ms, 5000);
	ck_assert_int_eq(s.grace_ms, 0);
	ck_assert_uint_eq(s.output_cap, 0);
	ck_assert_uint_eq(s.n_secrets, 2);
	ck_assert_str_eq(env_get(&s, "A"), "1");
	ck_assert_str_eq(env_get(&s, "PATH"), "/opt/bin"); /* given: not replaced */
	ck_assert_str_eq(env_get(&s, "_x9"), "");
	ck_assert_uint_eq(strv_len(s.env), 5);                  /* + HOME, LANG */
	job_spec_release(&s);
}
END_TEST

START_TEST(redacted_spec_masks_secrets)
{
	struct job_spec s;
	struct yb_err err;
	ck_assert_int_eq(try_parse(parse_json("{\"job\":\"j\",\"argv\":[\"login\",\"--pw=hunter2\"],"
					      "\"env\":{\"PW\":\"hunter2\"},\"secrets\":[\"hunter2\"]}"),
				   &s, &err), 0);
	struct yb_json *red = job_spec_redacted(&s);
	char *text = yb_json_dump(red, 0);
	ck_assert_ptr_null(strstr(text, "hunter2"));
	ck_assert_ptr_nonnull(strstr(text, "\"--pw=" MASK_TEXT "\""));
	ck_assert_ptr_nonnull(strstr(text, "\"PW\":\"" MASK_TEXT "\""));
	ck_assert_int_eq(yb_json_get_int(red, "secret_count", -1), 1);
	ck_assert_str_eq(yb_json_get_str(red, "cwd"), "/");
	free(text);
	yb_json_free(red);
	job_spec_release(&s);
}
END_TEST

/* A START refused: YB_EINVAL, a message naming what is wrong, nothing handed out. */
static void refused(struct yb_json *start, const char *needle)
{
	struct job_spec s;
	struct yb_err err;
	int rc = try_parse(start, &s, &err);
	ck_assert_msg(rc == YB_EINVAL, "accepted, expected a refusal mentioning '%s'", needle);
	ck_assert_msg(strstr(err.msg, needle), "message '%s' lacks '%s'", err.msg, needle);
}

static void refused_text(const char *text, const char *needle)
{
	refused(parse_json(text), needle);
}

/* {"job":"j", KEY: a string of len bytes} */
static struct yb_json *with_long_string(const char *key, size_t len, bool in_array)
{
	struct yb_json *o = parse_json("{\"job\":\"j\"}");
	char *big = xmalloc(len + 1);
	memset(big, 'x', len);
	big[len] = '\0';
	if (in_array) {
		struct yb_json *a = yb_json_array();
		yb_json_push(a, yb_json_str("x"));
		yb_json_push(a, yb_json_str(big));
		yb_json_set(o, key, a);
	} else {
		yb_json_set(o, key, yb_json_str(big));
	}
	free(big);
	return o;
}

static void accepted(struct yb_json *start)
{
	struct job_spec s;
	struct yb_err err;
	ck_assert_msg(try_parse(start, &s, &err) == 0, "%s", err.msg);
	job_spec_release(&s);
}

/* A built-in step: no command of its own; its kind enters the spec.json and the digest. */
START_TEST(builtin_step_spec)
{
	struct job_spec s, t;
	struct yb_err err;
	ck_assert_int_eq(try_parse(parse_json("{\"job\":\"j\",\"step\":\"sql\","
					      "\"env\":{\"YOBAN_SQL_PATCH\":\"UPDATE t SET a = 1\"}}"),
				   &s, &err), 0);
	ck_assert_str_eq(s.step, "sql");
	ck_assert_ptr_null(s.argv);
	ck_assert_ptr_null(s.shell);
	ck_assert_str_eq(env_get(&s, "YOBAN_SQL_PATCH"), "UPDATE t SET a = 1");
	struct yb_json *red = job_spec_redacted(&s);
	ck_assert_str_eq(yb_json_get_str(red, "step"), "sql");
	yb_json_free(red);
	ck_assert_int_eq(try_parse(parse_json("{\"job\":\"j\",\"argv\":[\"sql\"],"
					      "\"env\":{\"YOBAN_SQL_PATCH\":\"UPDATE t SET a = 1\"}}"),
				   &t, &err), 0);
	ck_assert_str_ne(s.digest, t.digest);
	job_spec_release(&s);
	job_spec_release(&t);
}
END_TEST

START_TEST(each_refusal_names_its_field)
{
	refused_text("[1]", "JSON object");
	/* job */
	refused_text("{\"shell\":\"true\"}", "'job'");
	refused_text("{\"job\":7,\"shell\":\"true\"}", "'job'");
	refused_text("{\"job\":\"a/b\",\"shell\":\"true\"}", "'job'");
	refused_text("{\"job\":\"..\",\"shell\":\"true\"}", "'job'");
	/* the command */
	refused_text("{\"job\":\"j\"}", "exactly one of 'argv', 'shell' and 'step'");
	refused_text("{\"job\":\"j\",\"step\":\"sql\",\"shell\":\"b\"}", "exactly one");
	refused_text("{\"job\":\"j\",\"step\":\"rm\"}", "'step' must name a built-in step kind (sql)");
	refused_text("{\"job\":\"j\",\"step\":[\"sql\"]}", "'step' must name a built-in");
	refused_text("{\"job\":\"j\",\"argv\":[\"a\"],\"shell\":\"b\"}", "exactly one");
	refused_text("{\"job\":\"j\",\"argv\":\"ls\"}", "'argv' must be an array");
	refused_text("{\"job\":\"j\",\"argv\":[]}", "'argv' must be an array of 1 to");
	refused_text("{\"job\":\"j\",\"argv\":[\"ls\",3]}", "'argv[1]'");
	refused_text("{\"job\":\"j\",\"argv\":[\"\"]}", "'argv[0]' is empty");
	refused_text("{\"job\":\"j\",\"shell\":[\"ls\"]}", "'shell' must be a string");
	/* the environment */
	refused_text("{\"job\":\"j\",\"shell\":\"true\",\"env\":[\"A=1\"]}", "'env' must be an object");
	refused_text("{\"job\":\"j\",\"shell\":\"true\",\"env\":{\"A=B\":\"x\"}}", "'env' name 'A=B'");
	refused_text("{\"job\":\"j\",\"shell\":\"true\",\"env\":{\"1A\":\"x\"}}", "'env' name '1A'");
	refused_text("{\"job\":\"j\",\"shell\":\"true\",\"env\":{\"\":\"x\"}}", "'env' name ''");
	refused_text("{\"job\":\"j\",\"shell\":\"true\",\"env\":{\"A\":1}}", "'env.A'");
	refused_text("{\"job\":\"j\",\"shell\":\"true\",\"env\":{\"YOBAN_RUNNER_JOB\":\"x\"}}",
		     "'env' name 'YOBAN_RUNNER_JOB' is reserved");
	refused_text("{\"job\":\"j\",\"shell\":\"true\",\"env\":{\"A\":null}}", "'env.A'");
	/* cwd */
	refused_text("{\"job\":\"j\",\"shell\":\"true\",\"cwd\":\"tmp\"}", "'cwd' must be an absolute");
	refused_text("{\"job\":\"j\",\"shell\":\"true\",\"cwd\":5}", "'cwd'");
	/* the limits */
	refused_text("{\"job\":\"j\",\"shell\":\"true\",\"timeout_ms\":-1}", "'timeout_ms'");
	refused_text("{\"job\":\"j\",\"shell\":\"true\",\"timeout_ms\":\"5s\"}", "'timeout_ms'");
	refused_text("{\"job\":\"j\",\"shell\":\"true\",\"timeout_ms\":1.5}", "'timeout_ms'");
	refused_text("{\"job\":\"j\",\"shell\":\"true\",\"grace_ms\":-5}", "'grace_ms'");
	refused_text("{\"job\":\"j\",\"shell\":\"true\",\"output_cap\":-1}", "'output_cap'");
	/* secrets */
	refused_text("{\"job\":\"j\",\"shell\":\"true\",\"secrets\":\"pw\"}",
		     "'secrets' must be an array");
	refused_text("{\"job\":\"j\",\"shell\":\"true\",\"secrets\":[\"a\",{}]}", "'secrets[1]'");
}
END_TEST

START_TEST(every_cap_at_its_edge)
{
	struct yb_json *o;
	char buf[64];
	/* the job id */
	char id[WIRE_MAX_JOB_ID + 2];
	memset(id, 'a', sizeof(id));
	id[WIRE_MAX_JOB_ID] = '\0';
	o = parse_json("{\"shell\":\"true\"}");
	yb_json_set(o, "job", yb_json_str(id));
	accepted(o);
	id[WIRE_MAX_JOB_ID] = 'a';
	id[WIRE_MAX_JOB_ID + 1] = '\0';
	o = parse_json("{\"shell\":\"true\"}");
	yb_json_set(o, "job", yb_json_str(id));
	refused(o, "'job' must be 1 to");
	/* one string: argv element, script */
	o = with_long_string("argv", SPEC_MAX_STRING, true);
	accepted(o);
	refused(with_long_string("argv", SPEC_MAX_STRING + 1, true),
		"'argv[1]' must be a string of at most");
	accepted(with_long_string("shell", SPEC_MAX_STRING, false));
	refused(with_long_string("shell", SPEC_MAX_STRING + 1, false),
		"'shell' must be a string of at most");
	/* cwd */
	char *cwd = xmalloc(SPEC_MAX_CWD + 2);
	memset(cwd, 'd', SPEC_MAX_CWD + 1);
	cwd[0] = '/';
	cwd[SPEC_MAX_CWD] = '\0';
	o = parse_json("{\"job\":\"j\",\"shell\":\"true\"}");
	yb_json_set(o, "cwd", yb_json_str(cwd));
	accepted(o);
	cwd[SPEC_MAX_CWD] = 'd';
	cwd[SPEC_MAX_CWD + 1] = '\0';
	o = parse_json("{\"job\":\"j\",\"shell\":\"true\"}");
	yb_json_set(o, "cwd", yb_json_str(cwd));
	refused(o, "'cwd' must be an absolute path of at most");
	free(cwd);
	/* argv count */
	for (int extra = 0; extra <= 1; extra++) {
		o = parse_json("{\"job\":\"j\"}");
		struct yb_json *a = yb_json_array();
		for (int i = 0; i < SPEC_MAX_ARGV + extra; i++)
			yb_json_push(a, yb_json_str("x"));
		yb_json_set(o, "argv", a);
		if (extra)
			refused(o, "'argv' must be an array of 1 to 4096");
		else
			accepted(o);
	}
	/* env count, name length, "K=V" length */
	for (int extra = 0; extra <= 1; extra++) {
		o = parse_json("{\"job\":\"j\",\"shell\":\"true\"}");
		struct yb_json *env = yb_json_object();
		for (int i = 0; i < SPEC_MAX_ENV + extra; i++) {
			snprintf(buf, sizeof(buf), "V%d", i);
			yb_json_set(env, buf, yb_json_str("x"));
		}
		yb_json_set(o, "env", env);
		if (extra)
			refused(o, "'env' has more than 4096 variables");
		else
			accepted(o);
	}
	char name[SPEC_MAX_NAME + 2];
	memset(name, 'N', sizeof(name));
	name[SPEC_MAX_NAME] = '\0';
	o = parse_json("{\"job\":\"j\",\"shell\":\"true\",\"env\":{}}");
	yb_json_set(yb_json_get(o, "env"), name, yb_json_str("v"));
	accepted(o);
	name[SPEC_MAX_NAME] = 'N';
	name[SPEC_MAX_NAME + 1] = '\0';
	o = parse_json("{\"job\":\"j\",\"shell\":\"true\",\"env\":{}}");
	yb_json_set(yb_json_get(o, "env"), name, yb_json_str("v"));
	refused(o, "is not a valid variable name");
	size_t vmax = SPEC_MAX_STRING - 2; /* "A=" */
	char *value = xmalloc(vmax + 2);
	memset(value, 'v', vmax + 1);
	value[vmax] = '\0';
	o = parse_json("{\"job\":\"j\",\"shell\":\"true\",\"env\":{}}");
	yb_json_set(yb_json_get(o, "env"), "A", yb_json_str(value));
	accepted(o);
	value[vmax] = 'v';
	value[vmax + 1] = '\0';
	o = parse_json("{\"job\":\"j\",\"shell\":\"true\",\"env\":{}}");
	yb_json_set(yb_json_get(o, "env"), "A", yb_json_str(value));
	refused(o, "'env.A' must be a string of at most");
	free(value);
	/* durations: ten years at most */
	snprintf(buf, sizeof(buf), "%lld", (long long)SPEC_MAX_DURATION_MS);
	o = parse_json("{\"job\":\"j\",\"shell\":\"true\"}");
	yb_json_set(o, "timeout_ms", yb_json_int(SPEC_MAX_DURATION_MS));
	yb_json_set(o, "grace_ms", yb_json_int(SPEC_MAX_DURATION_MS));
	accepted(o);
	o = parse_json("{\"job\":\"j\",\"shell\":\"true\"}");
	yb_json_set(o, "timeout_ms", yb_json_int(SPEC_MAX_DURATION_MS + 1));
	refused(o, buf);
	o = parse_json("{\"job\":\"j\",\"shell\":\"true\"}");
	yb_json_set(o, "grace_ms", yb_json_int(SPEC_MAX_DURATION_MS + 1));
	refused(o, "'grace_ms' must be an integer from 0 to");
	/* secrets: count and length */
	for (int extra = 0; extra <= 1; extra++) {
		o = parse_json("{\"job\":\"j\",\"shell\":\"true\"}");
		struct yb_json *a = yb_json_array();
		for (int i = 0; i < MASK_MAX_SECRETS + extra; i++)
			yb_json_push(a, yb_json_str("s"));
		yb_json_set(o, "secrets", a);
		if (extra)
			refused(o, "'secrets' must be an array of at most 256");
		else
			accepted(o);
	}
	o = with_long_string("secrets", MASK_MAX_SECRET_LEN, true);
	yb_json_set(o, "shell", yb_json_str("true"));
	accepted(o);
	o = with_long_string("secrets", MASK_MAX_SECRET_LEN + 1, true);
	yb_json_set(o, "shell", yb_json_str("true"));
	refused(o, "'secrets[1]' must be a string of at most 4096");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("spec");
	TCase *tc = tcase_create("spec");
	tcase_add_test(tc, argv_spec_with_defaults);
	tcase_add_test(tc, shell_spec_keeps_what_is_given);
	tcase_add_test(tc, redacted_spec_masks_secrets);
	tcase_add_test(tc, builtin_step_spec);
	tcase_add_test(tc, each_refusal_names_its_field);
	tcase_add_test(tc, every_cap_at_its_edge);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
