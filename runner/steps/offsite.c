/*
 * offsite.c: the `offsite` step (the newest verified generation, encrypted, to the off-site host
 * by SFTP) and `offsite-restore` (a copy decrypted and restored), plus `offsite-keygen`.
 *
 * The one idea: the copy is a pure function of the generation, the random key and the stream
 * header, all fixed before the first byte leaves; so after a dropped connection the step
 * reconnects, asks how much of the temporary file arrived, produces the same bytes again and
 * sends only the rest. Only a copy read back whole and matching its digest is renamed into place,
 * and only then are copies beyond `keep` removed. A restore authenticates the whole copy before it
 * writes a single file.
 */
#define _GNU_SOURCE
#include "steps.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "copy.h"
#include "repo.h"
#include "ssh.h"
#include "stream.h"

#define READ_PIECE COPY_PIECE

struct dest {
	struct yb_ssh_peer peer;
	char describe[300];
	const char *path;
	int64_t rate_bps; /* 0: no limit */
};

/* ---- producing the copy ---- */

typedef int (*bytes_fn)(void *ctx, const void *data, size_t len, struct yb_err *err);

/* The whole copy, from the first byte, to sink: the writer's prefix, the manifest, the data file
 * read from the disk, the end. The same bytes every time for the same writer. */
