/*
 * spec.c: the START spec, from JSON to a checked struct job_spec (spec.h), and back to the
 * redacted form that spec.json keeps.
 *
 * The one idea: the spec is checked whole before anything is created, one field at a time, each
 * against its own cap, so a refusal is always "bad-spec" naming the field, and what reaches the
 * supervisor can be run as it is. The step's environment is exactly what the scheduler gave,
 * plus PATH, HOME and LANG when absent. A built-in step ("step": "sql") has no command of its
 * own: the supervisor runs this program in step mode (runner/steps/), its inputs in env.
 */
#include "spec.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "digest.h"
#include "mask.h"
#include "steps.h"

static bool env_name_valid(const char *k)
{
	if (!*k || (*k >= '0' && *k <= '9') || strlen(k) > SPEC_MAX_NAME)
		return false;
	for (const char *p = k; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      *p == '_'))
			return false;
	return true;
}

static char **strv_new(size_t n)
{
	return xcalloc(n + 1, sizeof(char *));
}

static void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

/* Bytes as the scheduler sent them (common/json.h, yb_json_bytes: a string, or {"base64": ...}
 * for bytes that are not UTF-8, such as a Shift_JIS file name): a new C string of at most max
 * bytes and no NUL (argv, the environment and paths cannot hold one), or NULL. */
static char *bytes_get(const struct yb_json *v, size_t max)
{
	unsigned char *b = NULL;
	size_t n = 0;
	if (!v || yb_json_bytes_value(v, &b, &n, NULL) < 0)
		return NULL;
	if (n > max || memchr(b, '\0', n)) {
		free(b);
		return NULL;
	}
	return (char *)b;
}

static int parse_job(const struct yb_json *start, struct job_spec *s, struct yb_err *err)
{
	const char *job = yb_json_get_str(start, "job");
	if (!job || !wire_job_id_valid(job, strlen(job)))
		return yb_err_set(err, YB_EINVAL, "'job' must be 1 to %d of A-Z a-z 0-9 . _ -",
				  WIRE_MAX_JOB_ID);
	snprintf(s->job, sizeof(s->job), "%s", job);
	return 0;
}

/* The built-in step kinds (runner/steps/): `yoban-runner step KIND JOB_DIR`. */
static const char *const builtin_steps[] = { "sql", NULL };

/* Exactly one of argv (run with execvp), shell (run with /bin/sh -c) and step (built in). */
static int parse_command(const struct yb_json *start, struct job_spec *s, struct yb_err *err)
{
	struct yb_json *argv = yb_json_get(start, "argv"), *shell = yb_json_get(start, "shell");
	struct yb_json *step = yb_json_get(start, "step");
	if (!!argv + !!shell + !!step != 1)
		return yb_err_set(err, YB_EINVAL, "give exactly one of 'argv', 'shell' and 'step'");
	if (step) {
		const char *kind = yb_json_is_string(step) ? yb_json_string_value(step) : NULL;
		for (size_t i = 0; kind && builtin_steps[i]; i++)
			if (!strcmp(kind, builtin_steps[i]))
				s->step = xstrdup(kind);
		if (!s->step)
			return yb_err_set(err, YB_EINVAL, "'step' must name a built-in step kind (sql)");
		return 0;
	}
	if (shell) {
		if (!(s->shell = bytes_get(shell, SPEC_MAX_STRING)))
			return yb_err_set(err, YB_EINVAL, "'shell' must be a string of at most %d bytes",
					  SPEC_MAX_STRING);
		return 0;
	}
	size_t n = yb_json_len(argv);
	if (!yb_json_is_array(argv) || n == 0 || n > SPEC_MAX_ARGV)
		return yb_err_set(err, YB_EINVAL, "'argv' must be an array of 1 to %d strings",
				  SPEC_MAX_ARGV);
	s->argv = strv_new(n);
	for (size_t i = 0; i < n; i++) {
		if (!(s->argv[i] = bytes_get(yb_json_at(argv, i), SPEC_MAX_STRING)))
			return yb_err_set(err, YB_EINVAL, "'argv[%zu]' must be a string of at most %d bytes",
					  i, SPEC_MAX_STRING);
	}
	if (!s->argv[0][0])
		return yb_err_set(err, YB_EINVAL, "'argv[0]' is empty");
	steps_resolve_argv(s->argv); /* ["yoban-runner", "step", ...]: this very binary */
	return 0;
}

/* The runner account's home, looked up once: serve runs as one user, and /etc/passwd per START
 * is a profile hot spot. */
static const char *runner_home(void)
{
	static char *home;
	if (!home) {
		struct passwd *pw = getpwuid(getuid());
		home = xstrdup(pw && pw->pw_dir ? pw->pw_dir : "/");
	}
	return home;
}

