/*
 * supervisor.c: one job's supervisor, from the START payload to exit.json (see supervisor.h).
 *
 * The one idea: the supervisor owns the job and depends on nobody. It is forked from serve into a
 * session of its own (serve only reaps it), keeps the control FIFO open (its reading end is how others know it lives), and is the
 * only writer of the spool and of exit.json. The step's process group is signalled only while the
 * step's main process is unreaped (a zombie still holds its pid and group id), so the group id can
 * never name a stranger's group; orphaned grandchildren come back to the supervisor (child
 * subreaper) and are reaped, so no zombie outlives the job.
 */
#define _GNU_SOURCE
#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "digest.h"
#include "journal.h"
#include "mask.h"
#include "steps.h"

#define READ_PIECE (64u << 10)
#define PENDING_MAX (64u << 10)
#define LINGER_MS 2000 /* after the step ends, how long leftover writers may hold the pipes */

/* ---- the spec ---- */

static bool env_name_valid(const char *k)
{
	if (!*k || (*k >= '0' && *k <= '9'))
		return false;
	for (const char *p = k; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      *p == '_'))
			return false;
	return true;
}

static char **strv_new(size_t n)
{
	return xcalloc(n + 1, sizeof(char *));
}

static void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

static int get_nonneg(const struct yb_json *o, const char *key, int64_t dflt, int64_t max,
		      int64_t *out, struct yb_err *err)
{
	struct yb_json *v = yb_json_get(o, key);
	if (!v) {
		*out = dflt;
		return 0;
	}
	if (!yb_json_is_int(v) || yb_json_int_value(v) < 0 || yb_json_int_value(v) > max)
		return yb_err_set(err, YB_EINVAL, "'%s' must be an integer from 0 to %lld", key,
				  (long long)max);
	*out = yb_json_int_value(v);
	return 0;
}

