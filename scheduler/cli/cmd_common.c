/*
 * cmd_common.c: helpers every command shares: usage errors, --help, --format.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

int cli_usage_error(const struct yb_cmd *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "yoban %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'yoban %s --help')\n", cmd->name);
	return YB_EXIT_USAGE;
}

void cli_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "yoban: error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

bool cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			return false;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	}
	return false;
}

int cli_parse_format(const struct yb_cmd *cmd, const char *value, bool *json)
{
	if (!strcmp(value, "json"))
		*json = true;
	else if (!strcmp(value, "text"))
		*json = false;
	else
		return cli_usage_error(cmd, "unknown format '%s' (use 'text' or 'json')", value);
	return 0;
}
