/*
 * archive_io.c: the libarchive wrapper (the only file that includes archive.h); see archive_io.h.
 *
 * The one idea: every byte is digested where it crosses the archive boundary, so a manifest says
 * what the tar stream really holds, not what the disk held a moment earlier or later. A file that
 * shrinks while it is read is padded with zeros (the header already promised its size) and one
 * that grows is cut at that size; both are flagged. Extraction trusts nothing in the stream: names,
 * types and links are checked by our own rules before libarchive sees them, and libarchive's
 * secure flags are a second fence, not the first.
 */
#include "archive_io.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DATA_PIECE (256u << 10)

static const char *const type_names[] = { "file", "dir", "symlink", "hardlink", "other" };

const char *aio_type_name(enum aio_type t)
{
	return (unsigned)t < YB_ARRAY_LEN(type_names) ? type_names[t] : "other";
}

int aio_type_parse(const char *name)
{
	for (size_t i = 0; i + 1 < YB_ARRAY_LEN(type_names); i++)
		if (!strcmp(name, type_names[i]))
			return (int)i;
	return -1;
}

int aio_check_name(const char *name, struct yb_err *err)
{
	size_t len = strlen(name);
	if (len == 0)
		return yb_err_set(err, YB_EINVAL, "an entry has an empty name");
	if (len > AIO_MAX_PATH)
		return yb_err_set(err, YB_EINVAL, "an entry's name is longer than %d bytes", AIO_MAX_PATH);
	if (name[0] == '/')
		return yb_err_set(err, YB_EINVAL, "entry '%.200s' has an absolute name", name);
	if (len > 1 && name[len - 1] == '/')
		len--; /* one trailing slash: a folder */
	const char *p = name, *end = name + len;
	while (p < end) {
		const char *slash = memchr(p, '/', (size_t)(end - p));
		size_t n = slash ? (size_t)(slash - p) : (size_t)(end - p);
		if (n == 0)
			return yb_err_set(err, YB_EINVAL, "entry '%.200s' has an empty path component",
					  name);
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return yb_err_set(err, YB_EINVAL, "entry '%.200s' holds '%.*s' (names must stay "
					  "inside the folder)", name, (int)n, p);
		p += n + 1;
	}
	return 0;
}

static enum aio_type entry_type(struct archive_entry *e)
{
	if (archive_entry_hardlink(e))
		return AIO_HARDLINK;
	switch (archive_entry_filetype(e)) {
	case AE_IFREG: return AIO_FILE;
	case AE_IFDIR: return AIO_DIR;
	case AE_IFLNK: return AIO_SYMLINK;
	default: return AIO_OTHER;
	}
}

static void fill_entry(struct aio_entry *out, struct archive_entry *e, const char *path)
{
	memset(out, 0, sizeof(*out));
	out->path = path;
	out->type = entry_type(e);
	out->size = out->type == AIO_FILE ? (uint64_t)archive_entry_size(e) : 0;
	out->mode = (unsigned)archive_entry_perm(e) & 07777;
	out->uid = archive_entry_uid(e);
	out->gid = archive_entry_gid(e);
	out->mtime_s = archive_entry_mtime(e);
	out->mtime_ns = archive_entry_mtime_nsec(e);
	if (out->type == AIO_SYMLINK)
		out->link = archive_entry_symlink(e);
	else if (out->type == AIO_HARDLINK)
		out->link = archive_entry_hardlink(e);
}

/* ---- pack -------------------------------------------------------------------------------- */

struct pack_sink {
	yb_sink_fn sink;
	void *ctx;
	struct yb_err *err;
	int rc;
};

static la_ssize_t pack_write(struct archive *a, void *c, const void *buf, size_t n)
{
	struct pack_sink *p = c;
	int rc = p->sink(p->ctx, buf, n, p->err);
	if (rc < 0) {
		p->rc = rc;
		archive_set_error(a, EIO, "%s", p->err ? p->err->msg : "the sink failed");
		return -1;
	}
	return (la_ssize_t)n;
}

/* The archive's error, unless the sink's own (already in err) is why it failed. */
static int arc_fail(struct archive *a, int sink_rc, struct yb_err *err, const char *what)
{
	if (sink_rc < 0)
		return sink_rc;
	const char *msg = archive_error_string(a);
	return yb_err_set(err, YB_EIO, "%s: %s", what, msg ? msg : "unknown libarchive error");
}

