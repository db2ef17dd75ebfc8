/*
 * cmd_offsite_restore.c: `yoban offsite-restore FILE --key SECRET_KEY_FILE --to DIR`: one
 * off-site copy decrypted and restored, here, by the runner binary in its step mode
 * (`yoban-runner step offsite-restore`), so that the decryption, the checks and the safe
 * extraction are the very code the runner uses. Also `--new-key FILE`: a recipient key pair.
 *
 * The runner is the one beside this yoban (same folder), else the one on PATH. The secret key
 * never appears on a command line: the runner is given its file name.
 */
#define _GNU_SOURCE
#include "cli.h"
#include "json.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern const struct yb_cmd cmd_offsite_restore;

static char *runner_path(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash) {
			char *beside = xasprintf("%.*s/yoban-runner", (int)(slash - self), self);
			if (access(beside, X_OK) == 0)
				return beside;
			free(beside);
		}
	}
	return xstrdup("yoban-runner");
}

static char *absolute(const char *path)
{
	if (path[0] == '/')
		return xstrdup(path);
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)))
		return xstrdup(path);
	return xasprintf("%s/%s", cwd, path);
}

static int run_step(const char *kind, const struct yb_json *spec)
{
	char *runner = runner_path(), *text = yb_json_dump(spec, 0);
	int status = YB_EXIT_FAIL;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		cli_error("cannot fork: %s", strerror(errno));
	} else if (pid == 0) {
		execlp(runner, "yoban-runner", "step", kind, "--spec", text, (char *)NULL);
		fprintf(stderr, "yoban: error: cannot run '%s': %s (install yoban-runner beside yoban "
			"or on PATH)\n", runner, strerror(errno));
		_exit(127);
	} else {
		int ws = 0;
		while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
			;
		status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	}
	free(runner);
	free(text);
	return status;
}

enum { OPT_KEY = 1, OPT_TO, OPT_NEW_KEY };

static int offsite_restore_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "key", required_argument, NULL, OPT_KEY },
		{ "to", required_argument, NULL, OPT_TO },
		{ "new-key", required_argument, NULL, OPT_NEW_KEY },
		{ NULL, 0, NULL, 0 },
	};
	const char *key = NULL, *to = NULL, *new_key = NULL;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_KEY: key = optarg; break;
		case OPT_TO: to = optarg; break;
		case OPT_NEW_KEY: new_key = optarg; break;
		default:
			return cli_usage_error(&cmd_offsite_restore, "unknown option '%s'", argv[optind - 1]);
		}
	}
	struct yb_json *spec = yb_json_object();
	int status;
	if (new_key) {
		if (key || to || optind != argc) {
			yb_json_free(spec);
			return cli_usage_error(&cmd_offsite_restore, "--new-key FILE takes nothing else");
		}
		char *abs = absolute(new_key);
		yb_json_set(spec, "secret", yb_json_str(abs));
		free(abs);
		status = run_step("offsite-keygen", spec);
		yb_json_free(spec);
		return status;
	}
	if (optind + 1 != argc || !key || !to) {
		yb_json_free(spec);
		return cli_usage_error(&cmd_offsite_restore, "give FILE, --key SECRET_KEY_FILE and "
				       "--to DIR");
	}
	char *file = absolute(argv[optind]), *k = absolute(key), *dir = absolute(to);
	yb_json_set(spec, "file", yb_json_str(file));
	yb_json_set(spec, "key", yb_json_str(k));
	yb_json_set(spec, "to", yb_json_str(dir));
	yb_json_set(spec, "progress", yb_json_bool(isatty(2)));
	status = run_step("offsite-restore", spec);
	free(file);
	free(k);
	free(dir);
	yb_json_free(spec);
	return status;
}

const struct yb_cmd cmd_offsite_restore = {
	.name = "offsite-restore",
	.summary = "decrypt and restore one off-site copy (or make a recipient key pair)",
	.help =
		"usage: yoban offsite-restore FILE --key SECRET_KEY_FILE --to DIR\n"
		"       yoban offsite-restore --new-key SECRET_KEY_FILE\n"
		"\n"
		"Decrypts the off-site copy FILE with the recipient's secret key and restores the\n"
		"generation it holds into DIR (new, or empty), here. The whole copy is authenticated\n"
		"first: a copy altered, truncated or with records reordered is refused before a\n"
		"single file is written (exit 1). Then it is restored with the safe extraction of\n"
		"`yoban restore`, every entry checked against the manifest it carries.\n"
		"\n"
		"--new-key makes a key pair: SECRET_KEY_FILE (0600; keep it away from the file server\n"
		"and the scheduler, e.g. offline at the vault) and SECRET_KEY_FILE.pub, the public\n"
		"key an offsite step's key_file names. Neither file is ever overwritten.\n",
	.run = offsite_restore_run,
};
