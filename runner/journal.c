/*
 * journal.c: job folders, the output spool, exit records and the retention sweep (journal.h).
 *
 * The one idea: every file has exactly one writer and a rule that makes a half-done write
 * harmless. The supervisor writes spool data before the index record that covers it, so a reader
 * trusting only the index never sees a byte that is not on disk; spec.json and exit.json appear
 * whole or not at all (temp, fsync, rename); and whether a job still runs is asked of the kernel
 * (does the control FIFO have a reader?), not of a pid file that could name a stranger.
 */
#define _GNU_SOURCE /* renameat2 */
#include "journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "digest.h"
#include "wire.h"

#define REC_MAGIC 0xA5
#define EXIT_MAX_BYTES (64u << 10)
#define SPEC_JSON_MAX_BYTES (64u << 20) /* a 4 MiB START whose one-byte secrets became MASK_TEXT */
#define STARTING_MAX_AGE_US (60LL * 1000000) /* a folder left in starting/ by a killed serve */

/* "ID.PID.N" in starting/ and forgotten/ must fit in one file name (NAME_MAX, 255 bytes). */
_Static_assert(WIRE_MAX_JOB_ID + 1 + 10 + 1 + 10 <= 255, "job ids too long for folder names");

static int mkdir_one(const char *path, struct yb_err *err)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST) {
		struct stat st;
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			return 0;
		return yb_err_set(err, YB_EIO, "'%s' exists but is not a folder", path);
	}
	return yb_err_set(err, YB_EIO, "cannot create folder '%s': %s", path, strerror(errno));
}

int journal_prepare(const char *state_dir, struct yb_err *err)
{
	int rc = 0;
	char *path = xstrdup(state_dir);
	/* mkdir -p: each prefix in turn */
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			rc = yb_err_set(err, YB_EIO, "cannot create folder '%s': %s", path, strerror(errno));
			goto out;
		}
		*p = '/';
	}
	if ((rc = mkdir_one(state_dir, err)) < 0)
		goto out;
	free(path);
	path = xasprintf("%s/jobs", state_dir);
	rc = mkdir_one(path, err);
out:
	free(path);
	return rc;
}

char *journal_job_dir(const char *state_dir, const char *job)
{
	if (!wire_job_id_valid(job, strlen(job)))
		BUG("journal_job_dir with a bad job id");
	return xasprintf("%s/jobs/%s", state_dir, job);
}

bool journal_job_exists(const char *state_dir, const char *job)
{
	char *dir = journal_job_dir(state_dir, job);
	struct stat st;
	bool there = lstat(dir, &st) == 0 && S_ISDIR(st.st_mode);
	free(dir);
	return there;
}

/* Removes everything under the folder open as dfd (not following symbolic links), depth-limited:
 * a job folder holds only plain files. */
static int remove_tree_at(int dfd, int depth)
{
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -1;
	}
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0 || errno == ENOENT)
			continue;
		if (errno == EISDIR || errno == EPERM) {
			int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0 && depth < 4 && remove_tree_at(sub, depth + 1) == 0 &&
			    unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR) == 0)
				continue;
			if (sub >= 0 && depth >= 4)
				close(sub);
		}
		rc = -1;
	}
	closedir(d);
	return rc;
}

/* Removes a folder and its files; a missing folder is not an error. */
static int remove_dir(const char *dir, struct yb_err *err)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : yb_err_set(err, YB_EIO, "cannot open '%s': %s", dir,
							 strerror(errno));
	if (remove_tree_at(dfd, 0) < 0 || (rmdir(dir) < 0 && errno != ENOENT))
		return yb_err_set(err, YB_EIO, "cannot remove '%s': %s", dir, strerror(errno));
	return 0;
}

int journal_remove_job(const char *state_dir, const char *job, struct yb_err *err)
{
	char *dir = journal_job_dir(state_dir, job);
	int rc = remove_dir(dir, err);
	free(dir);
	return rc;
}

/* ---- a job's identity ---- */

/* A journal file: a regular file (opened without blocking and without following a link, so
 * that a FIFO or a link put in its place cannot stall or redirect serve), read whole up to max
 * bytes. YB_ENOENT if it is not there. */
