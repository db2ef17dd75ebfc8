/*
 * transport_local.c: the `local` transport: `yoban-runner serve [--state-dir DIR]` as a child of
 * ours, its stdin and stdout one end of a socketpair, the other end non-blocking in our poll loop.
 * The runner's stderr is our stderr. The protocol is the same as over SSH; only the pipe differs.
 *
 * Closing drops our end of the socket: the runner sees end-of-file and exits, its jobs (each with
 * its own supervisor) live on, and a new runner re-attaches to them. The child is reaped without
 * blocking when it has gone; one that lingers gets SIGTERM and a short wait.
 */
#define _GNU_SOURCE /* pipe2 */
#include "transport.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void local_close(struct transport *t)
{
	if (t->fd >= 0) {
		close(t->fd);
		t->fd = -1;
	}
	if (t->local_pid > 0) {
		pid_t pid = t->local_pid;
		t->local_pid = 0;
		/* The runner exits on end-of-file; give it a moment, then insist. */
		for (int i = 0; i < 50; i++) {
			pid_t r = waitpid(pid, NULL, WNOHANG);
			if (r == pid || (r < 0 && errno != EINTR))
				return;
			struct timespec ts = { 0, 2 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
		kill(pid, SIGTERM);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
}

static int local_connect_step(struct transport *t, struct yb_err *err)
{
	int sv[2];
	const char *runner = t->target.runner_path ? t->target.runner_path : transport_default_runner();

	local_close(t);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return yb_err_set(err, YB_EIO, "socketpair: %s", strerror(errno));
	/* A child's exec failure is reported through a close-on-exec pipe. */
	int ep[2];
	if (pipe2(ep, O_CLOEXEC) < 0) {
		close(sv[0]);
		close(sv[1]);
		return yb_err_set(err, YB_EIO, "pipe: %s", strerror(errno));
	}
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		close(ep[0]);
		close(ep[1]);
		return yb_err_set(err, YB_EIO, "fork: %s", strerror(e));
	}
	if (pid == 0) {
		close(ep[0]);
		if (dup2(sv[1], 0) < 0 || dup2(sv[1], 1) < 0)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGINT, SIG_IGN); /* Ctrl-C is ours to handle: we send CANCEL */
		char *argv[5];
		int n = 0;
		argv[n++] = (char *)runner;
		argv[n++] = (char *)"serve";
		if (t->target.state_dir) {
			argv[n++] = (char *)"--state-dir";
			argv[n++] = (char *)t->target.state_dir;
		}
		argv[n] = NULL;
		execvp(runner, argv);
		int e = errno;
		ssize_t w = write(ep[1], &e, sizeof(e));
		(void)w;
		_exit(127);
	}
	close(sv[1]);
	close(ep[1]);
	int child_errno = 0;
	ssize_t got;
	while ((got = read(ep[0], &child_errno, sizeof(child_errno))) < 0 && errno == EINTR)
		;
	close(ep[0]);
	if (got == (ssize_t)sizeof(child_errno)) {
		close(sv[0]);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return yb_err_set(err, YB_EPERM, "cannot run the runner '%s': %s (install yoban-runner "
				  "beside yoban or in PATH, or set YOBAN_RUNNER)", runner, strerror(child_errno));
	}
	int fl = fcntl(sv[0], F_GETFL);
	fcntl(sv[0], F_SETFL, fl | O_NONBLOCK);
	t->fd = sv[0];
	t->local_pid = pid;
	return 0;
}

static short local_events(const struct transport *t, bool want_write)
{
	return (short)(POLLIN | (want_write ? POLLOUT : 0));
}

static int local_timeout_ms(const struct transport *t)
{
	return -1;
}

static int local_tick(struct transport *t, struct yb_err *err)
{
	return 0;
}

static long local_read(struct transport *t, void *buf, size_t cap, struct yb_err *err)
{
	ssize_t n = read(t->fd, buf, cap);
	if (n > 0)
		return (long)n;
	if (n == 0)
		return yb_err_set(err, YB_ECLOSED, "%s: the runner closed the connection", t->describe);
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return YB_EAGAIN;
	return yb_err_set(err, YB_EIO, "%s: read: %s", t->describe, strerror(errno));
}

static long local_write(struct transport *t, const void *buf, size_t len, struct yb_err *err)
{
	ssize_t n = send(t->fd, buf, len, MSG_NOSIGNAL);
	if (n >= 0)
		return (long)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return YB_EAGAIN;
	if (errno == EPIPE || errno == ECONNRESET)
		return yb_err_set(err, YB_ECLOSED, "%s: the runner closed the connection", t->describe);
	return yb_err_set(err, YB_EIO, "%s: write: %s", t->describe, strerror(errno));
}

static void local_free(struct transport *t)
{
}

static const struct transport_ops local_ops = {
	.connect_step = local_connect_step,
	.events = local_events,
	.timeout_ms = local_timeout_ms,
	.tick = local_tick,
	.read = local_read,
	.write = local_write,
	.close = local_close,
	.free = local_free,
};

int transport_local_init(struct transport *t, struct yb_err *err)
{
	t->ops = &local_ops;
	snprintf(t->describe, sizeof(t->describe), "'%.200s' (local runner)", t->target.name);
	return 0;
}
