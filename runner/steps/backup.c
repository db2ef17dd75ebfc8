/*
 * backup.c: the `backup` step: one new generation of a repository (see repo.h), from a folder
 * (pax tar through archive_io) or a command's standard output, zstd-compressed.
 *
 * The order is the whole safety argument: write into .incoming-, fsync, read everything back
 * from the disk against the manifest read back too, record the verification, rename into a gen-
 * name, fsync the repository, and only then prune beyond `generations`. Any failure before the
 * rename leaves an .incoming- folder (removed here, or by the next backup) and every generation
 * as it was; a kill at any instant leaves the same.
 */
#define _GNU_SOURCE
#include "steps.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "archive_io.h"
#include "manifest.h"
#include "repo.h"
#include "stream.h"

struct pack_ctx {
	struct manifest *m;
	struct progress *progress;
	uint64_t changed, skipped;
};

static int on_packed(void *ctx, const struct aio_entry *e, struct yb_err *err)
{
	struct pack_ctx *p = ctx;
	if (e->type == AIO_OTHER) {
		fprintf(stderr, "yoban-runner: '%s' is a socket, FIFO or device: not backed up\n",
			e->path);
		p->skipped++;
		return 0;
	}
	if (e->changed) {
		fprintf(stderr, "yoban-runner: warning: '%s' changed while it was read (the backup "
			"holds what was read, padded or cut to its first size)\n", e->path);
		p->changed++;
	}
	manifest_add(p->m, e);
	p->progress->files++;
	return 0;
}

/* The command's stdout into the stream; its stderr stays ours (the job's). */
static int pack_command(const char *command, struct wstream *w, struct yb_err *err)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return yb_err_set(err, YB_EIO, "cannot make a pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return yb_err_set(err, YB_EIO, "cannot fork: %s", strerror(errno));
	}
	if (pid == 0) {
		dup2(fds[1], 1);
		execl("/bin/sh", "sh", "-c", command, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	char *buf = xmalloc(1u << 20);
	int rc = 0;
	for (;;) {
		ssize_t n = read(fds[0], buf, 1u << 20);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = yb_err_set(err, YB_EIO, "cannot read the command's output: %s", strerror(errno));
			break;
		}
		if (n == 0)
			break;
		if ((rc = wstream_write(w, buf, (size_t)n, err)) < 0)
			break;
	}
	free(buf);
	close(fds[0]);
	if (rc < 0)
		kill(pid, SIGTERM);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		if (WIFEXITED(status))
			rc = yb_err_set(err, YB_EIO, "the backup command exited %d: '%.300s'",
					WEXITSTATUS(status), command);
		else
			rc = yb_err_set(err, YB_EIO, "the backup command was killed by signal %d: '%.300s'",
					WTERMSIG(status), command);
	}
	return rc;
}

struct verify_ctx {
	const struct manifest *m;
	bool *seen;
	uint64_t n;
	struct progress *progress;
};

static int on_scanned(void *ctx, const struct aio_entry *e, struct yb_err *err)
{
	struct verify_ctx *v = ctx;
	int rc = manifest_check(v->m, e, err);
	if (rc < 0)
		return rc;
	size_t i = (size_t)(manifest_find(v->m, e->path) - v->m->entries);
	if (v->seen[i])
		return yb_err_set(err, YB_EINVAL, "'%.200s' appears twice in the archive", e->path);
	v->seen[i] = true;
	v->n++;
	if (v->progress)
		v->progress->files++;
	return 0;
}

/* Reads the generation in dir back from the disk: the manifest file, the data file's digest and
 * size, the stream's, and (for a folder) every entry against the manifest (see steps.h). */
