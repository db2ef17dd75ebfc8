/*
 * ssh.c: the libssh2 wrapper (the only file that includes libssh2.h); see ssh.h.
 *
 * The one idea: the host key is checked before anything is sent in our name, in one place, for
 * both users (the scheduler's transport and the runner's off-site copies), so a pin means the
 * same thing everywhere. libssh2 buffers inside: after a read returns data more may be waiting
 * without the socket being readable, so callers read until YB_EAGAIN; which way to poll comes
 * from libssh2_session_block_directions.
 */
#include "ssh.h"

#include <libssh2.h>
#include <libssh2_sftp.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "digest.h"

struct yb_ssh {
	LIBSSH2_SESSION *session;
	LIBSSH2_CHANNEL *channel;
	int fd;
};

static int lib_init(struct yb_err *err)
{
	static int done;
	if (!done) {
		if (libssh2_init(0) != 0)
			return yb_err_set(err, YB_ESSH, "libssh2_init failed");
		done = 1;
	}
	return 0;
}

static const char *last_error(LIBSSH2_SESSION *s)
{
	char *msg = NULL;
	if (!s)
		return "no session";
	libssh2_session_last_error(s, &msg, NULL, 0);
	return msg && *msg ? msg : "unknown error";
}

static void fingerprint(const void *key, size_t len, char *out, size_t out_size)
{
	unsigned char digest[YB_SHA256_LEN];
	char b64[64];
	yb_sha256(key, len, digest);
	yb_base64_nopad(digest, sizeof(digest), b64, sizeof(b64));
	snprintf(out, out_size, "SHA256:%s", b64);
}

int yb_ssh_tcp_start(const struct yb_ssh_peer *p, int *fd_out, struct yb_err *err)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	char port[16];
	int fd = -1, rc;

	snprintf(port, sizeof(port), "%d", p->port ? p->port : 22);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	/* A numeric address resolves without I/O; a name needs the resolver, which blocks (kept
	 * short by the system's resolver timeout; inventories usually hold addresses). */
	if (getaddrinfo(p->address, port, &hints, &res) != 0) {
		hints.ai_flags = AI_NUMERICSERV;
		int g = getaddrinfo(p->address, port, &hints, &res);
		if (g != 0)
			return yb_err_set(err, YB_EIO, "%s: cannot resolve '%s': %s", p->describe,
					  p->address, gai_strerror(g));
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		rc = yb_err_set(err, YB_EIO, "%s: socket: %s", p->describe, strerror(errno));
		goto out;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	if (connect(fd, res->ai_addr, res->ai_addrlen) < 0 && errno != EINPROGRESS) {
		rc = yb_err_set(err, YB_EIO, "%s: cannot connect: %s (is sshd running there, and the "
				"address and port in the inventory right?)", p->describe, strerror(errno));
		close(fd);
		goto out;
	}
	*fd_out = fd;
	rc = 0;
out:
	freeaddrinfo(res);
	return rc;
}

int yb_ssh_tcp_check(const struct yb_ssh_peer *p, int fd, struct yb_err *err)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	if (poll(&pfd, 1, 0) <= 0)
		return YB_EAGAIN;
	int soerr = 0;
	socklen_t len = sizeof(soerr);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
	if (soerr)
		return yb_err_set(err, YB_EIO, "%s: cannot connect: %s (is sshd running there, and the "
				  "address and port in the inventory right?)", p->describe, strerror(soerr));
	return 0;
}

struct yb_ssh *yb_ssh_new(int fd, bool blocking, struct yb_err *err)
{
	if (lib_init(err) < 0)
		return NULL;
	struct yb_ssh *s = xcalloc(1, sizeof(*s));
	s->fd = fd;
	if (!(s->session = libssh2_session_init())) {
		yb_err_set(err, YB_ESSH, "libssh2_session_init failed");
		free(s);
		return NULL;
	}
	libssh2_session_set_blocking(s->session, blocking ? 1 : 0);
	return s;
}

