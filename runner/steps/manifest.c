/*
 * manifest.c: manifest.json, written and read (see manifest.h).
 *
 * The one idea: the parser is the manifest's gatekeeper for restore, so it is strict. Every field
 * is typed and bounded, every entry name obeys the extraction rule, and a name appears once; what
 * a restore compares against is exactly what a verified backup wrote.
 */
#include "manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

void manifest_init(struct manifest *m)
{
	memset(m, 0, sizeof(*m));
}

void manifest_release(struct manifest *m)
{
	for (size_t i = 0; i < m->n_entries; i++) {
		free(m->entries[i].path);
		free(m->entries[i].link);
	}
	free(m->entries);
	free(m->source);
	free(m->runbook);
	free(m->step);
	free(m->data_name);
	memset(m, 0, sizeof(*m));
}

void manifest_add(struct manifest *m, const struct aio_entry *e)
{
	if (m->n_entries == m->cap_entries) {
		m->cap_entries = m->cap_entries ? m->cap_entries * 2 : 256;
		m->entries = xrealloc(m->entries, m->cap_entries * sizeof(*m->entries));
	}
	struct mf_entry *d = &m->entries[m->n_entries++];
	memset(d, 0, sizeof(*d));
	d->path = xstrdup(e->path);
	d->type = e->type;
	d->size = e->size;
	d->mode = e->mode;
	d->uid = e->uid;
	d->gid = e->gid;
	d->mtime_s = e->mtime_s;
	d->mtime_ns = e->mtime_ns;
	d->link = e->link ? xstrdup(e->link) : NULL;
	yb_hex(e->sha256, YB_SHA256_LEN, d->sha256);
	if (e->type == AIO_FILE)
		m->file_bytes += e->size;
}

char *manifest_dump(const struct manifest *m)
{
	struct yb_json *o = yb_json_object(), *src = yb_json_object(), *files = yb_json_array();
	yb_json_set(o, "format", yb_json_str(MANIFEST_FORMAT));
	yb_json_set(src, "kind", yb_json_str(m->source_kind == MF_FOLDER ? "folder" : "command"));
	yb_json_set(src, m->source_kind == MF_FOLDER ? "path" : "command", yb_json_bytes(m->source, strlen(m->source)));
	yb_json_set(o, "source", src);
	if (m->runbook)
		yb_json_set(o, "runbook", yb_json_str(m->runbook));
	if (m->step)
		yb_json_set(o, "step", yb_json_str(m->step));
	yb_json_set(o, "created_us", yb_json_int(m->created_us));
	struct yb_json *z = yb_json_object();
	yb_json_set(z, "algorithm", yb_json_str("zstd"));
	yb_json_set(z, "level", yb_json_int(m->level));
	yb_json_set(z, "threads", yb_json_int(m->threads));
	yb_json_set(o, "compression", z);
	struct yb_json *d = yb_json_object();
	yb_json_set(d, "file", yb_json_str(m->data_name));
	yb_json_set(d, "bytes", yb_json_int((int64_t)m->data_bytes));
	yb_json_set(d, "sha256", yb_json_str(m->data_sha256));
	yb_json_set(o, "data", d);
	struct yb_json *c = yb_json_object();
	yb_json_set(c, "bytes", yb_json_int((int64_t)m->content_bytes));
	if (m->content_sha256[0])
		yb_json_set(c, "sha256", yb_json_str(m->content_sha256));
	yb_json_set(o, "content", c);
	yb_json_set(o, "file_bytes", yb_json_int((int64_t)m->file_bytes));
	for (size_t i = 0; i < m->n_entries; i++) {
		const struct mf_entry *e = &m->entries[i];
		struct yb_json *f = yb_json_object();
		yb_json_set(f, "path", yb_json_bytes(e->path, strlen(e->path)));
		yb_json_set(f, "type", yb_json_str(aio_type_name(e->type)));
		if (e->type == AIO_FILE) {
			yb_json_set(f, "size", yb_json_int((int64_t)e->size));
			yb_json_set(f, "sha256", yb_json_str(e->sha256));
		}
		yb_json_set(f, "mode", yb_json_int(e->mode));
		yb_json_set(f, "uid", yb_json_int(e->uid));
		yb_json_set(f, "gid", yb_json_int(e->gid));
		yb_json_set(f, "mtime", yb_json_int(e->mtime_s));
		yb_json_set(f, "mtime_ns", yb_json_int(e->mtime_ns));
		if (e->link)
			yb_json_set(f, "link", yb_json_bytes(e->link, strlen(e->link)));
		yb_json_push(files, f);
	}
	yb_json_set(o, "entries", files);
	char *text = yb_json_dump(o, 0);
	yb_json_free(o);
	return text;
}

