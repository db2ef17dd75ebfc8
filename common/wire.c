/*
 * wire.c: frames between the scheduler and yoban-runner (see wire.h for the protocol).
 *
 * The one idea: nothing a peer sends is trusted before it is checked against a cap. The reader
 * looks at the 4-byte length as soon as it has it and refuses an oversize or empty frame or an
 * unknown type before buffering the rest; control payloads must be JSON objects whose "job", when
 * present, is a valid job id; OUTPUT payloads are split and checked field by field, and their zstd
 * data is decompressed against the raw_len they announce, which is itself capped.
 */
#include "wire.h"

#include <stdlib.h>
#include <string.h>

#include "compress.h"

#define WIRE_HEADER 5u
/* Unread bytes the reader holds at most: one whole frame plus one more in flight. */
#define WIRE_READER_MAX (2u * (WIRE_MAX_FRAME + WIRE_HEADER))

static const char *const type_names[] = {
	[WIRE_HELLO] = "HELLO",   [WIRE_START] = "START",   [WIRE_OUTPUT] = "OUTPUT",
	[WIRE_EXIT] = "EXIT",     [WIRE_ATTACH] = "ATTACH", [WIRE_CANCEL] = "CANCEL",
	[WIRE_FORGET] = "FORGET", [WIRE_PING] = "PING",     [WIRE_PONG] = "PONG",
	[WIRE_ERROR] = "ERROR",   [WIRE_ACK] = "ACK",
};

const char *wire_type_name(int type)
{
	if (type > 0 && (size_t)type < YB_ARRAY_LEN(type_names) && type_names[type])
		return type_names[type];
	return "unknown";
}

static bool type_known(int type)
{
	return type >= WIRE_HELLO && type <= WIRE_ACK;
}

