/*
 * main.c (yoban): the operator's command line. It finds the command in the table and hands it
 * argv; every command lives in its own scheduler/cli/cmd_*.c, linked from the yb_cli library. The
 * references are strong: a command named here whose file is missing fails the link, it is never
 * silently absent.
 */
#include "cli.h"
#include "yb_version.h"

#include <stdio.h>
#include <string.h>

#define YB_COMMANDS(X)                                                                             \
	X(validate) X(plan) X(next) X(calendar) X(exec) X(init) X(db) X(trigger) X(cancel) X(rerun)  \
	X(request) X(approve) X(reject) X(pending) X(status) X(runs) X(show) X(logs) X(reload)      \
	X(backups) X(restore) X(offsite_restore) X(release) X(artifact) X(notify) X(notifications)  \
	X(incidents) X(incident) X(effort) X(verify) X(checkpoint) X(evidence) X(report)

#define DECLARE(n) extern const struct yb_cmd cmd_##n;
YB_COMMANDS(DECLARE)
#undef DECLARE

#define ENTRY(n) &cmd_##n,
static const struct yb_cmd *const commands[] = { YB_COMMANDS(ENTRY) };
#undef ENTRY

static void print_help(FILE *out)
{
	fprintf(out, "usage: yoban COMMAND [ARGS...]\n\n"
		     "Yoban (夜番) runs the night's runbooks on city core systems: validated, scheduled\n"
		     "by business calendars, dispatched to runners, and recorded.\n\ncommands:\n");
	for (size_t i = 0; i < YB_ARRAY_LEN(commands); i++)
		fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(out, "\n`yoban COMMAND --help` tells more about each.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		print_help(stderr);
		return YB_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		print_help(stdout);
		return YB_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("yoban " YB_VERSION "\n");
		return YB_EXIT_OK;
	}
	for (size_t i = 0; i < YB_ARRAY_LEN(commands); i++) {
		const struct yb_cmd *cmd = commands[i];
		if (strcmp(cmd->name, argv[1]))
			continue;
		if (cli_wants_help(argc - 1, argv + 1)) {
			fputs(cmd->help, stdout);
			return YB_EXIT_OK;
		}
		return cmd->run(argc - 1, argv + 1);
	}
	fprintf(stderr, "yoban: unknown command '%s' (see 'yoban --help')\n", argv[1]);
	return YB_EXIT_USAGE;
}