/* The environment: exactly what is given, plus PATH, HOME and LANG when absent. */
static int parse_env(const struct yb_json *start, struct job_spec *s, struct yb_err *err)
{
	struct yb_json *env = yb_json_get(start, "env");
	if (env && !yb_json_is_object(env))
		return yb_err_set(err, YB_EINVAL, "'env' must be an object of strings");
	void *iter = NULL;
	const char *key;
	struct yb_json *value;
	size_t count = 0;
	bool has_path = false, has_home = false, has_lang = false;
	s->env = strv_new(SPEC_MAX_ENV + 3);
	while (env && yb_json_next_member(env, &iter, &key, &value)) {
		if (count >= SPEC_MAX_ENV)
			return yb_err_set(err, YB_EINVAL, "'env' has more than %d variables", SPEC_MAX_ENV);
		if (!env_name_valid(key))
			return yb_err_set(err, YB_EINVAL, "'env' name '%.64s' is not a valid variable name "
					  "([A-Za-z_][A-Za-z0-9_]*, at most %d bytes)", key, SPEC_MAX_NAME);
		if (!strcmp(key, SPEC_RESERVED_ENV))
			return yb_err_set(err, YB_EINVAL, "'env' name '%s' is reserved (the runner sets it "
					  "to find the job's processes)", key);
		char *bytes = bytes_get(value, SPEC_MAX_STRING - 1 - strlen(key));
		if (!bytes)
			return yb_err_set(err, YB_EINVAL, "'env.%.64s' must be a string of at most %zu bytes",
					  key, SPEC_MAX_STRING - 1 - strlen(key));
		has_path |= !strcmp(key, "PATH");
		has_home |= !strcmp(key, "HOME");
		has_lang |= !strcmp(key, "LANG");
		s->env[count++] = xasprintf("%s=%s", key, bytes);
		free(bytes);
	}
	if (!has_path)
		s->env[count++] = xasprintf("PATH=%s", SPEC_BASE_PATH);
	if (!has_home)
		s->env[count++] = xasprintf("HOME=%s", runner_home());
	if (!has_lang)
		s->env[count++] = xstrdup("LANG=C.UTF-8");
	return 0;
}

static int parse_cwd(const struct yb_json *start, struct job_spec *s, struct yb_err *err)
{
	struct yb_json *cwd = yb_json_get(start, "cwd");
	if (!cwd)
		return 0;
	if (!(s->cwd = bytes_get(cwd, SPEC_MAX_CWD)) || s->cwd[0] != '/')
		return yb_err_set(err, YB_EINVAL, "'cwd' must be an absolute path of at most %d bytes",
				  SPEC_MAX_CWD);
	return 0;
}

static int get_nonneg(const struct yb_json *o, const char *key, int64_t dflt, int64_t max,
		      int64_t *out, struct yb_err *err)
{
	struct yb_json *v = yb_json_get(o, key);
	if (!v) {
		*out = dflt;
		return 0;
	}
	if (!yb_json_is_int(v) || yb_json_int_value(v) < 0 || yb_json_int_value(v) > max)
		return yb_err_set(err, YB_EINVAL, "'%s' must be an integer from 0 to %lld", key,
				  (long long)max);
	*out = yb_json_int_value(v);
	return 0;
}

/* timeout_ms, grace_ms (durations up to ten years) and output_cap. */
static int parse_limits(const struct yb_json *start, struct job_spec *s, struct yb_err *err)
{
	int64_t cap = 0;
	int rc;
	if ((rc = get_nonneg(start, "timeout_ms", 0, SPEC_MAX_DURATION_MS, &s->timeout_ms, err)) < 0 ||
	    (rc = get_nonneg(start, "grace_ms", SPEC_DEFAULT_GRACE_MS, SPEC_MAX_DURATION_MS,
			     &s->grace_ms, err)) < 0 ||
	    (rc = get_nonneg(start, "output_cap", (int64_t)SPEC_DEFAULT_OUTPUT_CAP, INT64_MAX, &cap,
			     err)) < 0)
		return rc;
	s->output_cap = (uint64_t)cap;
	return 0;
}

static int parse_secrets(const struct yb_json *start, struct job_spec *s, struct yb_err *err)
{
	struct yb_json *secrets = yb_json_get(start, "secrets");
	size_t n = secrets ? yb_json_len(secrets) : 0;
	if (secrets && (!yb_json_is_array(secrets) || n > MASK_MAX_SECRETS))
		return yb_err_set(err, YB_EINVAL, "'secrets' must be an array of at most %d strings",
				  MASK_MAX_SECRETS);
	s->secrets = strv_new(n);
	for (size_t i = 0; i < n; i++) {
		char *secret = bytes_get(yb_json_at(secrets, i), MASK_MAX_SECRET_LEN);
		if (!secret)
			return yb_err_set(err, YB_EINVAL, "'secrets[%zu]' must be a string of at most %d bytes",
					  i, MASK_MAX_SECRET_LEN);
		s->secrets[s->n_secrets++] = secret;
	}
	return 0;
}

