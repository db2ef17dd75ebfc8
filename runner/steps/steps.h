/*
 * steps.h: the built-in step kinds, run by `yoban-runner step KIND --spec JSON` as the child of a
 * job's supervisor, exactly like a `run` step: so journals, cancel, timeouts and re-attach hold
 * for them unchanged.
 *
 *   backup   a folder (tar, pax) or a command's stdout, zstd, into a new verified generation
 *   restore  one generation into an empty or new folder, checked against its manifest
 *   verify   reads generations back against their manifests, recording each in verify.json
 *   list     the generations of one or more repositories (yoban backups)
 *   offsite  the newest verified generation, encrypted, to the off-site host by SFTP
 *   offsite-restore, offsite-keygen   a copy decrypted and restored; a recipient key pair
 *
 * A step's structured evidence is its last line on stdout: "yoban-evidence " and one line of
 * JSON ({"kind": ..., "ok": true|false, ...}); its other output is for people.
 */
#ifndef YB_STEPS_H
#define YB_STEPS_H

#include <sys/types.h>

#include "json.h"
#include "manifest.h"
#include "yb.h"

#define STEPS_EVIDENCE_PREFIX "yoban-evidence "

/* The step mode's entry: argv[0] is "step". Returns the exit status (0, 1 failed, 2 usage). */
int steps_main(int argc, char **argv);

/* For the supervisor: a job whose argv is ["yoban-runner", "step", ...] runs this very runner
 * binary, whatever PATH says; argv[0] is replaced by our own executable's path. */
void steps_resolve_argv(char **argv);

/* Each kind: spec in, evidence out (always set, with "ok"); returns 0 or a YB_E* code. */
int step_backup(const struct yb_json *spec, struct yb_json *evidence, struct yb_err *err);
int step_restore(const struct yb_json *spec, struct yb_json *evidence, struct yb_err *err);
int step_list(const struct yb_json *spec, struct yb_json *evidence, struct yb_err *err);
int step_verify(const struct yb_json *spec, struct yb_json *evidence, struct yb_err *err);
int step_offsite(const struct yb_json *spec, struct yb_json *evidence, struct yb_err *err);
int step_offsite_restore(const struct yb_json *spec, struct yb_json *evidence, struct yb_err *err);
int step_offsite_keygen(const struct yb_json *spec, struct yb_json *evidence, struct yb_err *err);

/* Reads the generation in dir back from the disk: its manifest, the data file's size and digest,
 * the stream's, and for a folder every entry against the manifest. *out (may be NULL) gets the
 * manifest on success. */
int steps_verify_generation(const char *dir, bool progress, struct manifest *out,
			    struct yb_err *err);

/* Restores data_path (a generation's data file, or a decrypted copy of it) whose manifest is m
 * into the empty or new folder to, checking every entry; *files gets the count. */
int steps_restore_data(const struct manifest *m, const char *data_path, const char *to,
		       bool progress, uint64_t *files, struct yb_err *err);

/* The same from a raw source of the data file's bytes (a decrypted off-site copy); name is for
 * messages. */
int steps_restore_source(const struct manifest *m, const char *name,
			 ssize_t (*raw)(void *ctx, const void **data, struct yb_err *err), void *ctx,
			 const char *to, bool progress, uint64_t *files, struct yb_err *err);

/* Shared by the kinds: a progress line when the spec asks for it or stderr is a terminal. */
bool steps_progress_wanted(const struct yb_json *spec);

#endif