static int read_journal_file(const char *path, size_t max, char **out, size_t *out_len,
			     struct yb_err *err)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return yb_err_set(err, errno == ENOENT ? YB_ENOENT : YB_EIO, "cannot open '%s': %s",
				  path, strerror(errno));
	struct stat st;
	int rc = 0;
	char *data = NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = yb_err_set(err, YB_EIO, "'%s' is not a regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		rc = yb_err_set(err, YB_ENOMEM, "'%s' is larger than %zu bytes", path, max);
		goto out;
	}
	size_t len = 0, cap = (size_t)st.st_size;
	data = xmalloc(cap + 1);
	while (len < cap) {
		ssize_t n = read(fd, data + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = yb_err_set(err, YB_EIO, "cannot read '%s': %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	data[len] = '\0';
	*out = data;
	data = NULL;
	if (out_len)
		*out_len = len;
out:
	free(data);
	close(fd);
	return rc;
}

static bool is_hex64(const char *s)
{
	for (int i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int journal_read_digest(const char *job_dir, char out[65], struct yb_err *err)
{
	char *path = xasprintf("%s/spec.sha256", job_dir), *text = NULL;
	struct yb_json *v = NULL;
	size_t len = 0;
	int rc = 0;
	if (read_journal_file(path, 65, &text, &len, NULL) == 0 && len >= 64 && is_hex64(text) &&
	    (len == 64 || text[64] == '\n')) {
		memcpy(out, text, 64);
		out[64] = '\0';
		goto out;
	}
	/* spec.sha256 is not fsynced; spec.json, written durably by the supervisor, repeats it */
	free(text);
	text = NULL;
	free(path);
	path = xasprintf("%s/spec.json", job_dir);
	if (read_journal_file(path, SPEC_JSON_MAX_BYTES, &text, &len, NULL) == 0 &&
	    yb_json_parse(text, len, &v, NULL) == 0) {
		const char *d = yb_json_get_str(v, "spec_sha256");
		if (d && strlen(d) == 64 && is_hex64(d)) {
			memcpy(out, d, 65);
			goto out;
		}
	}
	rc = yb_err_set(err, YB_ENOENT, "the folder '%s' records no spec digest", job_dir);
out:
	yb_json_free(v);
	free(text);
	free(path);
	return rc;
}

/* The id is taken: the same job (YB_EEXIST) or another one (YB_EPERM). */
static int id_taken(const char *dir, const char *job, const char *spec_sha256, struct yb_err *err)
{
	char have[65];
	if (journal_read_digest(dir, have, NULL) < 0)
		return yb_err_set(err, YB_EPERM, "job id '%s' is taken here by a job whose spec digest "
				  "cannot be read: refused, never adopted (give this job a new id)", job);
	if (strcmp(have, spec_sha256))
		return yb_err_set(err, YB_EPERM, "job id '%s' is taken here by another job (spec digest "
				  "%.16s..., this START's %.16s...): refused, never adopted (give this job "
				  "a new id)", job, have, spec_sha256);
	return yb_err_set(err, YB_EEXIST, "job '%s' is already journaled with this spec (ATTACH to it)",
			  job);
}

static int create_file(const char *dir, const char *name, const char *text, struct yb_err *err)
{
	char *path = xasprintf("%s/%s", dir, name);
	int rc = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	size_t len = strlen(text);
	if (fd < 0 || (len && write(fd, text, len) != (ssize_t)len))
		rc = yb_err_set(err, YB_EIO, "cannot create '%s': %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

int journal_create_job(const char *state_dir, const char *job, const char *spec_sha256,
		       int *ctl_fd, struct yb_err *err)
{
	static unsigned counter;
	char *starting = xasprintf("%s/starting", state_dir);
	char *tmp = xasprintf("%s/%s.%d.%u", starting, job, (int)getpid(), counter++);
	char *dir = journal_job_dir(state_dir, job);
	char *digest_line = xasprintf("%s\n", spec_sha256);
	char *fifo = xasprintf("%s/control", tmp);
	int rc, fd = -1;
	bool made = false;

	/* the state folder may have been removed under us: made again, as at serve's start */
	if ((rc = journal_prepare(state_dir, err)) < 0 || (rc = mkdir_one(starting, err)) < 0)
		goto out;
	if (mkdir(tmp, 0700) < 0) {
		rc = yb_err_set(err, YB_EIO, "cannot create folder '%s': %s", tmp, strerror(errno));
		goto out;
	}
	made = true;
	if ((rc = create_file(tmp, "output", "", err)) < 0 ||
	    (rc = create_file(tmp, "output.idx", "", err)) < 0 ||
	    (rc = create_file(tmp, "spec.sha256", digest_line, err)) < 0)
		goto out;
	if (mkfifo(fifo, 0600) < 0 || (fd = open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0) {
		rc = yb_err_set(err, YB_EIO, "cannot create '%s': %s", fifo, strerror(errno));
		goto out;
	}
	/* appear whole, or not at all; never replace a folder that is there */
	int moved = renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_NOREPLACE);
	if (moved < 0 && (errno == EINVAL || errno == ENOSYS))
		moved = rename(tmp, dir); /* no RENAME_NOREPLACE here: a job folder is never empty, so
					     rename cannot replace one either */
	if (moved < 0) {
		if (errno == EEXIST || errno == ENOTEMPTY)
			rc = id_taken(dir, job, spec_sha256, err);
		else
			rc = yb_err_set(err, YB_EIO, "cannot rename '%s' to '%s': %s", tmp, dir,
					strerror(errno));
		goto out;
	}
	made = false;
	*ctl_fd = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	if (made)
		remove_dir(tmp, NULL);
	free(fifo);
	free(digest_line);
	free(dir);
	free(tmp);
	free(starting);
	return rc;
}

/* FORGET in two halves: the folder leaves jobs/ at once (one rename, so the id is free again and
 * no reader finds it), and its files are removed later, when serve has nothing better to do. */
int journal_forget(const char *state_dir, const char *job, struct yb_err *err)
{
	static unsigned counter;
	char *dir = journal_job_dir(state_dir, job);
	char *trash = xasprintf("%s/forgotten", state_dir);
	char *to = xasprintf("%s/%s.%d.%u", trash, job, (int)getpid(), counter++);
	int rc = 0;
	if (mkdir(trash, 0700) < 0 && errno != EEXIST) {
		rc = journal_remove_job(state_dir, job, err); /* no trash: remove it now */
		goto out;
	}
	if (rename(dir, to) < 0) {
		if (errno == ENOENT)
			goto out;
		rc = journal_remove_job(state_dir, job, err);
	}
out:
	free(to);
	free(trash);
	free(dir);
	return rc;
}

int journal_purge_forgotten(const char *state_dir)
{
	char *trash = xasprintf("%s/forgotten", state_dir);
	int rc = 0;
	DIR *d = opendir(trash);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0)
			remove_tree_at(sub, 1); /* closes sub */
		/* another serve may be removing the same one: gone is as good as removed */
		if (unlinkat(dirfd(d), e->d_name, sub >= 0 ? AT_REMOVEDIR : 0) == 0 || errno == ENOENT)
			rc = 1;
		else
			rc = -1;
		break;
	}
	if (d)
		closedir(d);
	free(trash);
	return rc;
}

/* ---- the spool: writer ---- */

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int spool_writer_open(struct spool_writer *w, const char *job_dir, struct yb_err *err)
{
	char *data = xasprintf("%s/output", job_dir), *idx = xasprintf("%s/output.idx", job_dir);
	int rc = 0;
	w->bytes = 0;
	w->data_fd = open(data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	w->idx_fd = open(idx, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	if (w->data_fd < 0 || w->idx_fd < 0) {
		rc = yb_err_set(err, YB_EIO, "cannot create the spool in '%s': %s", job_dir, strerror(errno));
		spool_writer_close(w);
	}
	free(data);
	free(idx);
	return rc;
}

int spool_append(struct spool_writer *w, uint8_t stream, const void *data, size_t len,
		 struct yb_err *err)
{
	BUG_ON(len > INT32_MAX);
	if (len == 0)
		return 0;
	const char *p = data;
	size_t done = 0;
	while (done < len) {
		ssize_t n = pwrite(w->data_fd, p + done, len - done, (off_t)(w->bytes + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return yb_err_set(err, YB_EIO, "cannot write the output spool: %s",
					  n < 0 ? strerror(errno) : "no progress");
		done += (size_t)n;
	}
	unsigned char rec[SPOOL_REC_LEN] = { 0 };
	put_be32(rec, (uint32_t)(w->bytes >> 32));
	put_be32(rec + 4, (uint32_t)w->bytes);
	put_be32(rec + 8, (uint32_t)len);
	rec[12] = stream;
	rec[13] = REC_MAGIC;
	ssize_t n;
	do
		n = write(w->idx_fd, rec, sizeof(rec));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(rec))
		return yb_err_set(err, YB_EIO, "cannot write the spool index: %s",
				  n < 0 ? strerror(errno) : "short write");
	w->bytes += len;
	return 0;
}

/* fdatasync: it makes the data and the new file sizes durable, which is all a reader needs. A
 * spool nothing was ever written to holds nothing to sync: its two empty files exist since the
 * job's start, and the folder fsync after exit.json's rename (journal_write_exit) makes their
 * entries durable with it. */
int spool_sync(struct spool_writer *w, struct yb_err *err)
{
	if (w->bytes == 0)
		return 0;
	if (fdatasync(w->data_fd) < 0 || fdatasync(w->idx_fd) < 0)
		return yb_err_set(err, YB_EIO, "cannot fsync the output spool: %s", strerror(errno));
	return 0;
}

void spool_writer_close(struct spool_writer *w)
{
	if (w->data_fd >= 0)
		close(w->data_fd);
	if (w->idx_fd >= 0)
		close(w->idx_fd);
	w->data_fd = w->idx_fd = -1;
}

/* ---- the spool: reader ---- */

int spool_reader_open(struct spool_reader *r, const char *job_dir, struct yb_err *err)
{
	char *data = xasprintf("%s/output", job_dir), *idx = xasprintf("%s/output.idx", job_dir);
	int rc = 0;
	memset(r, 0, sizeof(*r));
	r->data_fd = r->idx_fd = -1;
	r->data_fd = open(data, O_RDONLY | O_CLOEXEC);
	r->idx_fd = open(idx, O_RDONLY | O_CLOEXEC);
	if (r->data_fd < 0 || r->idx_fd < 0) {
		rc = yb_err_set(err, errno == ENOENT ? YB_ENOENT : YB_EIO, "cannot open the spool in '%s': %s",
				job_dir, strerror(errno));
		spool_reader_close(r);
	}
	free(data);
	free(idx);
	return rc;
}

void spool_reader_close(struct spool_reader *r)
{
	if (r->data_fd >= 0)
		close(r->data_fd);
	if (r->idx_fd >= 0)
		close(r->idx_fd);
	r->data_fd = r->idx_fd = -1;
}

/* Loads record i: 1 if it is there, 0 if not (yet), <0 if the index is damaged. */
static int load_rec(int idx_fd, uint64_t i, uint64_t *start, uint32_t *len, uint8_t *stream,
		    struct yb_err *err)
{
	unsigned char rec[SPOOL_REC_LEN];
	ssize_t n = pread(idx_fd, rec, sizeof(rec), (off_t)(i * SPOOL_REC_LEN));
	if (n < 0)
		return yb_err_set(err, YB_EIO, "cannot read the spool index: %s", strerror(errno));
	if (n < (ssize_t)sizeof(rec) || rec[13] == 0)
		return 0; /* not (wholly) written yet */
	if (rec[13] != REC_MAGIC || (rec[12] != WIRE_STDOUT && rec[12] != WIRE_STDERR))
		return yb_err_set(err, YB_EPROTO, "damaged spool index at record %llu",
				  (unsigned long long)i);
	*start = (uint64_t)get_be32(rec) << 32 | get_be32(rec + 4);
	*len = get_be32(rec + 8);
	*stream = rec[12];
	return 1;
}

static int index_records(int idx_fd, uint64_t *n, struct yb_err *err)
{
	struct stat st;
	if (fstat(idx_fd, &st) < 0)
		return yb_err_set(err, YB_EIO, "cannot stat the spool index: %s", strerror(errno));
	*n = (uint64_t)st.st_size / SPOOL_REC_LEN;
	return 0;
}

int spool_reader_seek(struct spool_reader *r, uint64_t offset, struct yb_err *err)
{
	uint64_t n = 0, start = 0, end = 0;
	uint32_t len = 0;
	uint8_t stream;
	int rc;

	if ((rc = index_records(r->idx_fd, &n, err)) < 0)
		return rc;
	/* trailing records not wholly written yet do not count */
	while (n > 0 && (rc = load_rec(r->idx_fd, n - 1, &start, &len, &stream, err)) == 0)
		n--;
	if (rc < 0)
		return rc;
	if (n > 0)
		end = start + len;
	if (offset > end)
		return yb_err_set(err, YB_ERANGE, "offset %llu is past the end of the output (%llu bytes)",
				  (unsigned long long)offset, (unsigned long long)end);
	r->pos = offset;
	r->rec_len = 0;
	if (offset == end) {
		r->rec = n;
		r->rec_start = end;
		return 0;
	}
	/* the last record starting at or before offset */
	uint64_t lo = 0, hi = n - 1;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo + 1) / 2;
		if ((rc = load_rec(r->idx_fd, mid, &start, &len, &stream, err)) <= 0)
			return rc < 0 ? rc : yb_err_set(err, YB_EPROTO, "damaged spool index");
		if (start <= offset)
			lo = mid;
		else
			hi = mid - 1;
	}
	if ((rc = load_rec(r->idx_fd, lo, &start, &len, &stream, err)) <= 0)
		return rc < 0 ? rc : yb_err_set(err, YB_EPROTO, "damaged spool index");
	if (!(start <= offset && offset < start + len))
		return yb_err_set(err, YB_EPROTO, "damaged spool index (records not contiguous)");
	r->rec = lo;
	r->rec_start = start;
	r->rec_len = len;
	r->rec_stream = stream;
	return 0;
}

int spool_reader_read(struct spool_reader *r, struct yb_buf *buf, size_t max, uint8_t *stream,
		      uint64_t *offset, struct yb_err *err)
{
	size_t got = 0;
	uint8_t piece_stream = 0;
	uint64_t first = r->pos;
	int rc;

	yb_buf_reset(buf);
	while (got < max) {
		if (r->rec_len == 0) {
			uint64_t start;
			uint32_t len;
			uint8_t s;
			if ((rc = load_rec(r->idx_fd, r->rec, &start, &len, &s, err)) < 0)
				return rc;
			if (rc == 0)
				break;
			if (start != r->pos || len == 0)
				return yb_err_set(err, YB_EPROTO,
						  "damaged spool index (record %llu starts at %llu, expected %llu)",
						  (unsigned long long)r->rec, (unsigned long long)start,
						  (unsigned long long)r->pos);
			r->rec_start = start;
			r->rec_len = len;
			r->rec_stream = s;
		}
		if (got > 0 && r->rec_stream != piece_stream)
			break;
		piece_stream = r->rec_stream;
		uint64_t left = r->rec_start + r->rec_len - r->pos;
		size_t take = max - got;
		if (take > left)
			take = (size_t)left;
		char *dst = yb_buf_reserve(buf, take);
		if (!dst)
			return yb_err_set(err, YB_ENOMEM, "spool read buffer full");
		size_t done = 0;
		while (done < take) {
			ssize_t n = pread(r->data_fd, dst + done, take - done, (off_t)(r->pos + done));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return yb_err_set(err, YB_EIO, "cannot read the output spool: %s",
						  n < 0 ? strerror(errno) : "shorter than its index");
			done += (size_t)n;
		}
		yb_buf_commit(buf, take);
		got += take;
		r->pos += take;
		if (r->pos == r->rec_start + r->rec_len) {
			r->rec++;
			r->rec_start = r->pos;
			r->rec_len = 0;
		}
	}
	*stream = piece_stream;
	*offset = first;
	return (int)got;
}

int spool_length(const char *job_dir, uint64_t *out, struct yb_err *err)
{
	struct spool_reader r;
	int rc = spool_reader_open(&r, job_dir, err);
	if (rc < 0)
		return rc;
	uint64_t n = 0, start = 0;
	uint32_t len = 0;
	uint8_t stream;
	if ((rc = index_records(r.idx_fd, &n, err)) < 0)
		goto out;
	while (n > 0 && (rc = load_rec(r.idx_fd, n - 1, &start, &len, &stream, err)) == 0)
		n--;
	if (rc < 0)
		goto out;
	*out = n > 0 ? start + len : 0;
	rc = 0;
out:
	spool_reader_close(&r);
	return rc;
}

/* ---- exit records ---- */

struct yb_json *job_exit_to_json(const char *job, const struct job_exit *ex)
{
	struct yb_json *o = yb_json_object();
	yb_json_set(o, "job", yb_json_str(job));
	yb_json_set(o, "status", ex->has_status ? yb_json_int(ex->status) : yb_json_null());
	yb_json_set(o, "signal", ex->has_signal ? yb_json_int(ex->signal) : yb_json_null());
	yb_json_set(o, "timed_out", yb_json_bool(ex->timed_out));
	yb_json_set(o, "cancelled", yb_json_bool(ex->cancelled));
	if (ex->lost)
		yb_json_set(o, "lost", yb_json_bool(true));
	yb_json_set(o, "started_at_us", yb_json_int(ex->started_at_us));
	yb_json_set(o, "ended_at_us", yb_json_int(ex->ended_at_us));
	yb_json_set(o, "utime_us", yb_json_int(ex->utime_us));
	yb_json_set(o, "stime_us", yb_json_int(ex->stime_us));
	yb_json_set(o, "maxrss_kb", yb_json_int(ex->maxrss_kb));
	yb_json_set(o, "stdout_bytes", yb_json_int((int64_t)ex->stdout_bytes));
	yb_json_set(o, "stdout_sha256", yb_json_str(ex->stdout_sha256));
	yb_json_set(o, "stderr_bytes", yb_json_int((int64_t)ex->stderr_bytes));
	yb_json_set(o, "stderr_sha256", yb_json_str(ex->stderr_sha256));
	yb_json_set(o, "dropped_bytes", yb_json_int((int64_t)ex->dropped_bytes));
	yb_json_set(o, "spool_bytes", yb_json_int((int64_t)ex->spool_bytes));
	yb_json_set(o, "killed_count", yb_json_int((int64_t)ex->killed_count));
	struct yb_json *killed = yb_json_array();
	for (size_t i = 0; i < ex->n_killed; i++) {
		struct yb_json *k = yb_json_object();
		yb_json_set(k, "pid", yb_json_int(ex->killed[i].pid));
		yb_json_set(k, "comm", yb_json_str(ex->killed[i].comm));
		yb_json_push(killed, k);
	}
	yb_json_set(o, "killed", killed);
	if (ex->error[0])
		yb_json_set(o, "error", yb_json_str(ex->error));
	return o;
}

static void copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

int job_exit_from_json(const struct yb_json *v, struct job_exit *out, struct yb_err *err)
{
	struct job_exit ex = { 0 };
	if (!yb_json_is_object(v))
		return yb_err_set(err, YB_EINVAL, "exit record is not a JSON object");
	struct yb_json *s = yb_json_get(v, "status"), *sig = yb_json_get(v, "signal");
	ex.has_status = yb_json_is_int(s);
	ex.status = ex.has_status ? (int)yb_json_int_value(s) : 0;
	ex.has_signal = yb_json_is_int(sig);
	ex.signal = ex.has_signal ? (int)yb_json_int_value(sig) : 0;
	ex.timed_out = yb_json_get_bool(v, "timed_out", false);
	ex.cancelled = yb_json_get_bool(v, "cancelled", false);
	ex.lost = yb_json_get_bool(v, "lost", false);
	ex.started_at_us = yb_json_get_int(v, "started_at_us", 0);
	ex.ended_at_us = yb_json_get_int(v, "ended_at_us", 0);
	ex.utime_us = yb_json_get_int(v, "utime_us", 0);
	ex.stime_us = yb_json_get_int(v, "stime_us", 0);
	ex.maxrss_kb = yb_json_get_int(v, "maxrss_kb", 0);
	ex.stdout_bytes = (uint64_t)yb_json_get_int(v, "stdout_bytes", 0);
	ex.stderr_bytes = (uint64_t)yb_json_get_int(v, "stderr_bytes", 0);
	ex.dropped_bytes = (uint64_t)yb_json_get_int(v, "dropped_bytes", 0);
	struct yb_json *sb = yb_json_get(v, "spool_bytes");
	if (!yb_json_is_int(sb) || yb_json_int_value(sb) < 0)
		return yb_err_set(err, YB_EINVAL, "exit record has no 'spool_bytes'");
	ex.spool_bytes = (uint64_t)yb_json_int_value(sb);
	copy_str(ex.stdout_sha256, sizeof(ex.stdout_sha256), yb_json_get_str(v, "stdout_sha256"));
	copy_str(ex.stderr_sha256, sizeof(ex.stderr_sha256), yb_json_get_str(v, "stderr_sha256"));
	copy_str(ex.error, sizeof(ex.error), yb_json_get_str(v, "error"));
	ex.killed_count = (uint64_t)yb_json_get_int(v, "killed_count", 0);
	struct yb_json *killed = yb_json_get(v, "killed");
	size_t n = yb_json_is_array(killed) ? yb_json_len(killed) : 0;
	for (size_t i = 0; i < n && ex.n_killed < JOB_EXIT_KILLED_MAX; i++) {
		struct yb_json *k = yb_json_at(killed, i);
		ex.killed[ex.n_killed].pid = (int)yb_json_get_int(k, "pid", 0);
		copy_str(ex.killed[ex.n_killed].comm, sizeof(ex.killed[0].comm), yb_json_get_str(k, "comm"));
		ex.n_killed++;
	}
	*out = ex;
	return 0;
}

int journal_write_exit(const char *job_dir, const char *job, const struct job_exit *ex,
		       struct yb_err *err)
{
	struct yb_json *o = job_exit_to_json(job, ex);
	char *text = yb_json_dump(o, YB_JSON_PRETTY);
	char *path = xasprintf("%s/exit.json", job_dir);
	char *with_nl = xasprintf("%s\n", text);
	int rc = yb_write_file_atomic(path, with_nl, strlen(with_nl), 0600, err);
	free(with_nl);
	free(path);
	free(text);
	yb_json_free(o);
	return rc;
}

int journal_read_exit(const char *job_dir, struct job_exit *out, struct yb_err *err)
{
	char *path = xasprintf("%s/exit.json", job_dir), *text = NULL;
	struct yb_json *v = NULL;
	size_t len;
	int rc = read_journal_file(path, EXIT_MAX_BYTES, &text, &len, err);
	if (rc < 0)
		goto out;
	if ((rc = yb_json_parse(text, len, &v, err)) < 0 ||
	    (rc = job_exit_from_json(v, out, err)) < 0)
		yb_err_prefix(err, "'%s'", path);
out:
	yb_json_free(v);
	free(text);
	free(path);
	return rc;
}

/* ---- liveness, cancel, lost jobs ---- */

static bool file_exists(const char *dir, const char *name)
{
	char *path = xasprintf("%s/%s", dir, name);
	struct stat st;
	bool there = lstat(path, &st) == 0;
	free(path);
	return there;
}

enum job_liveness journal_liveness(const char *job_dir)
{
	/* exit.json is written last by the supervisor: once it is there the job has ended, even if
	 * the supervisor has not yet let go of the FIFO */
	if (file_exists(job_dir, "exit.json"))
		return JOB_ENDED;
	char *path = xasprintf("%s/control", job_dir);
	int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
	free(path);
	if (fd >= 0) {
		close(fd);
		return JOB_RUNNING;
	}
	/* No reader: the supervisor is gone. It writes exit.json before it lets go of the FIFO, so
	 * looking again now is decisive. */
	return file_exists(job_dir, "exit.json") ? JOB_ENDED : JOB_LOST;
}

int journal_cancel(const char *job_dir, struct yb_err *err)
{
	char *path = xasprintf("%s/control", job_dir);
	int rc = 0;
	int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		rc = yb_err_set(err, YB_ENOENT, "no supervisor is listening on '%s'", path);
		goto out;
	}
	if (write(fd, "c", 1) < 0 && errno != EAGAIN)
		rc = yb_err_set(err, YB_EIO, "cannot write to '%s': %s", path, strerror(errno));
	close(fd);
out:
	free(path);
	return rc;
}

int journal_record_lost(const char *job_dir, const char *job, struct yb_err *err)
{
	struct job_exit ex = { 0 };
	struct spool_reader r;
	struct yb_buf buf;
	struct yb_sha256 h[3];
	unsigned char md[YB_SHA256_LEN];
	int rc;

	yb_buf_init(&buf, 0);
	yb_sha256_init(&h[WIRE_STDOUT]);
	yb_sha256_init(&h[WIRE_STDERR]);
	if ((rc = spool_reader_open(&r, job_dir, err)) == 0) {
		for (;;) {
			uint8_t stream;
			uint64_t offset;
			rc = spool_reader_read(&r, &buf, WIRE_MAX_CHUNK, &stream, &offset, err);
			if (rc <= 0)
				break;
			yb_sha256_update(&h[stream], buf.data, buf.len);
			if (stream == WIRE_STDOUT)
				ex.stdout_bytes += buf.len;
			else
				ex.stderr_bytes += buf.len;
		}
		spool_reader_close(&r);
		if (rc < 0)
			goto out;
	} else if (rc != YB_ENOENT) {
		goto out;
	}
	ex.spool_bytes = ex.stdout_bytes + ex.stderr_bytes;
	yb_sha256_final(&h[WIRE_STDOUT], md);
	yb_hex(md, sizeof(md), ex.stdout_sha256);
	yb_sha256_final(&h[WIRE_STDERR], md);
	yb_hex(md, sizeof(md), ex.stderr_sha256);
	char *spec = xasprintf("%s/spec.json", job_dir);
	struct stat st;
	if (stat(spec, &st) == 0)
		ex.started_at_us = (int64_t)st.st_mtim.tv_sec * 1000000 + st.st_mtim.tv_nsec / 1000;
	free(spec);
	ex.ended_at_us = yb_wall_us();
	ex.lost = true;
	snprintf(ex.error, sizeof(ex.error),
		 "the job's supervisor died without recording the end (killed, or the host restarted); "
		 "the output spooled until then is kept");
	rc = journal_write_exit(job_dir, job, &ex, err);
out:
	yb_buf_release(&buf);
	return rc;
}

/* ---- retention ---- */

static int64_t mtime_us(const char *dir, const char *name)
{
	char *path = name ? xasprintf("%s/%s", dir, name) : xstrdup(dir);
	struct stat st;
	int64_t t = -1;
	if (lstat(path, &st) == 0)
		t = (int64_t)st.st_mtim.tv_sec * 1000000 + st.st_mtim.tv_nsec / 1000;
	free(path);
	return t;
}

/* Folders a killed serve left half made in starting/ (a start takes milliseconds: a minute old
 * is abandoned). */
static void purge_starting(const char *state_dir)
{
	char *starting = xasprintf("%s/starting", state_dir);
	DIR *d = opendir(starting);
	struct dirent *e;
	int64_t now = yb_wall_us();
	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *path = xasprintf("%s/%s", starting, e->d_name);
		int64_t t = mtime_us(path, NULL);
		if (t >= 0 && now - t > STARTING_MAX_AGE_US)
			remove_dir(path, NULL);
		free(path);
	}
	if (d)
		closedir(d);
	free(starting);
}

int journal_gc(const char *state_dir, int64_t retention_ms, int *removed, struct yb_err *err)
{
	char *jobs = xasprintf("%s/jobs", state_dir);
	int rc = 0, n_removed = 0;
	DIR *d = opendir(jobs);
	if (!d) {
		if (errno != ENOENT)
			rc = yb_err_set(err, YB_EIO, "cannot open '%s': %s", jobs, strerror(errno));
		goto out;
	}
	int64_t now = yb_wall_us();
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!wire_job_id_valid(e->d_name, strlen(e->d_name)))
			continue;
		char *dir = journal_job_dir(state_dir, e->d_name);
		struct stat st;
		if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
			free(dir); /* not ours: leave it alone */
			continue;
		}
		enum job_liveness state = journal_liveness(dir);
		int64_t since = -1;
		if (state == JOB_ENDED)
			since = mtime_us(dir, "exit.json");
		else if (state == JOB_LOST) {
			/* the last sign of life: the newest of its files */
			since = mtime_us(dir, NULL);
			int64_t t = mtime_us(dir, "output.idx");
			if (t > since)
				since = t;
		}
		if (since >= 0 && now - since > retention_ms * 1000) {
			struct yb_err rerr;
			if (journal_remove_job(state_dir, e->d_name, &rerr) == 0)
				n_removed++;
			else if (rc == 0)
				rc = yb_err_set(err, YB_EIO, "%s", rerr.msg);
		}
		free(dir);
	}
	closedir(d);
out:
	/* and what FORGET left on its way out (not counted: those jobs were forgotten already) */
	while (journal_purge_forgotten(state_dir) == 1)
		;
	purge_starting(state_dir);
	if (rc == 0 && removed)
		*removed = n_removed;
	free(jobs);
	return rc;
}