static void compute_digest(struct job_spec *s)
{
	struct yb_json *red = job_spec_redacted(s);
	char *text = yb_json_dump(red, 0);
	yb_sha256_hex(text, strlen(text), s->digest);
	free(text);
	yb_json_free(red);
}

int job_spec_parse(const struct yb_json *start, struct job_spec *out, struct yb_err *err)
{
	struct job_spec s = { 0 };
	int rc;
	if (!yb_json_is_object(start)) {
		rc = yb_err_set(err, YB_EINVAL, "a START must be a JSON object");
		goto out;
	}
	if ((rc = parse_job(start, &s, err)) < 0 || (rc = parse_command(start, &s, err)) < 0 ||
	    (rc = parse_env(start, &s, err)) < 0 || (rc = parse_cwd(start, &s, err)) < 0 ||
	    (rc = parse_limits(start, &s, err)) < 0 || (rc = parse_secrets(start, &s, err)) < 0)
		goto out;
	compute_digest(&s);
	*out = s;
	memset(&s, 0, sizeof(s));
out:
	job_spec_release(&s);
	return rc;
}

void job_spec_release(struct job_spec *spec)
{
	strv_free(spec->argv);
	free(spec->shell);
	free(spec->step);
	strv_free(spec->env);
	free(spec->cwd);
	strv_free(spec->secrets);
	memset(spec, 0, sizeof(*spec));
}

static void emit_to_buf(void *ctx, const void *data, size_t len)
{
	yb_buf_append(ctx, data, len);
}

static struct yb_json *masked_str(struct mask *m, const char *s)
{
	struct yb_buf b;
	yb_buf_init(&b, 0);
	mask_feed(m, s, strlen(s), emit_to_buf, &b);
	mask_flush(m, emit_to_buf, &b);
	struct yb_json *v = yb_json_bytes(b.data ? b.data : "", b.len);
	yb_buf_release(&b);
	return v;
}

/* "K=V" entries by K (names are unique, and '=' cannot be part of one). */
static int env_cmp(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	size_t nx = strcspn(x, "="), ny = strcspn(y, "=");
	int c = memcmp(x, y, nx < ny ? nx : ny);
	return c ? c : (nx > ny) - (nx < ny);
}

struct yb_json *job_spec_redacted(const struct job_spec *spec)
{
	struct mask m;
	mask_init(&m, (const char *const *)spec->secrets, spec->n_secrets);
	struct yb_json *o = yb_json_object();
	yb_json_set(o, "job", yb_json_str(spec->job));
	if (spec->argv) {
		struct yb_json *a = yb_json_array();
		for (char **p = spec->argv; *p; p++)
			yb_json_push(a, masked_str(&m, *p));
		yb_json_set(o, "argv", a);
	} else if (spec->step) {
		yb_json_set(o, "step", yb_json_str(spec->step));
	} else {
		yb_json_set(o, "shell", masked_str(&m, spec->shell));
	}
	/* sorted by name, so that the order the scheduler gave does not change the digest */
	size_t n_env = 0;
	while (spec->env[n_env])
		n_env++;
	char **sorted = xcalloc(n_env + 1, sizeof(char *));
	memcpy(sorted, spec->env, n_env * sizeof(char *));
	qsort(sorted, n_env, sizeof(char *), env_cmp);
	struct yb_json *env = yb_json_object();
	for (size_t i = 0; i < n_env; i++) {
		char *eq = strchr(sorted[i], '=');
		char *k = xstrndup(sorted[i], (size_t)(eq - sorted[i]));
		yb_json_set(env, k, masked_str(&m, eq + 1));
		free(k);
	}
	free(sorted);
	yb_json_set(o, "env", env);
	const char *cwd = spec->cwd ? spec->cwd : "/";
	yb_json_set(o, "cwd", yb_json_bytes(cwd, strlen(cwd)));
	yb_json_set(o, "timeout_ms", yb_json_int(spec->timeout_ms));
	yb_json_set(o, "grace_ms", yb_json_int(spec->grace_ms));
	yb_json_set(o, "output_cap", yb_json_int((int64_t)spec->output_cap));
	yb_json_set(o, "secret_count", yb_json_int((int64_t)spec->n_secrets));
	mask_release(&m);
	return o;
}
