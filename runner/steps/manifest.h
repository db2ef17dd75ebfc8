/*
 * manifest.h: what one backup generation holds, as manifest.json beside its data.
 *
 * The manifest is written once, before the generation is committed, and never changed after; its
 * SHA-256 (the manifest digest) is the generation's evidence. It names the data file with its size
 * and digest, the uncompressed stream's size and digest, and for a folder source every entry with
 * its type, size, mode, owner, mtime, link and content digest. manifest_parse refuses anything it
 * did not write (unknown format, missing fields, unsafe entry names, duplicates) with a message;
 * the result owns its strings.
 */
#ifndef YB_MANIFEST_H
#define YB_MANIFEST_H

#include "archive_io.h"
#include "digest.h"
#include "yb.h"

#define MANIFEST_FORMAT "yoban-backup-1"
#define MANIFEST_MAX_BYTES (512u << 20)
#define MANIFEST_NAME "manifest.json"

enum mf_source { MF_FOLDER = 0, MF_COMMAND };

struct mf_entry {
	char *path;
	enum aio_type type;
	uint64_t size;
	unsigned mode;
	int64_t uid, gid;
	int64_t mtime_s;
	long mtime_ns;
	char *link;
	char sha256[YB_SHA256_HEX_LEN];
};

struct manifest {
	enum mf_source source_kind;
	char *source;             /* the folder, or the command */
	char *runbook, *step;     /* may be NULL */
	int64_t created_us;       /* when the backup started */
	int level, threads;
	char *data_name;          /* "data.tar.zst" or "data.zst" */
	uint64_t data_bytes;      /* compressed, on disk */
	char data_sha256[YB_SHA256_HEX_LEN];
	uint64_t content_bytes;   /* uncompressed stream */
	char content_sha256[YB_SHA256_HEX_LEN]; /* "" for a folder (its entries have digests) */
	uint64_t file_bytes;      /* sum of the files' sizes */
	size_t n_entries, cap_entries;
	struct mf_entry *entries; /* sorted by path after manifest_parse */
};

void manifest_init(struct manifest *m);
void manifest_release(struct manifest *m);
/* Copies e (names included) to the end of m->entries. */
void manifest_add(struct manifest *m, const struct aio_entry *e);
/* The manifest as text (the caller frees it). */
char *manifest_dump(const struct manifest *m);
int manifest_parse(const char *text, size_t len, struct manifest *out, struct yb_err *err);
/* The entry named path, or NULL (after manifest_parse, which sorts). */
const struct mf_entry *manifest_find(const struct manifest *m, const char *path);
/* Compares one entry read back (or restored) with the manifest's: YB_EINVAL saying what differs. */
int manifest_check(const struct manifest *m, const struct aio_entry *e, struct yb_err *err);

#endif
