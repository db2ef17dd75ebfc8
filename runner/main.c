/*
 * main.c: the yoban-runner program: `serve` (the protocol on stdin/stdout, started by sshd as a
 * forced command or by the scheduler as a local child), `gc` (the retention sweep by hand) and
 * `step KIND ...` (a built-in step, started by a job's supervisor: runner/steps/).
 * Everything it does lives in the yb_runner library (serve.c, journal.c, supervisor.c, mask.c)
 * and, for the built-in steps, yb_steps.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"
#include "serve.h"
#include "sql.h"
#include "steps.h"
#include "yb.h"

static const char usage[] =
	"usage: yoban-runner serve [--state-dir DIR] [--retention DURATION]\n"
	"       yoban-runner gc [--state-dir DIR] [--retention DURATION]\n"
	"       yoban-runner step KIND (--spec JSON | --spec-file FILE)\n"
	"       yoban-runner --help | --version\n"
	"       yoban-runner step sql|sql-settle JOB_DIR   (run by a job's supervisor, not by hand)\n"
	"\n"
	"  serve   speak the Yoban runner protocol on standard input and output: start jobs, each\n"
	"          under its own supervisor, and stream their output; jobs outlive the connection\n"
	"  gc      remove the journals of jobs that ended more than DURATION ago (serve does this\n"
	"          at start-up too)\n"
	"  step    run a built-in step kind (backup, restore, list) as a job's step; its last\n"
	"          stdout line is its evidence: yoban-evidence {JSON} (see docs/backups.md)\n"
	"\n"
	"  --state-dir DIR       the journal folder (default $YOBAN_RUNNER_STATE_DIR, else\n"
	"                        " JOURNAL_DEFAULT_STATE_DIR ")\n"
	"  --retention DURATION  how long an ended job's journal is kept unless forgotten\n"
	"                        (default 7d; e.g. 36h, 30d)\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "yoban-runner: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'yoban-runner --help')\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage_error("%s", "missing command: serve, gc or step");
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		fputs(usage, stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version")) {
		printf("yoban-runner " RUNNER_VERSION " (protocol %d)\n", 1);
		return 0;
	}
	if (!strcmp(cmd, "step") && argc == 4 && !strcmp(argv[2], "sql"))
		return sql_step_main(argv[3]); /* START "step":"sql" (supervisor.c, runner/steps/sql.h) */
	if (!strcmp(cmd, "step") && argc == 4 && !strcmp(argv[2], "sql-settle"))
		return sql_settle_main(argv[3]);
	if (!strcmp(cmd, "step"))
		return steps_main(argc - 1, argv + 1);
	if (strcmp(cmd, "serve") && strcmp(cmd, "gc"))
		return usage_error("unknown command '%s' (expected serve, gc or step)", cmd);

	const char *state_dir = getenv("YOBAN_RUNNER_STATE_DIR");
	if (!state_dir || !*state_dir)
		state_dir = JOURNAL_DEFAULT_STATE_DIR;
	int64_t retention_ms = JOURNAL_DEFAULT_RETENTION_MS;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(usage, stdout);
			return 0;
		}
		const char *value = NULL;
		bool is_state = !strncmp(a, "--state-dir", 11), is_ret = !strncmp(a, "--retention", 11);
		if ((is_state || is_ret) && a[11] == '=')
			value = a + 12;
		else if ((is_state || is_ret) && a[11] == '\0') {
			if (i + 1 >= argc)
				return usage_error("'%s' needs a value", a);
			value = argv[++i];
		} else {
			return usage_error("unknown option '%s'", a);
		}
		if (is_state) {
			if (!*value)
				return usage_error("%s", "'--state-dir' needs a folder");
			state_dir = value;
		} else {
			struct yb_err err;
			if (yb_parse_duration_ms(value, &retention_ms, &err) < 0)
				return usage_error("--retention: %s", err.msg);
		}
	}

	if (!strcmp(cmd, "serve")) {
		struct serve_opts o = { .state_dir = state_dir, .in_fd = 0, .out_fd = 1,
					.retention_ms = retention_ms };
		return serve_run(&o);
	}
	struct yb_err err;
	int removed = 0;
	if (journal_gc(state_dir, retention_ms, &removed, &err) < 0) {
		fprintf(stderr, "yoban-runner: error: %s\n", err.msg);
		return 1;
	}
	printf("removed %d job journal%s from '%s'\n", removed, removed == 1 ? "" : "s", state_dir);
	return 0;
}
