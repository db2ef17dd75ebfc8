/*
 * wire.h: the protocol between the scheduler and yoban-runner.
 *
 * A frame is `u32 length (big-endian; counts the type byte and the payload) | u8 type | payload`.
 * Control payloads are JSON objects; OUTPUT payloads are binary with zstd-compressed data. Frames
 * longer than WIRE_MAX_FRAME are refused: the reader reports YB_EPROTO and the connection ends.
 * Many jobs share one connection; every payload names its job id ([A-Za-z0-9._-]{1,128}).
 *
 * The conversation (S = scheduler side, R = runner):
 *   S->R HELLO  {"proto":1,"program":"yoban","version":"0.1.0"}  (the version is YB_VERSION, from CMake)
 *   R->S HELLO  {"proto":1,"program":"yoban-runner","version":"0.1.0","host":"...","state_dir":"..."}
 *        a peer speaking another proto gets ERROR {"code":"version","message":"..."} and is closed.
 *   S->R START  {"job":ID,"argv":[...]} or {"job":ID,"shell":"script"}, with optional
 *               "env":{"K":"V"}, "cwd":"/path", "timeout_ms":N, "grace_ms":N (SIGTERM->SIGKILL),
 *               "output_cap":N (bytes kept per job; beyond it output is dropped and counted),
 *               "secrets":["value",...] (masked as "********" before the output is spooled)
 *   R->S ACK    {"job":ID,"op":"start","pid":N}   or ERROR {"job":ID,"code":"exists"|"bad-spec"|
 *               "spawn","message":"..."}; a job id already journaled is "exists" (then ATTACH);
 *               pid is the job's supervisor; no OUTPUT for a job precedes its ACK
 *   R->S OUTPUT binary, see struct wire_output; chunks in spool order, each with its offset
 *   R->S EXIT   {"job":ID,"status":N|null,"signal":N|null,"timed_out":bool,"cancelled":bool,
 *               "started_at_us":N,"ended_at_us":N,"utime_us":N,"stime_us":N,"maxrss_kb":N,
 *               "stdout_bytes":N,"stdout_sha256":HEX,"stderr_bytes":N,"stderr_sha256":HEX,
 *               "dropped_bytes":N,"spool_bytes":N[,"error":"..."]}
 *               "error" only when the runner itself failed (spool write failed, or the supervisor
 *               died: then status and signal are null and the record was made from the spool);
 *               sent only after every OUTPUT up to spool_bytes; sent again on each ATTACH until
 *               the job is forgotten
 *   S->R ATTACH {"job":ID,"offset":N}  (N = spool bytes already received) -> OUTPUT from N on,
 *               live output, then EXIT; an unknown job gets ERROR {"job":ID,"code":"unknown-job"},
 *               an offset past the spooled output ERROR {"job":ID,"code":"bad-offset"}; ATTACH to
 *               a job already attached on this connection restarts it from the new offset
 *   S->R CANCEL {"job":ID}  -> SIGTERM to the job's process group, SIGKILL after grace; EXIT
 *               follows with "cancelled":true (an ended job: nothing; unknown: "unknown-job")
 *   S->R FORGET {"job":ID}  -> the journal folder is removed; ACK {"job":ID,"op":"forget"} (also
 *               when there was nothing to remove); a job still running gets ERROR {"job":ID,
 *               "code":"running"} and is kept (CANCEL, wait for EXIT, then FORGET)
 *   S->R PING   {"seq":N}   -> PONG {"seq":N}   (either side may ping)
 *   R->S ERROR  {"code":...,"message":...} without "job": a connection-level error, then close
 *               ("proto": malformed, oversize or unexpected frame; "version": see HELLO;
 *               "state": the runner cannot use its state folder). With
 *               "job", code "journal" means the job's files could not be read
 *
 * The spool: the job's output as received from the step, as a sequence of records; "offset" in
 * OUTPUT and ATTACH is the position in the job's combined output (stdout and stderr bytes in the
 * order they were read), so a re-attach resumes exactly where the scheduler stopped storing.
 */
