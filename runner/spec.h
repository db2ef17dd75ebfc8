/*
 * spec.h: a job's START spec, parsed, checked and capped (the one place that reads a START).
 *
 * A START payload (common/wire.h) becomes a struct job_spec, or is refused with YB_EINVAL and a
 * message naming the bad field and its limit. Every field has a cap, so that nothing the peer
 * sends can make the supervisor hold more than a frame's worth or fail later at exec time for a
 * reason that could have been said at once (execve refuses one string longer than 128 KiB).
 */
#ifndef YB_SPEC_H
#define YB_SPEC_H

#include "json.h"
#include "wire.h"
#include "yb.h"

#define SPEC_DEFAULT_GRACE_MS 10000
#define SPEC_DEFAULT_OUTPUT_CAP (1ULL << 30) /* 1 GiB kept per job */
#define SPEC_MAX_ARGV 4096                   /* argv elements */
#define SPEC_MAX_ENV 4096                    /* environment variables given */
#define SPEC_MAX_STRING (128 * 1024 - 1)     /* one argv element, the script, one "K=V" (execve) */
#define SPEC_MAX_NAME 255                    /* an environment variable's name */
#define SPEC_MAX_CWD 4095                    /* PATH_MAX less its NUL */
#define SPEC_MAX_DURATION_MS (10LL * 366 * 86400 * 1000) /* deadline arithmetic cannot overflow */
#define SPEC_RESERVED_ENV "YOBAN_RUNNER_JOB" /* the job's marker (proctree.h), never given */
#define SPEC_BASE_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct job_spec {
	char job[WIRE_MAX_JOB_ID + 1];
	char **argv;        /* NULL-terminated; NULL when shell or step is set */
	char *shell;        /* a script for /bin/sh -c */
	char *step;         /* a built-in step kind ("sql"): the runner runs itself in step mode */
	char **env;         /* NULL-terminated "KEY=VALUE": as given, then PATH, HOME, LANG if absent */
	char *cwd;          /* NULL: "/" */
	int64_t timeout_ms; /* 0: none */
	int64_t grace_ms;
	uint64_t output_cap;
	char **secrets;     /* NULL-terminated */
	size_t n_secrets;
	char digest[65];    /* the spec's identity: see job_spec_parse */
};

/* Checks and copies a START payload; YB_EINVAL with a message naming the bad field. *out is set
 * only on success; release it with job_spec_release. Unknown fields are ignored.
 * digest is the SHA-256 (hex) of the redacted spec in its compact form (job_spec_redacted: the
 * environment sorted by name, defaults filled in): two STARTs that would run the same thing have
 * the same digest whatever their JSON's key order or spacing. Secret values do not enter it
 * (only where they were masked and how many there are): the journal keeps nothing derived from a
 * secret, so a START that differs only in a secret's value is the same job. */
int job_spec_parse(const struct yb_json *start, struct job_spec *out, struct yb_err *err);
void job_spec_release(struct job_spec *spec);
/* The spec as spec.json holds it: secret values masked wherever they appear (caller frees),
 * except in the job id. The id is an identifier, kept in the clear (it names the job's folder and
 * every log line about it); yoband makes it from run, step, host, site and nonce, never from a
 * secret. */
struct yb_json *job_spec_redacted(const struct job_spec *spec);

#endif