int steps_verify_generation(const char *dir, bool progress_on, struct manifest *out_m,
			    struct yb_err *err)
{
	char *mpath = xasprintf("%s/" MANIFEST_NAME, dir), *text = NULL, *dpath = NULL;
	size_t len = 0;
	struct manifest m;
	struct rstream r = { .fd = -1 };
	struct progress prog;
	bool *seen = NULL;
	char content[YB_SHA256_HEX_LEN], data[YB_SHA256_HEX_LEN];
	int rc;
	manifest_init(&m);
	if ((rc = yb_read_regular(mpath, MANIFEST_MAX_BYTES, YB_READ_NOFOLLOW, &text, &len, err)) < 0 ||
	    (rc = manifest_parse(text, len, &m, err)) < 0)
		goto out;
	dpath = xasprintf("%s/%s", dir, m.data_name);
	if ((rc = rstream_open(&r, dpath, err)) < 0)
		goto out;
	r.skip_content_sha = !m.content_sha256[0];
	progress_start(&prog, progress_on, "verify", m.content_bytes);
	r.progress = &prog;
	if (m.source_kind == MF_FOLDER) {
		seen = xcalloc(m.n_entries + 1, 1);
		struct verify_ctx v = { &m, seen, 0, &prog };
		if ((rc = aio_scan(rstream_read, &r, on_scanned, &v, err)) < 0)
			goto out;
		if (v.n != m.n_entries) {
			rc = yb_err_set(err, YB_EINVAL, "the archive holds %llu entries, the manifest %zu",
					(unsigned long long)v.n, m.n_entries);
			goto out;
		}
	}
	if ((rc = rstream_finish(&r, content, data, err)) < 0)
		goto out;
	progress_end(&prog);
	if (r.data_bytes != m.data_bytes || strcmp(data, m.data_sha256)) {
		rc = yb_err_set(err, YB_EINVAL, "'%s' does not match its manifest (%llu bytes, sha256 "
				"%.12s... where the manifest says %llu, %.12s...)", dpath,
				(unsigned long long)r.data_bytes, data, (unsigned long long)m.data_bytes,
				m.data_sha256);
		goto out;
	}
	if (r.content_bytes != m.content_bytes ||
	    (m.content_sha256[0] && strcmp(content, m.content_sha256))) {
		rc = yb_err_set(err, YB_EINVAL, "the content of '%s' does not match its manifest", dpath);
		goto out;
	}
	if (out_m) {
		*out_m = m;
		manifest_init(&m);
	}
out:
	rstream_close(&r);
	manifest_release(&m);
	free(seen);
	free(mpath);
	free(dpath);
	free(text);
	return rc;
}

static int write_file_synced(const char *path, const char *text, struct yb_err *err)
{
	return yb_write_file_atomic(path, text, strlen(text), 0600, err);
}

