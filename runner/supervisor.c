/*
 * supervisor.c: one job's supervisor, from the checked spec to exit.json (see supervisor.h).
 *
 * The one idea: the supervisor owns the job and depends on nobody. It is forked from serve into a
 * session of its own (serve only reaps it), keeps the control FIFO open (its reading end is how
 * others know it lives), and is the only writer of the spool and of exit.json. It goes through its
 * phases in order: become the supervisor, spawn the step, watch it (forwarding its output,
 * enforcing the timeout and CANCEL), end the tree, then record the end. The job is not over until
 * every process of it is gone: being a child subreaper, the supervisor is an ancestor of every
 * process the step ever started, in its group or not, and kills them all (proctree.c) before it
 * writes exit.json. The step's process group is signalled only while the step's main process is
 * unreaped (a zombie still holds its pid and group id), so the group id can never name a
 * stranger's group.
 */
#define _GNU_SOURCE
#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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
#include "proctree.h"

#define READ_PIECE (64u << 10)
#define PENDING_MAX (64u << 10)
#define LINGER_MS 2000 /* after the step ends, how long leftover writers may hold the pipes */
#define END_TREE_MAX_MS 10000 /* how long a process of the job may resist SIGKILL (stuck in the
				 kernel) before the exit record says so */

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

/* Everything one supervisor knows about its job, from the spawn to the exit record. */
struct sup {
	const struct job_spec *spec;
	const char *state_dir, *dir;
	int ctl_fd;              /* the control FIFO: held open for reading while we live */
	int dir_fd;              /* the job's folder, wherever it is renamed to (FORGET) */
	char **env;              /* the step's: the spec's and the job's marker (proctree.h) */
	char **builtin;          /* a built-in step's command: this program, "step", KIND, the folder */
	pid_t step;              /* the step's main process, and its process group's id */
	int out_fds[3];          /* [WIRE_STDOUT], [WIRE_STDERR]: our ends of its pipes, or -1 */
	char *buf;               /* READ_PIECE bytes */

	/* the output, on its way to the spool */
	struct spool_writer spool;
	struct mask masks[3];
	struct yb_sha256 sha[3]; /* over exactly what reached the spool */
	uint64_t bytes[3];
	uint64_t dropped;
	struct yb_buf pending;
	uint8_t pending_stream;
	char error[256];         /* the runner's own failure, for the exit record */

