/*
 * fuzz_spec.c: arbitrary bytes as a START payload through the runner's spec parser
 * (runner/spec.c). Whatever the peer sends, the parser either refuses it with YB_EINVAL and a
 * message, or returns a spec that keeps every promise spec.h makes: exactly one of argv, shell
 * and step (a built-in kind: "sql"), every cap held, no YOBAN_RUNNER_JOB in the environment, PATH, HOME and LANG present, a
 * 64-hex digest that spacing and pretty-printing do not change, and a redacted copy that never
 * holds a secret's value. Any broken promise traps.
 */
#include "json.h"
#include "spec.h"
#include "yb.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_spec(const struct yb_json *start, const struct job_spec *s)
{
	if ((s->argv != NULL) + (s->shell != NULL) + (s->step != NULL) != 1)
		__builtin_trap();
	if (s->step && strcmp(s->step, "sql"))
		__builtin_trap();
	size_t n = 0;
	for (char **a = s->argv; a && *a; a++)
		if (++n > SPEC_MAX_ARGV || strlen(*a) > SPEC_MAX_STRING)
			__builtin_trap();
	if (s->argv && n == 0)
		__builtin_trap();
	if (s->shell && strlen(s->shell) > SPEC_MAX_STRING)
		__builtin_trap();
	bool path = false, home = false, lang = false;
	n = 0;
	for (char **e = s->env; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		if (!eq || strlen(*e) > SPEC_MAX_STRING || (size_t)(eq - *e) > SPEC_MAX_NAME)
			__builtin_trap();
		if (!strncmp(*e, SPEC_RESERVED_ENV "=", strlen(SPEC_RESERVED_ENV) + 1))
			__builtin_trap();
		path |= !strncmp(*e, "PATH=", 5);
		home |= !strncmp(*e, "HOME=", 5);
		lang |= !strncmp(*e, "LANG=", 5);
		n++;
	}
	if (!path || !home || !lang || n > SPEC_MAX_ENV + 3)
		__builtin_trap();
	if (s->cwd && (s->cwd[0] != '/' || strlen(s->cwd) > SPEC_MAX_CWD))
		__builtin_trap();
	if (s->timeout_ms < 0 || s->timeout_ms > SPEC_MAX_DURATION_MS || s->grace_ms < 0 ||
	    s->grace_ms > SPEC_MAX_DURATION_MS)
		__builtin_trap();
	if (strlen(s->digest) != 64 || strspn(s->digest, "0123456789abcdef") != 64)
		__builtin_trap();

	/* the same payload, printed another way, is the same job */
	char *pretty = yb_json_dump(start, YB_JSON_PRETTY);
	struct yb_json *again = NULL;
	struct job_spec s2;
	struct yb_err err;
	if (!pretty || yb_json_parse(pretty, strlen(pretty), &again, &err) < 0)
		__builtin_trap();
	if (job_spec_parse(again, &s2, &err) < 0 || strcmp(s2.digest, s->digest))
		__builtin_trap();
	job_spec_release(&s2);
	yb_json_free(again);
	free(pretty);

	/* the journal's copy holds no secret (of a length that cannot be a coincidence) outside
	 * the job id: the id is the peer's own name for the job (its folder's name), never masked,
	 * so a peer that writes a secret into it has published that secret itself (spec.h) */
	struct yb_json *red = job_spec_redacted(s);
	yb_json_set(red, "job", yb_json_str(""));
	char *text = yb_json_dump(red, 0);
	for (size_t i = 0; i < s->n_secrets; i++)
		if (strlen(s->secrets[i]) >= 12 && strstr(text, s->secrets[i]))
			__builtin_trap();
	free(text);
	yb_json_free(red);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct yb_json *start = NULL;
	struct yb_err err;
	if (yb_json_parse((const char *)data, size, &start, &err) < 0)
		return 0;
	struct job_spec spec;
	memset(&spec, 0, sizeof(spec));
	int rc = job_spec_parse(start, &spec, &err);
	if (rc == 0) {
		check_spec(start, &spec);
		job_spec_release(&spec);
	} else if (rc != YB_EINVAL || !err.msg[0]) {
		__builtin_trap(); /* a refusal is always EINVAL, with a message */
	}
	yb_json_free(start);
	return 0;
}