int job_spec_parse(const struct yb_json *start, struct job_spec *out, struct yb_err *err)
{
	struct job_spec s = { 0 };
	int rc = 0;
	const char *job = yb_json_get_str(start, "job");
	struct yb_json *argv = yb_json_get(start, "argv"), *shell = yb_json_get(start, "shell");
	struct yb_json *env = yb_json_get(start, "env"), *cwd = yb_json_get(start, "cwd");
	struct yb_json *secrets = yb_json_get(start, "secrets");
	int64_t cap = 0;

	if (!job || !wire_job_id_valid(job, strlen(job))) {
		rc = yb_err_set(err, YB_EINVAL, "'job' must be 1 to %d of A-Z a-z 0-9 . _ -",
				WIRE_MAX_JOB_ID);
		goto out;
	}
	snprintf(s.job, sizeof(s.job), "%s", job);
	if (!!argv == !!shell) {
		rc = yb_err_set(err, YB_EINVAL, "give exactly one of 'argv' and 'shell'");
		goto out;
	}
	if (argv) {
		size_t n = yb_json_len(argv);
		if (!yb_json_is_array(argv) || n == 0 || n > SUPERVISOR_MAX_ARGV) {
			rc = yb_err_set(err, YB_EINVAL, "'argv' must be an array of 1 to %d strings",
					SUPERVISOR_MAX_ARGV);
			goto out;
		}
		s.argv = strv_new(n);
		for (size_t i = 0; i < n; i++) {
			struct yb_json *a = yb_json_at(argv, i);
			if (!yb_json_is_string(a)) {
				rc = yb_err_set(err, YB_EINVAL, "'argv[%zu]' is not a string", i);
				goto out;
			}
			s.argv[i] = xstrdup(yb_json_string_value(a));
		}
		if (!s.argv[0][0]) {
			rc = yb_err_set(err, YB_EINVAL, "'argv[0]' is empty");
			goto out;
		}
		steps_resolve_argv(s.argv); /* ["yoban-runner", "step", ...]: this very binary */
	} else {
		if (!yb_json_is_string(shell)) {
			rc = yb_err_set(err, YB_EINVAL, "'shell' must be a string");
			goto out;
		}
		s.shell = xstrdup(yb_json_string_value(shell));
	}
	/* the environment: exactly what is given, plus PATH, HOME and LANG when absent */
	size_t n_env = env ? yb_json_len(env) : 0;
	if (env && (!yb_json_is_object(env))) {
		rc = yb_err_set(err, YB_EINVAL, "'env' must be an object of strings");
		goto out;
	}
	void *iter = NULL;
	const char *key;
	struct yb_json *value;
	size_t count = 0;
	bool has_path = false, has_home = false, has_lang = false;
	s.env = strv_new(SUPERVISOR_MAX_ENV + 3);
	while (env && yb_json_next_member(env, &iter, &key, &value)) {
		if (count >= SUPERVISOR_MAX_ENV) {
			rc = yb_err_set(err, YB_EINVAL, "'env' has more than %d variables", SUPERVISOR_MAX_ENV);
			goto out;
		}
		if (!env_name_valid(key)) {
			rc = yb_err_set(err, YB_EINVAL, "'env' name '%.64s' is not a valid variable name", key);
			goto out;
		}
		if (!yb_json_is_string(value)) {
			rc = yb_err_set(err, YB_EINVAL, "'env.%.64s' is not a string", key);
			goto out;
		}
		has_path |= !strcmp(key, "PATH");
		has_home |= !strcmp(key, "HOME");
		has_lang |= !strcmp(key, "LANG");
		s.env[count++] = xasprintf("%s=%s", key, yb_json_string_value(value));
	}
	(void)n_env;
	if (!has_path)
		s.env[count++] = xasprintf("PATH=%s", SUPERVISOR_BASE_PATH);
	if (!has_home) {
		/* looked up once: serve runs as one user, and /etc/passwd per START is a profile hot spot */
		static char *home;
		if (!home) {
			struct passwd *pw = getpwuid(getuid());
			home = xstrdup(pw && pw->pw_dir ? pw->pw_dir : "/");
		}
		s.env[count++] = xasprintf("HOME=%s", home);
	}
	if (!has_lang)
		s.env[count++] = xstrdup("LANG=C.UTF-8");
	if (cwd) {
		const char *c = yb_json_string_value(cwd);
		if (!yb_json_is_string(cwd) || c[0] != '/') {
			rc = yb_err_set(err, YB_EINVAL, "'cwd' must be an absolute path");
			goto out;
		}
		s.cwd = xstrdup(c);
	}
	/* durations up to ten years, so that deadline arithmetic cannot overflow */
	if ((rc = get_nonneg(start, "timeout_ms", 0, SUPERVISOR_MAX_DURATION_MS, &s.timeout_ms, err)) < 0 ||
	    (rc = get_nonneg(start, "grace_ms", SUPERVISOR_DEFAULT_GRACE_MS, SUPERVISOR_MAX_DURATION_MS,
			     &s.grace_ms, err)) < 0 ||
	    (rc = get_nonneg(start, "output_cap", (int64_t)SUPERVISOR_DEFAULT_OUTPUT_CAP, INT64_MAX, &cap,
			     err)) < 0)
		goto out;
	s.output_cap = (uint64_t)cap;
	size_t n_secrets = secrets ? yb_json_len(secrets) : 0;
	if (secrets && (!yb_json_is_array(secrets) || n_secrets > MASK_MAX_SECRETS)) {
		rc = yb_err_set(err, YB_EINVAL, "'secrets' must be an array of at most %d strings",
				MASK_MAX_SECRETS);
		goto out;
	}
	s.secrets = strv_new(n_secrets);
	for (size_t i = 0; i < n_secrets; i++) {
		struct yb_json *v = yb_json_at(secrets, i);
		if (!yb_json_is_string(v) || strlen(yb_json_string_value(v)) > MASK_MAX_SECRET_LEN) {
			rc = yb_err_set(err, YB_EINVAL, "'secrets[%zu]' must be a string of at most %d bytes",
					i, MASK_MAX_SECRET_LEN);
			goto out;
		}
		s.secrets[s.n_secrets++] = xstrdup(yb_json_string_value(v));
	}
	*out = s;
	memset(&s, 0, sizeof(s));
out:
	job_spec_release(&s);
	return rc;
}

void job_spec_release(struct job_spec *spec)
{
	strv_free(spec->argv);
	free(spec->shell);
	strv_free(spec->env);
	free(spec->cwd);
	strv_free(spec->secrets);
	memset(spec, 0, sizeof(*spec));
}

