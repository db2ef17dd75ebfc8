/*
 * bench_runner.c: how fast trivial jobs (`true`) go through a runner over SSH, beside what an
 * operator would otherwise use, all in the same run on the same sshd:
 *   yoban/ssh   our rclient over one libssh2 session, jobs multiplexed (1 and W in flight)
 *   yoban/local the same protocol to a local runner over a socketpair (no SSH at all)
 *   ssh         `ssh host true`, a new connection per job (fewer jobs: it is slow)
 *   ssh-mux     OpenSSH reusing one ControlMaster connection (1 and W in flight)
 *   fork/exec   fork + exec of `true` and waitpid here: the floor
 * Each line: jobs, seconds, jobs per second, per-job latency p50 and p99 (start to exit).
 * A job counts as done at its EXIT; FORGET follows at once, as the daemon does after storing.
 *
 * usage: bench_runner --port P --key FILE --fingerprint SHA256:.. --known-hosts FILE [--user U]
 *                     [--jobs 2000] [--ssh-jobs 200] [--window 32] [--runner PATH]
 *        bench_runner --only local --runner PATH --state-dir DIR [--jobs N]  (no SSH at all)
 * (tests/bench/run_runner.sh starts the sshd harness and passes all of these.)
 */
#include "json.h"
#include "rclient.h"
#include "transport.h"
#include "wire.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* fork + execvp (posix_spawn's <spawn.h> would pick up scheduler/sched.h for <sched.h>). */
static int spawn(pid_t *pid, char *const argv[])
{
	pid_t p = fork();
	if (p < 0)
		return -1;
	if (p == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	*pid = p;
	return 0;
}

struct bench {
	int n, window, started, done, inflight;
	int64_t *t_start_ns;
	double *lat_ms;
	struct rclient *rc;
	const char *prefix;
	bool failed;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *name, int window, int n, double secs, double *lat)
{
	qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
	double p50 = lat[n / 2], p99 = lat[(size_t)((n - 1) * 0.99)];
	printf("%-12s %3d in flight %6d jobs %8.2f s %9.1f jobs/s   p50 %7.2f ms   p99 %7.2f ms\n",
	       name, window, n, secs, n / secs, p50, p99);
	fflush(stdout);
}

static int job_index(const struct bench *b, const char *id)
{
	size_t pl = strlen(b->prefix);
	return strncmp(id, b->prefix, pl) ? -1 : atoi(id + pl);
}

static void cb_exit(void *ctx, const char *job, const struct rclient_exit *ex)
{
	struct bench *b = ctx;
	int i = job_index(b, job);
	if (i < 0 || i >= b->n)
		return;
	b->lat_ms[i] = (double)(yb_mono_ns() - b->t_start_ns[i]) / 1e6;
	if (!ex->has_status || ex->status != 0) {
		fprintf(stderr, "bench: job %s did not exit 0\n", job);
		b->failed = true;
	}
	b->done++;
	b->inflight--;
	struct yb_err err = { 0 };
	if (rclient_forget(b->rc, job, &err) < 0) {
		fprintf(stderr, "bench: forget: %s\n", err.msg);
		b->failed = true;
	}
}

static void cb_job_error(void *ctx, const char *job, const char *code, const char *message)
{
	fprintf(stderr, "bench: job %s refused: %s: %s\n", job, code, message);
	((struct bench *)ctx)->failed = true;
}

static int bench_rclient(const char *name, const struct transport_target *target, int n, int window)
{
	struct bench b = { .n = n, .window = window };
	struct rclient_callbacks cb = { .exit = cb_exit, .job_error = cb_job_error };
	struct transport *t = NULL;
	struct yb_err err = { 0 };
	char prefix[64], id[96];
	int status = 1;

	snprintf(prefix, sizeof(prefix), "bench-%d-%d-", (int)getpid(), window);
	b.prefix = prefix;
	b.t_start_ns = calloc((size_t)n, sizeof(*b.t_start_ns));
	b.lat_ms = calloc((size_t)n, sizeof(*b.lat_ms));
	if (transport_new(target, &t, &err) < 0) {
		fprintf(stderr, "bench: %s\n", err.msg);
		goto out;
	}
	b.rc = rclient_new(t, &cb, &b, NULL);
	struct yb_json *spec = yb_json_object(), *argv = yb_json_array();
	yb_json_push(argv, yb_json_str("true"));
	yb_json_set(spec, "argv", argv);
	/* connect first, so the figures are the jobs' and not the handshake's */
	while (rclient_state(b.rc) != RC_READY)
		if (rclient_wait(b.rc, 1000, &err) < 0) {
			fprintf(stderr, "bench: %s\n", err.msg);
			yb_json_free(spec);
			goto out;
		}
	int64_t t0 = yb_mono_ns();
	while (b.done < n && !b.failed) {
		while (b.inflight < window && b.started < n) {
			snprintf(id, sizeof(id), "%s%d", prefix, b.started);
			b.t_start_ns[b.started] = yb_mono_ns();
			if (rclient_start(b.rc, id, spec, &err) < 0) {
				fprintf(stderr, "bench: %s\n", err.msg);
				b.failed = true;
				break;
			}
			b.started++;
			b.inflight++;
		}
		if (rclient_wait(b.rc, 1000, &err) < 0) {
			fprintf(stderr, "bench: %s\n", err.msg);
			b.failed = true;
		}
	}
	double secs = (double)(yb_mono_ns() - t0) / 1e9;
	/* let the FORGETs finish, outside the timing */
	while (!b.failed && rclient_njobs(b.rc) > 0)
		if (rclient_wait(b.rc, 1000, &err) < 0)
			break;
	yb_json_free(spec);
	if (!b.failed) {
		report(name, window, n, secs, b.lat_ms);
		status = 0;
	}
out:
	if (b.rc)
		rclient_free(b.rc);
	else
		transport_free(t);
	free(b.t_start_ns);
	free(b.lat_ms);
	return status;
}

/* Runs argv n times with up to `window` at once, timing each from spawn to reaped. */
static int bench_spawn(const char *name, char *const argv[], int n, int window)
{
	pid_t *pids = calloc((size_t)window, sizeof(*pids));
	int64_t *t0s = calloc((size_t)window, sizeof(*t0s));
	double *lat = calloc((size_t)n, sizeof(*lat));
	int started = 0, done = 0, running = 0, status = 0;
	int64_t t0 = yb_mono_ns();
	while (done < n) {
		while (running < window && started < n) {
			int slot = 0;
			while (pids[slot])
				slot++;
			t0s[slot] = yb_mono_ns();
			if (spawn(&pids[slot], argv) != 0) {
				fprintf(stderr, "bench: cannot run %s\n", argv[0]);
				status = 1;
				goto out;
			}
			started++;
			running++;
		}
		int ws;
		pid_t p = waitpid(-1, &ws, 0);
		if (p < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int s = 0; s < window; s++) {
			if (pids[s] == p) {
				lat[done] = (double)(yb_mono_ns() - t0s[s]) / 1e6;
				pids[s] = 0;
				running--;
				done++;
				if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
					fprintf(stderr, "bench: %s failed (status %d)\n", name, ws);
					status = 1;
				}
			}
		}
	}
	if (status == 0)
		report(name, window, n, (double)(yb_mono_ns() - t0) / 1e9, lat);
out:
	free(pids);
	free(t0s);
	free(lat);
	return status;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' }, { "key", required_argument, NULL, 'k' },
		{ "fingerprint", required_argument, NULL, 'f' }, { "known-hosts", required_argument, NULL, 'K' },
		{ "user", required_argument, NULL, 'u' }, { "jobs", required_argument, NULL, 'n' },
		{ "ssh-jobs", required_argument, NULL, 's' }, { "window", required_argument, NULL, 'w' },
		{ "runner", required_argument, NULL, 'r' }, { "state-dir", required_argument, NULL, 'd' },
		{ "only", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *port = NULL, *key = NULL, *fp = NULL, *known = NULL, *user = NULL, *runner = NULL;
	const char *state = NULL, *only = NULL;
	int n = 2000, ssh_n = 200, window = 32, c, status = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'p': port = optarg; break;
		case 'k': key = optarg; break;
		case 'f': fp = optarg; break;
		case 'K': known = optarg; break;
		case 'u': user = optarg; break;
		case 'n': n = atoi(optarg); break;
		case 's': ssh_n = atoi(optarg); break;
		case 'w': window = atoi(optarg); break;
		case 'r': runner = optarg; break;
		case 'd': state = optarg; break;
		case 'o': only = optarg; break;
		default: return 2;
		}
	}
	if (only && !strcmp(only, "local")) { /* the runner alone, for profiling it */
		struct transport_target lt = { .name = "local", .kind = TRANSPORT_LOCAL,
					       .runner_path = runner, .state_dir = state };
		printf("# %d trivial jobs (`true`), local runner only\n", n);
		return bench_rclient("yoban/local", &lt, n, 1) | bench_rclient("yoban/local", &lt, n, window);
	}
	if (!port || !key || !fp || !known || n < 2 || ssh_n < 2 || window < 1) {
		fprintf(stderr, "usage: bench_runner --port P --key FILE --fingerprint FP --known-hosts FILE "
				"[--user U] [--jobs N] [--ssh-jobs N] [--window W] [--runner PATH] [--state-dir D]\n");
		return 2;
	}
	struct transport_target ssh = { .name = "bench", .kind = TRANSPORT_SSH, .address = "127.0.0.1",
					.port = atoi(port), .user = user, .host_key = fp, .key_path = key };
	struct transport_target local = { .name = "local", .kind = TRANSPORT_LOCAL,
					  .runner_path = runner, .state_dir = state };

	char portopt[32], khopt[512], sock[256], ctlopt[300];
	snprintf(portopt, sizeof(portopt), "%s", port);
	snprintf(khopt, sizeof(khopt), "UserKnownHostsFile=%s", known);
	snprintf(sock, sizeof(sock), "/tmp/yb-bench-mux.%d", (int)getpid());
	snprintf(ctlopt, sizeof(ctlopt), "ControlPath=%s", sock);
	const char *who = user ? user : getenv("USER") ? getenv("USER") : "root";
	char login[128];
	snprintf(login, sizeof(login), "%s@127.0.0.1", who);

	printf("# %d trivial jobs (`true`); window = jobs in flight; latency = start to exit\n", n);
	status |= bench_rclient("yoban/ssh", &ssh, n, 1);
	status |= bench_rclient("yoban/ssh", &ssh, n, window);
	status |= bench_rclient("yoban/local", &local, n, 1);
	status |= bench_rclient("yoban/local", &local, n, window);

	char *ssh_argv[] = { "ssh", "-p", portopt, "-i", (char *)key, "-o", khopt, "-o",
			     "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
			     "-o", "ControlMaster=no", "-o", "ControlPath=none", login, "true", NULL };
	status |= bench_spawn("ssh", ssh_argv, ssh_n, 1);

	char *master[] = { "ssh", "-p", portopt, "-i", (char *)key, "-o", khopt, "-o",
			   "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
			   "-o", "ControlMaster=yes", "-o", ctlopt, "-o", "ControlPersist=yes", "-f", "-N",
			   login, NULL };
	pid_t mp;
	int ws;
	if (spawn(&mp, master) != 0 || waitpid(mp, &ws, 0) < 0 ||
	    !WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
		fprintf(stderr, "bench: cannot start the ControlMaster\n");
		status = 1;
	} else {
		char *mux[] = { "ssh", "-p", portopt, "-o", khopt, "-o", "BatchMode=yes", "-o",
				"LogLevel=ERROR", "-o", "ControlMaster=no", "-o", ctlopt, login, "true", NULL };
		status |= bench_spawn("ssh-mux", mux, n, 1);
		status |= bench_spawn("ssh-mux", mux, n, window);
		char *stop[] = { "ssh", "-o", ctlopt, "-O", "exit", login, NULL };
		if (spawn(&mp, stop) == 0)
			waitpid(mp, &ws, 0);
	}
	char *true_argv[] = { "true", NULL };
	status |= bench_spawn("fork/exec", true_argv, n, 1);
	status |= bench_spawn("fork/exec", true_argv, n, window);
	return status ? 1 : 0;
}