#ifndef YB_WIRE_H
#define YB_WIRE_H

#include "buf.h"
#include "json.h"
#include "yb.h"

#define WIRE_PROTO 1
#define WIRE_MAX_FRAME (4u << 20)      /* type + payload */
#define WIRE_MAX_CHUNK (256u << 10)    /* raw output bytes in one OUTPUT frame */
#define WIRE_MAX_JOB_ID 128

enum wire_type {
	WIRE_HELLO = 1,
	WIRE_START = 2,
	WIRE_OUTPUT = 3,
	WIRE_EXIT = 4,
	WIRE_ATTACH = 5,
	WIRE_CANCEL = 6,
	WIRE_FORGET = 7,
	WIRE_PING = 8,
	WIRE_PONG = 9,
	WIRE_ERROR = 10,
	WIRE_ACK = 11,
};

enum wire_stream { WIRE_STDOUT = 1, WIRE_STDERR = 2 };

/* A decoded frame; payload points into the reader's buffer and is valid until the next
 * wire_reader_next call. */
struct wire_frame {
	uint8_t type;
	const unsigned char *payload;
	size_t len;
};

/* Incremental frame reader over a byte stream. */
struct wire_reader {
	struct yb_buf in;
	size_t consumed; /* bytes of `in` already handed out as frames */
};

void wire_reader_init(struct wire_reader *r);
void wire_reader_release(struct wire_reader *r);
/* Appends received bytes. The reader holds at most two maximum frames of unread bytes and
 * refuses more (YB_EPROTO): after each feed, call wire_reader_next until it returns 0. */
int wire_reader_feed(struct wire_reader *r, const void *data, size_t len, struct yb_err *err);
/* 1: *out holds a frame; 0: need more bytes; <0 (YB_EPROTO): malformed or oversize frame or an
 * unknown type (refused as soon as the 5-byte header is in), the connection must end. */
int wire_reader_next(struct wire_reader *r, struct wire_frame *out, struct yb_err *err);

const char *wire_type_name(int type);
/* [A-Za-z0-9._-]{1,128}, but not "." or "..". */
bool wire_job_id_valid(const char *id, size_t len);

/* Appends a frame to out. */
int wire_put(struct yb_buf *out, uint8_t type, const void *payload, size_t len, struct yb_err *err);
/* Appends a JSON control frame to out. */
int wire_put_json(struct yb_buf *out, uint8_t type, const struct yb_json *obj, struct yb_err *err);
/* Parses a control frame's payload: must be a JSON object whose "job", if present, is a valid
 * job id; YB_EPROTO otherwise. */
int wire_parse_json(const struct wire_frame *f, struct yb_json **out, struct yb_err *err);

/* OUTPUT payload: u8 id_len | id | u8 stream | u64 BE offset | u32 BE raw_len | zstd data. */
struct wire_output {
	char job[WIRE_MAX_JOB_ID + 1];
	uint8_t stream;      /* enum wire_stream */
	uint64_t offset;     /* position of the first byte in the job's combined output */
	uint32_t raw_len;    /* decompressed length, <= WIRE_MAX_CHUNK */
	const unsigned char *zdata;
	size_t zlen;
};

/* Compresses raw (<= WIRE_MAX_CHUNK bytes) and appends an OUTPUT frame. */
int wire_put_output(struct yb_buf *out, const char *job, uint8_t stream, uint64_t offset,
		    const void *raw, size_t raw_len, int level, struct yb_err *err);
/* Validates and splits an OUTPUT frame (no decompression). */
int wire_parse_output(const struct wire_frame *f, struct wire_output *out, struct yb_err *err);
/* Appends the decompressed chunk to raw; refuses anything but exactly raw_len bytes. */
int wire_output_data(const struct wire_output *o, struct yb_buf *raw, struct yb_err *err);

#endif