static void emit_to_buf(void *ctx, const void *data, size_t len)
{
	yb_buf_append(ctx, data, len);
}

static struct yb_json *masked_str(struct mask *m, const char *s)
{
	struct yb_buf b;
	yb_buf_init(&b, 0);
	mask_feed(m, s, strlen(s), emit_to_buf, &b);
	mask_flush(m, emit_to_buf, &b);
	struct yb_json *v = yb_json_strn(b.data ? b.data : "", b.len);
	yb_buf_release(&b);
	return v;
}

struct yb_json *job_spec_redacted(const struct job_spec *spec)
{
	struct mask m;
	mask_init(&m, (const char *const *)spec->secrets, spec->n_secrets);
	struct yb_json *o = yb_json_object();
	yb_json_set(o, "job", yb_json_str(spec->job));
	if (spec->argv) {
		struct yb_json *a = yb_json_array();
		for (char **p = spec->argv; *p; p++)
			yb_json_push(a, masked_str(&m, *p));
		yb_json_set(o, "argv", a);
	} else {
		yb_json_set(o, "shell", masked_str(&m, spec->shell));
	}
	struct yb_json *env = yb_json_object();
	for (char **p = spec->env; *p; p++) {
		char *eq = strchr(*p, '=');
		char *k = xstrndup(*p, (size_t)(eq - *p));
		yb_json_set(env, k, masked_str(&m, eq + 1));
		free(k);
	}
	yb_json_set(o, "env", env);
	yb_json_set(o, "cwd", yb_json_str(spec->cwd ? spec->cwd : "/"));
	yb_json_set(o, "timeout_ms", yb_json_int(spec->timeout_ms));
	yb_json_set(o, "grace_ms", yb_json_int(spec->grace_ms));
	yb_json_set(o, "output_cap", yb_json_int((int64_t)spec->output_cap));
	yb_json_set(o, "secret_count", yb_json_int((int64_t)spec->n_secrets));
	mask_release(&m);
	return o;
}

int supervisor_parse_report(const char *text, size_t len, int64_t *pid, struct yb_err *err)
{
	char line[512];
	snprintf(line, sizeof(line), "%.*s", (int)(len < sizeof(line) ? len : sizeof(line) - 1), text);
	line[strcspn(line, "\n")] = '\0';
	if (!strncmp(line, "pid ", 4)) {
		char *end;
		long long v = strtoll(line + 4, &end, 10);
		if (*end == '\0' && v > 0) {
			*pid = v;
			return 0;
		}
	}
	if (!strncmp(line, "err ", 4))
		return yb_err_set(err, YB_EIO, "%s", line + 4);
	return yb_err_set(err, YB_EIO, "the supervisor died before starting the step");
}

/* ---- the supervisor process ---- */

struct sup {
	const struct job_spec *spec;
	const char *dir;
	struct spool_writer spool;
	struct mask masks[3];
	struct yb_sha256 sha[3]; /* over exactly what reached the spool */
	uint64_t bytes[3];
	uint64_t dropped;
	struct yb_buf pending;
	uint8_t pending_stream;
	char error[256];
};

static volatile sig_atomic_t got_sigterm;
static int sigchld_pipe[2] = { -1, -1 };

static void on_sigchld(int sig)
{
	int saved = errno;
	ssize_t n = write(sigchld_pipe[1], "x", 1);
	(void)n;
	errno = saved;
	(void)sig;
}

static void on_sigterm(int sig)
{
	got_sigterm = 1;
	on_sigchld(sig); /* wake the loop */
}

static void pending_flush(struct sup *s)
{
	if (s->pending.len == 0)
		return;
	struct yb_err err;
	if (!s->error[0] && spool_append(&s->spool, s->pending_stream, s->pending.data, s->pending.len,
					 &err) < 0) {
		snprintf(s->error, sizeof(s->error), "%.200s", err.msg);
		fprintf(stderr, "yoban-runner supervisor: %s\n", err.msg);
	}
	if (s->error[0]) {
		/* the spool failed: what could not be kept is counted as dropped, not lost silently */
		s->dropped += s->pending.len;
	} else {
		yb_sha256_update(&s->sha[s->pending_stream], s->pending.data, s->pending.len);
		s->bytes[s->pending_stream] += s->pending.len;
	}
	yb_buf_reset(&s->pending);
}