static int pack_data(struct archive *disk, struct archive *w, struct aio_entry *ae, char *buf,
		     struct pack_sink *ps, struct yb_err *err)
{
	struct yb_sha256 h;
	yb_sha256_init(&h);
	uint64_t done = 0;
	while (done < ae->size) {
		la_ssize_t n = archive_read_data(disk, buf, DATA_PIECE);
		if (n < 0)
			return yb_err_set(err, YB_EIO, "cannot read '%s': %s", ae->path,
					  archive_error_string(disk));
		if (n == 0)
			break;
		if ((uint64_t)n > ae->size - done) {
			n = (la_ssize_t)(ae->size - done);
			ae->changed = true;
		}
		if (archive_write_data(w, buf, (size_t)n) != n)
			return arc_fail(w, ps->rc, err, "cannot write the archive");
		yb_sha256_update(&h, buf, (size_t)n);
		done += (uint64_t)n;
	}
	if (done < ae->size) {
		/* the file shrank: the header promised ae->size bytes, libarchive pads with zeros */
		ae->changed = true;
		memset(buf, 0, DATA_PIECE);
		while (done < ae->size) {
			size_t n = ae->size - done < DATA_PIECE ? (size_t)(ae->size - done) : DATA_PIECE;
			if (archive_write_data(w, buf, n) != (la_ssize_t)n)
				return arc_fail(w, ps->rc, err, "cannot write the archive");
			yb_sha256_update(&h, buf, n);
			done += n;
		}
	} else if (archive_read_data(disk, buf, 1) > 0) {
		ae->changed = true; /* it grew: cut at the size in the header */
	}
	yb_sha256_final(&h, ae->sha256);
	return 0;
}

int aio_pack(const char *folder, yb_sink_fn sink, void *sink_ctx, aio_entry_fn on_entry,
	     void *entry_ctx, struct yb_err *err)
{
	struct archive *disk = archive_read_disk_new(), *w = archive_write_new();
	struct archive_entry_linkresolver *links = archive_entry_linkresolver_new();
	struct archive_entry *entry = archive_entry_new();
	struct pack_sink ps = { sink, sink_ctx, err, 0 };
	char *root = xstrdup(folder), *buf = xmalloc(DATA_PIECE), *rel = NULL;
	int rc = 0;

	if (!disk || !w || !links || !entry)
		BUG("libarchive could not allocate");
	size_t root_len = strlen(root);
	while (root_len > 1 && root[root_len - 1] == '/')
		root[--root_len] = '\0';
	archive_read_disk_set_symlink_hybrid(disk); /* the folder named may be a link; nothing inside */
	archive_read_disk_set_standard_lookup(disk);
	archive_read_disk_set_behavior(disk, ARCHIVE_READDISK_NO_XATTR | ARCHIVE_READDISK_NO_ACL |
					     ARCHIVE_READDISK_NO_FFLAGS | ARCHIVE_READDISK_NO_SPARSE);
	archive_write_set_format_pax(w);
	archive_write_set_bytes_per_block(w, 64 * 1024);
	archive_write_set_bytes_in_last_block(w, 1);
	archive_entry_linkresolver_set_strategy(links, archive_format(w));
	if (archive_write_open(w, &ps, NULL, pack_write, NULL) != ARCHIVE_OK) {
		rc = arc_fail(w, ps.rc, err, "cannot start the archive");
		goto out;
	}
	if (archive_read_disk_open(disk, root) != ARCHIVE_OK) {
		rc = yb_err_set(err, YB_EIO, "cannot read folder '%s': %s", root,
				archive_error_string(disk));
		goto out;
	}
	for (;;) {
		archive_entry_clear(entry);
		int r = archive_read_next_header2(disk, entry);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			rc = yb_err_set(err, YB_EIO, "cannot walk folder '%s': %s", root,
					archive_error_string(disk));
			goto out;
		}
		archive_read_disk_descend(disk);
		const char *full = archive_entry_pathname(entry);
		if (!full || !strcmp(full, root))
			continue; /* the folder itself: restored as the target folder */
		size_t skip = root_len == 1 && root[0] == '/' ? 1 : root_len + 1;
		if (strncmp(full, root, root_len) || (skip > 1 && full[root_len] != '/'))
			BUG("libarchive named '%s' outside '%s'", full, root);
		free(rel);
		rel = xstrdup(full + skip);
		archive_entry_copy_pathname(entry, rel);
		/* atime and ctime change by being read: kept out, so the same tree gives the same stream */
		archive_entry_unset_atime(entry);
		archive_entry_unset_ctime(entry);
		archive_entry_unset_birthtime(entry);
		unsigned ftype = archive_entry_filetype(entry);
		if (ftype != AE_IFREG && ftype != AE_IFDIR && ftype != AE_IFLNK) {
			/* sockets, FIFOs and devices are not data: left out, and said */
			struct aio_entry ae;
			fill_entry(&ae, entry, rel);
			ae.type = AIO_OTHER;
			if (on_entry && (rc = on_entry(entry_ctx, &ae, err)) < 0)
				goto out;
			continue;
		}
		struct archive_entry *out_entry = entry, *sparse = NULL;
		archive_entry_linkify(links, &out_entry, &sparse);
		if (!out_entry)
			BUG("the tar link strategy deferred an entry");
		struct aio_entry ae;
		fill_entry(&ae, out_entry, rel);
		if (archive_write_header(w, out_entry) < ARCHIVE_WARN) {
			rc = arc_fail(w, ps.rc, err, "cannot write the archive");
			goto out;
		}
		if (ae.type == AIO_FILE && (rc = pack_data(disk, w, &ae, buf, &ps, err)) < 0)
			goto out;
		if (ae.type != AIO_FILE)
			yb_sha256(NULL, 0, ae.sha256);
		if (archive_write_finish_entry(w) < ARCHIVE_WARN) {
			rc = arc_fail(w, ps.rc, err, "cannot write the archive");
			goto out;
		}
		if (on_entry && (rc = on_entry(entry_ctx, &ae, err)) < 0)
			goto out;
	}
	if (archive_write_close(w) != ARCHIVE_OK) {
		rc = arc_fail(w, ps.rc, err, "cannot finish the archive");
		goto out;
	}
