/*
 * archive_io.h: tar archives (pax), through libarchive: common/archive_io.c is the only file
 * that includes archive.h. The runner's backup steps (runner/steps/) and the scheduler's evidence
 * bundles (scheduler/report/bundle.c) both use it.
 *
 * Folders (backups). Three things are done with a tar stream, and each hands every entry to the caller with the
 * SHA-256 of exactly the bytes that went into (or came out of) the archive:
 *   aio_pack     walks a folder (never following a link inside it) and writes a pax stream to a
 *                sink: files, folders, symbolic links and hard links with their modes, owners
 *                (ids and names) and mtimes; long and non-ASCII names as pax allows;
 *   aio_scan     reads a stream and only digests it (verification before commit);
 *   aio_extract  reads a stream into an empty folder, safely: only the tar formats are read, and
 *                an entry is refused (the whole extraction fails) when its name is absolute,
 *                holds '..' or '.', appears twice, or lies under a symbolic link of the archive;
 *                when it is a device, FIFO or socket; when a hard link names anything but a
 *                regular file extracted before it. libarchive's own secure flags stay on as well.
 * The stream comes from a pull source (aio_source_fn) and goes to a push sink (yb_sink_fn).
 */
#ifndef YB_ARCHIVE_IO_H
#define YB_ARCHIVE_IO_H

#include <sys/types.h>

#include "compress.h"
#include "digest.h"
#include "yb.h"

#define AIO_MAX_PATH 4096

enum aio_type { AIO_FILE = 0, AIO_DIR, AIO_SYMLINK, AIO_HARDLINK, AIO_OTHER };

struct aio_entry {
	const char *path;      /* relative, '/'-separated, no trailing slash */
	enum aio_type type;
	uint64_t size;         /* bytes of content (0 but for AIO_FILE) */
	unsigned mode;         /* permission bits and set-id bits */
	int64_t uid, gid;
	int64_t mtime_s;
	long mtime_ns;
	const char *link;      /* symlink target or hard link's first name, else NULL */
	unsigned char sha256[YB_SHA256_LEN]; /* of the content (AIO_FILE), else of nothing */
	bool changed;          /* aio_pack: the file changed size while it was read */
};

/* Called once per entry, after its content went through; returning <0 stops the walk. */
typedef int (*aio_entry_fn)(void *ctx, const struct aio_entry *e, struct yb_err *err);
/* Gives the next piece of the stream: >0 bytes at *data, 0 at its end, <0 an error. */
typedef ssize_t (*aio_source_fn)(void *ctx, const void **data, struct yb_err *err);

const char *aio_type_name(enum aio_type t);
/* "file", "dir", ... back to the type; -1 when it is none of them. */
int aio_type_parse(const char *name);

int aio_pack(const char *folder, yb_sink_fn sink, void *sink_ctx, aio_entry_fn on_entry,
	     void *entry_ctx, struct yb_err *err);
int aio_scan(aio_source_fn source, void *source_ctx, aio_entry_fn on_entry, void *entry_ctx,
	     struct yb_err *err);
/* dest must exist and be an empty folder (the caller checks); owners are restored when we run
 * as root. On failure what was extracted stays (the caller says so). */
int aio_extract(aio_source_fn source, void *source_ctx, const char *dest, aio_entry_fn on_entry,
		void *entry_ctx, struct yb_err *err);

/* The name rule of aio_extract on its own: 0 if name is a safe relative path (one trailing '/'
 * allowed), else YB_EINVAL saying why. */
int aio_check_name(const char *name, struct yb_err *err);

/* ---- archives of files held in memory (evidence bundles) ----
 * aio_writer    writes regular files given as bytes (mode 0644, owner 0:0, one mtime) as a pax
 *               stream to a sink;
 * aio_read_files reads a tar stream that must hold nothing but regular files, never touching the
 *               disk: an entry is refused (the read fails, saying which and why) when its name
 *               breaks aio_check_name or appears twice; when it is a folder, a link (symbolic or
 *               hard), a device, FIFO or socket, or sparse; when it is larger than max_file bytes,
 *               or it brings the files' total past max_total or their count past max_files. */
struct aio_writer;

int aio_writer_open(struct aio_writer **out, yb_sink_fn sink, void *sink_ctx, struct yb_err *err);
int aio_writer_add(struct aio_writer *w, const char *path, const void *data, size_t len,
		   int64_t mtime_s, struct yb_err *err);
/* Ends the stream (the tar end blocks) and flushes it to the sink. */
int aio_writer_close(struct aio_writer *w, struct yb_err *err);
void aio_writer_free(struct aio_writer *w);

struct aio_limits {
	uint64_t max_file;   /* bytes of one file */
	uint64_t max_total;  /* bytes of all files */
	size_t max_files;    /* number of files */
	size_t max_kept;     /* a file up to this size is handed over whole; a larger one digested only */
	bool (*keep)(const char *path); /* NULL: every file up to max_kept; else only those it names */
};

struct aio_file {
	const char *path;
	uint64_t size;
	unsigned char sha256[YB_SHA256_LEN];
	const void *data;    /* the bytes (NUL after them) when kept (max_kept, keep), else NULL */
};

/* Called once per file, after its content was read; returning <0 stops the read. */
typedef int (*aio_file_fn)(void *ctx, const struct aio_file *f, struct yb_err *err);

int aio_read_files(aio_source_fn source, void *source_ctx, const struct aio_limits *lim,
		   aio_file_fn on_file, void *file_ctx, struct yb_err *err);

#endif
