/*
 * restore.c: the `restore` step: generation N (0 the newest) of a repository into an empty or new
 * folder, every entry checked against the manifest as it lands.
 *
 * The one idea: the destination is proven empty before the first byte, and extraction is
 * archive_io's safe path (tar only; no absolute names, no '..', nothing under a link, no
 * devices); so a restore can add files only inside the folder it was given. A command's backup
 * comes back as one file, DIR/dump. A restore that fails says which folder holds the partial
 * result: it is never removed for the operator, who may want to look at it.
 */
#define _GNU_SOURCE
#include "steps.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive_io.h"
#include "repo.h"
#include "stream.h"

static int prepare_dest(const char *to, struct yb_err *err)
{
	struct stat st;
	if (to[0] != '/')
		return yb_err_set(err, YB_EINVAL, "destination '%s' must be an absolute path", to);
	if (lstat(to, &st) < 0) {
		if (errno != ENOENT)
			return yb_err_set(err, YB_EIO, "cannot examine '%s': %s", to, strerror(errno));
		if (mkdir(to, 0700) < 0)
			return yb_err_set(err, YB_EIO, "cannot create destination '%s': %s (its parent "
					  "must exist)", to, strerror(errno));
		return 0;
	}
	if (!S_ISDIR(st.st_mode))
		return yb_err_set(err, YB_EINVAL, "destination '%s' is %s, not a folder (give an empty "
				  "or new folder)", to, yb_file_type_name(st.st_mode));
	DIR *d = opendir(to);
	if (!d)
		return yb_err_set(err, YB_EIO, "cannot read '%s': %s", to, strerror(errno));
	struct dirent *de;
	bool empty = true;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			empty = false;
	closedir(d);
	if (!empty)
		return yb_err_set(err, YB_EEXIST, "destination '%s' is not empty (a restore goes only "
				  "into an empty or new folder)", to);
	return 0;
}

struct land_ctx {
	const struct manifest *m;
	bool *seen;
	uint64_t n;
	struct progress *progress;
};

static int on_landed(void *ctx, const struct aio_entry *e, struct yb_err *err)
{
	struct land_ctx *l = ctx;
	int rc = manifest_check(l->m, e, err);
	if (rc < 0)
		return rc;
	l->seen[manifest_find(l->m, e->path) - l->m->entries] = true;
	l->n++;
	l->progress->files++;
	return 0;
}

static int restore_stream(const struct manifest *m, struct rstream *rs, const char *to,
			  bool progress_on, uint64_t *files, struct yb_err *err);

int steps_restore_data(const struct manifest *m, const char *data_path, const char *to,
		       bool progress_on, uint64_t *files, struct yb_err *err)
{
	struct rstream r = { .fd = -1 };
	int rc;
	if ((rc = prepare_dest(to, err)) == 0 && (rc = rstream_open(&r, data_path, err)) == 0)
		rc = restore_stream(m, &r, to, progress_on, files, err);
	rstream_close(&r);
	return rc;
}

int steps_restore_source(const struct manifest *m, const char *name, rstream_raw_fn raw, void *ctx,
			 const char *to, bool progress_on, uint64_t *files, struct yb_err *err)
{
	struct rstream r;
	int rc;
	if ((rc = prepare_dest(to, err)) < 0)
		return rc;
	rstream_open_source(&r, name, raw, ctx);
	rc = restore_stream(m, &r, to, progress_on, files, err);
	rstream_close(&r);
	return rc;
}