/* Masked bytes of one stream, on their way to the spool: capped, digested, coalesced. */
struct emit_ctx {
	struct sup *s;
	uint8_t stream;
};

static void emit_masked(void *ctx, const void *data, size_t len)
{
	struct emit_ctx *e = ctx;
	struct sup *s = e->s;
	uint64_t kept = s->bytes[WIRE_STDOUT] + s->bytes[WIRE_STDERR] + s->pending.len;
	uint64_t room = s->spec->output_cap > kept ? s->spec->output_cap - kept : 0;
	size_t take = len < room ? len : (size_t)room;
	s->dropped += len - take;
	if (take == 0)
		return;
	if (s->pending.len && (s->pending_stream != e->stream || s->pending.len + take > PENDING_MAX))
		pending_flush(s);
	s->pending_stream = e->stream;
	const char *p = data;
	while (take > 0) {
		size_t n = take < PENDING_MAX ? take : PENDING_MAX;
		yb_buf_append(&s->pending, p, n);
		if (s->pending.len >= PENDING_MAX)
			pending_flush(s);
		p += n;
		take -= n;
	}
}

static void close_others(int keep1, int keep2)
{
	int lo = keep1 < keep2 ? keep1 : keep2, hi = keep1 < keep2 ? keep2 : keep1;
	if (lo > 3)
		close_range(3, (unsigned)lo - 1, 0);
	if (hi > lo + 1)
		close_range((unsigned)lo + 1, (unsigned)hi - 1, 0);
	close_range((unsigned)hi + 1, ~0U, 0);
}

static void write_all(int fd, const char *text)
{
	size_t len = strlen(text), done = 0;
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		done += (size_t)n;
	}
}

/* Why the step's process could not exec. Written by the vfork child (it shares our memory) and
 * read once vfork returns, which is after the child has exec'd or exited. */
enum step_failure { STEP_OK, STEP_STREAMS, STEP_CHDIR, STEP_EXEC };
static volatile int step_failed, step_errno;

/* In the step's process, between vfork and exec, sharing the supervisor's memory: only
 * async-signal-safe calls (and execvp), no allocation, and nothing written to memory but
 * step_failed, step_errno and environ (which the supervisor puts back). Every signal is blocked
 * on entry, so none of the supervisor's handlers can run here. */
static _Noreturn void exec_step(const struct job_spec *spec, int out_w, int err_w)
{
	static const int sigs[] = { SIGPIPE, SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 };
	for (size_t i = 0; i < YB_ARRAY_LEN(sigs); i++)
		signal(sigs[i], SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setpgid(0, 0);
	int devnull = open("/dev/null", O_RDONLY);
	if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out_w, 1) < 0 || dup2(err_w, 2) < 0) {
		step_errno = errno;
		step_failed = STEP_STREAMS;
		_exit(127);
	}
	if (chdir(spec->cwd ? spec->cwd : "/") < 0) {
		step_errno = errno;
		step_failed = STEP_CHDIR;
		_exit(127);
	}
	environ = spec->env; /* execvp searches the step's PATH, not ours */
	if (spec->shell) {
		char *const argv[] = { "sh", "-c", spec->shell, NULL };
		execve("/bin/sh", argv, spec->env);
	} else {
		execvp(spec->argv[0], spec->argv);
	}
	step_errno = errno;
	step_failed = STEP_EXEC;
	_exit(127);
}

/* Starts the step with vfork: no copy of the supervisor's page tables, and the supervisor
 * resumes only once the step has exec'd or failed, so a failure is known at once. <0 if it could
 * not be started, with the reason in line. */
static pid_t spawn_step(const struct job_spec *spec, int out_w, int err_w, char *line, size_t cap)
{
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	char **saved_environ = environ;
	step_failed = STEP_OK;
	step_errno = 0;
	pid_t child = vfork();
	if (child == 0)
		exec_step(spec, out_w, err_w);
	int vfork_errno = errno;
	environ = saved_environ;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (child < 0) {
		snprintf(line, cap, "err cannot fork: %s\n", strerror(vfork_errno));
		return -1;
	}
	if (step_failed == STEP_OK)
		return child;
	while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
	const char *why = strerror(step_errno);
	if (step_failed == STEP_STREAMS)
		snprintf(line, cap, "err cannot set up the step's standard streams: %s\n", why);
	else if (step_failed == STEP_CHDIR)
		snprintf(line, cap, "err cannot change to folder '%.300s': %s\n",
			 spec->cwd ? spec->cwd : "/", why);
	else
		snprintf(line, cap, "err cannot run '%.300s': %s\n",
			 spec->shell ? "/bin/sh" : spec->argv[0], why);
	return -1;
}

