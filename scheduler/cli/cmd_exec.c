/*
 * cmd_exec.c: `yoban exec`: one command on one inventory host, through the same path the daemon
 * uses (a transport, a runner, a journaled job), with its output streamed live and its exit
 * status as ours. The loop is the rclient's own poll loop with two extra duties: Ctrl-C becomes
 * CANCEL (a second one leaves the job running and says how to follow it), and the job is
 * FORGOTten on the runner once its exit has been shown, unless --keep or --detach.
 *
 * Arguments and values never touch a shell: the command goes as argv, --env and --secret-env as
 * START's environment, secret values as START's "secrets" (masked by the runner). A secret value
 * is never taken from our own command line (ps shows it to every local user): it comes from our
 * environment, a file or standard input.
 */
#include "cli.h"
#include "json.h"
#include "names.h"
#include "rclient.h"
#include "runbook.h"
#include "transport.h"
#include "wire.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern const struct yb_cmd cmd_exec;

#define EXIT_TIMEOUT 124
#define EXIT_CONNECTION 255

struct exec_state {
	const char *job;
	const char *host;
	bool acked;
	bool exited;
	bool gone;         /* forgotten, or refused by the runner */
	int status;        /* our exit status */
	bool detach;
	bool keep;
};

static volatile sig_atomic_t interrupts;

static void on_signal(int sig)
{
	(void)sig;
	interrupts++;
}

static void write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return; /* a closed stdout ends nothing here: the job's fate is not ours to change */
		}
		p += n;
		len -= (size_t)n;
	}
}

static void cb_output(void *ctx, const char *job, int stream, uint64_t offset, const void *data,
		      size_t len)
{
	if (((struct exec_state *)ctx)->detach)
		return; /* --detach prints only the job id; --attach shows the output from byte 0 */
	write_all(stream == WIRE_STDERR ? 2 : 1, data, len);
}

static void cb_exit(void *ctx, const char *job, const struct rclient_exit *ex)
{
	struct exec_state *st = ctx;
	st->exited = true;
	if (ex->timed_out) {
		fprintf(stderr, "yoban: job '%s' timed out on '%s' and was killed%s\n", job, st->host,
			ex->has_signal ? "" : " (it exited while being stopped)");
		st->status = EXIT_TIMEOUT;
	} else if (ex->has_signal) {
		if (ex->cancelled)
			fprintf(stderr, "yoban: job '%s' cancelled (signal %d)\n", job, ex->signal);
		st->status = 128 + ex->signal;
	} else if (ex->has_status) {
		if (ex->cancelled)
			fprintf(stderr, "yoban: job '%s' cancelled (it exited %d)\n", job, ex->status);
		st->status = ex->status;
	} else {
		st->status = YB_EXIT_FAIL;
	}
	if (ex->dropped_bytes)
		fprintf(stderr, "yoban: job '%s': %llu output bytes beyond the cap were dropped\n", job,
			(unsigned long long)ex->dropped_bytes);
}

static void cb_ack(void *ctx, const char *job, const char *op, int64_t pid)
{
	struct exec_state *st = ctx;
	if (!strcmp(op, "start"))
		st->acked = true;
	else if (!strcmp(op, "forget"))
		st->gone = true;
}

static void cb_job_error(void *ctx, const char *job, const char *code, const char *message)
{
	struct exec_state *st = ctx;
	if (st->exited) {
		/* the job ran and its status stands; only the clean-up failed */
		fprintf(stderr, "yoban: warning: host '%s' did not forget job '%s': %s: %s\n", st->host,
			job, code, message);
		st->gone = true;
		return;
	}
	if (!strcmp(code, "unknown-job"))
		cli_error("no job '%s' on host '%s' (it finished and was forgotten, or never started "
			  "there)", job, st->host);
	else
		cli_error("host '%s' refused job '%s': %s: %s", st->host, job, code, message);
	st->gone = true;
	st->status = YB_EXIT_FAIL;
}

