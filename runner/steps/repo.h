/*
 * repo.h: a backup repository: the folder holding a backup step's generations.
 *
 *   REPO/.yoban-repository          marker (written on first use; a non-empty folder without it
 *                                   is refused, so pruning never touches someone else's files)
 *   REPO/.lock                      flock: one writer (backup, prune) at a time
 *   REPO/gen-000042-20261201T140000Z/   a committed generation: data.tar.zst (or data.zst),
 *                                   manifest.json, verify.json
 *   REPO/.incoming-000043-PID/      a backup in progress: never listed, removed by the next backup
 *   REPO/.trash-000040/             a generation being pruned: never listed, removed next time
 *
 * A generation appears only by rename(2) of a complete, fsynced, verified folder, and disappears
 * only by rename to .trash- before it is deleted; so at every instant, crash or not, a gen-
 * folder is whole. The sequence number (not the clock) orders generations.
 */
#ifndef YB_REPO_H
#define YB_REPO_H

#include "manifest.h"
#include "yb.h"

struct repo {
	char *path;
	int lock_fd;
};

struct repo_gen {
	char *name;     /* gen-000042-20261201T140000Z */
	char *dir;      /* REPO/name */
	uint64_t seq;
	bool readable;  /* its manifest parsed */
	char error[256];
	struct manifest m;
	char manifest_sha256[YB_SHA256_HEX_LEN];
	int64_t verified_at_us; /* 0: never */
	bool verified_ok;
	char verify_how[64];
};

/* Opens (creating it and its marker when create) and locks the repository for writing. */
int repo_open(const char *path, bool create, struct repo *r, struct yb_err *err);
void repo_close(struct repo *r);
/* Lists the committed generations, newest first (no lock needed: a gen- folder is always
 * whole). A generation whose manifest does not parse is listed with readable false. */
int repo_list(const char *path, struct repo_gen **gens, size_t *n, struct yb_err *err);
void repo_gens_free(struct repo_gen *gens, size_t n);
/* Removes leftovers (.incoming-, .trash-) and makes a fresh incoming folder; *seq is the next
 * sequence number, *dir the folder (the caller frees it). */
int repo_begin(struct repo *r, uint64_t *seq, char **dir, struct yb_err *err);
/* fsyncs dir, renames it to its gen- name and fsyncs the repository; *name gets the name. */
int repo_commit(struct repo *r, const char *dir, uint64_t seq, int64_t created_us, char **name,
		struct yb_err *err);
/* Removes the generations beyond the newest keep; the names removed go into *removed (a
 * NULL-terminated array the caller frees with repo_strv_free). */
int repo_prune(struct repo *r, int keep, char ***removed, struct yb_err *err);
void repo_strv_free(char **v);
/* Writes GEN/verify.json atomically: when, whether it matched, how it was checked. */
int repo_write_verify(const char *gen_dir, int64_t at_us, bool ok, const char *how,
		      struct yb_err *err);
/* Removes a folder tree (never following links). */
int repo_rmtree(const char *path, struct yb_err *err);
/* fsyncs a file or folder by path. */
int repo_fsync_path(const char *path, struct yb_err *err);
/* ISO 8601 UTC of a wall time in microseconds, into out[32]. */
void repo_format_time(int64_t us, char *out, size_t size);

#endif