static int64_t tv_us(struct timeval tv)
{
	return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

static void signal_group(pid_t pgid, int sig)
{
	kill(-pgid, sig);
}

static _Noreturn void supervise(const char *state_dir, const char *dir, const struct job_spec *spec,
				int report_fd, int ctl_fd)
{
	struct sup s = { .spec = spec, .dir = dir };
	struct yb_err err;
	int pipes[2][2] = { { -1, -1 }, { -1, -1 } };
	char line[600];

	setsid();
	close_others(report_fd, ctl_fd);
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	char *log = xasprintf("%s/supervisor.log", dir);
	int log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	free(log);
	dup2(devnull, 0);
	dup2(devnull, 1);
	dup2(log_fd >= 0 ? log_fd : devnull, 2);
	if (log_fd > 2)
		close(log_fd);
	if (devnull > 2)
		close(devnull);

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	prctl(PR_SET_NAME, "yb-supervisor"); /* what ps -o comm shows; the command line is serve's */
	if (pipe2(sigchld_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		_exit(1);
	struct sigaction sa = { 0 };
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = on_sigterm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	/* the spec, durable before the step runs and before serve ACKs the START (serve waits for
	 * our report, not for the disk, so the fsyncs of many STARTs overlap) */
	struct yb_json *red = job_spec_redacted(spec);
	char *text = yb_json_dump(red, YB_JSON_PRETTY);
	yb_json_free(red);
	char *spec_path = xasprintf("%s/spec.json", dir);
	int spec_rc = yb_write_file_atomic(spec_path, text, strlen(text), 0600, &err);
	free(spec_path);
	free(text);
	if (spec_rc < 0) {
		snprintf(line, sizeof(line), "err %.500s\n", err.msg);
		goto fail_early;
	}
	if (spool_writer_open(&s.spool, dir, &err) < 0) {
		snprintf(line, sizeof(line), "err %.500s\n", err.msg);
		goto fail_early;
	}
	if (pipe2(pipes[0], O_CLOEXEC) < 0 || pipe2(pipes[1], O_CLOEXEC) < 0) {
		snprintf(line, sizeof(line), "err cannot make pipes: %s\n", strerror(errno));
		goto fail_early;
	}
	int64_t started_at_us = yb_wall_us(), start_ms = yb_mono_ms();
	pid_t child = spawn_step(spec, pipes[0][1], pipes[1][1], line, sizeof(line));
	if (child < 0)
		goto fail_early;
	close(pipes[0][1]);
	close(pipes[1][1]);
	snprintf(line, sizeof(line), "pid %d\n", (int)getpid());
	write_all(report_fd, line);
	close(report_fd);

	for (int i = 1; i <= 2; i++) {
		mask_init(&s.masks[i], (const char *const *)spec->secrets, spec->n_secrets);
		yb_sha256_init(&s.sha[i]);
	}
	yb_buf_init(&s.pending, 0);

	int out_fds[3] = { -1, pipes[0][0], pipes[1][0] };
	bool main_done = false, timed_out = false, cancelled = false, terminating = false;
	int64_t kill_at = -1, linger_until = -1;
	int wstatus = 0;
	struct rusage ru = { 0 };
	int64_t ended_at_us = 0;
	char *buf = xmalloc(READ_PIECE);

	for (;;) {
		int64_t now = yb_mono_ms();
		/* timeout and cancellation: SIGTERM to the group, SIGKILL after the grace */
		if (!main_done && !terminating && spec->timeout_ms > 0 &&
		    now - start_ms >= spec->timeout_ms) {
			timed_out = terminating = true;
			signal_group(child, SIGTERM);
			kill_at = now + spec->grace_ms;
		}
		if (!main_done && terminating && kill_at >= 0 && now >= kill_at) {
			signal_group(child, SIGKILL);
			kill_at = -1;
		}
		/* reap: the step (peeked first, so its group can be killed while the id is held) and
		 * any orphan that came back to us */
		for (;;) {
			siginfo_t si;
			memset(&si, 0, sizeof(si));
			if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
				break;
			if (si.si_pid == child && !main_done) {
				signal_group(child, SIGKILL); /* whatever is left of the step's group */
				wait4(child, &wstatus, 0, &ru);
				ended_at_us = yb_wall_us();
				main_done = true;
				linger_until = yb_mono_ms() + LINGER_MS;
			} else {
				waitpid(si.si_pid, NULL, 0);
			}
		}
		bool pipes_open = out_fds[1] >= 0 || out_fds[2] >= 0;
		if (main_done && (!pipes_open || yb_mono_ms() >= linger_until))
			break;

		struct pollfd pfd[4];
		int n = 0;
		pfd[n++] = (struct pollfd){ .fd = sigchld_pipe[0], .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = ctl_fd, .events = POLLIN };
		for (int i = 1; i <= 2; i++)
			pfd[n++] = (struct pollfd){ .fd = out_fds[i], .events = POLLIN };
		int64_t wait_ms = 1000;
		if (!main_done && !terminating && spec->timeout_ms > 0) {
			int64_t left = spec->timeout_ms - (now - start_ms);
			wait_ms = left < wait_ms ? left : wait_ms;
		}
		if (!main_done && kill_at >= 0 && kill_at - now < wait_ms)
			wait_ms = kill_at - now;
		if (main_done && linger_until - now < wait_ms)
			wait_ms = linger_until - now;
		if (wait_ms < 0)
			wait_ms = 0;
		if (poll(pfd, (nfds_t)n, (int)wait_ms) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents) {
			char drain[64];
			while (read(sigchld_pipe[0], drain, sizeof(drain)) > 0)
				;
		}
		bool cancel = false;
		if (pfd[1].revents & POLLIN) {
			char cmd[64];
			ssize_t got = read(ctl_fd, cmd, sizeof(cmd));
			for (ssize_t i = 0; i < got; i++)
				cancel |= cmd[i] == 'c';
		}
		if (got_sigterm) {
			got_sigterm = 0;
			cancel = true;
		}
		if (cancel && !main_done && !terminating) {
			cancelled = terminating = true;
			signal_group(child, SIGTERM);
			kill_at = yb_mono_ms() + spec->grace_ms;
		}
		for (int i = 1; i <= 2; i++) {
			if (!(pfd[1 + i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t got = read(out_fds[i], buf, READ_PIECE);
			if (got < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (got <= 0) {
				close(out_fds[i]);
				out_fds[i] = -1;
				continue;
			}
			struct emit_ctx e = { &s, (uint8_t)i };
			mask_feed(&s.masks[i], buf, (size_t)got, emit_masked, &e);
		}
		/* everything read this round goes to the spool before we sleep */
		pending_flush(&s);
	}
	for (int i = 1; i <= 2; i++) {
		if (out_fds[i] >= 0)
			close(out_fds[i]);
		struct emit_ctx e = { &s, (uint8_t)i };
		mask_flush(&s.masks[i], emit_masked, &e);
		pending_flush(&s);
	}
	/* orphans killed with the group: give them a moment to be reaped, without waiting on
	 * anything that escaped into a session of its own */
	for (int tries = 0; tries < 100; tries++) {
		pid_t p = waitpid(-1, NULL, WNOHANG);
		if (p < 0)
			break;
		if (p == 0) {
			struct timespec ts = { 0, 10 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	if (spool_sync(&s.spool, &err) < 0 && !s.error[0])
		snprintf(s.error, sizeof(s.error), "%.200s", err.msg);

	struct job_exit ex = { 0 };
	if (!main_done) {
		snprintf(s.error, sizeof(s.error), "the supervisor lost track of the step");
	} else if (WIFEXITED(wstatus)) {
		ex.has_status = true;
		ex.status = WEXITSTATUS(wstatus);
	} else if (WIFSIGNALED(wstatus)) {
		ex.has_signal = true;
		ex.signal = WTERMSIG(wstatus);
	}
	ex.timed_out = timed_out;
	ex.cancelled = cancelled;
	ex.started_at_us = started_at_us;
	ex.ended_at_us = ended_at_us ? ended_at_us : yb_wall_us();
	ex.utime_us = tv_us(ru.ru_utime);
	ex.stime_us = tv_us(ru.ru_stime);
	ex.maxrss_kb = ru.ru_maxrss;
	ex.stdout_bytes = s.bytes[WIRE_STDOUT];
	ex.stderr_bytes = s.bytes[WIRE_STDERR];
	ex.dropped_bytes = s.dropped;
	ex.spool_bytes = s.spool.bytes;
	unsigned char md[YB_SHA256_LEN];
	yb_sha256_final(&s.sha[WIRE_STDOUT], md);
	yb_hex(md, sizeof(md), ex.stdout_sha256);
	yb_sha256_final(&s.sha[WIRE_STDERR], md);
	yb_hex(md, sizeof(md), ex.stderr_sha256);
	snprintf(ex.error, sizeof(ex.error), "%s", s.error);
	int code = 0;
	if (journal_write_exit(dir, spec->job, &ex, &err) < 0) {
		fprintf(stderr, "yoban-runner supervisor: %s\n", err.msg);
		code = 1;
	}
	/* exit.json is there: now let go of the FIFO, which tells everyone we are done */
	char *ctl = xasprintf("%s/control", dir);
	unlink(ctl);
	close(ctl_fd);
	_exit(code);

fail_early:
	/* The step never ran: the job is not journaled (serve answers "spawn"). */
	spool_writer_close(&s.spool);
	journal_remove_job(state_dir, spec->job, NULL);
	write_all(report_fd, line);
	_exit(1);
}

int supervisor_launch(const char *state_dir, const struct job_spec *spec, int *report_fd,
		      struct yb_err *err)
{
	char *dir = journal_job_dir(state_dir, spec->job);
	char *path = NULL;
	int rc = 0, ctl_fd = -1, report[2] = { -1, -1 };
	bool made = false;

	if (mkdir(dir, 0700) < 0) {
		if (errno == EEXIST)
			rc = yb_err_set(err, YB_EEXIST, "job '%s' is already journaled (ATTACH to it)",
					spec->job);
		else
			rc = yb_err_set(err, YB_EIO, "cannot create '%s': %s", dir, strerror(errno));
		goto out;
	}
	made = true;
	/* the empty spool, so that readers can open it from the first moment */
	static const char *const empty[] = { "output", "output.idx" };
	for (size_t i = 0; i < YB_ARRAY_LEN(empty); i++) {
		free(path);
		path = xasprintf("%s/%s", dir, empty[i]);
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			rc = yb_err_set(err, YB_EIO, "cannot create '%s': %s", path, strerror(errno));
			goto out;
		}
		close(fd);
	}
	/* the control FIFO, opened here so that it has a reader before anyone can look */
	free(path);
	path = xasprintf("%s/control", dir);
	if (mkfifo(path, 0600) < 0 ||
	    (ctl_fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0) {
		rc = yb_err_set(err, YB_EIO, "cannot create '%s': %s", path, strerror(errno));
		goto out;
	}
	if (pipe2(report, O_CLOEXEC) < 0) {
		rc = yb_err_set(err, YB_EIO, "cannot make a pipe: %s", strerror(errno));
		goto out;
	}
	fflush(NULL);
	/* One fork, no intermediate: the supervisor is serve's child only while serve lives (serve
	 * reaps it when it ends); it is in a session of its own from its first moment, and when serve
	 * goes it is adopted by init (or the nearest child subreaper) like any orphan. */
	pid_t pid = fork();
	if (pid < 0) {
		rc = yb_err_set(err, YB_EIO, "cannot fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		signal(SIGCHLD, SIG_DFL); /* serve's handler, not ours; supervise sets its own */
		close(report[0]);
		supervise(state_dir, dir, spec, report[1], ctl_fd);
	}
	fcntl(report[0], F_SETFL, O_NONBLOCK);
	*report_fd = report[0];
	report[0] = -1;
	made = false; /* the supervisor owns the folder now */
out:
	if (ctl_fd >= 0)
		close(ctl_fd);
	if (report[0] >= 0)
		close(report[0]);
	if (report[1] >= 0)
		close(report[1]);
	if (made)
		journal_remove_job(state_dir, spec->job, NULL);
	free(path);
	free(dir);
	return rc;
}