/* ---- parse -------------------------------------------------------------------------------- */

static int get_u64(const struct yb_json *o, const char *key, const char *where, uint64_t *out,
		   struct yb_err *err)
{
	struct yb_json *v = yb_json_get(o, key);
	if (!v || !yb_json_is_int(v) || yb_json_int_value(v) < 0)
		return yb_err_set(err, YB_EINVAL, "manifest: '%s%s' must be a non-negative integer",
				  where, key);
	*out = (uint64_t)yb_json_int_value(v);
	return 0;
}

static int get_i64(const struct yb_json *o, const char *key, const char *where, int64_t *out,
		   struct yb_err *err)
{
	struct yb_json *v = yb_json_get(o, key);
	if (!v || !yb_json_is_int(v))
		return yb_err_set(err, YB_EINVAL, "manifest: '%s%s' must be an integer", where, key);
	*out = yb_json_int_value(v);
	return 0;
}

static int get_sha(const struct yb_json *o, const char *key, const char *where,
		   char out[YB_SHA256_HEX_LEN], struct yb_err *err)
{
	const char *s = yb_json_get_str(o, key);
	if (!s || strlen(s) != YB_SHA256_HEX_LEN - 1 || strspn(s, "0123456789abcdef") != YB_SHA256_HEX_LEN - 1)
		return yb_err_set(err, YB_EINVAL, "manifest: '%s%s' must be 64 lowercase hex digits",
				  where, key);
	memcpy(out, s, YB_SHA256_HEX_LEN);
	return 0;
}

static int get_bytes(const struct yb_json *o, const char *key, const char *where, char **out,
		     struct yb_err *err)
{
	struct yb_json *v = yb_json_get(o, key);
	unsigned char *b = NULL;
	size_t n = 0;
	if (!v || yb_json_bytes_value(v, &b, &n, NULL) < 0 || memchr(b, 0, n)) {
		free(b);
		return yb_err_set(err, YB_EINVAL, "manifest: '%s%s' must be a string", where, key);
	}
	*out = (char *)b;
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct mf_entry *)a)->path, ((const struct mf_entry *)b)->path);
}