static int restore_stream(const struct manifest *m, struct rstream *r, const char *to,
			  bool progress_on, uint64_t *files, struct yb_err *err)
{
	struct progress prog;
	char content[YB_SHA256_HEX_LEN], data[YB_SHA256_HEX_LEN];
	bool *seen = NULL;
	char *out_path = NULL;
	int rc = 0, out_fd = -1;

	progress_start(&prog, progress_on, "restore", m->content_bytes);
	r->progress = &prog;
	r->skip_content_sha = !m->content_sha256[0];
	if (m->source_kind == MF_FOLDER) {
		seen = xcalloc(m->n_entries + 1, 1);
		struct land_ctx l = { m, seen, 0, &prog };
		if ((rc = aio_extract(rstream_read, r, to, on_landed, &l, err)) < 0)
			goto out;
		if (l.n != m->n_entries) {
			for (size_t i = 0; i < m->n_entries; i++)
				if (!seen[i]) {
					rc = yb_err_set(err, YB_EINVAL, "'%.200s' is in the manifest but "
							"not in the archive", m->entries[i].path);
					goto out;
				}
		}
		*files = l.n;
	} else {
		out_path = xasprintf("%s/dump", to);
		if ((out_fd = open(out_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
			rc = yb_err_set(err, YB_EIO, "cannot create '%s': %s", out_path, strerror(errno));
			goto out;
		}
		for (;;) {
			const void *p;
			ssize_t n = rstream_read(r, &p, err);
			if (n < 0) {
				rc = (int)n;
				goto out;
			}
			if (n == 0)
				break;
			for (ssize_t done = 0; done < n;) {
				ssize_t k = write(out_fd, (const char *)p + done, (size_t)(n - done));
				if (k < 0 && errno == EINTR)
					continue;
				if (k < 0) {
					rc = yb_err_set(err, YB_EIO, "cannot write '%s': %s", out_path,
							strerror(errno));
					goto out;
				}
				done += k;
			}
		}
		if (fsync(out_fd) < 0) {
			rc = yb_err_set(err, YB_EIO, "cannot fsync '%s': %s", out_path, strerror(errno));
			goto out;
		}
		*files = 1;
	}
	if ((rc = rstream_finish(r, content, data, err)) < 0)
		goto out;
	progress_end(&prog);
	if (strcmp(data, m->data_sha256) || (m->content_sha256[0] && strcmp(content, m->content_sha256)) ||
	    r->content_bytes != m->content_bytes) {
		rc = yb_err_set(err, YB_EINVAL, "the data read does not match the manifest's digests "
				"(the generation is damaged)");
		goto out;
	}
out:
	if (out_fd >= 0)
		close(out_fd);
	r->progress = NULL;
	free(seen);
	free(out_path);
	return rc;
}

int step_restore(const struct yb_json *spec, struct yb_json *ev, struct yb_err *err)
{
	const char *repository = yb_json_get_str(spec, "repository"), *to = yb_json_get_str(spec, "to");
	int64_t generation = yb_json_get_int(spec, "generation", -1);
	struct repo_gen *gens = NULL;
	size_t n = 0;
	char *data_path = NULL;
	uint64_t files = 0;
	int rc;
	if (!repository || !to || generation < 0) {
		rc = yb_err_set(err, YB_EINVAL, "restore spec: needs 'repository', 'generation' (0 is "
				"the newest) and 'to'");
		goto out;
	}
	yb_json_set(ev, "repository", yb_json_str(repository));
	yb_json_set(ev, "generation", yb_json_int(generation));
	yb_json_set(ev, "to", yb_json_str(to));
	if ((rc = repo_list(repository, &gens, &n, err)) < 0)
		goto out;
	if ((size_t)generation >= n) {
		rc = yb_err_set(err, YB_ENOENT, "repository '%s' has no generation %lld (it holds %zu%s)",
				repository, (long long)generation, n,
				n ? ", numbered from 0, the newest" : "");
		goto out;
	}
	const struct repo_gen *g = &gens[generation];
	yb_json_set(ev, "name", yb_json_str(g->name));
	if (!g->readable) {
		rc = yb_err_set(err, YB_EINVAL, "generation %lld ('%s') cannot be read: %s",
				(long long)generation, g->name, g->error);
		goto out;
	}
	yb_json_set(ev, "manifest_sha256", yb_json_str(g->manifest_sha256));
	if ((rc = prepare_dest(to, err)) < 0) /* refused before anything is written */
		goto out;
	data_path = xasprintf("%s/%s", g->dir, g->m.data_name);
	if ((rc = steps_restore_data(&g->m, data_path, to, steps_progress_wanted(spec), &files,
				     err)) < 0) {
		yb_err_prefix(err, "restore of '%s' into '%s' failed (the folder holds a partial "
			      "restore: remove it before trying again)", g->name, to);
		goto out;
	}
	yb_json_set(ev, "files", yb_json_int((int64_t)files));
	yb_json_set(ev, "content_bytes", yb_json_int((int64_t)g->m.content_bytes));
	yb_json_set(ev, "verified", yb_json_bool(true));
	printf("restore: generation %lld ('%s') of '%s' restored into '%s': %llu entries, every "
	       "one matching the manifest (sha256 %s)\n", (long long)generation, g->name, repository,
	       to, (unsigned long long)files, g->manifest_sha256);
out:
	repo_gens_free(gens, n);
	free(data_path);
	return rc;
}

int step_verify(const struct yb_json *spec, struct yb_json *ev, struct yb_err *err)
{
	const char *repository = yb_json_get_str(spec, "repository");
	int64_t only = yb_json_get_int(spec, "generation", -1);
	struct repo_gen *gens = NULL;
	size_t n = 0, bad = 0;
	int rc;
	if (!repository) {
		rc = yb_err_set(err, YB_EINVAL, "verify spec: needs 'repository' (and 'generation', "
				"else every one)");
		goto out;
	}
	yb_json_set(ev, "repository", yb_json_str(repository));
	if ((rc = repo_list(repository, &gens, &n, err)) < 0)
		goto out;
	if (only >= 0 && (size_t)only >= n) {
		rc = yb_err_set(err, YB_ENOENT, "repository '%s' has no generation %lld (it holds %zu)",
				repository, (long long)only, n);
		goto out;
	}
	struct yb_json *list = yb_json_array();
	for (size_t i = 0; i < n; i++) {
		if (only >= 0 && (size_t)only != i)
			continue;
		struct yb_err one = { 0 };
		int v = steps_verify_generation(gens[i].dir, steps_progress_wanted(spec), NULL, &one);
		int64_t at = yb_wall_us();
		repo_write_verify(gens[i].dir, at, v == 0, v == 0 ? "read back" : one.msg, NULL);
		struct yb_json *o = yb_json_object();
		yb_json_set(o, "generation", yb_json_int((int64_t)i));
		yb_json_set(o, "name", yb_json_str(gens[i].name));
		yb_json_set(o, "manifest_sha256", yb_json_str(gens[i].manifest_sha256));
		yb_json_set(o, "ok", yb_json_bool(v == 0));
		if (v < 0) {
			yb_json_set(o, "error", yb_json_str(one.msg));
			bad++;
			printf("verify: generation %zu ('%s'): FAILED: %s\n", i, gens[i].name, one.msg);
		} else {
			printf("verify: generation %zu ('%s'): ok, every entry matches manifest %s\n", i,
			       gens[i].name, gens[i].manifest_sha256);
		}
		yb_json_push(list, o);
	}
	yb_json_set(ev, "generations", list);
	if (bad)
		rc = yb_err_set(err, YB_EINVAL, "%zu generation%s of '%s' failed verification", bad,
				bad == 1 ? "" : "s", repository);
out:
	repo_gens_free(gens, n);
	return rc;
}