static int produce(const struct copy_writer *w, const char *manifest_text, size_t manifest_len,
		   const char *data_path, bytes_fn sink, void *ctx, struct yb_err *err)
{
	struct yb_stream st = w->start;
	struct yb_buf out;
	char *piece = xmalloc(READ_PIECE);
	int fd = -1, rc;
	yb_buf_init(&out, 0);
	if ((rc = sink(ctx, w->prefix.data, w->prefix.len, err)) < 0)
		goto out;
	for (size_t at = 0; at < manifest_len; at += COPY_PIECE) {
		size_t n = manifest_len - at < COPY_PIECE ? manifest_len - at : COPY_PIECE;
		yb_buf_reset(&out);
		copy_record(w, &st, 'M', manifest_text + at, n, &out);
		if ((rc = sink(ctx, out.data, out.len, err)) < 0)
			goto out;
	}
	if ((fd = open(data_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		rc = yb_err_set(err, YB_EIO, "cannot open '%s': %s", data_path, strerror(errno));
		goto out;
	}
	for (;;) {
		size_t got = 0;
		while (got < READ_PIECE) {
			ssize_t n = read(fd, piece + got, READ_PIECE - got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				rc = yb_err_set(err, YB_EIO, "cannot read '%s': %s", data_path, strerror(errno));
				goto out;
			}
			if (n == 0)
				break;
			got += (size_t)n;
		}
		if (got == 0)
			break;
		yb_buf_reset(&out);
		copy_record(w, &st, 'D', piece, got, &out);
		if ((rc = sink(ctx, out.data, out.len, err)) < 0)
			goto out;
		if (got < READ_PIECE)
			break;
	}
	yb_buf_reset(&out);
	copy_record(w, &st, 'E', NULL, 0, &out);
	rc = sink(ctx, out.data, out.len, err);
out:
	if (fd >= 0)
		close(fd);
	yb_buf_release(&out);
	free(piece);
	memset(&st, 0, sizeof(st));
	return rc;
}

struct upload {
	struct yb_sftp_file *file;
	uint64_t skip;       /* bytes already there */
	uint64_t pos, sent;
	struct yb_sha256 sha;
	const struct dest *d;
	int64_t started_ms;
	struct progress *progress;
};

static int upload_sink(void *ctx, const void *data, size_t len, struct yb_err *err)
{
	struct upload *u = ctx;
	const char *p = data;
	yb_sha256_update(&u->sha, data, len);
	if (u->pos + len <= u->skip) {
		u->pos += len;
		return 0;
	}
	if (u->pos < u->skip) {
		size_t drop = (size_t)(u->skip - u->pos);
		p += drop;
		len -= drop;
		u->pos += drop;
	}
	int rc = yb_sftp_file_write(u->file, p, len, err);
	if (rc < 0)
		return rc;
	u->pos += len;
	u->sent += len;
	if (u->progress) {
		u->progress->bytes = u->pos;
		progress_tick(u->progress);
	}
	if (u->d->rate_bps > 0) {
		/* a bandwidth limit for the WAN: never ahead of rate_bps on average */
		int64_t due_ms = (int64_t)(u->sent * 1000 / (uint64_t)u->d->rate_bps);
		int64_t ahead = due_ms - (yb_mono_ms() - u->started_ms);
		if (ahead > 0) {
			struct timespec ts = { ahead / 1000, (ahead % 1000) * 1000000L };
			nanosleep(&ts, NULL);
		}
	}
	return 0;
}

static bool is_copy_of(const char *file, const char *prefix)
{
	size_t n = strlen(file), sl = strlen(COPY_SUFFIX);
	return !strncmp(file, prefix, strlen(prefix)) && n > sl && !strcmp(file + n - sl, COPY_SUFFIX);
}

static bool retryable(int rc)
{
	return rc == YB_ECLOSED || rc == YB_ESSH || rc == YB_ETIMEDOUT || rc == YB_EIO;
}

struct session {
	struct yb_ssh *ssh;
	struct yb_sftp *sftp;
	int fd;
};

static void session_close(struct session *s)
{
	yb_sftp_close(s->sftp);
	yb_ssh_free(s->ssh);
	if (s->fd >= 0)
		close(s->fd);
	s->sftp = NULL;
	s->ssh = NULL;
	s->fd = -1;
}

static int session_open(struct session *s, const struct dest *d, struct yb_err *err)
{
	int rc = yb_ssh_connect(&d->peer, 10000, &s->ssh, &s->fd, err);
	if (rc < 0)
		return rc;
	if ((rc = yb_sftp_open(s->ssh, &d->peer, &s->sftp, err)) < 0)
		session_close(s);
	return rc;
}

static int read_back(struct session *s, const char *path, uint64_t *bytes, char sha_hex[YB_SHA256_HEX_LEN],
		     struct yb_err *err)
{
	struct yb_sftp_file *f = NULL;
	struct yb_sha256 h;
	char *buf = xmalloc(256u << 10);
	uint64_t total = 0;
	int rc = yb_sftp_file_open(s->sftp, path, 'r', &f, err);
	yb_sha256_init(&h);
	while (rc == 0) {
		ssize_t n = yb_sftp_file_read(f, buf, 256u << 10, err);
		if (n < 0)
			rc = (int)n;
		if (n <= 0)
			break;
		yb_sha256_update(&h, buf, (size_t)n);
		total += (uint64_t)n;
	}
	if (f)
		yb_sftp_file_close(f, NULL);
	if (rc == 0) {
		unsigned char md[YB_SHA256_LEN];
		yb_sha256_final(&h, md);
		yb_hex(md, sizeof(md), sha_hex);
		*bytes = total;
	}
	free(buf);
	return rc;
}

static const char *spec_str(const struct yb_json *o, const char *key)
{
	const char *v = yb_json_get_str(o, key);
	return v && *v ? v : NULL;
}

int step_offsite(const struct yb_json *spec, struct yb_json *ev, struct yb_err *err)
{
	const char *repository = spec_str(spec, "repository"), *name = spec_str(spec, "name");
	const char *pub = spec_str(spec, "public_key");
	const struct yb_json *dj = yb_json_get(spec, "destination");
	int64_t keep = yb_json_get_int(spec, "keep", 12), attempts = yb_json_get_int(spec, "attempts", 6);
	bool verify = yb_json_get_bool(spec, "verify", true);
	struct dest d = { 0 };
	struct repo_gen *gens = NULL;
	size_t n = 0;
	struct session s = { .fd = -1 };
	struct copy_writer w = { 0 };
	bool writer = false;
	char *mtext = NULL, *mpath = NULL, *data_path = NULL, *final = NULL, *part = NULL, **names = NULL;
	char *default_identity = NULL;
	size_t mlen = 0;
	unsigned char pk[YB_BOX_KEY_LEN];
	int rc;

	d.path = spec_str(dj, "path");
	d.peer = (struct yb_ssh_peer){ .address = spec_str(dj, "address"),
				       .port = (int)yb_json_get_int(dj, "port", 22),
				       .user = spec_str(dj, "user"), .host_key = spec_str(dj, "host_key"),
				       .known_hosts = spec_str(dj, "known_hosts"),
				       .key_path = spec_str(dj, "identity") };
	d.rate_bps = yb_json_get_int(spec, "rate_limit_kbps", 0) * 1024;
	if (!d.peer.key_path && getenv("HOME")) {
		/* the runner's own key: the file server logs in to the vault as itself */
		default_identity = xasprintf("%s/.ssh/id_ed25519", getenv("HOME"));
		d.peer.key_path = default_identity;
	}
	if (!repository || !name || !pub || !d.path || !d.peer.address || !d.peer.user ||
	    !d.peer.key_path || keep < 1 || attempts < 1 || strchr(name, '/')) {
		rc = yb_err_set(err, YB_EINVAL, "offsite spec: needs 'repository', 'name', 'public_key', "
				"'keep' >= 1 and 'destination' with 'path', 'address', 'user' (and "
				"'host_key' or 'known_hosts'; 'identity' defaults to ~/.ssh/id_ed25519)");
		goto out;
	}
	snprintf(d.describe, sizeof(d.describe), "'%.64s' (sftp %.64s@%.100s:%d)",
		 spec_str(dj, "host") ? spec_str(dj, "host") : d.peer.address, d.peer.user,
		 d.peer.address, d.peer.port);
	d.peer.describe = d.describe;
	yb_json_set(ev, "repository", yb_json_str(repository));
	if ((rc = copy_read_key(pub, false, pk, err)) < 0 || (rc = repo_list(repository, &gens, &n, err)) < 0)
		goto out;
	const struct repo_gen *g = NULL;
	for (size_t i = 0; i < n && !g; i++)
		if (gens[i].readable && gens[i].verified_ok)
			g = &gens[i];
	if (!g) {
		rc = yb_err_set(err, YB_ENOENT, "repository '%s' has no verified generation to copy",
				repository);
		goto out;
	}
	yb_json_set(ev, "generation", yb_json_str(g->name));
	yb_json_set(ev, "manifest_sha256", yb_json_str(g->manifest_sha256));
	/* read it back once more before it leaves: a copy of a damaged generation helps nobody */
	if ((rc = steps_verify_generation(g->dir, false, NULL, err)) < 0) {
		yb_err_prefix(err, "generation '%s' no longer verifies; nothing was sent", g->name);
		goto out;
	}
	mpath = xasprintf("%s/" MANIFEST_NAME, g->dir);
	if ((rc = yb_read_regular(mpath, MANIFEST_MAX_BYTES, YB_READ_NOFOLLOW, &mtext, &mlen, err)) < 0)
		goto out;
	char mhex[YB_SHA256_HEX_LEN];
	yb_sha256_hex(mtext, mlen, mhex);
	if (strcmp(mhex, g->manifest_sha256)) {
		rc = yb_err_set(err, YB_EINVAL, "the manifest of '%s' changed while it was read", g->name);
		goto out;
	}
	data_path = xasprintf("%s/%s", g->dir, g->m.data_name);
	struct yb_json *h = yb_json_object();
	char *src = xasprintf("%s/%s", repository, g->name);
	yb_json_set(h, "format", yb_json_str("yoban-offsite-1"));
	yb_json_set(h, "generation", yb_json_str(g->name));
	yb_json_set(h, "manifest_sha256", yb_json_str(g->manifest_sha256));
	yb_json_set(h, "data_bytes", yb_json_int((int64_t)g->m.data_bytes));
	yb_json_set(h, "created_us", yb_json_int(yb_wall_us()));
	yb_json_set(h, "source", yb_json_str(src));
	free(src);
	copy_writer_init(&w, h, pk);
	writer = true;
	yb_json_free(h);

	final = xasprintf("%s/%s-%s" COPY_SUFFIX, d.path, name, g->name);
	part = xasprintf("%s/.%s-%s" COPY_SUFFIX ".part", d.path, name, g->name);
	yb_json_set(ev, "destination", yb_json_str(final));
	if ((rc = session_open(&s, &d, err)) < 0)
		goto out;
	uint64_t size = 0;
	if (yb_sftp_size(s.sftp, final, &size, NULL) == 0) {
		rc = yb_err_set(err, YB_EEXIST, "%s: '%s' is already there (this generation was copied "
				"before); nothing was sent", d.describe, final);
		goto out;
	}
	struct yb_err ignored;
	yb_sftp_unlink(s.sftp, part, &ignored); /* a leftover of another run: its key is gone */

	/* send, resuming after a dropped connection */
	struct upload u = { .d = &d };
	struct progress prog;
	progress_start(&prog, steps_progress_wanted(spec), "offsite", 0);
	u.progress = &prog;
	int resumed = 0;
	int64_t t0 = yb_mono_ms();
	for (int attempt = 1;; attempt++) {
		u.skip = 0;
		if (attempt > 1) {
			rc = session_open(&s, &d, err);
			if (rc == 0)
				rc = yb_sftp_size(s.sftp, part, &u.skip, err);
			if (rc == YB_ENOENT)
				u.skip = 0, rc = 0;
		}
		if (rc == 0)
			rc = yb_sftp_file_open(s.sftp, part, u.skip ? 'a' : 'w', &u.file, err);
		if (rc == 0) {
			u.pos = 0;
			u.sent = 0;
			u.started_ms = yb_mono_ms();
			yb_sha256_init(&u.sha);
			rc = produce(&w, mtext, mlen, data_path, upload_sink, &u, err);
			int crc = yb_sftp_file_close(u.file, rc == 0 ? err : NULL);
			u.file = NULL;
			if (rc == 0)
				rc = crc;
		}
		if (rc == 0)
			break;
		if (!retryable(rc) || attempt >= attempts) {
			yb_err_prefix(err, "off-site copy of '%s' failed after %d attempt%s", g->name,
				      attempt, attempt == 1 ? "" : "s");
			goto out;
		}
		fprintf(stderr, "yoban-runner: %s; reconnecting (attempt %d of %lld)\n", err->msg,
			attempt + 1, (long long)attempts);
		session_close(&s);
		resumed++;
		sleep(attempt < 4 ? (unsigned)attempt : 4);
	}
	progress_end(&prog);
	int64_t upload_ms = yb_mono_ms() - t0;
	unsigned char md[YB_SHA256_LEN];
	char sha[YB_SHA256_HEX_LEN], remote[YB_SHA256_HEX_LEN] = "";
	yb_sha256_final(&u.sha, md);
	yb_hex(md, sizeof(md), sha);
	int64_t verify_ms = 0;
	if (verify) {
		uint64_t remote_bytes = 0;
		t0 = yb_mono_ms();
		if ((rc = read_back(&s, part, &remote_bytes, remote, err)) < 0)
			goto out;
		verify_ms = yb_mono_ms() - t0;
		if (remote_bytes != u.pos || strcmp(remote, sha)) {
			rc = yb_err_set(err, YB_EINVAL, "%s: the copy read back from '%s' differs from what "
					"was sent (%llu bytes, sha256 %.12s... sent %llu, %.12s...); it was "
					"not renamed into place", d.describe, part,
					(unsigned long long)remote_bytes, remote, (unsigned long long)u.pos, sha);
			goto out;
		}
	}
	if ((rc = yb_sftp_rename(s.sftp, part, final, err)) < 0)
		goto out;

	/* prune: this step's copies beyond keep, oldest first */
	struct yb_json *pruned = yb_json_array();
	if (yb_sftp_list(s.sftp, d.path, &names, err) == 0) {
		/* this step's copies only: NAME-gen-..., so that "fs-vault" never prunes "fs-vault-2" */
		char *prefix = xasprintf("%s-gen-", name);
		size_t count = 0;
		for (char **p = names; *p; p++)
			count += is_copy_of(*p, prefix);
		for (char **p = names; *p && count > (size_t)keep; p++) {
			if (!is_copy_of(*p, prefix))
				continue;
			char *victim = xasprintf("%s/%s", d.path, *p);
			if (yb_sftp_unlink(s.sftp, victim, err) == 0) {
				yb_json_push(pruned, yb_json_str(*p));
				printf("offsite: pruned '%s' (beyond %lld copies)\n", *p, (long long)keep);
			} else {
				fprintf(stderr, "yoban-runner: warning: %s\n", err->msg);
			}
			free(victim);
			count--;
		}
		free(prefix);
	} else {
		fprintf(stderr, "yoban-runner: warning: the copy is in place, but the old ones could "
			"not be listed: %s\n", err->msg);
	}
	rc = 0;
	yb_json_set(ev, "pruned", pruned);
	yb_json_set(ev, "bytes", yb_json_int((int64_t)u.pos));
	yb_json_set(ev, "sha256", yb_json_str(sha));
	if (verify)
		yb_json_set(ev, "remote_sha256", yb_json_str(remote));
	yb_json_set(ev, "verified", yb_json_bool(verify));
	yb_json_set(ev, "resumed", yb_json_int(resumed));
	yb_json_set(ev, "upload_ms", yb_json_int(upload_ms));
	yb_json_set(ev, "verify_ms", yb_json_int(verify_ms));
	printf("offsite: generation '%s' encrypted and copied to %s as '%s': %llu bytes, sha256 %s%s%s\n",
	       g->name, d.describe, final, (unsigned long long)u.pos, sha,
	       verify ? ", read back and matching" : ", NOT read back (verify: false)",
	       resumed ? " (resumed after a dropped connection)" : "");
out:
	session_close(&s);
	if (writer)
		copy_writer_release(&w);
	yb_sftp_names_free(names);
	repo_gens_free(gens, n);
	free(mtext);
	free(mpath);
	free(data_path);
	free(final);
	free(part);
	free(default_identity);
	return rc;
}

/* ---- offsite-restore ---- */

static ssize_t fd_source(void *ctx, void *buf, size_t cap, struct yb_err *err)
{
	int fd = *(int *)ctx;
	ssize_t n;
	do
		n = read(fd, buf, cap);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return yb_err_set(err, YB_EIO, "cannot read the copy: %s", strerror(errno));
	return n;
}

static ssize_t copy_data_source(void *ctx, const void **data, struct yb_err *err)
{
	return copy_reader_data(ctx, data, err);
}

int step_offsite_restore(const struct yb_json *spec, struct yb_json *ev, struct yb_err *err)
{
	const char *file = spec_str(spec, "file"), *key = spec_str(spec, "key"), *to = spec_str(spec, "to");
	unsigned char sk[YB_BOX_KEY_LEN];
	struct copy_reader r;
	bool open_reader = false;
	uint64_t files = 0;
	int fd = -1, rc;
	if (!file || !key || !to) {
		rc = yb_err_set(err, YB_EINVAL, "offsite-restore spec: needs 'file', 'key' and 'to'");
		goto out;
	}
	yb_json_set(ev, "file", yb_json_str(file));
	yb_json_set(ev, "to", yb_json_str(to));
	if ((rc = copy_read_key(key, true, sk, err)) < 0)
		goto out;
	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = yb_err_set(err, YB_EIO, "cannot open '%s': %s", file, strerror(errno));
		goto out;
	}
	/* pass 1: the whole copy authenticates and its data matches the manifest, or nothing is written */
	if ((rc = copy_reader_open(&r, fd_source, &fd, sk, err)) < 0) {
		copy_reader_release(&r);
		goto refused;
	}
	open_reader = true;
	struct yb_sha256 h;
	uint64_t bytes = 0;
	yb_sha256_init(&h);
	for (;;) {
		const void *p;
		ssize_t n = copy_reader_data(&r, &p, err);
		if (n < 0) {
			rc = (int)n;
			goto refused;
		}
		if (n == 0)
			break;
		yb_sha256_update(&h, p, (size_t)n);
		bytes += (uint64_t)n;
	}
	unsigned char md[YB_SHA256_LEN];
	char sha[YB_SHA256_HEX_LEN];
	yb_sha256_final(&h, md);
	yb_hex(md, sizeof(md), sha);
	if (bytes != r.manifest.data_bytes || strcmp(sha, r.manifest.data_sha256)) {
		rc = yb_err_set(err, YB_EINVAL, "the copy's data does not match its manifest");
		goto refused;
	}
	yb_json_set(ev, "generation", yb_json_str(r.header.generation));
	yb_json_set(ev, "manifest_sha256", yb_json_str(r.header.manifest_sha256));
	copy_reader_release(&r);
	open_reader = false;
	/* pass 2: the same bytes again, into the folder */
	if (lseek(fd, 0, SEEK_SET) < 0) {
		rc = yb_err_set(err, YB_EIO, "cannot rewind '%s': %s", file, strerror(errno));
		goto out;
	}
	rc = copy_reader_open(&r, fd_source, &fd, sk, err);
	open_reader = true;
	if (rc < 0)
		goto out;
	if ((rc = steps_restore_source(&r.manifest, file, copy_data_source, &r, to,
				       steps_progress_wanted(spec), &files, err)) < 0)
		goto out;
	yb_json_set(ev, "files", yb_json_int((int64_t)files));
	yb_json_set(ev, "verified", yb_json_bool(true));
	printf("offsite-restore: '%s' (generation '%s') decrypted and restored into '%s': %llu "
	       "entries, every one matching the manifest (sha256 %s)\n", file, r.header.generation, to,
	       (unsigned long long)files, r.header.manifest_sha256);
	goto out;
refused:
	yb_err_prefix(err, "'%s' refused, nothing was written", file);
out:
	if (open_reader)
		copy_reader_release(&r);
	memset(sk, 0, sizeof(sk));
	if (fd >= 0)
		close(fd);
	return rc;
}

int step_offsite_keygen(const struct yb_json *spec, struct yb_json *ev, struct yb_err *err)
{
	const char *secret = spec_str(spec, "secret");
	if (!secret)
		return yb_err_set(err, YB_EINVAL, "offsite-keygen spec: needs 'secret' (a file path)");
	int rc = copy_keygen(secret, err);
	if (rc == 0)
		printf("offsite-keygen: secret key '%s' (keep it off the file server and the scheduler), "
		       "public key '%s.pub' (give it to the offsite step's key_file)\n", secret, secret);
	yb_json_set(ev, "secret", yb_json_str(secret));
	return rc;
}