static int parse_entry(const struct yb_json *f, size_t i, struct mf_entry *e, struct yb_err *err)
{
	char where[48];
	snprintf(where, sizeof(where), "entries[%zu].", i);
	int64_t v = 0;
	int rc;
	if (!yb_json_is_object(f))
		return yb_err_set(err, YB_EINVAL, "manifest: 'entries[%zu]' must be an object", i);
	if ((rc = get_bytes(f, "path", where, &e->path, err)) < 0)
		return rc;
	if ((rc = aio_check_name(e->path, err)) < 0)
		return yb_err_prefix(err, "manifest");
	const char *t = yb_json_get_str(f, "type");
	int type = t ? aio_type_parse(t) : -1;
	if (type < 0 || type == AIO_OTHER)
		return yb_err_set(err, YB_EINVAL, "manifest: '%stype' must be file, dir, symlink or "
				  "hardlink", where);
	e->type = (enum aio_type)type;
	if (e->type == AIO_FILE) {
		if ((rc = get_u64(f, "size", where, &e->size, err)) < 0 ||
		    (rc = get_sha(f, "sha256", where, e->sha256, err)) < 0)
			return rc;
	} else {
		yb_sha256_hex(NULL, 0, e->sha256);
	}
	if ((rc = get_i64(f, "mode", where, &v, err)) < 0)
		return rc;
	if (v < 0 || v > 07777)
		return yb_err_set(err, YB_EINVAL, "manifest: '%smode' is out of range", where);
	e->mode = (unsigned)v;
	if ((rc = get_i64(f, "uid", where, &e->uid, err)) < 0 ||
	    (rc = get_i64(f, "gid", where, &e->gid, err)) < 0 ||
	    (rc = get_i64(f, "mtime", where, &e->mtime_s, err)) < 0 ||
	    (rc = get_i64(f, "mtime_ns", where, &v, err)) < 0)
		return rc;
	if (v < 0 || v > 999999999)
		return yb_err_set(err, YB_EINVAL, "manifest: '%smtime_ns' is out of range", where);
	e->mtime_ns = (long)v;
	if (e->type == AIO_SYMLINK || e->type == AIO_HARDLINK) {
		if ((rc = get_bytes(f, "link", where, &e->link, err)) < 0)
			return rc;
		if (e->type == AIO_HARDLINK && (rc = aio_check_name(e->link, err)) < 0)
			return yb_err_prefix(err, "manifest");
	}
	return 0;
}

int manifest_parse(const char *text, size_t len, struct manifest *out, struct yb_err *err)
{
	struct yb_json *o = NULL;
	struct manifest m;
	int rc;
	manifest_init(&m);
	if (len > MANIFEST_MAX_BYTES) {
		rc = yb_err_set(err, YB_ENOMEM, "manifest is larger than %u bytes", MANIFEST_MAX_BYTES);
		goto out;
	}
	if ((rc = yb_json_parse(text, len, &o, err)) < 0) {
		yb_err_prefix(err, "manifest");
		goto out;
	}
	const char *format = yb_json_get_str(o, "format");
	if (!format || strcmp(format, MANIFEST_FORMAT)) {
		rc = yb_err_set(err, YB_EINVAL, "manifest: 'format' is not '%s'", MANIFEST_FORMAT);
		goto out;
	}
	struct yb_json *src = yb_json_get(o, "source");
	const char *kind = yb_json_get_str(src, "kind");
	if (!kind || (strcmp(kind, "folder") && strcmp(kind, "command"))) {
		rc = yb_err_set(err, YB_EINVAL, "manifest: 'source.kind' must be folder or command");
		goto out;
	}
	m.source_kind = !strcmp(kind, "folder") ? MF_FOLDER : MF_COMMAND;
	if ((rc = get_bytes(src, m.source_kind == MF_FOLDER ? "path" : "command", "source.", &m.source,
			    err)) < 0)
		goto out;
	if (yb_json_get_str(o, "runbook"))
		m.runbook = xstrdup(yb_json_get_str(o, "runbook"));
	if (yb_json_get_str(o, "step"))
		m.step = xstrdup(yb_json_get_str(o, "step"));
	struct yb_json *z = yb_json_get(o, "compression"), *d = yb_json_get(o, "data"),
		       *c = yb_json_get(o, "content");
	int64_t level = 0, threads = 0;
	const char *alg = yb_json_get_str(z, "algorithm");
	if (!alg || strcmp(alg, "zstd") || get_i64(z, "level", "compression.", &level, err) < 0 ||
	    get_i64(z, "threads", "compression.", &threads, err) < 0 || level < 1 || level > 22 ||
	    threads < 0 || threads > 1024) {
		rc = yb_err_set(err, YB_EINVAL, "manifest: 'compression' must be zstd with a level "
				"from 1 to 22");
		goto out;
	}
	m.level = (int)level;
	m.threads = (int)threads;
	const char *file = yb_json_get_str(d, "file");
	if (!file || (strcmp(file, "data.tar.zst") && strcmp(file, "data.zst")) ||
	    (m.source_kind == MF_FOLDER) != !strcmp(file, "data.tar.zst")) {
		rc = yb_err_set(err, YB_EINVAL, "manifest: 'data.file' must be data.tar.zst for a "
				"folder and data.zst for a command");
		goto out;
	}
	m.data_name = xstrdup(file);
	if ((rc = get_i64(o, "created_us", "", &m.created_us, err)) < 0 ||
	    (rc = get_u64(d, "bytes", "data.", &m.data_bytes, err)) < 0 ||
	    (rc = get_sha(d, "sha256", "data.", m.data_sha256, err)) < 0 ||
	    (rc = get_u64(c, "bytes", "content.", &m.content_bytes, err)) < 0)
		goto out;
	/* the stream's digest: a command's output has no other; a folder's entries have theirs */
	if ((m.source_kind == MF_COMMAND || yb_json_get(c, "sha256")) &&
	    (rc = get_sha(c, "sha256", "content.", m.content_sha256, err)) < 0)
		goto out;
	struct yb_json *entries = yb_json_get(o, "entries");
	if (!yb_json_is_array(entries)) {
		rc = yb_err_set(err, YB_EINVAL, "manifest: 'entries' must be an array");
		goto out;
	}
	size_t n = yb_json_len(entries);
	if (m.source_kind == MF_COMMAND && n) {
		rc = yb_err_set(err, YB_EINVAL, "manifest: a command's backup has no entries");
		goto out;
	}
	m.entries = xcalloc(n ? n : 1, sizeof(*m.entries));
	m.cap_entries = n;
	for (size_t i = 0; i < n; i++) {
		m.n_entries = i + 1;
		if ((rc = parse_entry(yb_json_at(entries, i), i, &m.entries[i], err)) < 0)
			goto out;
		if (m.entries[i].type == AIO_FILE)
			m.file_bytes += m.entries[i].size;
	}
	qsort(m.entries, m.n_entries, sizeof(*m.entries), cmp_entry);
	for (size_t i = 1; i < m.n_entries; i++)
		if (!strcmp(m.entries[i - 1].path, m.entries[i].path)) {
			rc = yb_err_set(err, YB_EINVAL, "manifest: entry '%.200s' appears twice",
					m.entries[i].path);
			goto out;
		}
	*out = m;
	manifest_init(&m);
out:
	manifest_release(&m);
	yb_json_free(o);
	return rc;
}