static void cb_disconnected(void *ctx, const struct yb_err *why, int attempt, int delay_ms)
{
	if (delay_ms >= 0)
		fprintf(stderr, "yoban: %s; reconnecting in %.1f s (attempt %d)\n", why->msg,
			delay_ms / 1000.0, attempt);
}

static void cb_connected(void *ctx, bool reconnect)
{
	if (reconnect)
		fprintf(stderr, "yoban: reconnected to '%s', re-attaching\n",
			((struct exec_state *)ctx)->host);
}

/* ---- the inventory ------------------------------------------------------------------------- */

static void unknown_host(const struct rb_set *set, const char *name)
{
	const char **names = xcalloc(set->inventory.n_hosts + 1, sizeof(*names));
	for (size_t i = 0; i < set->inventory.n_hosts; i++)
		names[i] = set->inventory.hosts[i].name;
	const char *best = yb_closest(name, names, set->inventory.n_hosts);
	const char *inv = set->inventory.path ? set->inventory.path : "(no inventory file)";
	if (best)
		cli_error("unknown host '%s' in the inventory '%s' (did you mean '%s'?)", name, inv, best);
	else
		cli_error("unknown host '%s' in the inventory '%s' (add it under 'hosts:')", name, inv);
	free(names);
}

/* Fills target from the inventory's host and the site config; strings point into set or paths. */
static void fill_target(const struct rb_set *set, const struct rb_host *h, struct transport_target *t,
			char **local_state)
{
	memset(t, 0, sizeof(*t));
	t->name = h->name;
	t->state_dir = h->state_dir;
	if (h->transport == RB_TRANSPORT_LOCAL) {
		t->kind = TRANSPORT_LOCAL;
		if (h->runner && strcmp(h->runner, RB_DEFAULT_RUNNER))
			t->runner_path = h->runner;
		if (!t->state_dir && set->site.state_dir) {
			*local_state = xasprintf("%s/runner", set->site.state_dir);
			t->state_dir = *local_state;
		}
		return;
	}
	t->kind = TRANSPORT_SSH;
	t->address = h->address;
	t->port = h->port;
	t->user = h->user;
	t->host_key = h->host_key;
	t->known_hosts = h->known_hosts ? h->known_hosts : set->site.ssh_known_hosts;
	t->key_path = set->site.ssh_key;
	t->runner_path = h->runner;
}

/* ---- the command ------------------------------------------------------------------------- */

static int add_env(struct yb_json *env, const char *kv)
{
	const char *eq = strchr(kv, '=');
	if (!eq || !yb_env_name_valid_n(kv, (size_t)(eq - kv)))
		return cli_usage_error(&cmd_exec, "--env '%s': expected NAME=VALUE with NAME of letters, "
				       "digits and '_'", kv);
	char *name = xstrndup(kv, (size_t)(eq - kv));
	yb_json_set(env, name, yb_json_bytes(eq + 1, strlen(eq + 1)));
	free(name);
	return 0;
}

/* --secret-env: the value never comes from the command line (every local user sees that in
 * ps): NAME takes $NAME from our environment, NAME=@FILE a file's content, NAME=- standard
 * input (once). A final newline is not part of the value. */
