/*
 * fuzz_wire.c: arbitrary bytes through the frame reader, fed in pieces whose sizes come from the
 * input itself, and every frame through the JSON and OUTPUT parsers and the capped decompressor.
 * Layout of an input: byte 0 seeds the piece sizes; the rest is the stream.
 */
#include "buf.h"
#include "json.h"
#include "wire.h"
#include "yb.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void handle(const struct wire_frame *f)
{
	struct yb_err err;
	if (f->type == WIRE_OUTPUT) {
		struct wire_output o;
		if (wire_parse_output(f, &o, &err) < 0)
			return;
		struct yb_buf raw;
		yb_buf_init(&raw, WIRE_MAX_CHUNK);
		if (wire_output_data(&o, &raw, &err) == 0 && raw.len != o.raw_len)
			__builtin_trap();
		yb_buf_release(&raw);
		return;
	}
	struct yb_json *v = NULL;
	if (wire_parse_json(f, &v, &err) == 0) {
		const char *job = yb_json_get_str(v, "job");
		if (job && !wire_job_id_valid(job, strlen(job)))
			__builtin_trap();
		yb_json_free(v);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint32_t seed = data[0] * 2654435761u + 1;
	data++;
	size--;
	struct wire_reader r;
	struct yb_err err;
	wire_reader_init(&r);
	size_t off = 0;
	while (off < size) {
		seed = seed * 1103515245u + 12345u;
		size_t piece = 1 + (seed >> 16) % 97;
		if (piece > size - off)
			piece = size - off;
		if (wire_reader_feed(&r, data + off, piece, &err) < 0)
			break;
		off += piece;
		struct wire_frame f;
		int rc;
		while ((rc = wire_reader_next(&r, &f, &err)) == 1)
			handle(&f);
		if (rc < 0)
			break;
	}
	wire_reader_release(&r);
	return 0;
}
