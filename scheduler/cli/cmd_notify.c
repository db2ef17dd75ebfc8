/*
 * cmd_notify.c: `yoban notify test CHANNEL`: sends a test notice through one channel of
 * yoban.yaml, now, from this shell (not through the outbox), and prints what the server or the
 * command answered, so that an operator knows the path works before the night needs it.
 */
#include "cli.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "http.h"

extern const struct yb_cmd cmd_notify;

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL;
	int opt, status = YB_EXIT_FAIL;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'C': config = optarg; break;
		default:
			return cli_usage_error(&cmd_notify, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 2 || strcmp(argv[optind], "test"))
		return cli_usage_error(&cmd_notify, "usage: yoban notify test CHANNEL");
	const char *name = argv[optind + 1];
	struct yb_err err = { 0 };
	char *path = NULL, *answer = NULL;
	struct rb_site *site = NULL;
	if (rb_config_find(config, NULL, &path, &err) < 0) {
		cli_error("%s", err.msg);
		return YB_EXIT_USAGE;
	}
	if (rb_site_load(path, &site, &err) < 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	const struct rb_channel *ch = channel_find(site, name);
	if (!ch) {
		cli_error("no notify channel '%s' in %s%s", name, path ? path : "the built-in defaults",
			  site->n_channels ? " (see notify.channels there)" :
					     " (it defines no notify.channels)");
		goto out;
	}
	if (http_global_init(&err) < 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	char host[64] = "";
	gethostname(host, sizeof(host) - 1);
	struct notice n = { .event = "test", .site_host = host };
	signal(SIGPIPE, SIG_IGN); /* a command that does not read its stdin */
	if (channel_deliver(site, ch, &n, &answer, &err) < 0) {
		cli_error("the test notice did not go through: %s", err.msg);
		goto out;
	}
	printf("test notice sent through '%s' (%s): %s\n", ch->name, channel_kind_name(ch->kind),
	       answer);
	status = YB_EXIT_OK;
out:
	free(answer);
	free(path);
	rb_site_free(site);
	return status;
}

const struct yb_cmd cmd_notify = {
	.name = "notify",
	.summary = "send a test notice through a channel",
	.help =
		"usage: yoban notify test CHANNEL [--config FILE]\n"
		"\n"
		"Sends a test notice (Japanese and English) through the channel CHANNEL of yoban.yaml's\n"
		"notify.channels, at once and from this shell, with the channel's own timeout (no\n"
		"retries), and prints what the mail server, the webhook or the command answered.\n"
		"Exit 0 when it was accepted, 1 when not (the reason is printed). An smtp channel's\n"
		"password file must be readable by you (it lies in the site's secrets_dir).\n"
		"\n"
		"examples:\n"
		"  yoban notify test ops-mail\n"
		"  yoban notify test ops-phone\n",
	.run = run,
};