static int add_secret(struct yb_json *env, struct yb_json *secrets, const char *arg,
		      bool *stdin_taken)
{
	const char *eq = strchr(arg, '=');
	size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
	char *name = NULL, *value = NULL;
	size_t len = 0;
	struct yb_err err = { 0 };
	int rc = 0;
	if (!yb_env_name_valid_n(arg, name_len)) {
		rc = cli_usage_error(&cmd_exec, "--secret-env '%.*s': NAME is letters, digits and '_'",
				     (int)name_len, arg);
		goto out;
	}
	name = xstrndup(arg, name_len);
	if (!eq) {
		const char *v = getenv(name);
		if (!v) {
			rc = cli_usage_error(&cmd_exec, "--secret-env %s takes the value of $%s from "
					     "yoban's environment, and it is not set", name, name);
			goto out;
		}
		value = xstrdup(v);
		len = strlen(value);
	} else if (eq[1] == '@') {
		if (yb_read_file(eq + 2, RB_MAX_SECRET_BYTES, &value, &len, &err) < 0) {
			rc = cli_usage_error(&cmd_exec, "--secret-env %s=@FILE: %s", name, err.msg);
			goto out;
		}
	} else if (!strcmp(eq + 1, "-")) {
		if (*stdin_taken) {
			rc = cli_usage_error(&cmd_exec, "--secret-env %s=-: standard input holds one "
					     "value only (take the others from a file or the "
					     "environment)", name);
			goto out;
		}
		*stdin_taken = true;
		if (yb_read_file("/dev/stdin", RB_MAX_SECRET_BYTES, &value, &len, &err) < 0) {
			rc = cli_usage_error(&cmd_exec, "--secret-env %s=-: %s", name, err.msg);
			goto out;
		}
	} else {
		rc = cli_usage_error(&cmd_exec, "--secret-env %s=VALUE would show the value to every "
				     "local user (ps): write --secret-env %s (the value of $%s in "
				     "yoban's environment), %s=@FILE or %s=- (standard input)", name,
				     name, name, name, name);
		goto out;
	}
	while (len && (value[len - 1] == '\n' || value[len - 1] == '\r'))
		value[--len] = 0;
	yb_json_set(env, name, yb_json_bytes(value, strlen(value)));
	if (len)
		yb_json_push(secrets, yb_json_bytes(value, strlen(value)));
out:
	if (value) {
		memset(value, 0, len);
		free(value);
	}
	free(name);
	return rc;
}

static void make_job_id(char *out, size_t size)
{
	unsigned char rnd[4];
	char hex[9];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	yb_random_bytes(rnd, sizeof(rnd));
	yb_hex(rnd, sizeof(rnd), hex);
	snprintf(out, size, "exec-%04d%02d%02dT%02d%02d%02d-%s", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, hex);
}

enum { OPT_CONFIG = 1, OPT_HOST, OPT_TIMEOUT, OPT_ENV, OPT_SECRET_ENV, OPT_CWD, OPT_DETACH,
       OPT_ATTACH, OPT_KEEP, OPT_JOB };