bool wire_job_id_valid(const char *id, size_t len)
{
	if (!id || len == 0 || len > WIRE_MAX_JOB_ID)
		return false;
	/* "." and ".." are made of valid characters but name folders of their own. */
	if ((len == 1 && id[0] == '.') || (len == 2 && id[0] == '.' && id[1] == '.'))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = id[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t get_be64(const unsigned char *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void put_be64(unsigned char *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

void wire_reader_init(struct wire_reader *r)
{
	yb_buf_init(&r->in, WIRE_READER_MAX);
	r->consumed = 0;
}

void wire_reader_release(struct wire_reader *r)
{
	yb_buf_release(&r->in);
	r->consumed = 0;
}

int wire_reader_feed(struct wire_reader *r, const void *data, size_t len, struct yb_err *err)
{
	if (len == 0)
		return 0;
	if (yb_buf_append(&r->in, data, len) < 0)
		return yb_err_set(err, YB_EPROTO,
				  "too many unread bytes from the peer (%zu buffered, %zu more; read frames "
				  "with wire_reader_next between feeds)",
				  r->in.len - r->consumed, len);
	return 0;
}

int wire_reader_next(struct wire_reader *r, struct wire_frame *out, struct yb_err *err)
{
	size_t avail = r->in.len - r->consumed;
	if (avail == 0) {
		/* Everything handed out: start over at the front, cheaply. */
		yb_buf_reset(&r->in);
		r->consumed = 0;
		return 0;
	}
	const unsigned char *p = (const unsigned char *)r->in.data + r->consumed;
	if (avail >= 4) {
		uint32_t length = get_be32(p);
		if (length == 0)
			return yb_err_set(err, YB_EPROTO, "empty frame (length 0, no type byte)");
		if (length > WIRE_MAX_FRAME)
			return yb_err_set(err, YB_EPROTO, "frame of %u bytes is larger than the limit of %u",
					  length, WIRE_MAX_FRAME);
		if (avail >= WIRE_HEADER && !type_known(p[4]))
			return yb_err_set(err, YB_EPROTO, "unknown frame type %u", (unsigned)p[4]);
		if (avail >= 4 + (size_t)length) {
			out->type = p[4];
			out->payload = p + WIRE_HEADER;
			out->len = length - 1;
			r->consumed += 4 + (size_t)length;
			return 1;
		}
	}
	/* An incomplete frame: move it to the front so the buffer never holds more than it must.
	 * This runs once per drain (after the last whole frame), so the cost stays linear. */
	if (r->consumed > 0) {
		yb_buf_consume(&r->in, r->consumed);
		r->consumed = 0;
	}
	return 0;
}

int wire_put(struct yb_buf *out, uint8_t type, const void *payload, size_t len, struct yb_err *err)
{
	if (len > WIRE_MAX_FRAME - 1)
		return yb_err_set(err, YB_ENOMEM, "%s frame of %zu bytes is larger than the limit of %u",
				  wire_type_name(type), len + 1, WIRE_MAX_FRAME);
	unsigned char *p = (unsigned char *)yb_buf_reserve(out, WIRE_HEADER + len);
	if (!p)
		return yb_err_set(err, YB_ENOMEM, "output buffer full (cap %zu bytes)", out->max);
	put_be32(p, (uint32_t)(len + 1));
	p[4] = type;
	if (len)
		memcpy(p + WIRE_HEADER, payload, len);
	yb_buf_commit(out, WIRE_HEADER + len);
	return 0;
}

int wire_put_json(struct yb_buf *out, uint8_t type, const struct yb_json *obj, struct yb_err *err)
{
	if (type == WIRE_OUTPUT || !type_known(type))
		BUG("wire_put_json with type %u", (unsigned)type);
	char *text = yb_json_dump(obj, 0);
	int rc = wire_put(out, type, text, strlen(text), err);
	free(text);
	return rc;
}

int wire_parse_json(const struct wire_frame *f, struct yb_json **out, struct yb_err *err)
{
	struct yb_json *v = NULL;
	struct yb_err jerr;
	int rc = 0;

	if (f->type == WIRE_OUTPUT || !type_known(f->type)) {
		rc = yb_err_set(err, YB_EPROTO, "%s frame (type %u) has no JSON payload",
				wire_type_name(f->type), (unsigned)f->type);
		goto out;
	}
	if (yb_json_parse((const char *)f->payload, f->len, &v, &jerr) < 0) {
		rc = yb_err_set(err, YB_EPROTO, "%s frame: %s", wire_type_name(f->type), jerr.msg);
		goto out;
	}
	if (!yb_json_is_object(v)) {
		rc = yb_err_set(err, YB_EPROTO, "%s frame: payload is not a JSON object",
				wire_type_name(f->type));
		goto out;
	}
	struct yb_json *job = yb_json_get(v, "job");
	if (job) {
		const char *id = yb_json_string_value(job);
		if (!yb_json_is_string(job) || !wire_job_id_valid(id, strlen(id))) {
			rc = yb_err_set(err, YB_EPROTO,
					"%s frame: bad job id (expected 1 to %d of A-Z a-z 0-9 . _ -)",
					wire_type_name(f->type), WIRE_MAX_JOB_ID);
			goto out;
		}
	}
	*out = v;
	v = NULL;
out:
	yb_json_free(v);
	return rc;
}

int wire_put_output(struct yb_buf *out, const char *job, uint8_t stream, uint64_t offset,
		    const void *raw, size_t raw_len, int level, struct yb_err *err)
{
	size_t id_len = strlen(job);
	size_t old_len = out->len;
	int rc = 0;

	if (!wire_job_id_valid(job, id_len))
		BUG("wire_put_output with a bad job id");
	if (stream != WIRE_STDOUT && stream != WIRE_STDERR)
		BUG("wire_put_output with stream %u", (unsigned)stream);
	if (raw_len == 0 || raw_len > WIRE_MAX_CHUNK)
		BUG("wire_put_output with %zu bytes", raw_len);

	size_t head = 1 + id_len + 1 + 8 + 4;
	unsigned char *p = (unsigned char *)yb_buf_reserve(out, WIRE_HEADER + head);
	if (!p)
		return yb_err_set(err, YB_ENOMEM, "output buffer full (cap %zu bytes)", out->max);
	p[4] = WIRE_OUTPUT;
	unsigned char *q = p + WIRE_HEADER;
	*q++ = (unsigned char)id_len;
	memcpy(q, job, id_len);
	q += id_len;
	*q++ = stream;
	put_be64(q, offset);
	q += 8;
	put_be32(q, (uint32_t)raw_len);
	yb_buf_commit(out, WIRE_HEADER + head);
	if ((rc = yb_zstd_compress(out, raw, raw_len, level, err)) < 0)
		goto out;
	size_t frame_len = out->len - old_len - 4;
	if (frame_len > WIRE_MAX_FRAME) {
		rc = yb_err_set(err, YB_ENOMEM, "OUTPUT frame of %zu bytes is larger than the limit",
				frame_len);
		goto out;
	}
	/* The buffer may have moved while compressing: write the length through its new address. */
	put_be32((unsigned char *)out->data + old_len, (uint32_t)frame_len);
out:
	if (rc < 0) {
		out->len = old_len;
		out->data[old_len] = '\0';
	}
	return rc;
}

int wire_parse_output(const struct wire_frame *f, struct wire_output *out, struct yb_err *err)
{
	const unsigned char *p = f->payload, *end = f->payload + f->len;
	struct wire_output o;

	if (f->type != WIRE_OUTPUT)
		return yb_err_set(err, YB_EPROTO, "%s frame is not OUTPUT", wire_type_name(f->type));
	if (f->len < 1)
		return yb_err_set(err, YB_EPROTO, "truncated OUTPUT frame (no job id)");
	size_t id_len = p[0];
	p++;
	if ((size_t)(end - p) < id_len + 1 + 8 + 4)
		return yb_err_set(err, YB_EPROTO, "truncated OUTPUT frame (%zu bytes)", f->len);
	if (!wire_job_id_valid((const char *)p, id_len))
		return yb_err_set(err, YB_EPROTO, "OUTPUT frame: bad job id");
	memcpy(o.job, p, id_len);
	o.job[id_len] = '\0';
	p += id_len;
	o.stream = *p++;
	if (o.stream != WIRE_STDOUT && o.stream != WIRE_STDERR)
		return yb_err_set(err, YB_EPROTO, "OUTPUT frame for job '%s': unknown stream %u", o.job,
				  (unsigned)o.stream);
	o.offset = get_be64(p);
	p += 8;
	o.raw_len = get_be32(p);
	p += 4;
	if (o.raw_len == 0 || o.raw_len > WIRE_MAX_CHUNK)
		return yb_err_set(err, YB_EPROTO, "OUTPUT frame for job '%s': raw length %u outside 1..%u",
				  o.job, (unsigned)o.raw_len, WIRE_MAX_CHUNK);
	if (o.offset > UINT64_MAX - o.raw_len)
		return yb_err_set(err, YB_EPROTO, "OUTPUT frame for job '%s': offset out of range", o.job);
	if (p == end)
		return yb_err_set(err, YB_EPROTO, "truncated OUTPUT frame for job '%s' (no data)", o.job);
	o.zdata = p;
	o.zlen = (size_t)(end - p);
	*out = o;
	return 0;
}

int wire_output_data(const struct wire_output *o, struct yb_buf *raw, struct yb_err *err)
{
	size_t old_len = raw->len;
	struct yb_err zerr;
	int rc = yb_zstd_decompress(raw, o->zdata, o->zlen, o->raw_len, &zerr);
	if (rc < 0)
		return yb_err_set(err, rc == YB_ENOMEM && raw->max && raw->len + o->raw_len > raw->max
				  ? YB_ENOMEM : YB_EPROTO,
				  "OUTPUT frame for job '%s': %s", o->job, zerr.msg);
	if (raw->len - old_len != o->raw_len) {
		size_t got = raw->len - old_len;
		raw->len = old_len;
		raw->data[old_len] = '\0';
		return yb_err_set(err, YB_EPROTO,
				  "OUTPUT frame for job '%s': %zu bytes of data where %u were announced", o->job,
				  got, (unsigned)o->raw_len);
	}
	return 0;
}