const struct mf_entry *manifest_find(const struct manifest *m, const char *path)
{
	struct mf_entry key = { .path = (char *)path };
	return m->n_entries ? bsearch(&key, m->entries, m->n_entries, sizeof(key), cmp_entry) : NULL;
}

int manifest_check(const struct manifest *m, const struct aio_entry *e, struct yb_err *err)
{
	const struct mf_entry *f = manifest_find(m, e->path);
	char sha[YB_SHA256_HEX_LEN];
	if (!f)
		return yb_err_set(err, YB_EINVAL, "'%.200s' is in the archive but not in the manifest",
				  e->path);
	if (f->type != e->type)
		return yb_err_set(err, YB_EINVAL, "'%.200s' is a %s in the archive but a %s in the "
				  "manifest", e->path, aio_type_name(e->type), aio_type_name(f->type));
	yb_hex(e->sha256, YB_SHA256_LEN, sha);
	if (f->type == AIO_FILE && (f->size != e->size || strcmp(f->sha256, sha)))
		return yb_err_set(err, YB_EINVAL, "'%.200s' differs from the manifest (size %llu, "
				  "sha256 %.12s... where the manifest says %llu, %.12s...)", e->path,
				  (unsigned long long)e->size, sha, (unsigned long long)f->size,
				  f->sha256);
	if (f->mode != e->mode || f->mtime_s != e->mtime_s)
		return yb_err_set(err, YB_EINVAL, "'%.200s' has another mode or mtime than the "
				  "manifest says", e->path);
	if ((f->link || e->link) && (!f->link || !e->link || strcmp(f->link, e->link)))
		return yb_err_set(err, YB_EINVAL, "'%.200s' links elsewhere than the manifest says",
				  e->path);
	return 0;
}
