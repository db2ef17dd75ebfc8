/*
 * cli.h: the `yoban` command table. One file per command (scheduler/cmd_*.c) exports a const
 * struct yb_cmd; scheduler/yoban.c lists them. A command's run() gets argv with argv[0] = the
 * command's name, prints data on stdout and errors on stderr, and returns the exit status:
 * 0 success, 1 the answer is "no" / the input is invalid / the job failed, 2 usage error.
 */
#ifndef YB_CLI_H
#define YB_CLI_H

#include "yb.h"

#define YB_EXIT_OK 0
#define YB_EXIT_FAIL 1
#define YB_EXIT_USAGE 2

struct yb_cmd {
	const char *name;
	const char *summary; /* one line for `yoban --help` */
	const char *help;    /* the whole text for `yoban NAME --help` (usage first) */
	int (*run)(int argc, char **argv);
};

/* Prints "yoban NAME: " and the message to stderr; returns YB_EXIT_USAGE. */
int cli_usage_error(const struct yb_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "yoban: error: " and the message to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* True if argv has -h or --help before any "--"; the command then prints cmd->help and exits 0. */
bool cli_wants_help(int argc, char **argv);
/* Parses --format text|json; returns 0 and sets *json, or prints a usage error. */
int cli_parse_format(const struct yb_cmd *cmd, const char *value, bool *json);

#endif
