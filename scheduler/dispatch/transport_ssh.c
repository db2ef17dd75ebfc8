/*
 * transport_ssh.c: the `ssh` transport, and the only file that includes libssh2.h.
 *
 * One session per host, non-blocking from the first byte: a TCP connect in progress, then the SSH
 * handshake, the host key check, public-key authentication and one channel exec'ing the runner,
 * each a state that returns YB_EAGAIN until libssh2 has what it needs. The host key is checked
 * before anything is sent in our name: its SHA-256 fingerprint must equal the inventory's pin
 * (or the key must be in the given known_hosts file); an unknown or different key refuses the
 * host, naming both fingerprints. Keepalives go out every keepalive_s seconds.
 *
 * libssh2 buffers inside: after a read returns data, more may be waiting without the socket being
 * readable, so callers read until YB_EAGAIN (rclient does). Which way to poll comes from
 * libssh2_session_block_directions.
 */
#include "transport.h"

#include <libssh2.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum ssh_state {
	SSH_IDLE,
	SSH_TCP,
	SSH_HANDSHAKE,
	SSH_AUTH,
	SSH_CHANNEL,
	SSH_EXEC,
	SSH_OPEN,
};

struct ssh_impl {
	enum ssh_state state;
	LIBSSH2_SESSION *session;
	LIBSSH2_CHANNEL *channel;
	int64_t deadline_ms;  /* connect deadline, monotonic */
	int64_t keepalive_at; /* next keepalive, monotonic ms */
	char *command;
	char user[256];
	bool write_blocked;
};

static int ssh_lib_init(struct yb_err *err)
{
	static int done;
	if (!done) {
		if (libssh2_init(0) != 0)
			return yb_err_set(err, YB_ESSH, "libssh2_init failed");
		done = 1;
	}
	return 0;
}

static const char *ssh_last_error(LIBSSH2_SESSION *s)
{
	char *msg = NULL;
	if (!s)
		return "no session";
	libssh2_session_last_error(s, &msg, NULL, 0);
	return msg && *msg ? msg : "unknown error";
}

static void ssh_close(struct transport *t)
{
	struct ssh_impl *im = t->impl;
	/* Shut the socket first: libssh2 then frees without waiting for a peer that may be gone. */
	if (t->fd >= 0)
		shutdown(t->fd, SHUT_RDWR);
	if (im->channel) {
		libssh2_channel_free(im->channel);
		im->channel = NULL;
	}
	if (im->session) {
		libssh2_session_free(im->session);
		im->session = NULL;
	}
	if (t->fd >= 0) {
		close(t->fd);
		t->fd = -1;
	}
	im->state = SSH_IDLE;
	im->write_blocked = false;
}

