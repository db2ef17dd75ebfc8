/*
 * copy.h: the encrypted off-site copy of one generation, as one file:
 *
 *   "YBOFFSITE-1\n"                12 bytes, the magic
 *   u32 n | header JSON (n bytes)  what the copy is (format, generation, manifest digest, ...);
 *                                  in clear, but authenticated: every record's additional data
 *                                  is the magic, n and the header
 *   sealed key                     80 bytes: the copy's random secretstream key, sealed to the
 *                                  recipient's public key (crypto_box_seal)
 *   stream header                  24 bytes
 *   records                        u32 c | c bytes: a secretstream message of 1 + up to 1 MiB:
 *                                  'M' + a piece of manifest.json, then 'D' + a piece of the data
 *                                  file, and last 'E' alone with the FINAL tag
 *
 * Integers are big-endian. A copy is whole only with its 'E' record and nothing after it; a
 * record altered, dropped, moved or from another copy fails authentication. The scheduler and the
 * file server hold only the public key: neither can read a copy, old or new.
 */
#ifndef YB_COPY_H
#define YB_COPY_H

#include "buf.h"
#include "digest.h"
#include "json.h"
#include "manifest.h"
#include "yb.h"

#define COPY_MAGIC "YBOFFSITE-1\n"
#define COPY_MAGIC_LEN 12
#define COPY_MAX_HEADER (64u << 10)
#define COPY_PIECE (1u << 20)
#define COPY_MAX_RECORD (1 + COPY_PIECE + YB_STREAM_OVERHEAD)
#define COPY_SUFFIX ".yoban-offsite"

/* Key files: one line, "yoban-offsite-public-key-1 BASE64" or "yoban-offsite-secret-key-1 BASE64".
 * A secret key file must be private (owned by root or the reader, no group or other access). */
int copy_read_key(const char *path, bool secret, unsigned char key[YB_BOX_KEY_LEN],
		  struct yb_err *err);
/* Writes a new key pair: SECRET (0600) and SECRET.pub. */
int copy_keygen(const char *secret_path, struct yb_err *err);

/* What the header says. */
struct copy_header {
	char *generation;       /* gen-... */
	char manifest_sha256[YB_SHA256_HEX_LEN];
	uint64_t data_bytes;    /* the generation's data file */
	int64_t created_us;     /* when the copy was made */
	char *source;           /* where from: "host:/repository", for people */
};
void copy_header_release(struct copy_header *h);
/* Parses the header JSON (strict; what copy_prefix wrote). */
int copy_header_parse(const char *text, size_t len, struct copy_header *out, struct yb_err *err);

/* The writer: the prefix (magic, header, sealed key, stream header) and the state after it. The
 * state can be copied to produce the same records again (resuming an upload). */
struct copy_writer {
	struct yb_buf prefix;   /* the bytes before the first record */
	size_t ad_len;          /* magic + n + header: each record's additional data */
	struct yb_stream start; /* the stream state right after the prefix */
};
void copy_writer_init(struct copy_writer *w, const struct yb_json *header,
		      const unsigned char recipient_pk[YB_BOX_KEY_LEN]);
void copy_writer_release(struct copy_writer *w);
/* Appends one record (type 'M', 'D' or 'E') to out, advancing st. */
void copy_record(const struct copy_writer *w, struct yb_stream *st, char type, const void *data,
		 size_t len, struct yb_buf *out);

/* The reader: pulls bytes from a source and gives back the manifest and the data. */
typedef ssize_t (*copy_source_fn)(void *ctx, void *buf, size_t cap, struct yb_err *err);
struct copy_reader {
	copy_source_fn source;
	void *ctx;
	struct yb_buf ad;
	struct yb_stream st;
	struct copy_header header;
	struct manifest manifest;
	char *manifest_text;
	size_t manifest_len;
	unsigned char *record, *plain;
	bool ended;
	unsigned char pending_type;   /* the first 'D' record, read while looking for the manifest */
	size_t pending_len;
};
/* Reads the prefix and every 'M' record, and checks the manifest against the header's digest. */
int copy_reader_open(struct copy_reader *r, copy_source_fn source, void *ctx,
		     const unsigned char sk[YB_BOX_KEY_LEN], struct yb_err *err);
/* The next piece of the data file: >0 bytes at *data, 0 at the (authenticated) end; YB_EINVAL
 * for a truncated, altered or reordered copy. */
ssize_t copy_reader_data(struct copy_reader *r, const void **data, struct yb_err *err);
void copy_reader_release(struct copy_reader *r);

#endif
