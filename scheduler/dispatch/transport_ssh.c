/*
 * transport_ssh.c: the `ssh` transport, over the libssh2 wrapper in common/ssh.c.
 *
 * One session per host, non-blocking from the first byte: a TCP connect in progress, then the SSH
 * handshake with the host key check (common/ssh.c: the inventory's pin, else known_hosts; an
 * unknown or different key refuses the host, naming both fingerprints), public-key
 * authentication and one channel exec'ing the runner, each a state that returns YB_EAGAIN until
 * libssh2 has what it needs. Keepalives go out every keepalive_s seconds.
 *
 * libssh2 buffers inside: after a read returns data, more may be waiting without the socket being
 * readable, so callers read until YB_EAGAIN (rclient does).
 */
#include "transport.h"

#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ssh.h"

enum ssh_state {
	SSH_IDLE,
	SSH_TCP,
	SSH_HANDSHAKE,
	SSH_AUTH,
	SSH_EXEC,
	SSH_OPEN,
};

struct ssh_impl {
	enum ssh_state state;
	struct yb_ssh *ssh;
	struct yb_ssh_peer peer;
	int64_t deadline_ms;  /* connect deadline, monotonic */
	int64_t keepalive_at; /* next keepalive, monotonic ms */
	char *command;
	char user[256];
	bool write_blocked;
};

static void ssh_close(struct transport *t)
{
	struct ssh_impl *im = t->impl;
	yb_ssh_free(im->ssh); /* shuts the socket down first */
	im->ssh = NULL;
	if (t->fd >= 0) {
		close(t->fd);
		t->fd = -1;
	}
	im->state = SSH_IDLE;
	im->write_blocked = false;
}

static int ssh_connect_step(struct transport *t, struct yb_err *err)
{
	struct ssh_impl *im = t->impl;
	int rc;

	if (im->state == SSH_IDLE) {
		int timeout = t->target.connect_timeout_ms > 0 ? t->target.connect_timeout_ms : 10000;
		t->stderr_tail[0] = '\0';
		im->deadline_ms = yb_mono_ms() + timeout;
		if ((rc = yb_ssh_tcp_start(&im->peer, &t->fd, err)) < 0)
			return rc;
		im->state = SSH_TCP;
	}
	if (im->state != SSH_OPEN && yb_mono_ms() > im->deadline_ms) {
		rc = yb_err_set(err, YB_ETIMEDOUT, "%s: connection timed out (during %s)", t->describe,
				im->state == SSH_TCP ? "the TCP connect" :
				im->state == SSH_HANDSHAKE ? "the SSH handshake" :
				im->state == SSH_AUTH ? "authentication" : "the runner's start");
		ssh_close(t);
		return rc;
	}
	switch (im->state) {
	case SSH_TCP:
		if ((rc = yb_ssh_tcp_check(&im->peer, t->fd, err)) < 0)
			goto fail;
		if (!(im->ssh = yb_ssh_new(t->fd, false, err))) {
			rc = YB_ESSH;
			goto fail;
		}
		im->state = SSH_HANDSHAKE;
		/* fall through */
	case SSH_HANDSHAKE:
		if ((rc = yb_ssh_handshake(im->ssh, &im->peer, err)) == YB_EAGAIN)
			return YB_EAGAIN;
		if (rc < 0)
			goto fail;
		im->state = SSH_AUTH;
		/* fall through */
	case SSH_AUTH:
		if ((rc = yb_ssh_auth(im->ssh, &im->peer, err)) == YB_EAGAIN)
			return YB_EAGAIN;
		if (rc < 0)
			goto fail;
		yb_ssh_keepalive_config(im->ssh, t->target.keepalive_s);
		im->state = SSH_EXEC;
		/* fall through */
	case SSH_EXEC:
		if ((rc = yb_ssh_exec(im->ssh, &im->peer, im->command, err)) == YB_EAGAIN)
			return YB_EAGAIN;
		if (rc < 0)
			goto fail;
		im->state = SSH_OPEN;
		im->keepalive_at = yb_mono_ms();
		return 0;
	case SSH_OPEN:
		return 0;
	case SSH_IDLE:
		BUG("ssh transport idle after start");
	}
	return YB_EAGAIN;
fail:
	ssh_close(t);
	return rc;
}

static short ssh_events(const struct transport *t, bool want_write)
{
	const struct ssh_impl *im = t->impl;
	if (im->state == SSH_TCP)
		return POLLOUT;
	if (!im->ssh)
		return 0;
	short ev = yb_ssh_events(im->ssh);
	if (want_write && !im->write_blocked && im->state == SSH_OPEN)
		ev |= POLLOUT;
	return ev;
}