static int ssh_start_tcp(struct transport *t, struct yb_err *err)
{
	struct ssh_impl *im = t->impl;
	struct addrinfo hints = { 0 }, *res = NULL;
	char port[16];
	int fd = -1, rc;

	snprintf(port, sizeof(port), "%d", t->target.port ? t->target.port : 22);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	/* A numeric address resolves without I/O; a name needs the resolver, which blocks (kept
	 * short by the system's resolver timeout; inventories usually hold addresses). */
	if (getaddrinfo(t->target.address, port, &hints, &res) != 0) {
		hints.ai_flags = AI_NUMERICSERV;
		int g = getaddrinfo(t->target.address, port, &hints, &res);
		if (g != 0)
			return yb_err_set(err, YB_EIO, "%s: cannot resolve '%s': %s", t->describe,
					  t->target.address, gai_strerror(g));
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		rc = yb_err_set(err, YB_EIO, "%s: socket: %s", t->describe, strerror(errno));
		goto out;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	if (connect(fd, res->ai_addr, res->ai_addrlen) < 0 && errno != EINPROGRESS) {
		rc = yb_err_set(err, YB_EIO, "%s: cannot connect: %s (is sshd running there, and the "
				"address and port in the inventory right?)", t->describe, strerror(errno));
		close(fd);
		goto out;
	}
	t->fd = fd;
	im->state = SSH_TCP;
	rc = 0;
out:
	freeaddrinfo(res);
	return rc;
}

static int ssh_check_tcp(struct transport *t, struct yb_err *err)
{
	struct pollfd p = { .fd = t->fd, .events = POLLOUT };
	if (poll(&p, 1, 0) <= 0)
		return YB_EAGAIN;
	int soerr = 0;
	socklen_t len = sizeof(soerr);
	getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
	if (soerr)
		return yb_err_set(err, YB_EIO, "%s: cannot connect: %s (is sshd running there, and the "
				  "address and port in the inventory right?)", t->describe, strerror(soerr));
	return 0;
}

static int knownhost_type(int hostkey_type)
{
	switch (hostkey_type) {
	case LIBSSH2_HOSTKEY_TYPE_RSA: return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
	case LIBSSH2_HOSTKEY_TYPE_DSS: return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
	case LIBSSH2_HOSTKEY_TYPE_ED25519: return LIBSSH2_KNOWNHOST_KEY_ED25519;
	default: return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
	}
}

/* The host key check: the pin first, else known_hosts; nothing known refuses the host too. */
static int ssh_check_hostkey(struct transport *t, struct yb_err *err)
{
	struct ssh_impl *im = t->impl;
	size_t len = 0;
	int type = 0;
	const char *key = libssh2_session_hostkey(im->session, &len, &type);
	char presented[96];

	if (!key || !len)
		return yb_err_set(err, YB_ESSH, "%s: no host key from the server", t->describe);
	transport_fingerprint(key, len, presented, sizeof(presented));
	if (t->target.host_key) {
		if (!strcmp(t->target.host_key, presented))
			return 0;
		return yb_err_set(err, YB_EPERM,
				  "%s: host key mismatch, refusing the host: the inventory pins '%s' but the "
				  "host presented '%s'; if the host's key really changed, check it on the host "
				  "(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and update host_key in "
				  "the inventory", t->describe, t->target.host_key, presented);
	}
	if (t->target.known_hosts) {
		LIBSSH2_KNOWNHOSTS *kh = libssh2_knownhost_init(im->session);
		int rc = YB_EPERM;
		if (!kh)
			return yb_err_set(err, YB_ESSH, "%s: libssh2_knownhost_init failed", t->describe);
		if (libssh2_knownhost_readfile(kh, t->target.known_hosts, LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0) {
			rc = yb_err_set(err, YB_EPERM, "%s: cannot read known_hosts '%s': %s", t->describe,
					t->target.known_hosts, ssh_last_error(im->session));
			libssh2_knownhost_free(kh);
			return rc;
		}
		struct libssh2_knownhost *found = NULL;
		int check = libssh2_knownhost_checkp(kh, t->target.address, t->target.port ? t->target.port : 22,
						     key, len, LIBSSH2_KNOWNHOST_TYPE_PLAIN |
						     LIBSSH2_KNOWNHOST_KEYENC_RAW | knownhost_type(type), &found);
		libssh2_knownhost_free(kh);
		if (check == LIBSSH2_KNOWNHOST_CHECK_MATCH)
			return 0;
		if (check == LIBSSH2_KNOWNHOST_CHECK_MISMATCH)
			return yb_err_set(err, YB_EPERM,
					  "%s: host key mismatch, refusing the host: known_hosts '%s' holds another "
					  "key for it, the host presented '%s'; check the key on the host "
					  "(ssh-keygen -lf) and fix known_hosts or pin host_key in the inventory",
					  t->describe, t->target.known_hosts, presented);
		return yb_err_set(err, YB_EPERM,
				  "%s: unknown host key, refusing the host: '%s' is not in known_hosts '%s'; "
				  "check it on the host (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and "
				  "pin it in the inventory as host_key: \"%s\"", t->describe, presented,
				  t->target.known_hosts, presented);
	}
	return yb_err_set(err, YB_EPERM,
			  "%s: unknown host key, refusing the host: no host_key pinned in the inventory and "
			  "no known_hosts file; the host presented '%s': check it on the host (ssh-keygen -lf "
			  "/etc/ssh/ssh_host_ed25519_key.pub) and pin it as host_key: \"%s\"",
			  t->describe, presented, presented);
}

static int ssh_auth_error(struct transport *t, int rc, struct yb_err *err)
{
	struct ssh_impl *im = t->impl;
	if (rc == LIBSSH2_ERROR_FILE)
		return yb_err_set(err, YB_EPERM, "%s: cannot use the private key '%s': %s (an OpenSSH "
				  "ed25519, ecdsa or rsa key without passphrase, readable by this user)",
				  t->describe, t->target.key_path, ssh_last_error(im->session));
	return yb_err_set(err, YB_EPERM, "%s: authentication failed for user '%s' with the key '%s': "
			  "%s (add the key's .pub to the user's authorized_keys on the host)", t->describe,
			  im->user, t->target.key_path, ssh_last_error(im->session));
}

static int ssh_connect_step(struct transport *t, struct yb_err *err)
{
	struct ssh_impl *im = t->impl;
	int rc;

	if (im->state == SSH_IDLE) {
		int timeout = t->target.connect_timeout_ms > 0 ? t->target.connect_timeout_ms : 10000;
		t->stderr_tail[0] = '\0';
		im->deadline_ms = yb_mono_ms() + timeout;
		if ((rc = ssh_start_tcp(t, err)) < 0)
			return rc;
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
		if ((rc = ssh_check_tcp(t, err)) < 0)
			goto fail;
		im->session = libssh2_session_init();
		if (!im->session) {
			rc = yb_err_set(err, YB_ESSH, "%s: libssh2_session_init failed", t->describe);
			goto fail;
		}
		libssh2_session_set_blocking(im->session, 0);
		im->state = SSH_HANDSHAKE;
		/* fall through */
	case SSH_HANDSHAKE:
		rc = libssh2_session_handshake(im->session, t->fd);
		if (rc == LIBSSH2_ERROR_EAGAIN)
			return YB_EAGAIN;
		if (rc) {
			rc = yb_err_set(err, YB_ESSH, "%s: SSH handshake failed: %s", t->describe,
					ssh_last_error(im->session));
			goto fail;
		}
		if ((rc = ssh_check_hostkey(t, err)) < 0)
			goto fail;
		im->state = SSH_AUTH;
		/* fall through */
	case SSH_AUTH:
		rc = libssh2_userauth_publickey_fromfile_ex(im->session, im->user, (unsigned)strlen(im->user),
							    NULL, t->target.key_path,
							    t->target.key_passphrase);
		if (rc == LIBSSH2_ERROR_EAGAIN)
			return YB_EAGAIN;
		if (rc) {
			rc = ssh_auth_error(t, rc, err);
			goto fail;
		}
		libssh2_keepalive_config(im->session, 1, (unsigned)(t->target.keepalive_s > 0 ? t->target.keepalive_s : 15));
		im->state = SSH_CHANNEL;
		/* fall through */
	case SSH_CHANNEL:
		im->channel = libssh2_channel_open_session(im->session);
		if (!im->channel) {
			if (libssh2_session_last_errno(im->session) == LIBSSH2_ERROR_EAGAIN)
				return YB_EAGAIN;
			rc = yb_err_set(err, YB_ESSH, "%s: cannot open a channel: %s", t->describe,
					ssh_last_error(im->session));
			goto fail;
		}
		im->state = SSH_EXEC;
		/* fall through */
	case SSH_EXEC:
		rc = libssh2_channel_exec(im->channel, im->command);
		if (rc == LIBSSH2_ERROR_EAGAIN)
			return YB_EAGAIN;
		if (rc) {
			rc = yb_err_set(err, YB_ESSH, "%s: cannot start '%s': %s", t->describe, im->command,
					ssh_last_error(im->session));
			goto fail;
		}
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
	if (!im->session)
		return 0;
	int dirs = libssh2_session_block_directions(im->session);
	short ev = POLLIN;
	if (dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND)
		ev |= POLLOUT;
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
	int rc = libssh2_keepalive_send(im->session, &next);
	if (rc && rc != LIBSSH2_ERROR_EAGAIN)
		return yb_err_set(err, YB_ECLOSED, "%s: keepalive failed: %s", t->describe,
				  ssh_last_error(im->session));
	im->keepalive_at = yb_mono_ms() + (next > 0 ? next : 1) * 1000LL;
	return 0;
}

static long ssh_read(struct transport *t, void *buf, size_t cap, struct yb_err *err)
{
	struct ssh_impl *im = t->impl;
	char errbuf[1024];
	ssize_t n;

	/* The runner's stderr shares the window: drain it so it never stalls stdout. */
	while ((n = libssh2_channel_read_stderr(im->channel, errbuf, sizeof(errbuf))) > 0)
		transport_note_stderr(t, errbuf, (size_t)n);
	n = libssh2_channel_read(im->channel, buf, cap);
	if (n > 0)
		return (long)n;
	if (n == LIBSSH2_ERROR_EAGAIN)
		return YB_EAGAIN;
	if (n == 0 || libssh2_channel_eof(im->channel)) {
		if (!libssh2_channel_eof(im->channel))
			return YB_EAGAIN;
		return yb_err_set(err, YB_ECLOSED, "%s: the runner closed the connection", t->describe);
	}
	return yb_err_set(err, YB_ECLOSED, "%s: connection lost: %s", t->describe,
			  ssh_last_error(im->session));
}

static long ssh_write(struct transport *t, const void *buf, size_t len, struct yb_err *err)
{
	struct ssh_impl *im = t->impl;
	ssize_t n = libssh2_channel_write(im->channel, buf, len);
	if (n >= 0) {
		im->write_blocked = false;
		return (long)n;
	}
	if (n == LIBSSH2_ERROR_EAGAIN) {
		im->write_blocked = true;
		return YB_EAGAIN;
	}
	return yb_err_set(err, YB_ECLOSED, "%s: connection lost: %s", t->describe,
			  ssh_last_error(im->session));
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
	int rc;

	if ((rc = ssh_lib_init(err)) < 0)
		return rc;
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
	return 0;
}
