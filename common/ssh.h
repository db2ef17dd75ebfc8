/*
 * ssh.h: SSH sessions and SFTP through libssh2 (common/ssh.c is the only file that includes
 * libssh2.h), for the scheduler's ssh transport (non-blocking, step by step) and the runner's
 * off-site copies (blocking, SFTP).
 *
 * A session is made over a connected TCP socket the caller owns. Its host key is checked right
 * after the handshake, before anything is sent in our name: the SHA-256 fingerprint must equal the
 * pin ("SHA256:<base64>", as ssh-keygen -lf prints), or the key must be in the known_hosts file;
 * an unknown or different key refuses the host, naming both fingerprints. Authentication is by
 * public key from a file. In non-blocking mode every call may return YB_EAGAIN: poll the socket
 * for yb_ssh_events() and call again.
 */
#ifndef YB_SSH_H
#define YB_SSH_H

#include <sys/types.h>

#include "yb.h"

struct yb_ssh_peer {
	const char *describe;     /* for messages: "'fs-01' (ssh yoban@192.0.2.50:22)" */
	const char *address;
	int port;                 /* 0: 22 */
	const char *user;
	const char *host_key;     /* the pin, or NULL */
	const char *known_hosts;  /* used when host_key is NULL */
	const char *key_path;     /* private key, OpenSSH format */
	const char *key_passphrase;
};

struct yb_ssh;

/* Starts a non-blocking TCP connect to address:port: *fd on success (EINPROGRESS is success). */
int yb_ssh_tcp_start(const struct yb_ssh_peer *p, int *fd, struct yb_err *err);
/* 0 when the connect finished, YB_EAGAIN while in progress, <0 when it failed. */
int yb_ssh_tcp_check(const struct yb_ssh_peer *p, int fd, struct yb_err *err);

/* A session on fd (blocking or not). NULL only if libssh2 cannot allocate (err says so). */
struct yb_ssh *yb_ssh_new(int fd, bool blocking, struct yb_err *err);
/* Frees the session; the socket is shut down first so that no peer is waited for (the caller
 * closes it). */
void yb_ssh_free(struct yb_ssh *s);
/* Handshake and host key check: 0, YB_EAGAIN, or <0 (YB_EPERM for a refused host key). */
int yb_ssh_handshake(struct yb_ssh *s, const struct yb_ssh_peer *p, struct yb_err *err);
/* Public-key authentication: 0, YB_EAGAIN, or YB_EPERM. */
int yb_ssh_auth(struct yb_ssh *s, const struct yb_ssh_peer *p, struct yb_err *err);
/* Keepalives every interval_s seconds (sent by yb_ssh_keepalive). */
void yb_ssh_keepalive_config(struct yb_ssh *s, int interval_s);
/* Sends a keepalive if due; *next_s the seconds until the next one. */
int yb_ssh_keepalive(struct yb_ssh *s, const struct yb_ssh_peer *p, int *next_s, struct yb_err *err);
/* The poll events the session waits for (POLLIN always; POLLOUT when libssh2 must write). */
short yb_ssh_events(const struct yb_ssh *s);

/* One channel exec'ing command: 0, YB_EAGAIN, <0. */
int yb_ssh_exec(struct yb_ssh *s, const struct yb_ssh_peer *p, const char *command,
		struct yb_err *err);
/* Reads the channel's stdout (the stderr is drained first into on_stderr). >0 bytes,
 * YB_EAGAIN, YB_ECLOSED at the end or on a lost connection. */
long yb_ssh_read(struct yb_ssh *s, const struct yb_ssh_peer *p, void *buf, size_t cap,
		 void (*on_stderr)(void *ctx, const char *data, size_t len), void *ctx,
		 struct yb_err *err);
/* Writes to the channel: >=0 bytes taken, YB_EAGAIN, YB_ECLOSED. */
long yb_ssh_write(struct yb_ssh *s, const struct yb_ssh_peer *p, const void *buf, size_t len,
		  struct yb_err *err);

/* A blocking session, connected, checked and authenticated, within timeout_ms; *fd is its socket
 * (close it after yb_ssh_free). */
int yb_ssh_connect(const struct yb_ssh_peer *p, int timeout_ms, struct yb_ssh **out, int *fd,
		   struct yb_err *err);

/* ---- SFTP, on a blocking session ---- */

struct yb_sftp;
struct yb_sftp_file;

int yb_sftp_open(struct yb_ssh *s, const struct yb_ssh_peer *p, struct yb_sftp **out,
		 struct yb_err *err);
void yb_sftp_close(struct yb_sftp *f);
/* Size of path, YB_ENOENT when it does not exist. */
int yb_sftp_size(struct yb_sftp *f, const char *path, uint64_t *size, struct yb_err *err);
/* mode 'r' read, 'w' create or truncate, 'a' write at the end of an existing file. */
int yb_sftp_file_open(struct yb_sftp *f, const char *path, char mode, struct yb_sftp_file **out,
		      struct yb_err *err);
int yb_sftp_file_write(struct yb_sftp_file *h, const void *data, size_t len, struct yb_err *err);
/* >0 bytes, 0 at the end, <0 on error. */
ssize_t yb_sftp_file_read(struct yb_sftp_file *h, void *buf, size_t cap, struct yb_err *err);
/* fsync (where the server offers it) and close. */
int yb_sftp_file_close(struct yb_sftp_file *h, struct yb_err *err);
/* Renames from to to, replacing nothing (YB_EEXIST if to exists). */
int yb_sftp_rename(struct yb_sftp *f, const char *from, const char *to, struct yb_err *err);
int yb_sftp_unlink(struct yb_sftp *f, const char *path, struct yb_err *err);
int yb_sftp_mkdir(struct yb_sftp *f, const char *path, struct yb_err *err);
/* The names in a folder (not . and ..), NULL-terminated, sorted; free with yb_sftp_names_free. */
int yb_sftp_list(struct yb_sftp *f, const char *path, char ***names, struct yb_err *err);
void yb_sftp_names_free(char **names);

#endif
