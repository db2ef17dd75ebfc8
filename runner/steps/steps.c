/*
 * steps.c: `yoban-runner step KIND --spec JSON | --spec-file FILE`: the step mode's entry, and
 * the hook by which the supervisor runs it (see steps.h).
 *
 * The one idea: a built-in step is an ordinary child of the supervisor that happens to be the
 * runner binary; all it adds is one last stdout line, "yoban-evidence {...}", which the scheduler
 * reads from the job's output like any other byte, after the exit.
 */
#include "steps.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SPEC_MAX_BYTES (1u << 20)

static const char usage[] =
	"usage: yoban-runner step KIND (--spec JSON | --spec-file FILE)\n"
	"  KIND: backup, restore, verify, list, offsite, offsite-restore, offsite-keygen\n"
	"  The step's evidence is its last stdout line: yoban-evidence {JSON}.\n";

void steps_resolve_argv(char **argv)
{
	if (!argv || !argv[0] || strcmp(argv[0], "yoban-runner") || !argv[1] || strcmp(argv[1], "step"))
		return;
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return; /* PATH decides, as for any command */
	self[n] = '\0';
	free(argv[0]);
	argv[0] = xstrdup(self);
}

bool steps_progress_wanted(const struct yb_json *spec)
{
	return yb_json_get_bool(spec, "progress", false) || isatty(2);
}

int steps_main(int argc, char **argv)
{
	const char *kind = argc > 1 ? argv[1] : NULL, *spec_text = NULL, *spec_file = NULL;
	char *file_text = NULL;
	size_t len = 0;
	struct yb_json *spec = NULL, *ev = yb_json_object();
	struct yb_err err = { 0 };
	int status = 2, rc = 0;

	if (!kind || !strcmp(kind, "--help") || !strcmp(kind, "-h")) {
		fputs(usage, kind ? stdout : stderr);
		status = kind ? 0 : 2;
		goto out;
	}
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--spec") && i + 1 < argc)
			spec_text = argv[++i];
		else if (!strcmp(argv[i], "--spec-file") && i + 1 < argc)
			spec_file = argv[++i];
		else {
			fprintf(stderr, "yoban-runner step: unknown argument '%s'\n%s", argv[i], usage);
			goto out;
		}
	}
	if (!!spec_text == !!spec_file) {
		fprintf(stderr, "yoban-runner step: give one of --spec JSON and --spec-file FILE\n%s", usage);
		goto out;
	}
	if (spec_file) {
		if (yb_read_regular(spec_file, SPEC_MAX_BYTES, 0, &file_text, &len, &err) < 0) {
			fprintf(stderr, "yoban-runner step: %s\n", err.msg);
			goto out;
		}
		spec_text = file_text;
	} else {
		len = strlen(spec_text);
	}
	if (yb_json_parse(spec_text, len, &spec, &err) < 0 || !yb_json_is_object(spec)) {
		fprintf(stderr, "yoban-runner step: the spec is not a JSON object%s%s\n",
			err.msg[0] ? ": " : "", err.msg);
		goto out;
	}
	yb_json_set(ev, "kind", yb_json_str(kind));
	int64_t started = yb_mono_ms();
	if (!strcmp(kind, "backup"))
		rc = step_backup(spec, ev, &err);
	else if (!strcmp(kind, "restore"))
		rc = step_restore(spec, ev, &err);
	else if (!strcmp(kind, "offsite"))
		rc = step_offsite(spec, ev, &err);
	else if (!strcmp(kind, "offsite-restore"))
		rc = step_offsite_restore(spec, ev, &err);
	else if (!strcmp(kind, "offsite-keygen"))
		rc = step_offsite_keygen(spec, ev, &err);
	else if (!strcmp(kind, "verify"))
		rc = step_verify(spec, ev, &err);
	else if (!strcmp(kind, "list"))
		rc = step_list(spec, ev, &err);
	else {
		fprintf(stderr, "yoban-runner step: unknown kind '%s' (backup, restore, verify, list, offsite, offsite-restore or offsite-keygen)\n", kind);
		goto out;
	}
	yb_json_set(ev, "duration_ms", yb_json_int(yb_mono_ms() - started));
	yb_json_set(ev, "ok", yb_json_bool(rc == 0));
	if (rc < 0) {
		yb_json_set(ev, "error", yb_json_str(err.msg));
		fprintf(stderr, "yoban-runner: error: %s\n", err.msg);
	}
	fflush(stdout);
	if (strcmp(kind, "list")) { /* a listing is a reading, not evidence: its stdout is the answer */
		char *line = yb_json_dump(ev, 0);
		printf(STEPS_EVIDENCE_PREFIX "%s\n", line);
		free(line);
	}
	status = rc < 0 ? 1 : 0;
out:
	fflush(stdout);
	yb_json_free(spec);
	yb_json_free(ev);
	free(file_text);
	return status;
}