	/* the clock and the end */
	int64_t start_ms, started_at_us, ended_at_us;
	bool main_done, timed_out, cancelled, terminating;
	int64_t kill_at;         /* when SIGTERM's grace ends (mono ms), or -1 */
	int64_t linger_until;    /* after the step's end: how long leftover writers keep the pipes */
	int wstatus;
	struct rusage ru;
	struct proctree_log killed; /* every process of the job we signalled */
	int survivors;              /* processes still there when we gave up (END_TREE_MAX_MS) */
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
static _Noreturn void exec_step(const struct job_spec *spec, char *const *builtin, char **env,
				int out_w, int err_w)
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
	environ = env; /* execvp searches the step's PATH, not ours */
	if (builtin) {
		execve(builtin[0], builtin, env);
	} else if (spec->shell) {
		char *const argv[] = { "sh", "-c", spec->shell, NULL };
		execve("/bin/sh", argv, env);
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
static pid_t spawn_step(const struct job_spec *spec, char *const *builtin, char **env, int out_w,
			int err_w, char *line, size_t cap)
{
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	char **saved_environ = environ;
	step_failed = STEP_OK;
	step_errno = 0;
	pid_t child = vfork();
	if (child == 0)
		exec_step(spec, builtin, env, out_w, err_w);
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
			 builtin ? builtin[0] : spec->shell ? "/bin/sh" : spec->argv[0], why);
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

/* ---- phase 0: become the supervisor ---- */

/* A session of our own, only the two descriptors we keep, stderr into supervisor.log, the
 * subreaper role (orphans of the step come back to us) and our signal handlers. */
static int become_supervisor(const char *dir, int report_fd, int ctl_fd)
{
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
		return -1;
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
	return 0;
}

/* ---- phase 1: spawn ---- */

/* A built-in step's command line: this very program in step mode, on the job's folder. */
static char **builtin_argv(const char *dir, const char *kind)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	char **argv = xcalloc(5, sizeof(char *));
	argv[0] = xstrdup(exe);
	argv[1] = xstrdup("step");
	argv[2] = xstrdup(kind);
	argv[3] = xstrdup(dir);
	return argv;
}

/* spec.json (durable before the step runs and before serve ACKs the START: serve waits for our
 * report, not for the disk, so the fsyncs of many STARTs overlap), the spool, the pipes, the
 * step. 0, or -1 with the "err ..." line for serve in line. */
static int start_step(struct sup *s, char *line, size_t cap)
{
	struct yb_err err;
	int pipes[2][2] = { { -1, -1 }, { -1, -1 } };
	struct yb_json *red = job_spec_redacted(s->spec);
	yb_json_set(red, "spec_sha256", yb_json_str(s->spec->digest));
	char *text = yb_json_dump(red, YB_JSON_PRETTY);
	yb_json_free(red);
	char *spec_path = xasprintf("%s/spec.json", s->dir);
	int rc = yb_write_file_atomic(spec_path, text, strlen(text), 0600, &err);
	free(spec_path);
	free(text);
	if (rc < 0 || spool_writer_open(&s->spool, s->dir, &err) < 0) {
		snprintf(line, cap, "err %.500s\n", err.msg);
		return -1;
	}
	if (pipe2(pipes[0], O_CLOEXEC) < 0 || pipe2(pipes[1], O_CLOEXEC) < 0) {
		snprintf(line, cap, "err cannot make pipes: %s\n", strerror(errno));
		return -1; /* the process ends: the pipes go with it */
	}
	s->started_at_us = yb_wall_us();
	s->start_ms = yb_mono_ms();
	/* the step's environment: the spec's, and the marker by which what is left of the job can
	 * be found even without its folder or its supervisor */
	size_t n_env = 0;
	while (s->spec->env[n_env])
		n_env++;
	s->env = xcalloc(n_env + 2, sizeof(char *));
	memcpy(s->env, s->spec->env, n_env * sizeof(char *));
	s->env[n_env] = proctree_marker(s->state_dir, s->spec->job);
	if (s->spec->step && !(s->builtin = builtin_argv(s->dir, s->spec->step))) {
		snprintf(line, cap, "err cannot find this program (/proc/self/exe) to run the %s step: "
			 "%s\n", s->spec->step, strerror(errno));
		return -1;
	}
	s->step = spawn_step(s->spec, s->builtin, s->env, pipes[0][1], pipes[1][1], line, cap);
	close(pipes[0][1]);
	close(pipes[1][1]);
	if (s->step < 0)
		return -1;
	s->out_fds[WIRE_STDOUT] = pipes[0][0];
	s->out_fds[WIRE_STDERR] = pipes[1][0];
	for (int i = WIRE_STDOUT; i <= WIRE_STDERR; i++) {
		mask_init(&s->masks[i], (const char *const *)s->spec->secrets, s->spec->n_secrets);
		yb_sha256_init(&s->sha[i]);
	}
	yb_buf_init(&s->pending, 0);
	s->buf = xmalloc(READ_PIECE);
	s->kill_at = s->linger_until = -1;
	return 0;
}

/* ---- phase 2: timeout and cancel ---- */

/* The job is not over until every process of it is gone: SIGKILL to the step's group (while its
 * main process is unreaped, so the group id is still its own) and to every descendant, whatever
 * its group or session, again until none is left. Orphans that came back to us are reaped once
 * the main process has been (before, reap() must see it first). A process that resists for
 * END_TREE_MAX_MS (stuck in the kernel) is counted in the exit record. */
static void end_tree(struct sup *s)
{
	int64_t deadline = yb_mono_ms() + END_TREE_MAX_MS;
	for (int round = 0;; round++) {
		if (!s->main_done) {
			proctree_log_group(s->step, &s->killed);
			signal_group(s->step, SIGKILL);
		}
		int left = proctree_signal_descendants(SIGKILL, 0, &s->killed);
		if (s->main_done)
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
		s->survivors = left;
		if (left == 0 || yb_mono_ms() >= deadline)
			return;
		struct timespec ts = { 0, (round < 10 ? 1 : 10) * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

/* SIGTERM to the step's group and to every other process of the job now, and the whole tree
 * ended when the grace is over (check_deadlines). */
static void terminate(struct sup *s, bool timed_out)
{
	if (s->main_done || s->terminating)
		return;
	s->terminating = true;
	s->timed_out = timed_out;
	s->cancelled = !timed_out;
	proctree_log_group(s->step, &s->killed); /* named while they live: the main process too */
	signal_group(s->step, SIGTERM);
	proctree_signal_descendants(SIGTERM, s->step, &s->killed); /* the others: escaped the group */
	s->kill_at = yb_mono_ms() + s->spec->grace_ms;
}

static void check_deadlines(struct sup *s, int64_t now)
{
	if (!s->main_done && s->spec->timeout_ms > 0 && now - s->start_ms >= s->spec->timeout_ms)
		terminate(s, true);
	if (!s->main_done && s->kill_at >= 0 && now >= s->kill_at) {
		end_tree(s);
		s->kill_at = -1;
	}
}

/* A "c" on the control FIFO, or SIGTERM/SIGINT/SIGHUP to us, is CANCEL. */
static void take_control(struct sup *s, bool readable)
{
	bool cancel = false;
	if (readable) {
		char cmd[64];
		ssize_t got = read(s->ctl_fd, cmd, sizeof(cmd));
		for (ssize_t i = 0; i < got; i++)
			cancel |= cmd[i] == 'c';
	}
	if (got_sigterm) {
		got_sigterm = 0;
		cancel = true;
	}
	if (cancel)
		terminate(s, false);
}

/* ---- phase 3: watch the step, forward its output ---- */

/* The step (peeked first, so that its group is killed while its id is still held) and any orphan
 * that came back to us. */
static void reap(struct sup *s)
{
	for (;;) {
		siginfo_t si;
		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
			return;
		if (si.si_pid == s->step && !s->main_done) {
			end_tree(s); /* whatever is left of the job: its group, and what escaped it */
			wait4(s->step, &s->wstatus, 0, &s->ru);
			s->ended_at_us = yb_wall_us();
			s->main_done = true;
			s->linger_until = yb_mono_ms() + LINGER_MS;
		} else {
			waitpid(si.si_pid, NULL, 0);
		}
	}
}

/* Reads what the step wrote, masks it and queues it for the spool; a stream at its end is
 * closed. Everything read in one round goes to the spool before we sleep again. */
static void forward_output(struct sup *s, const struct pollfd *pfd)
{
	for (int i = WIRE_STDOUT; i <= WIRE_STDERR; i++) {
		if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		ssize_t got = read(s->out_fds[i], s->buf, READ_PIECE);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got <= 0) {
			close(s->out_fds[i]);
			s->out_fds[i] = -1;
			continue;
		}
		struct emit_ctx e = { s, (uint8_t)i };
		mask_feed(&s->masks[i], s->buf, (size_t)got, emit_masked, &e);
	}
	pending_flush(s);
}

/* How long we may sleep: until the timeout, the end of the grace or of the linger, at most 1 s. */
static int wait_ms(const struct sup *s, int64_t now)
{
	int64_t ms = 1000;
	if (!s->main_done && !s->terminating && s->spec->timeout_ms > 0) {
		int64_t left = s->spec->timeout_ms - (now - s->start_ms);
		ms = left < ms ? left : ms;
	}
	if (!s->main_done && s->kill_at >= 0 && s->kill_at - now < ms)
		ms = s->kill_at - now;
	if (s->main_done && s->linger_until - now < ms)
		ms = s->linger_until - now;
	return ms < 0 ? 0 : (int)ms;
}

/* The loop: until the step's main process has ended and its pipes are closed (or the linger for
 * writers that escaped the group is over). */
static void watch(struct sup *s)
{
	for (;;) {
		check_deadlines(s, yb_mono_ms());
		reap(s);
		bool pipes_open = s->out_fds[WIRE_STDOUT] >= 0 || s->out_fds[WIRE_STDERR] >= 0;
		if (s->main_done && (!pipes_open || yb_mono_ms() >= s->linger_until))
			return;

		/* [0] SIGCHLD/SIGTERM, [1] stdout, [2] stderr, [3] the control FIFO */
		struct pollfd pfd[4] = {
			{ .fd = sigchld_pipe[0], .events = POLLIN },
			{ .fd = s->out_fds[WIRE_STDOUT], .events = POLLIN },
			{ .fd = s->out_fds[WIRE_STDERR], .events = POLLIN },
			{ .fd = s->ctl_fd, .events = POLLIN },
		};
		if (poll(pfd, YB_ARRAY_LEN(pfd), wait_ms(s, yb_mono_ms())) < 0 && errno != EINTR)
			return;
		if (pfd[0].revents) {
			char drain[64];
			while (read(sigchld_pipe[0], drain, sizeof(drain)) > 0)
				;
		}
		take_control(s, pfd[3].revents & POLLIN);
		forward_output(s, pfd);
	}
}

/* ---- phase 4: record the end ---- */

/* The rest of the output (what the maskers held back); the tree ended once more (a process that
 * held the pipes past the linger, or anything the step started as it died) and every orphan
 * reaped; then the spool made durable. */
static void finish_output(struct sup *s)
{
	struct yb_err err;
	for (int i = WIRE_STDOUT; i <= WIRE_STDERR; i++) {
		if (s->out_fds[i] >= 0)
			close(s->out_fds[i]);
		s->out_fds[i] = -1;
		struct emit_ctx e = { s, (uint8_t)i };
		mask_flush(&s->masks[i], emit_masked, &e);
		pending_flush(s);
	}
	end_tree(s);
	if (spool_sync(&s->spool, &err) < 0 && !s->error[0])
		snprintf(s->error, sizeof(s->error), "%.200s", err.msg);
}

/* A built-in step that ended without recording its outcome (killed, cancelled, timed out, or
 * its link lost around COMMIT) is settled before the exit is recorded: `yoban-runner step
 * KIND-settle DIR`, in the step's environment, its complaints in supervisor.log. It asks the
 * target what became of the step's work and writes the step's result (runner/steps/sql.h). */
static void settle_builtin(struct sup *s)
{
	if (!s->builtin || strcmp(s->spec->step, "sql") || faccessat(s->dir_fd, "result.json", F_OK, 0) == 0)
		return;
	char *kind = xasprintf("%s-settle", s->spec->step);
	char *const argv[] = { s->builtin[0], s->builtin[1], kind, s->builtin[3], NULL };
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGCHLD, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		execve(argv[0], argv, s->env);
		_exit(127);
	}
	if (pid < 0) {
		fprintf(stderr, "yoban-runner supervisor: cannot settle the %s step: %s\n",
			s->spec->step, strerror(errno));
	} else {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	free(kind);
}

/* exit.json, then the FIFO let go of (which tells everyone we are done); the exit status. */
static int record_exit(struct sup *s)
{
	struct yb_err err;
	struct job_exit ex = { 0 };
	if (!s->main_done) {
		snprintf(s->error, sizeof(s->error), "the supervisor lost track of the step");
	} else if (WIFEXITED(s->wstatus)) {
		ex.has_status = true;
		ex.status = WEXITSTATUS(s->wstatus);
	} else if (WIFSIGNALED(s->wstatus)) {
		ex.has_signal = true;
		ex.signal = WTERMSIG(s->wstatus);
	}
	ex.timed_out = s->timed_out;
	ex.cancelled = s->cancelled;
	ex.started_at_us = s->started_at_us;
	ex.ended_at_us = s->ended_at_us ? s->ended_at_us : yb_wall_us();
	ex.utime_us = tv_us(s->ru.ru_utime);
	ex.stime_us = tv_us(s->ru.ru_stime);
	ex.maxrss_kb = s->ru.ru_maxrss;
	ex.stdout_bytes = s->bytes[WIRE_STDOUT];
	ex.stderr_bytes = s->bytes[WIRE_STDERR];
	ex.dropped_bytes = s->dropped;
	ex.spool_bytes = s->spool.bytes;
	unsigned char md[YB_SHA256_LEN];
	yb_sha256_final(&s->sha[WIRE_STDOUT], md);
	yb_hex(md, sizeof(md), ex.stdout_sha256);
	yb_sha256_final(&s->sha[WIRE_STDERR], md);
	yb_hex(md, sizeof(md), ex.stderr_sha256);
	if (s->survivors > 0 && !s->error[0])
		snprintf(s->error, sizeof(s->error), "%d process%s of the job could not be ended within "
			 "%d s (stuck in the kernel?); look for " PROCTREE_MARKER "=%.64s in 'ps e'",
			 s->survivors, s->survivors == 1 ? "" : "es", END_TREE_MAX_MS / 1000, s->spec->job);
	snprintf(ex.error, sizeof(ex.error), "%s", s->error);
	ex.killed_count = s->killed.n;
	ex.n_killed = s->killed.n_kept < JOB_EXIT_KILLED_MAX ? s->killed.n_kept : JOB_EXIT_KILLED_MAX;
	for (size_t i = 0; i < ex.n_killed; i++) {
		ex.killed[i].pid = s->killed.kept[i].pid;
		snprintf(ex.killed[i].comm, sizeof(ex.killed[i].comm), "%s", s->killed.kept[i].comm);
	}
	int code = 0;
	if (journal_write_exit(s->dir, s->spec->job, &ex, &err) < 0) {
		fprintf(stderr, "yoban-runner supervisor: %s\n", err.msg);
		code = 1;
	}
	/* through the folder we started in: once exit.json is there the job may be FORGOTten and its
	 * id given to a new job at once, whose FIFO the same path would name */
	if (s->dir_fd >= 0)
		unlinkat(s->dir_fd, "control", 0);
	close(s->ctl_fd);
	return code;
}

/* The supervisor process, from the fork to its exit: the phases above in order. */
static _Noreturn void supervise(const char *state_dir, const char *dir, const struct job_spec *spec,
				int report_fd, int ctl_fd)
{
	struct sup s = { .spec = spec, .state_dir = state_dir, .dir = dir, .ctl_fd = ctl_fd, .dir_fd = -1,
			 .out_fds = { -1, -1, -1 }, .spool = { .data_fd = -1, .idx_fd = -1 } };
	char line[600];

	if (become_supervisor(dir, report_fd, ctl_fd) < 0 ||
	    (s.dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(line, sizeof(line), "err cannot set up the supervisor: %s\n", strerror(errno));
		goto fail_early;
	}
	if (start_step(&s, line, sizeof(line)) < 0)
		goto fail_early;
	snprintf(line, sizeof(line), "pid %d\n", (int)getpid());
	write_all(report_fd, line);
	close(report_fd);

	watch(&s);
	finish_output(&s);
	settle_builtin(&s);
	_exit(record_exit(&s));

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
	int rc = 0, ctl_fd = -1, report[2] = { -1, -1 };
	bool made = false;

	/* the folder, whole: empty spool, digest, and the control FIFO with its reader (ctl_fd), so
	 * that nobody can see the job without its identity or think it dead before it starts */
	if ((rc = journal_create_job(state_dir, spec->job, spec->digest, &ctl_fd, err)) < 0)
		goto out;
	made = true;
	if (pipe2(report, O_CLOEXEC) < 0) {
		rc = yb_err_set(err, YB_EIO, "cannot make a pipe: %s", strerror(errno));
		goto out;
	}
	fflush(NULL);
	/* One fork, no intermediate: the supervisor is serve's child only while serve lives (serve
	 * reaps it when it ends); it is in a session of its own from its first moment, and when serve
	 * goes it is adopted by init (or the nearest child subreaper) like any orphan. */
	char *dir = journal_job_dir(state_dir, spec->job);
	pid_t pid = fork();
	if (pid < 0) {
		rc = yb_err_set(err, YB_EIO, "cannot fork: %s", strerror(errno));
		free(dir);
		goto out;
	}
	if (pid == 0) {
		signal(SIGCHLD, SIG_DFL); /* serve's handler, not ours; supervise sets its own */
		close(report[0]);
		supervise(state_dir, dir, spec, report[1], ctl_fd);
	}
	free(dir);
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
	return rc;
}