out:
	archive_entry_free(entry);
	archive_entry_linkresolver_free(links);
	archive_read_free(disk);
	archive_write_free(w);
	free(root);
	free(rel);
	free(buf);
	return rc;
}

/* ---- read: scan and extract -------------------------------------------------------------- */

struct source_ctx {
	aio_source_fn fn;
	void *ctx;
	struct yb_err *err;
	int rc;
};

static la_ssize_t source_read(struct archive *a, void *c, const void **buf)
{
	struct source_ctx *s = c;
	ssize_t n = s->fn(s->ctx, buf, s->err);
	if (n < 0) {
		s->rc = (int)n;
		archive_set_error(a, EIO, "%s", s->err ? s->err->msg : "the source failed");
		return -1;
	}
	return (la_ssize_t)n;
}

/* The names seen so far in one extraction, with their types: an open-addressing string set. */
struct name_set {
	char **keys;
	uint8_t *types;
	size_t cap, n;
};

static uint64_t name_hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

static ssize_t name_find(const struct name_set *set, const char *s, size_t n)
{
	if (!set->cap)
		return -1;
	for (size_t i = name_hash(s, n) & (set->cap - 1);; i = (i + 1) & (set->cap - 1)) {
		if (!set->keys[i])
			return -1;
		if (strlen(set->keys[i]) == n && !memcmp(set->keys[i], s, n))
			return (ssize_t)i;
	}
}

static void name_add(struct name_set *set, const char *s, uint8_t type)
{
	if ((set->n + 1) * 2 > set->cap) {
		struct name_set bigger = { 0 };
		bigger.cap = set->cap ? set->cap * 2 : 1024;
		bigger.keys = xcalloc(bigger.cap, sizeof(char *));
		bigger.types = xcalloc(bigger.cap, 1);
		for (size_t i = 0; i < set->cap; i++)
			if (set->keys[i]) {
				size_t j = name_hash(set->keys[i], strlen(set->keys[i])) & (bigger.cap - 1);
				while (bigger.keys[j])
					j = (j + 1) & (bigger.cap - 1);
				bigger.keys[j] = set->keys[i];
				bigger.types[j] = set->types[i];
			}
		bigger.n = set->n;
		free(set->keys);
		free(set->types);
		*set = bigger;
	}
	size_t j = name_hash(s, strlen(s)) & (set->cap - 1);
	while (set->keys[j])
		j = (j + 1) & (set->cap - 1);
	set->keys[j] = xstrdup(s);
	set->types[j] = type;
	set->n++;
}