static int exec_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "host", required_argument, NULL, OPT_HOST },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "env", required_argument, NULL, OPT_ENV },
		{ "secret-env", required_argument, NULL, OPT_SECRET_ENV },
		{ "cwd", required_argument, NULL, OPT_CWD },
		{ "detach", no_argument, NULL, OPT_DETACH },
		{ "attach", required_argument, NULL, OPT_ATTACH },
		{ "keep", no_argument, NULL, OPT_KEEP },
		{ "job-id", required_argument, NULL, OPT_JOB },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *host = NULL, *cwd = NULL, *attach = NULL, *job_opt = NULL;
	int64_t timeout_ms = 0;
	bool detach = false, keep = false, stdin_taken = false;
	struct yb_json *env = yb_json_object(), *secrets = yb_json_array(), *spec = NULL;
	struct rb_set *set = NULL;
	struct rclient *rc = NULL;
	char *config_path = NULL, *local_state = NULL;
	struct yb_err err = { 0 };
	int status = YB_EXIT_USAGE, c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_CONFIG: config = optarg; break;
		case OPT_HOST: host = optarg; break;
		case OPT_CWD: cwd = optarg; break;
		case OPT_DETACH: detach = true; break;
		case OPT_KEEP: keep = true; break;
		case OPT_ATTACH: attach = optarg; break;
		case OPT_JOB: job_opt = optarg; break;
		case OPT_TIMEOUT:
			if (yb_parse_duration_ms(optarg, &timeout_ms, &err) < 0 || timeout_ms <= 0) {
				cli_usage_error(&cmd_exec, "--timeout '%s': %s", optarg,
						err.msg[0] ? err.msg : "must be positive");
				goto out;
			}
			break;
		case OPT_ENV:
			if (add_env(env, optarg))
				goto out;
			break;
		case OPT_SECRET_ENV:
			if (add_secret(env, secrets, optarg, &stdin_taken))
				goto out;
			break;
		default:
			cli_usage_error(&cmd_exec, "unknown option '%s'", argv[optind - 1]);
			goto out;
		}
	}
	if (!host) {
		cli_usage_error(&cmd_exec, "which host? give --host NAME");
		goto out;
	}
	if (attach && (optind < argc || detach || timeout_ms || cwd || yb_json_len(secrets))) {
		cli_usage_error(&cmd_exec, "--attach takes no command and no job options");
		goto out;
	}
	if (!attach && optind >= argc) {
		cli_usage_error(&cmd_exec, "no command given (put it after '--')");
		goto out;
	}
	if (attach && !wire_job_id_valid(attach, strlen(attach))) {
		cli_usage_error(&cmd_exec, "--attach '%s': not a job id", attach);
		goto out;
	}
	if (job_opt && !wire_job_id_valid(job_opt, strlen(job_opt))) {
		cli_usage_error(&cmd_exec, "--job-id '%s': 1-64 of A-Z a-z 0-9 . _ -", job_opt);
		goto out;
	}

	/* The inventory and the site config. */
	status = YB_EXIT_FAIL;
	if (rb_config_find(config, NULL, &config_path, &err) < 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	struct rb_diags diags;
	rb_diags_init(&diags);
	struct rb_load_opts lo = { .config_path = config_path, .no_runbooks = true };
	if (rb_set_load(&lo, &set, &diags) < 0) {
		rb_diags_print(&diags, stderr);
		rb_diags_release(&diags);
		goto out;
	}
	rb_diags_release(&diags);
	const struct rb_host *h = rb_set_host(set, host);
	struct rb_host builtin_local = { .name = (char *)"local", .transport = RB_TRANSPORT_LOCAL };
	if (!h && !strcmp(host, "local"))
		h = &builtin_local; /* `--host local` works without an inventory entry */
	if (!h) {
		unknown_host(set, host);
		goto out;
	}
	struct transport_target target;
	fill_target(set, h, &target, &local_state);
	struct transport *t = NULL;
	if (transport_new(&target, &t, &err) < 0) {
		cli_error("%s", err.msg);
		goto out;
	}

	struct exec_state st = { .host = h->name, .detach = detach, .keep = keep };
	char job[WIRE_MAX_JOB_ID + 1];
	if (attach)
		snprintf(job, sizeof(job), "%s", attach);
	else if (job_opt)
		snprintf(job, sizeof(job), "%s", job_opt);
	else
		make_job_id(job, sizeof(job));
	st.job = job;
	struct rclient_callbacks cb = {
		.output = cb_output, .exit = cb_exit, .ack = cb_ack, .job_error = cb_job_error,
		.connected = cb_connected, .disconnected = cb_disconnected,
	};
	struct rclient_options ro = { .max_attempts = 8 };
	const char *attempts = getenv("YOBAN_RECONNECT_ATTEMPTS");
	if (attempts && *attempts)
		ro.max_attempts = atoi(attempts);
	rc = rclient_new(t, &cb, &st, &ro);

	if (attach) {
		if (rclient_attach(rc, job, 0, &err) < 0) {
			cli_error("%s", err.msg);
			goto out;
		}
	} else {
		spec = yb_json_object();
		struct yb_json *av = yb_json_array();
		for (int i = optind; i < argc; i++)
			yb_json_push(av, yb_json_bytes(argv[i], strlen(argv[i])));
		yb_json_set(spec, "argv", av);
		yb_json_set(env, "YOBAN_JOB_ID", yb_json_str(job));
		yb_json_set(env, "YOBAN_HOST", yb_json_str(h->name));
		yb_json_set(spec, "env", yb_json_ref(env));
		if (cwd)
			yb_json_set(spec, "cwd", yb_json_bytes(cwd, strlen(cwd)));
		if (timeout_ms)
			yb_json_set(spec, "timeout_ms", yb_json_int(timeout_ms));
		if (yb_json_len(secrets))
			yb_json_set(spec, "secrets", yb_json_ref(secrets));
		if (rclient_start(rc, job, spec, &err) < 0) {
			cli_error("%s", err.msg);
			goto out;
		}
	}

	struct sigaction sa = { 0 };
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	int seen_interrupts = 0;
	bool forgetting = false;
	for (;;) {
		if (interrupts != seen_interrupts) {
			seen_interrupts = interrupts;
			if (seen_interrupts == 1 && !st.exited) {
				fprintf(stderr, "yoban: cancelling job '%s' (Ctrl-C again to leave it running)\n", job);
				rclient_cancel(rc, job, NULL);
			} else if (seen_interrupts > 1) {
				fprintf(stderr, "yoban: leaving job '%s' on '%s'; follow it with: yoban exec "
					"--host %s --attach %s\n", job, h->name, h->name, job);
				status = 130;
				goto out;
			}
		}
		if (st.gone)
			break;
		if (detach && st.acked) {
			printf("%s\n", job);
			fflush(stdout);
			status = YB_EXIT_OK;
			goto out;
		}
		if (st.exited && !forgetting) {
			if (keep)
				break;
			forgetting = true;
			if (rclient_forget(rc, job, &err) < 0) {
				cli_error("%s", err.msg);
				break;
			}
		}
		if (rclient_wait(rc, 1000, &err) < 0) {
			if (st.exited) {
				fprintf(stderr, "yoban: warning: job '%s' ended but could not be forgotten on "
					"'%s': %s\n", job, h->name, err.msg);
				break;
			}
			cli_error("%s", err.msg);
			if (rclient_connections(rc) > 0 && !attach)
				fprintf(stderr, "yoban: the job may still be running there: follow it with "
					"yoban exec --host %s --attach %s\n", h->name, job);
			status = EXIT_CONNECTION;
			goto out;
		}
	}
	status = st.status;
out:
	rclient_free(rc);
	yb_json_free(env);
	yb_json_free(secrets);
	yb_json_free(spec);
	rb_set_free(set);
	free(config_path);
	free(local_state);
	return status;
}