int step_backup(const struct yb_json *spec, struct yb_json *ev, struct yb_err *err)
{
	const char *repository = yb_json_get_str(spec, "repository");
	const char *source = yb_json_get_str(spec, "source"), *command = yb_json_get_str(spec, "command");
	int64_t generations = yb_json_get_int(spec, "generations", 3);
	int64_t level = yb_json_get_int(spec, "compression", 3);
	int64_t threads = yb_json_get_int(spec, "threads", 0);
	bool verify = yb_json_get_bool(spec, "verify", true);
	struct repo repo = { .lock_fd = -1 };
	struct manifest m;
	struct wstream w = { .fd = -1 };
	struct progress prog;
	char *dir = NULL, *data_path = NULL, *name = NULL, *text = NULL, **removed = NULL;
	uint64_t seq = 0;
	int rc = 0, threads_used = 0;
	manifest_init(&m);

	if (!repository || !!source == !!command || generations < 1 || generations > 1000 ||
	    level < 1 || level > 19 || threads < 0 || threads > 256) {
		rc = yb_err_set(err, YB_EINVAL, "backup spec: needs 'repository', exactly one of "
				"'source' and 'command', 'generations' 1..1000, 'compression' 1..19");
		goto out;
	}
	if (source && source[0] != '/') {
		rc = yb_err_set(err, YB_EINVAL, "source '%s' must be an absolute path", source);
		goto out;
	}
	yb_json_set(ev, "repository", yb_json_str(repository));
	if ((rc = repo_open(repository, true, &repo, err)) < 0 ||
	    (rc = repo_begin(&repo, &seq, &dir, err)) < 0)
		goto out;
	m.source_kind = source ? MF_FOLDER : MF_COMMAND;
	m.source = xstrdup(source ? source : command);
	if (yb_json_get_str(spec, "runbook"))
		m.runbook = xstrdup(yb_json_get_str(spec, "runbook"));
	if (yb_json_get_str(spec, "step"))
		m.step = xstrdup(yb_json_get_str(spec, "step"));
	m.created_us = yb_wall_us();
	m.level = (int)level;
	m.data_name = xstrdup(source ? "data.tar.zst" : "data.zst");
	data_path = xasprintf("%s/%s", dir, m.data_name);

	/* the previous generation's size is the estimate for "time left" */
	struct repo_gen *gens = NULL;
	size_t n_gens = 0;
	uint64_t estimate = 0;
	if (repo_list(repository, &gens, &n_gens, NULL) == 0 && n_gens && gens[0].readable)
		estimate = gens[0].m.content_bytes;
	repo_gens_free(gens, n_gens);

	if ((rc = wstream_open(&w, data_path, (int)level, (int)threads, &threads_used, err)) < 0)
		goto out;
	m.threads = threads_used;
	w.skip_content_sha = source != NULL;
	progress_start(&prog, steps_progress_wanted(spec), "backup", estimate);
	w.progress = &prog;
	struct pack_ctx pc = { &m, &prog, 0, 0 };
	if (source)
		rc = aio_pack(source, wstream_write, &w, on_packed, &pc, err);
	else
		rc = pack_command(command, &w, err);
	if (rc < 0 || (rc = wstream_finish(&w, m.content_sha256, m.data_sha256, err)) < 0)
		goto out;
	progress_end(&prog);
	m.data_bytes = w.data_bytes;
	m.content_bytes = w.content_bytes;
	text = manifest_dump(&m);
	char *mpath = xasprintf("%s/" MANIFEST_NAME, dir);
	rc = write_file_synced(mpath, text, err);
	free(mpath);
	if (rc < 0)
		goto out;
	char manifest_sha[YB_SHA256_HEX_LEN];
	yb_sha256_hex(text, strlen(text), manifest_sha);

	int64_t verified_at = 0;
	if (verify) {
		if ((rc = steps_verify_generation(dir, prog.on, NULL, err)) < 0) {
			yb_err_prefix(err, "verification failed, the backup was not committed");
			goto out;
		}
		verified_at = yb_wall_us();
		if ((rc = repo_write_verify(dir, verified_at, true, "read back before commit", err)) < 0)
			goto out;
	}
	if ((rc = repo_commit(&repo, dir, seq, m.created_us, &name, err)) < 0)
		goto out;
	free(dir);
	dir = NULL; /* committed: never removed by us */
	rc = repo_prune(&repo, (int)generations, &removed, err);

	char when[32];
	repo_format_time(m.created_us, when, sizeof(when));
	yb_json_set(ev, "generation", yb_json_str(name));
	yb_json_set(ev, "seq", yb_json_int((int64_t)seq));
	yb_json_set(ev, "created_at", yb_json_str(when));
	yb_json_set(ev, "source", yb_json_bytes(m.source, strlen(m.source)));
	yb_json_set(ev, "manifest_sha256", yb_json_str(manifest_sha));
	yb_json_set(ev, "data_bytes", yb_json_int((int64_t)m.data_bytes));
	yb_json_set(ev, "data_sha256", yb_json_str(m.data_sha256));
	yb_json_set(ev, "content_bytes", yb_json_int((int64_t)m.content_bytes));
	if (m.content_sha256[0])
		yb_json_set(ev, "content_sha256", yb_json_str(m.content_sha256));
	yb_json_set(ev, "files", yb_json_int((int64_t)m.n_entries));
	yb_json_set(ev, "file_bytes", yb_json_int((int64_t)m.file_bytes));
	yb_json_set(ev, "changed_while_read", yb_json_int((int64_t)pc.changed));
	yb_json_set(ev, "skipped", yb_json_int((int64_t)pc.skipped));
	yb_json_set(ev, "compression_level", yb_json_int(level));
	yb_json_set(ev, "threads", yb_json_int(threads_used));
	yb_json_set(ev, "verified", yb_json_bool(verify));
	if (verified_at) {
		repo_format_time(verified_at, when, sizeof(when));
		yb_json_set(ev, "verified_at", yb_json_str(when));
	}
	struct yb_json *pr = yb_json_array();
	for (char **p = removed; p && *p; p++)
		yb_json_push(pr, yb_json_str(*p));
	yb_json_set(ev, "pruned", pr);
	if (rc < 0)
		yb_err_prefix(err, "generation '%s' is committed, but pruning failed", name);
	else
		printf("backup: generation '%s' committed in '%s': %zu entries, %llu bytes stored, "
		       "manifest sha256 %s%s\n", name, repository, m.n_entries,
		       (unsigned long long)m.data_bytes, manifest_sha,
		       verify ? ", verified by reading it back" : ", NOT verified (verify: false)");
	for (char **p = removed; p && *p; p++)
		printf("backup: pruned '%s' (beyond %lld generations)\n", *p, (long long)generations);
out:
	wstream_abort(&w);
	if (dir && repo_rmtree(dir, NULL) == 0)
		fprintf(stderr, "yoban-runner: the incomplete backup was removed; every earlier "
			"generation is untouched\n");
	repo_close(&repo);
	manifest_release(&m);
	repo_strv_free(removed);
	free(dir);
	free(data_path);
	free(name);
	free(text);
	return rc;
}