static void name_set_release(struct name_set *set)
{
	for (size_t i = 0; i < set->cap; i++)
		free(set->keys[i]);
	free(set->keys);
	free(set->types);
	memset(set, 0, sizeof(*set));
}

/* Our rules for one entry of an extraction (see archive_io.h). */
static int check_entry(struct name_set *seen, const char *name, enum aio_type type,
		       const char *link, struct yb_err *err)
{
	int rc = aio_check_name(name, err);
	if (rc < 0)
		return rc;
	if (type == AIO_OTHER)
		return yb_err_set(err, YB_EINVAL, "entry '%.200s' is a device, FIFO or socket (only "
				  "files, folders and links are restored)", name);
	if (name_find(seen, name, strlen(name)) >= 0)
		return yb_err_set(err, YB_EINVAL, "entry '%.200s' appears twice in the archive", name);
	for (const char *p = strchr(name, '/'); p; p = strchr(p + 1, '/')) {
		ssize_t i = name_find(seen, name, (size_t)(p - name));
		if (i >= 0 && seen->types[i] != AIO_DIR)
			return yb_err_set(err, YB_EINVAL, "entry '%.200s' lies under '%.*s', which is "
					  "not a folder of the archive (a link trick)", name,
					  (int)(p - name), name);
	}
	if (type == AIO_HARDLINK) {
		if (!link || aio_check_name(link, NULL) < 0)
			return yb_err_set(err, YB_EINVAL, "hard link '%.200s' names an unsafe target",
					  name);
		ssize_t i = name_find(seen, link, strlen(link));
		if (i < 0 || seen->types[i] != AIO_FILE)
			return yb_err_set(err, YB_EINVAL, "hard link '%.200s' names '%.200s', which is "
					  "not a file extracted before it", name, link);
	}
	return 0;
}

/* Copies one entry's content from r to dw (NULL: only digest it), hashing in order; holes of a
 * sparse entry are digested as the zeros they read as. */
static int copy_data(struct archive *r, struct archive *dw, struct aio_entry *ae,
		     struct source_ctx *sc, struct yb_err *err)
{
	struct yb_sha256 h;
	static const char zeros[4096];
	uint64_t done = 0;
	yb_sha256_init(&h);
	for (;;) {
		const void *block;
		size_t len;
		la_int64_t offset;
		int r_rc = archive_read_data_block(r, &block, &len, &offset);
		if (r_rc == ARCHIVE_EOF)
			break;
		if (r_rc < ARCHIVE_WARN)
			return arc_fail(r, sc->rc, err, "cannot read the archive");
		if (offset < 0 || (uint64_t)offset < done || (uint64_t)offset + len > ae->size)
			return yb_err_set(err, YB_EINVAL, "entry '%.200s' has data outside its size",
					  ae->path);
		while (done < (uint64_t)offset) {
			size_t n = (uint64_t)offset - done < sizeof(zeros) ? (size_t)((uint64_t)offset - done)
									   : sizeof(zeros);
			yb_sha256_update(&h, zeros, n);
			done += n;
		}
		if (dw && archive_write_data_block(dw, block, len, offset) < ARCHIVE_WARN)
			return yb_err_set(err, YB_EIO, "cannot write '%.200s': %s", ae->path,
					  archive_error_string(dw));
		yb_sha256_update(&h, block, len);
		done += len;
	}
	while (done < ae->size) {
		size_t n = ae->size - done < sizeof(zeros) ? (size_t)(ae->size - done) : sizeof(zeros);
		yb_sha256_update(&h, zeros, n);
		done += n;
	}
	yb_sha256_final(&h, ae->sha256);
	return 0;
}

