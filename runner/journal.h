/*
 * journal.h: the runner's state folder, one folder per job.
 *
 *   STATE/jobs/ID/spec.sha256   the digest of the START spec (spec.h), the job's identity: written
 *                               before the folder appears, never changed
 *   STATE/jobs/ID/spec.json     the START request, secrets redacted, with "spec_sha256" (written
 *                               atomically by the supervisor)
 *   STATE/jobs/ID/control       a FIFO: the supervisor holds it open for reading while it lives;
 *                               a writer getting ENXIO knows the supervisor is gone; "c" cancels
 *   STATE/jobs/ID/output        the combined output bytes, in the order they were read
 *   STATE/jobs/ID/output.idx    the index: one 16-byte record per write to `output`
 *   STATE/jobs/ID/exit.json     the exit record (written atomically, after output is fsynced)
 *   STATE/jobs/ID/supervisor.log  the supervisor's own complaints, if any
 *   STATE/starting/ID.PID.N     a job's folder while serve fills it, before it is renamed into
 *                               jobs/ (so that nobody ever sees a job folder without its digest)
 *   STATE/forgotten/ID.PID.N    folders of FORGOTten jobs, on their way out (removed when serve
 *                               is idle, at its start and by gc)
 *
 * The index is the truth about the spool: a byte of `output` exists for readers only once an
 * index record covers it (the supervisor writes the data first, then the record). A record is
 * `u64 BE offset | u32 BE length | u8 stream | u8 0xA5 | u16 0`; records are contiguous (each
 * starts where the previous ended), so ATTACH at any offset finds its record by binary search.
 * Only the supervisor writes a job's spool; any number of serve processes may read it.
 */
#ifndef YB_JOURNAL_H
#define YB_JOURNAL_H

#include "buf.h"
#include "json.h"
#include "yb.h"

#define JOURNAL_DEFAULT_STATE_DIR "/var/lib/yoban-runner"
#define JOURNAL_DEFAULT_RETENTION_MS (7LL * 86400 * 1000)
#define SPOOL_REC_LEN 16

/* Makes STATE and STATE/jobs (mode 0700) if missing. */
int journal_prepare(const char *state_dir, struct yb_err *err);
/* Makes a new job's folder whole, then lets it appear in STATE/jobs in one rename that never
 * replaces anything: the empty spool, spec.sha256 and the control FIFO, opened for reading and
 * writing (*ctl_fd, non-blocking, close-on-exec) so that the job looks alive from its first
 * moment. The state folders are made again first if they were removed. If the id is taken:
 * YB_EEXIST when the journaled digest is spec_sha256 (the same job: ATTACH to it), YB_EPERM when
 * it differs or cannot be read (another job: never adopted); the message says which. */
int journal_create_job(const char *state_dir, const char *job, const char *spec_sha256,
		       int *ctl_fd, struct yb_err *err);
/* The digest a job was started with (64 hex digits and a NUL into out): from spec.sha256, or from
 * spec.json if that file did not survive a crash; YB_ENOENT if neither says. */
int journal_read_digest(const char *job_dir, char out[65], struct yb_err *err);
/* STATE/jobs/ID (caller frees); the id must be valid (BUG otherwise). */
char *journal_job_dir(const char *state_dir, const char *job);
/* True if STATE/jobs/ID exists. */
bool journal_job_exists(const char *state_dir, const char *job);
/* Removes a job's folder and everything in it; a missing folder is not an error. */
int journal_remove_job(const char *state_dir, const char *job, struct yb_err *err);
/* Takes a job's folder out of STATE/jobs at once (renamed into STATE/forgotten, or removed if it
 * cannot be) so that the id is free and nobody finds the job; a missing folder is not an error. */
int journal_forget(const char *state_dir, const char *job, struct yb_err *err);
/* Removes one folder from STATE/forgotten: 1 if it did, 0 when none is left, -1 if it could not. */
int journal_purge_forgotten(const char *state_dir);