const struct yb_cmd cmd_exec = {
	.name = "exec",
	.summary = "run one command on an inventory host through its runner, output live",
	.help =
		"usage: yoban exec [--config FILE] --host NAME [--timeout D] [--env K=V]...\n"
		"                  [--secret-env K|K=@FILE|K=-]... [--cwd DIR] [--job-id ID] [--detach]\n"
		"                  [--keep] -- COMMAND [ARG...]\n"
		"       yoban exec [--config FILE] --host NAME --attach JOB [--keep]\n"
		"\n"
		"Runs COMMAND (as argv, no shell; write `sh -c '...'` for one) on the host through its\n"
		"runner, over the host's transport from the inventory (local or ssh), streaming its\n"
		"stdout to stdout and its stderr to stderr, and exits with its status: 128+N if a\n"
		"signal N killed it, 124 if it ran past --timeout (its whole process tree is killed),\n"
		"255 if the host could not be reached or the connection was lost for good.\n"
		"\n"
		"  --timeout D        kill the job after D (90s, 5m, 1h30m)\n"
		"  --env K=V          set an environment variable for the job (repeatable)\n"
		"  --secret-env K     the same with the value of $K in yoban's environment, and the\n"
		"                     value masked as ******** in the output (repeatable)\n"
		"  --secret-env K=@FILE  ... with the content of FILE (a final newline dropped)\n"
		"  --secret-env K=-   ... with standard input (one of them only)\n"
		"                     A secret is never given on the command line (K=VALUE is\n"
		"                     refused): every local user can read that with ps.\n"
		"  --cwd DIR          working folder on the host\n"
		"  --job-id ID        the job's id (default exec-<UTC time>-<random>)\n"
		"  --detach           print the job id once the runner has it, and return\n"
		"  --attach JOB       follow a job again from its first byte, then its exit\n"
		"  --keep             do not forget the job on the runner after its exit\n"
		"\n"
		"Ctrl-C cancels the job (SIGTERM to its process group, SIGKILL after a grace);\n"
		"a second Ctrl-C leaves it running. A dropped connection is re-established with\n"
		"backoff and the job re-attached: no output is lost or repeated.\n",
	.run = exec_run,
};