static int read_stream(aio_source_fn source, void *source_ctx, const char *dest,
		       aio_entry_fn on_entry, void *entry_ctx, struct yb_err *err)
{
	struct archive *r = archive_read_new(), *dw = NULL;
	struct source_ctx sc = { source, source_ctx, err, 0 };
	struct name_set seen = { 0 };
	char *name = NULL;
	int rc = 0, cwd_fd = -1, dest_fd = -1;

	if (!r)
		BUG("libarchive could not allocate");
	archive_read_support_format_tar(r); /* tar only: no other format, no filter */
	if (dest) {
		dw = archive_write_disk_new();
		int flags = ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_NO_OVERWRITE |
			    ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
			    ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS;
		if (geteuid() == 0)
			flags |= ARCHIVE_EXTRACT_OWNER;
		archive_write_disk_set_options(dw, flags);
		archive_write_disk_set_standard_lookup(dw);
		/* names are relative to the destination: we work from inside it */
		if ((cwd_fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
		    (dest_fd = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
		    fchdir(dest_fd) < 0) {
			rc = yb_err_set(err, YB_EIO, "cannot enter folder '%s': %s", dest, strerror(errno));
			goto out;
		}
	}
	if (archive_read_open(r, &sc, NULL, source_read, NULL) != ARCHIVE_OK) {
		rc = arc_fail(r, sc.rc, err, "cannot read the archive");
		goto out;
	}
	for (;;) {
		struct archive_entry *entry;
		int r_rc = archive_read_next_header(r, &entry);
		if (r_rc == ARCHIVE_EOF)
			break;
		if (r_rc < ARCHIVE_WARN) {
			rc = arc_fail(r, sc.rc, err, "cannot read the archive");
			goto out;
		}
		const char *raw = archive_entry_pathname(entry);
		if (!raw) {
			rc = yb_err_set(err, YB_EINVAL, "an entry has no name");
			goto out;
		}
		free(name);
		name = xstrdup(raw);
		size_t len = strlen(name);
		if (len > 1 && name[len - 1] == '/')
			name[len - 1] = '\0';
		struct aio_entry ae;
		fill_entry(&ae, entry, name);
		if (dest) {
			if ((rc = check_entry(&seen, name, ae.type, ae.link, err)) < 0)
				goto out;
			name_add(&seen, name, (uint8_t)ae.type);
			archive_entry_copy_pathname(entry, name);
			if (archive_write_header(dw, entry) < ARCHIVE_WARN) {
				rc = yb_err_set(err, YB_EIO, "cannot restore '%.200s': %s", name,
						archive_error_string(dw));
				goto out;
			}
		} else if (ae.type == AIO_OTHER) {
			rc = yb_err_set(err, YB_EINVAL, "entry '%.200s' is a device, FIFO or socket", name);
			goto out;
		}
		if (ae.type == AIO_FILE) {
			if ((rc = copy_data(r, dw, &ae, &sc, err)) < 0)
				goto out;
		} else {
			yb_sha256(NULL, 0, ae.sha256);
		}
		if (dw && archive_write_finish_entry(dw) < ARCHIVE_WARN) {
			rc = yb_err_set(err, YB_EIO, "cannot restore '%.200s': %s", name,
					archive_error_string(dw));
			goto out;
		}
		if (on_entry && (rc = on_entry(entry_ctx, &ae, err)) < 0)
			goto out;
	}
	if (dw && archive_write_close(dw) != ARCHIVE_OK) {
		rc = yb_err_set(err, YB_EIO, "cannot finish the restore (folder times and modes): %s",
				archive_error_string(dw));
		goto out;
	}
out:
	if (cwd_fd >= 0) {
		if (fchdir(cwd_fd) < 0)
			BUG("cannot return to the working folder: %s", strerror(errno));
		close(cwd_fd);
	}
	if (dest_fd >= 0)
		close(dest_fd);
	archive_read_free(r);
	if (dw)
		archive_write_free(dw);
	name_set_release(&seen);
	free(name);
	return rc;
}

int aio_scan(aio_source_fn source, void *source_ctx, aio_entry_fn on_entry, void *entry_ctx,
	     struct yb_err *err)
{
	return read_stream(source, source_ctx, NULL, on_entry, entry_ctx, err);
}

int aio_extract(aio_source_fn source, void *source_ctx, const char *dest, aio_entry_fn on_entry,
		void *entry_ctx, struct yb_err *err)
{
	return read_stream(source, source_ctx, dest, on_entry, entry_ctx, err);
}

/* ---- archives of files held in memory ----------------------------------------------------- */

struct aio_writer {
	struct archive *a;
	struct archive_entry *e;
	struct pack_sink ps;
	struct yb_err sink_err;
};

/* What failed in w, into err: the sink's own message when the sink is why. */
static int writer_fail(struct aio_writer *w, struct yb_err *err, const char *what)
{
	if (w->ps.rc < 0) {
		if (err)
			*err = w->sink_err;
		return w->ps.rc;
	}
	return arc_fail(w->a, 0, err, what);
}

int aio_writer_open(struct aio_writer **out, yb_sink_fn sink, void *sink_ctx, struct yb_err *err)
{
	struct aio_writer *w = xcalloc(1, sizeof(*w));
	w->a = archive_write_new();
	w->e = archive_entry_new();
	if (!w->a || !w->e)
		BUG("libarchive could not allocate");
	w->ps = (struct pack_sink){ sink, sink_ctx, &w->sink_err, 0 };
	archive_write_set_format_pax(w->a);
	archive_write_set_bytes_per_block(w->a, 10240);
	archive_write_set_bytes_in_last_block(w->a, 1);
	if (archive_write_open(w->a, &w->ps, NULL, pack_write, NULL) != ARCHIVE_OK) {
		int rc = writer_fail(w, err, "cannot start the archive");
		aio_writer_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

int aio_writer_add(struct aio_writer *w, const char *path, const void *data, size_t len,
		   int64_t mtime_s, struct yb_err *err)
{
	int rc = aio_check_name(path, err);
	if (rc < 0)
		return rc;
	archive_entry_clear(w->e);
	archive_entry_copy_pathname(w->e, path);
	archive_entry_set_filetype(w->e, AE_IFREG);
	archive_entry_set_perm(w->e, 0644);
	archive_entry_set_uid(w->e, 0);
	archive_entry_set_gid(w->e, 0);
	archive_entry_set_size(w->e, (la_int64_t)len);
	archive_entry_set_mtime(w->e, (time_t)mtime_s, 0);
	if (archive_write_header(w->a, w->e) < ARCHIVE_WARN)
		return writer_fail(w, err, "cannot write the archive");
	const char *p = data;
	for (size_t done = 0; done < len;) {
		size_t n = len - done < DATA_PIECE ? len - done : DATA_PIECE;
		if (archive_write_data(w->a, p + done, n) != (la_ssize_t)n)
			return writer_fail(w, err, "cannot write the archive");
		done += n;
	}
	if (archive_write_finish_entry(w->a) < ARCHIVE_WARN)
		return writer_fail(w, err, "cannot write the archive");
	return 0;
}

int aio_writer_close(struct aio_writer *w, struct yb_err *err)
{
	if (archive_write_close(w->a) != ARCHIVE_OK)
		return writer_fail(w, err, "cannot finish the archive");
	return 0;
}

void aio_writer_free(struct aio_writer *w)
{
	if (!w)
		return;
	archive_entry_free(w->e);
	archive_write_free(w->a);
	free(w);
}

/* Reads the content of a regular file entry of ae->size bytes, digesting it and keeping it in
 * *kept when it is small enough. */
static int read_file_data(struct archive *r, struct source_ctx *sc, const char *name,
			  uint64_t size, bool keep, struct yb_buf *kept, unsigned char *sha256,
			  struct yb_err *err)
{
	struct yb_sha256 h;
	char piece[64 * 1024];
	uint64_t done = 0;
	yb_sha256_init(&h);
	yb_buf_reset(kept);
	for (;;) {
		la_ssize_t n = archive_read_data(r, piece, sizeof(piece));
		if (n < 0)
			return arc_fail(r, sc->rc, err, "cannot read the archive");
		if (n == 0)
			break;
		if ((uint64_t)n > size - done)
			return yb_err_set(err, YB_EINVAL, "entry '%.200s' holds more than the %llu bytes "
					  "its header says", name, (unsigned long long)size);
		yb_sha256_update(&h, piece, (size_t)n);
		if (keep && yb_buf_append(kept, piece, (size_t)n) < 0)
			BUG("a kept file outgrew the size its header gave");
		done += (uint64_t)n;
	}
	if (done != size)
		return yb_err_set(err, YB_EINVAL, "entry '%.200s' ends after %llu of the %llu bytes its "
				  "header says (a truncated archive)", name, (unsigned long long)done,
				  (unsigned long long)size);
	yb_sha256_final(&h, sha256);
	return 0;
}

static const char *member_kind(struct archive_entry *e)
{
	if (archive_entry_hardlink(e))
		return "a hard link";
	switch (archive_entry_filetype(e)) {
	case AE_IFDIR: return "a folder";
	case AE_IFLNK: return "a symbolic link";
	case AE_IFCHR:
	case AE_IFBLK: return "a device";
	case AE_IFIFO: return "a FIFO";
	case AE_IFSOCK: return "a socket";
	default: return "not a regular file";
	}
}

int aio_read_files(aio_source_fn source, void *source_ctx, const struct aio_limits *lim,
		   aio_file_fn on_file, void *file_ctx, struct yb_err *err)
{
	struct archive *r = archive_read_new();
	struct source_ctx sc = { source, source_ctx, err, 0 };
	struct name_set seen = { 0 };
	struct yb_buf kept;
	uint64_t total = 0;
	size_t count = 0;
	int rc = 0;

	if (!r)
		BUG("libarchive could not allocate");
	yb_buf_init(&kept, lim->max_kept + 1);
	archive_read_support_format_tar(r); /* tar only: no other format, no filter */
	if (archive_read_open(r, &sc, NULL, source_read, NULL) != ARCHIVE_OK) {
		rc = arc_fail(r, sc.rc, err, "cannot read the archive");
		goto out;
	}
	for (;;) {
		struct archive_entry *entry;
		int r_rc = archive_read_next_header(r, &entry);
		if (r_rc == ARCHIVE_EOF)
			break;
		if (r_rc < ARCHIVE_WARN) {
			rc = arc_fail(r, sc.rc, err, "cannot read the archive");
			goto out;
		}
		const char *name = archive_entry_pathname(entry);
		if (!name) {
			rc = yb_err_set(err, YB_EINVAL, "an entry has no name");
			goto out;
		}
		if ((rc = aio_check_name(name, err)) < 0)
			goto out;
		if (archive_entry_hardlink(entry) || archive_entry_filetype(entry) != AE_IFREG) {
			rc = yb_err_set(err, YB_EINVAL, "entry '%.200s' is %s (only regular files "
					"belong here)", name, member_kind(entry));
			goto out;
		}
		if (archive_entry_sparse_count(entry) > 0) {
			rc = yb_err_set(err, YB_EINVAL, "entry '%.200s' is a sparse file", name);
			goto out;
		}
		if (name_find(&seen, name, strlen(name)) >= 0) {
			rc = yb_err_set(err, YB_EINVAL, "entry '%.200s' appears twice in the archive",
					name);
			goto out;
		}
		if (++count > lim->max_files) {
			rc = yb_err_set(err, YB_ENOMEM, "the archive holds more than %zu files",
					lim->max_files);
			goto out;
		}
		la_int64_t size = archive_entry_size(entry);
		if (!archive_entry_size_is_set(entry) || size < 0) {
			rc = yb_err_set(err, YB_EINVAL, "entry '%.200s' has no size", name);
			goto out;
		}
		if ((uint64_t)size > lim->max_file) {
			rc = yb_err_set(err, YB_ENOMEM, "entry '%.200s' is %lld bytes, over the cap of "
					"%llu", name, (long long)size,
					(unsigned long long)lim->max_file);
			goto out;
		}
		if ((uint64_t)size > lim->max_total - total) {
			rc = yb_err_set(err, YB_ENOMEM, "the archive's files add up to more than %llu "
					"bytes (at entry '%.200s')", (unsigned long long)lim->max_total,
					name);
			goto out;
		}
		total += (uint64_t)size;
		name_add(&seen, name, AIO_FILE);
		struct aio_file f = { .path = name, .size = (uint64_t)size };
		bool keep = (uint64_t)size <= lim->max_kept && (!lim->keep || lim->keep(name));
		if ((rc = read_file_data(r, &sc, name, f.size, keep, &kept, f.sha256, err)) < 0)
			goto out;
		f.data = keep ? (kept.data ? kept.data : "") : NULL;
		if (on_file && (rc = on_file(file_ctx, &f, err)) < 0)
			goto out;
	}
out:
	archive_read_free(r);
	name_set_release(&seen);
	yb_buf_release(&kept);
	return rc;
}