/* The supervisor's side of the spool. */
struct spool_writer {
	int data_fd, idx_fd;
	uint64_t bytes; /* spooled so far (= the next record's offset) */
};
int spool_writer_open(struct spool_writer *w, const char *job_dir, struct yb_err *err);
int spool_append(struct spool_writer *w, uint8_t stream, const void *data, size_t len,
		 struct yb_err *err);
int spool_sync(struct spool_writer *w, struct yb_err *err);
void spool_writer_close(struct spool_writer *w);

/* A reader's position in a spool, which may still be growing. */
struct spool_reader {
	int data_fd, idx_fd;
	uint64_t rec;       /* the index record holding pos (or the next one to appear) */
	uint64_t rec_start; /* its offset, and its length and stream once loaded (len 0: not yet) */
	uint32_t rec_len;
	uint8_t rec_stream;
	uint64_t pos;       /* the next byte to hand out */
};
int spool_reader_open(struct spool_reader *r, const char *job_dir, struct yb_err *err);
void spool_reader_close(struct spool_reader *r);
/* Positions the reader at offset; YB_ERANGE if the spool is shorter than that (so far). */
int spool_reader_seek(struct spool_reader *r, uint64_t offset, struct yb_err *err);
/* Reads up to max bytes of one stream from pos into buf (replacing its content); returns the
 * count (0: nothing new yet) and the stream and offset of the piece. Consecutive records of the
 * same stream are joined. */
int spool_reader_read(struct spool_reader *r, struct yb_buf *buf, size_t max, uint8_t *stream,
		      uint64_t *offset, struct yb_err *err);
/* The length of the spool as the index tells it now. */
int spool_length(const char *job_dir, uint64_t *out, struct yb_err *err);

/* The exit record (the EXIT frame's fields; see wire.h). */
#define JOB_EXIT_KILLED_MAX 32
struct job_exit {
	bool has_status;
	int status;
	bool has_signal;
	int signal;
	bool timed_out, cancelled;
	bool lost; /* made by serve from the spool: the supervisor died (journal_record_lost) */
	int64_t started_at_us, ended_at_us, utime_us, stime_us, maxrss_kb;
	uint64_t stdout_bytes, stderr_bytes, dropped_bytes, spool_bytes;
	char stdout_sha256[65], stderr_sha256[65];
	char error[256]; /* "" unless the runner itself failed (spool, supervisor lost) */
	/* the processes of the job the supervisor signalled to end it (timeout, cancel, or left
	 * behind when the step's main process ended): how many, and the first ones by pid and name */
	uint64_t killed_count;
	size_t n_killed;
	struct {
		int pid;
		char comm[16];
	} killed[JOB_EXIT_KILLED_MAX];
};
/* The EXIT payload for job (caller frees). */
struct yb_json *job_exit_to_json(const char *job, const struct job_exit *ex);
int job_exit_from_json(const struct yb_json *v, struct job_exit *out, struct yb_err *err);
int journal_write_exit(const char *job_dir, const char *job, const struct job_exit *ex,
		       struct yb_err *err);
/* YB_ENOENT when the job has not ended (no exit.json). */
int journal_read_exit(const char *job_dir, struct job_exit *out, struct yb_err *err);

enum job_liveness { JOB_RUNNING, JOB_ENDED, JOB_LOST };
/* Whether the job's supervisor still lives (its control FIFO has a reader), the job has ended
 * (exit.json), or neither: the supervisor died without recording the end. */
enum job_liveness journal_liveness(const char *job_dir);
/* Asks the supervisor to cancel; YB_ENOENT if no supervisor is listening. */
int journal_cancel(const char *job_dir, struct yb_err *err);
/* For a lost job: writes an exit.json from what the spool holds (digests recomputed), with an
 * error saying the supervisor died. */
int journal_record_lost(const char *job_dir, const char *job, struct yb_err *err);

/* Removes the folders of jobs that ended (or were lost) more than retention_ms ago; running jobs
 * are kept whatever their age. Counts what it removed. */
int journal_gc(const char *state_dir, int64_t retention_ms, int *removed, struct yb_err *err);

#endif