static int ssh_timeout_ms(const struct transport *t)
{
	const struct ssh_impl *im = t->impl;
	int64_t now = yb_mono_ms(), at;
	if (im->state == SSH_IDLE)
		return -1;
	at = im->state == SSH_OPEN ? im->keepalive_at : im->deadline_ms + 1;
	if (at <= now)
		return 0;
	return at - now > 60000 ? 60000 : (int)(at - now);
}

static int ssh_tick(struct transport *t, struct yb_err *err)
{
	struct ssh_impl *im = t->impl;
	if (im->state != SSH_OPEN || yb_mono_ms() < im->keepalive_at)
		return 0;
	int next = 0;
	int rc = yb_ssh_keepalive(im->ssh, &im->peer, &next, err);
	if (rc < 0)
		return rc;
	im->keepalive_at = yb_mono_ms() + next * 1000LL;
	return 0;
}

static void note_stderr(void *ctx, const char *data, size_t len)
{
	transport_note_stderr(ctx, data, len);
}

static long ssh_read(struct transport *t, void *buf, size_t cap, struct yb_err *err)
{
	struct ssh_impl *im = t->impl;
	return yb_ssh_read(im->ssh, &im->peer, buf, cap, note_stderr, t, err);
}

static long ssh_write(struct transport *t, const void *buf, size_t len, struct yb_err *err)
{
	struct ssh_impl *im = t->impl;
	long n = yb_ssh_write(im->ssh, &im->peer, buf, len, err);
	im->write_blocked = n == YB_EAGAIN;
	return n;
}

static void ssh_free(struct transport *t)
{
	struct ssh_impl *im = t->impl;
	free(im->command);
	free(im);
}

static const struct transport_ops ssh_ops = {
	.connect_step = ssh_connect_step,
	.events = ssh_events,
	.timeout_ms = ssh_timeout_ms,
	.tick = ssh_tick,
	.read = ssh_read,
	.write = ssh_write,
	.close = ssh_close,
	.free = ssh_free,
};

/* Single quotes around a configured path for the remote shell (config, not user input). */
static char *shell_quote(const char *s)
{
	size_t n = 2;
	for (const char *p = s; *p; p++)
		n += *p == '\'' ? 4 : 1;
	char *q = xmalloc(n + 1), *o = q;
	*o++ = '\'';
	for (const char *p = s; *p; p++) {
		if (*p == '\'') {
			memcpy(o, "'\\''", 4);
			o += 4;
		} else {
			*o++ = *p;
		}
	}
	*o++ = '\'';
	*o = '\0';
	return q;
}

int transport_ssh_init(struct transport *t, struct yb_err *err)
{
	struct ssh_impl *im;

	if (!t->target.address || !*t->target.address)
		return yb_err_set(err, YB_EINVAL, "host '%s': no address in the inventory", t->target.name);
	if (!t->target.key_path || !*t->target.key_path)
		return yb_err_set(err, YB_EINVAL, "host '%s': no SSH key configured (set ssh: { key: PATH } "
				  "in the site config)", t->target.name);
	if (access(t->target.key_path, R_OK) < 0)
		return yb_err_set(err, YB_EPERM, "host '%s': cannot read the SSH key '%s': %s",
				  t->target.name, t->target.key_path, strerror(errno));
	im = xcalloc(1, sizeof(*im));
	if (t->target.user) {
		snprintf(im->user, sizeof(im->user), "%s", t->target.user);
	} else {
		struct passwd *pw = getpwuid(getuid());
		snprintf(im->user, sizeof(im->user), "%s", pw ? pw->pw_name : "yoban");
	}
	if (t->target.remote_command) {
		im->command = xstrdup(t->target.remote_command);
	} else {
		char *prog = shell_quote(t->target.runner_path ? t->target.runner_path : "yoban-runner");
		if (t->target.state_dir) {
			char *dir = shell_quote(t->target.state_dir);
			im->command = xasprintf("%s serve --state-dir %s", prog, dir);
			free(dir);
		} else {
			im->command = xasprintf("%s serve", prog);
		}
		free(prog);
	}
	t->impl = im;
	t->ops = &ssh_ops;
	snprintf(t->describe, sizeof(t->describe), "'%.64s' (ssh %.64s@%.100s:%d)", t->target.name, im->user,
		 t->target.address, t->target.port ? t->target.port : 22);
	im->peer = (struct yb_ssh_peer){
		.describe = t->describe, .address = t->target.address, .port = t->target.port,
		.user = im->user, .host_key = t->target.host_key, .known_hosts = t->target.known_hosts,
		.key_path = t->target.key_path, .key_passphrase = t->target.key_passphrase,
	};
	return 0;
}