void yb_ssh_free(struct yb_ssh *s)
{
	if (!s)
		return;
	/* Shut the socket first: libssh2 then frees without waiting for a peer that may be gone. */
	if (s->fd >= 0)
		shutdown(s->fd, SHUT_RDWR);
	if (s->channel)
		libssh2_channel_free(s->channel);
	if (s->session)
		libssh2_session_free(s->session);
	free(s);
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
static int check_hostkey(struct yb_ssh *s, const struct yb_ssh_peer *p, struct yb_err *err)
{
	size_t len = 0;
	int type = 0;
	const char *key = libssh2_session_hostkey(s->session, &len, &type);
	char presented[96];

	if (!key || !len)
		return yb_err_set(err, YB_ESSH, "%s: no host key from the server", p->describe);
	fingerprint(key, len, presented, sizeof(presented));
	if (p->host_key) {
		if (!strcmp(p->host_key, presented))
			return 0;
		return yb_err_set(err, YB_EPERM,
				  "%s: host key mismatch, refusing the host: the inventory pins '%s' but the "
				  "host presented '%s'; if the host's key really changed, check it on the host "
				  "(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and update host_key in "
				  "the inventory", p->describe, p->host_key, presented);
	}
	if (p->known_hosts) {
		LIBSSH2_KNOWNHOSTS *kh = libssh2_knownhost_init(s->session);
		int rc = YB_EPERM;
		if (!kh)
			return yb_err_set(err, YB_ESSH, "%s: libssh2_knownhost_init failed", p->describe);
		if (libssh2_knownhost_readfile(kh, p->known_hosts, LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0) {
			rc = yb_err_set(err, YB_EPERM, "%s: cannot read known_hosts '%s': %s", p->describe,
					p->known_hosts, last_error(s->session));
			libssh2_knownhost_free(kh);
			return rc;
		}
		struct libssh2_knownhost *found = NULL;
		int check = libssh2_knownhost_checkp(kh, p->address, p->port ? p->port : 22, key, len,
						     LIBSSH2_KNOWNHOST_TYPE_PLAIN |
						     LIBSSH2_KNOWNHOST_KEYENC_RAW | knownhost_type(type), &found);
		libssh2_knownhost_free(kh);
		if (check == LIBSSH2_KNOWNHOST_CHECK_MATCH)
			return 0;
		if (check == LIBSSH2_KNOWNHOST_CHECK_MISMATCH)
			return yb_err_set(err, YB_EPERM,
					  "%s: host key mismatch, refusing the host: known_hosts '%s' holds another "
					  "key for it, the host presented '%s'; check the key on the host "
					  "(ssh-keygen -lf) and fix known_hosts or pin host_key in the inventory",
					  p->describe, p->known_hosts, presented);
		return yb_err_set(err, YB_EPERM,
				  "%s: unknown host key, refusing the host: '%s' is not in known_hosts '%s'; "
				  "check it on the host (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and "
				  "pin it in the inventory as host_key: \"%s\"", p->describe, presented,
				  p->known_hosts, presented);
	}
	return yb_err_set(err, YB_EPERM,
			  "%s: unknown host key, refusing the host: no host_key pinned in the inventory and "
			  "no known_hosts file; the host presented '%s': check it on the host (ssh-keygen -lf "
			  "/etc/ssh/ssh_host_ed25519_key.pub) and pin it as host_key: \"%s\"",
			  p->describe, presented, presented);
}

int yb_ssh_handshake(struct yb_ssh *s, const struct yb_ssh_peer *p, struct yb_err *err)
{
	int rc = libssh2_session_handshake(s->session, s->fd);
	if (rc == LIBSSH2_ERROR_EAGAIN)
		return YB_EAGAIN;
	if (rc)
		return yb_err_set(err, YB_ESSH, "%s: SSH handshake failed: %s", p->describe,
				  last_error(s->session));
	return check_hostkey(s, p, err);
}

int yb_ssh_auth(struct yb_ssh *s, const struct yb_ssh_peer *p, struct yb_err *err)
{
	int rc = libssh2_userauth_publickey_fromfile_ex(s->session, p->user, (unsigned)strlen(p->user),
							NULL, p->key_path, p->key_passphrase);
	if (rc == LIBSSH2_ERROR_EAGAIN)
		return YB_EAGAIN;
	if (rc == LIBSSH2_ERROR_FILE)
		return yb_err_set(err, YB_EPERM, "%s: cannot use the private key '%s': %s (an OpenSSH "
				  "ed25519, ecdsa or rsa key without passphrase, readable by this user)",
				  p->describe, p->key_path, last_error(s->session));
	if (rc)
		return yb_err_set(err, YB_EPERM, "%s: authentication failed for user '%s' with the key "
				  "'%s': %s (add the key's .pub to the user's authorized_keys on the host)",
				  p->describe, p->user, p->key_path, last_error(s->session));
	return 0;
}

void yb_ssh_keepalive_config(struct yb_ssh *s, int interval_s)
{
	libssh2_keepalive_config(s->session, 1, (unsigned)(interval_s > 0 ? interval_s : 15));
}

int yb_ssh_keepalive(struct yb_ssh *s, const struct yb_ssh_peer *p, int *next_s, struct yb_err *err)
{
	int next = 0;
	int rc = libssh2_keepalive_send(s->session, &next);
	if (rc && rc != LIBSSH2_ERROR_EAGAIN)
		return yb_err_set(err, YB_ECLOSED, "%s: keepalive failed: %s", p->describe,
				  last_error(s->session));
	*next_s = next > 0 ? next : 1;
	return 0;
}

short yb_ssh_events(const struct yb_ssh *s)
{
	int dirs = libssh2_session_block_directions(s->session);
	short ev = POLLIN;
	if (dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND)
		ev |= POLLOUT;
	return ev;
}

int yb_ssh_exec(struct yb_ssh *s, const struct yb_ssh_peer *p, const char *command,
		struct yb_err *err)
{
	if (!s->channel) {
		s->channel = libssh2_channel_open_session(s->session);
		if (!s->channel) {
			if (libssh2_session_last_errno(s->session) == LIBSSH2_ERROR_EAGAIN)
				return YB_EAGAIN;
			return yb_err_set(err, YB_ESSH, "%s: cannot open a channel: %s", p->describe,
					  last_error(s->session));
		}
	}
	int rc = libssh2_channel_exec(s->channel, command);
	if (rc == LIBSSH2_ERROR_EAGAIN)
		return YB_EAGAIN;
	if (rc)
		return yb_err_set(err, YB_ESSH, "%s: cannot start '%s': %s", p->describe, command,
				  last_error(s->session));
	return 0;
}

long yb_ssh_read(struct yb_ssh *s, const struct yb_ssh_peer *p, void *buf, size_t cap,
		 void (*on_stderr)(void *ctx, const char *data, size_t len), void *ctx,
		 struct yb_err *err)
{
	char errbuf[1024];
	ssize_t n;
	/* The remote stderr shares the window: drain it so it never stalls stdout. */
	while ((n = libssh2_channel_read_stderr(s->channel, errbuf, sizeof(errbuf))) > 0)
		if (on_stderr)
			on_stderr(ctx, errbuf, (size_t)n);
	n = libssh2_channel_read(s->channel, buf, cap);
	if (n > 0)
		return (long)n;
	if (n == LIBSSH2_ERROR_EAGAIN)
		return YB_EAGAIN;
	if (n == 0 || libssh2_channel_eof(s->channel)) {
		if (!libssh2_channel_eof(s->channel))
			return YB_EAGAIN;
		return yb_err_set(err, YB_ECLOSED, "%s: the runner closed the connection", p->describe);
	}
	return yb_err_set(err, YB_ECLOSED, "%s: connection lost: %s", p->describe,
			  last_error(s->session));
}

long yb_ssh_write(struct yb_ssh *s, const struct yb_ssh_peer *p, const void *buf, size_t len,
		  struct yb_err *err)
{
	ssize_t n = libssh2_channel_write(s->channel, buf, len);
	if (n >= 0)
		return (long)n;
	if (n == LIBSSH2_ERROR_EAGAIN)
		return YB_EAGAIN;
	return yb_err_set(err, YB_ECLOSED, "%s: connection lost: %s", p->describe,
			  last_error(s->session));
}

int yb_ssh_connect(const struct yb_ssh_peer *p, int timeout_ms, struct yb_ssh **out, int *fd_out,
		   struct yb_err *err)
{
	int fd = -1, rc;
	struct yb_ssh *s = NULL;
	if ((rc = yb_ssh_tcp_start(p, &fd, err)) < 0)
		return rc;
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	if (poll(&pfd, 1, timeout_ms > 0 ? timeout_ms : 10000) <= 0) {
		rc = yb_err_set(err, YB_ETIMEDOUT, "%s: connection timed out", p->describe);
		goto fail;
	}
	if ((rc = yb_ssh_tcp_check(p, fd, err)) < 0)
		goto fail;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	struct timeval tv = { .tv_sec = (timeout_ms > 0 ? timeout_ms : 10000) / 1000 + 20 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)); /* a silent peer ends the wait */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (!(s = yb_ssh_new(fd, true, err))) {
		rc = YB_ESSH;
		goto fail;
	}
	if ((rc = yb_ssh_handshake(s, p, err)) < 0 || (rc = yb_ssh_auth(s, p, err)) < 0)
		goto fail;
	*out = s;
	*fd_out = fd;
	return 0;
fail:
	yb_ssh_free(s);
	close(fd);
	return rc;
}

/* ---- SFTP ---- */

struct yb_sftp {
	struct yb_ssh *ssh;
	LIBSSH2_SFTP *sftp;
	const struct yb_ssh_peer *peer;
};

struct yb_sftp_file {
	struct yb_sftp *f;
	LIBSSH2_SFTP_HANDLE *h;
	char *path;
};

static int sftp_fail(struct yb_sftp *f, const char *what, const char *path, struct yb_err *err)
{
	unsigned long code = libssh2_sftp_last_error(f->sftp);
	int yb = code == LIBSSH2_FX_NO_SUCH_FILE || code == LIBSSH2_FX_NO_SUCH_PATH ? YB_ENOENT
		 : code == LIBSSH2_FX_FILE_ALREADY_EXISTS				 ? YB_EEXIST
		 : code == LIBSSH2_FX_PERMISSION_DENIED					 ? YB_EPERM
											 : YB_ESSH;
	if (libssh2_session_last_errno(f->ssh->session) != LIBSSH2_ERROR_SFTP_PROTOCOL)
		return yb_err_set(err, YB_ECLOSED, "%s: cannot %s '%s': %s", f->peer->describe, what,
				  path, last_error(f->ssh->session));
	return yb_err_set(err, yb, "%s: cannot %s '%s' (SFTP status %lu)", f->peer->describe, what,
			  path, code);
}

int yb_sftp_open(struct yb_ssh *s, const struct yb_ssh_peer *p, struct yb_sftp **out,
		 struct yb_err *err)
{
	LIBSSH2_SFTP *sftp = libssh2_sftp_init(s->session);
	if (!sftp)
		return yb_err_set(err, YB_ESSH, "%s: cannot start SFTP: %s", p->describe,
				  last_error(s->session));
	struct yb_sftp *f = xcalloc(1, sizeof(*f));
	f->ssh = s;
	f->sftp = sftp;
	f->peer = p;
	*out = f;
	return 0;
}

void yb_sftp_close(struct yb_sftp *f)
{
	if (!f)
		return;
	libssh2_sftp_shutdown(f->sftp);
	free(f);
}

int yb_sftp_size(struct yb_sftp *f, const char *path, uint64_t *size, struct yb_err *err)
{
	LIBSSH2_SFTP_ATTRIBUTES a;
	if (libssh2_sftp_stat(f->sftp, path, &a) < 0)
		return sftp_fail(f, "examine", path, err);
	*size = a.filesize;
	return 0;
}

int yb_sftp_file_open(struct yb_sftp *f, const char *path, char mode, struct yb_sftp_file **out,
		      struct yb_err *err)
{
	unsigned long flags = mode == 'r' ? LIBSSH2_FXF_READ
			      : mode == 'w' ? LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC
					    : LIBSSH2_FXF_WRITE | LIBSSH2_FXF_APPEND;
	LIBSSH2_SFTP_HANDLE *h = libssh2_sftp_open(f->sftp, path, flags, 0600);
	if (!h)
		return sftp_fail(f, mode == 'r' ? "open" : "write", path, err);
	if (mode == 'a') {
		/* APPEND is advisory for many servers: write at the end explicitly */
		LIBSSH2_SFTP_ATTRIBUTES a;
		if (libssh2_sftp_fstat(h, &a) < 0) {
			libssh2_sftp_close(h);
			return sftp_fail(f, "examine", path, err);
		}
		libssh2_sftp_seek64(h, a.filesize);
	}
	struct yb_sftp_file *file = xcalloc(1, sizeof(*file));
	file->f = f;
	file->h = h;
	file->path = xstrdup(path);
	*out = file;
	return 0;
}

int yb_sftp_file_write(struct yb_sftp_file *h, const void *data, size_t len, struct yb_err *err)
{
	const char *p = data;
	while (len) {
		ssize_t n = libssh2_sftp_write(h->h, p, len);
		if (n < 0)
			return sftp_fail(h->f, "write", h->path, err);
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t yb_sftp_file_read(struct yb_sftp_file *h, void *buf, size_t cap, struct yb_err *err)
{
	ssize_t n = libssh2_sftp_read(h->h, buf, cap);
	if (n < 0)
		return sftp_fail(h->f, "read", h->path, err);
	return n;
}

int yb_sftp_file_close(struct yb_sftp_file *h, struct yb_err *err)
{
	int rc = 0;
	if (!h)
		return 0;
	libssh2_sftp_fsync(h->h); /* an extension: ignored where the server lacks it */
	if (libssh2_sftp_close(h->h) < 0)
		rc = sftp_fail(h->f, "close", h->path, err);
	free(h->path);
	free(h);
	return rc;
}

int yb_sftp_rename(struct yb_sftp *f, const char *from, const char *to, struct yb_err *err)
{
	if (libssh2_sftp_rename_ex(f->sftp, from, (unsigned)strlen(from), to, (unsigned)strlen(to),
				   LIBSSH2_SFTP_RENAME_ATOMIC | LIBSSH2_SFTP_RENAME_NATIVE) < 0)
		return sftp_fail(f, "rename", from, err);
	return 0;
}

int yb_sftp_unlink(struct yb_sftp *f, const char *path, struct yb_err *err)
{
	if (libssh2_sftp_unlink(f->sftp, path) < 0)
		return sftp_fail(f, "remove", path, err);
	return 0;
}

int yb_sftp_mkdir(struct yb_sftp *f, const char *path, struct yb_err *err)
{
	if (libssh2_sftp_mkdir(f->sftp, path, 0700) < 0)
		return sftp_fail(f, "create folder", path, err);
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int yb_sftp_list(struct yb_sftp *f, const char *path, char ***names, struct yb_err *err)
{
	LIBSSH2_SFTP_HANDLE *d = libssh2_sftp_opendir(f->sftp, path);
	if (!d)
		return sftp_fail(f, "list", path, err);
	size_t n = 0, cap = 16;
	char **v = xcalloc(cap, sizeof(char *));
	char name[1024];
	LIBSSH2_SFTP_ATTRIBUTES a;
	int got;
	while ((got = libssh2_sftp_readdir(d, name, sizeof(name), &a)) > 0) {
		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		if (n + 2 > cap) {
			cap *= 2;
			v = xrealloc(v, cap * sizeof(char *));
		}
		v[n++] = xstrndup(name, (size_t)got);
	}
	libssh2_sftp_closedir(d);
	v[n] = NULL;
	if (got < 0) {
		yb_sftp_names_free(v);
		return sftp_fail(f, "list", path, err);
	}
	qsort(v, n, sizeof(char *), cmp_name);
	*names = v;
	return 0;
}

void yb_sftp_names_free(char **names)
{
	if (!names)
		return;
	for (char **p = names; *p; p++)
		free(*p);
	free(names);
}
