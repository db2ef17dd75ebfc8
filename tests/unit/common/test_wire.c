/*
 * test_wire.c: the frame codec and the zstd wrapper: round trips whole and byte by byte, and every
 * kind of malformed input a hostile or broken peer could send refused with YB_EPROTO.
 */
#include "buf.h"
#include "compress.h"
#include "json.h"
#include "wire.h"
#include "yb.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static void fill_pseudo_random(unsigned char *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (unsigned char)(seed >> 16);
	}
}

/* Feeds data to a fresh reader in pieces of `step` bytes (0: all at once) and collects every
 * frame into a list of copies; returns the reader's last result (0, or <0 on error). */
struct frames {
	size_t n;
	uint8_t type[64];
	struct yb_buf payload[64];
};

static int read_all(const void *data, size_t len, size_t step, struct frames *fr, struct yb_err *err)
{
	struct wire_reader r;
	wire_reader_init(&r);
	memset(fr, 0, sizeof(*fr));
	const unsigned char *p = data;
	size_t off = 0;
	int rc = 0;
	while (off < len) {
		size_t n = step ? step : len;
		if (n > len - off)
			n = len - off;
		if ((rc = wire_reader_feed(&r, p + off, n, err)) < 0)
			goto out;
		off += n;
		struct wire_frame f;
		while ((rc = wire_reader_next(&r, &f, err)) == 1) {
			ck_assert_uint_lt(fr->n, 64);
			fr->type[fr->n] = f.type;
			yb_buf_init(&fr->payload[fr->n], 0);
			yb_buf_append(&fr->payload[fr->n], f.payload, f.len);
			fr->n++;
		}
		if (rc < 0)
			goto out;
	}
out:
	wire_reader_release(&r);
	return rc;
}

static void frames_release(struct frames *fr)
{
	for (size_t i = 0; i < fr->n; i++)
		yb_buf_release(&fr->payload[i]);
}

static struct yb_json *hello(void)
{
	struct yb_json *o = yb_json_object();
	yb_json_set(o, "proto", yb_json_int(WIRE_PROTO));
	yb_json_set(o, "program", yb_json_str("yoban"));
	yb_json_set(o, "version", yb_json_str("0.1.0"));
	return o;
}

START_TEST(control_frames_round_trip_in_any_pieces)
{
	struct yb_buf out;
	struct yb_err err = { 0 };
	yb_buf_init(&out, 0);
	struct yb_json *h = hello();
	ck_assert_int_eq(wire_put_json(&out, WIRE_HELLO, h, &err), 0);
	struct yb_json *start = yb_json_object();
	yb_json_set(start, "job", yb_json_str("run-42.step_1"));
	yb_json_set(start, "shell", yb_json_str("echo 'ü' \"$X\"\n"));
	ck_assert_int_eq(wire_put_json(&out, WIRE_START, start, &err), 0);
	ck_assert_int_eq(wire_put(&out, WIRE_PING, "{\"seq\":7}", 9, &err), 0);
	/* the header: big-endian length counting the type byte */
	char *text = yb_json_dump(h, 0);
	size_t tl = strlen(text);
	const unsigned char *b = (const unsigned char *)out.data;
	ck_assert_uint_eq(((uint32_t)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]), tl + 1);
	ck_assert_uint_eq(b[4], WIRE_HELLO);
	ck_assert(memcmp(b + 5, text, tl) == 0);

	static const size_t steps[] = { 0, 1, 2, 3, 5, 7, 64 };
	for (size_t s = 0; s < YB_ARRAY_LEN(steps); s++) {
		struct frames fr;
		ck_assert_int_eq(read_all(out.data, out.len, steps[s], &fr, &err), 0);
		ck_assert_uint_eq(fr.n, 3);
		ck_assert_uint_eq(fr.type[0], WIRE_HELLO);
		ck_assert_uint_eq(fr.type[1], WIRE_START);
		ck_assert_uint_eq(fr.type[2], WIRE_PING);
		struct wire_frame f = { fr.type[1], (const unsigned char *)fr.payload[1].data,
					fr.payload[1].len };
		struct yb_json *got = NULL;
		ck_assert_int_eq(wire_parse_json(&f, &got, &err), 0);
		ck_assert_str_eq(yb_json_get_str(got, "job"), "run-42.step_1");
		ck_assert_str_eq(yb_json_get_str(got, "shell"), "echo 'ü' \"$X\"\n");
		yb_json_free(got);
		f = (struct wire_frame){ fr.type[2], (const unsigned char *)fr.payload[2].data,
					 fr.payload[2].len };
		ck_assert_int_eq(wire_parse_json(&f, &got, &err), 0);
		ck_assert_int_eq(yb_json_get_int(got, "seq", -1), 7);
		yb_json_free(got);
		frames_release(&fr);
	}
	free(text);
	yb_json_free(h);
	yb_json_free(start);
	yb_buf_release(&out);
}
END_TEST

static void output_round_trip(size_t n, uint32_t seed, int level)
{
	unsigned char *raw = xmalloc(n);
	fill_pseudo_random(raw, n, seed);
	if (n >= 512)
		for (size_t i = 0; i < 256; i++)
			raw[i] = (unsigned char)i; /* every byte value, NULs included */
	struct yb_buf out;
	struct yb_err err = { 0 };
	yb_buf_init(&out, 0);
	ck_assert_int_eq(wire_put_output(&out, "job-1", WIRE_STDERR, 123456789012ull, raw, n, level,
					 &err), 0);
	struct frames fr;
	ck_assert_int_eq(read_all(out.data, out.len, 4093, &fr, &err), 0);
	ck_assert_uint_eq(fr.n, 1);
	struct wire_frame f = { fr.type[0], (const unsigned char *)fr.payload[0].data, fr.payload[0].len };
	struct wire_output o;
	ck_assert_int_eq(wire_parse_output(&f, &o, &err), 0);
	ck_assert_str_eq(o.job, "job-1");
	ck_assert_uint_eq(o.stream, WIRE_STDERR);
	ck_assert_uint_eq(o.offset, 123456789012ull);
	ck_assert_uint_eq(o.raw_len, n);
	struct yb_buf data;
	yb_buf_init(&data, 0);
	yb_buf_append(&data, "x", 1); /* appends after what is there */
	ck_assert_msg(wire_output_data(&o, &data, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(data.len, n + 1);
	ck_assert(memcmp(data.data + 1, raw, n) == 0);
	yb_buf_release(&data);
	frames_release(&fr);
	yb_buf_release(&out);
	free(raw);
}

START_TEST(output_round_trips_binary_bytes)
{
	output_round_trip(1, 1, 3);
	output_round_trip(1000, 2, 1);
	output_round_trip(WIRE_MAX_CHUNK, 3, 3);
	output_round_trip(WIRE_MAX_CHUNK, 4, 19);
}
END_TEST

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

START_TEST(reader_refuses_bad_headers_early)
{
	struct yb_err err = { 0 };
	struct frames fr;
	unsigned char h[5];

	/* oversize: refused as soon as the length is known, not after buffering 4 MiB */
	put_be32(h, WIRE_MAX_FRAME + 1);
	h[4] = WIRE_START;
	ck_assert_int_eq(read_all(h, 4, 1, &fr, &err), YB_EPROTO);
	ck_assert_ptr_nonnull(strstr(err.msg, "larger than the limit"));
	/* exactly the limit is fine as a header (the reader waits for the payload) */
	put_be32(h, WIRE_MAX_FRAME);
	ck_assert_int_eq(read_all(h, 5, 1, &fr, &err), 0);
	ck_assert_uint_eq(fr.n, 0);
	/* zero length */
	put_be32(h, 0);
	ck_assert_int_eq(read_all(h, 5, 0, &fr, &err), YB_EPROTO);
	/* unknown types */
	static const uint8_t bad_types[] = { 0, 12, 99, 255 };
	for (size_t i = 0; i < YB_ARRAY_LEN(bad_types); i++) {
		put_be32(h, 1);
		h[4] = bad_types[i];
		ck_assert_int_eq(read_all(h, 5, 0, &fr, &err), YB_EPROTO);
		ck_assert_ptr_nonnull(strstr(err.msg, "unknown frame type"));
	}
	/* a good frame then garbage: the good one is delivered, then the error */
	unsigned char two[] = { 0, 0, 0, 3, WIRE_PING, '{', '}', 0xff, 0xff, 0xff, 0xff, 1 };
	ck_assert_int_eq(read_all(two, sizeof(two), 0, &fr, &err), YB_EPROTO);
	ck_assert_uint_eq(fr.n, 1);
	frames_release(&fr);
}
END_TEST

START_TEST(reader_holds_a_whole_max_frame)
{
	/* A frame of exactly WIRE_MAX_FRAME bytes, fed in 64 KiB reads, comes out whole. */
	struct yb_buf out;
	struct yb_err err = { 0 };
	yb_buf_init(&out, 0);
	size_t n = WIRE_MAX_FRAME - 1;
	char *payload = xmalloc(n);
	memset(payload, 'a', n);
	ck_assert_int_eq(wire_put(&out, WIRE_PING, payload, n, &err), 0);
	ck_assert_int_eq(wire_put(&out, WIRE_PING, payload, n + 1, &err), YB_ENOMEM);
	ck_assert_uint_eq(out.len, n + 5); /* the refused frame left nothing behind */
	struct frames fr;
	ck_assert_int_eq(read_all(out.data, out.len, 65536, &fr, &err), 0);
	ck_assert_uint_eq(fr.n, 1);
	ck_assert_uint_eq(fr.payload[0].len, n);
	frames_release(&fr);
	free(payload);
	yb_buf_release(&out);
}
END_TEST

static int parse_text(uint8_t type, const char *text, struct yb_err *err)
{
	struct wire_frame f = { type, (const unsigned char *)text, strlen(text) };
	struct yb_json *v = NULL;
	int rc = wire_parse_json(&f, &v, err);
	yb_json_free(v);
	return rc;
}

START_TEST(control_payloads_are_checked)
{
	struct yb_err err = { 0 };
	ck_assert_int_eq(parse_text(WIRE_ATTACH, "{\"job\":\"a.b-c_D9\",\"offset\":5}", &err), 0);
	static const char *bad[] = {
		"", "{", "not json", "[1,2]", "\"str\"", "42", "null", "{\"job\":\"a\"} trailing",
		"{\"job\":\"../etc\"}", "{\"job\":\"a/b\"}", "{\"job\":\"\"}", "{\"job\":\"..\"}",
		"{\"job\":\".\"}", "{\"job\":7}", "{\"job\":null}", "{\"job\":\"a b\"}",
		"{\"job\":\"a\\u0000b\"}",
		"{\"job\":\"01234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567X\"}", /* 129 characters */
	};
	for (size_t i = 0; i < YB_ARRAY_LEN(bad); i++) {
		err.msg[0] = '\0';
		ck_assert_msg(parse_text(WIRE_START, bad[i], &err) == YB_EPROTO, "accepted '%s'", bad[i]);
		ck_assert_msg(err.msg[0], "no message for '%s'", bad[i]);
	}
	/* OUTPUT frames are not JSON */
	ck_assert_int_eq(parse_text(WIRE_OUTPUT, "{}", &err), YB_EPROTO);
}
END_TEST

START_TEST(job_ids)
{
	ck_assert(wire_job_id_valid("a", 1));
	ck_assert(wire_job_id_valid("run.42-step_3", 13));
	ck_assert(wire_job_id_valid("...", 3));
	char long_id[WIRE_MAX_JOB_ID + 2];
	memset(long_id, 'x', sizeof(long_id));
	ck_assert(wire_job_id_valid(long_id, WIRE_MAX_JOB_ID));
	ck_assert(!wire_job_id_valid(long_id, WIRE_MAX_JOB_ID + 1));
	ck_assert(!wire_job_id_valid("", 0));
	ck_assert(!wire_job_id_valid(".", 1));
	ck_assert(!wire_job_id_valid("..", 2));
	ck_assert(!wire_job_id_valid("a/b", 3));
	ck_assert(!wire_job_id_valid("a\0b", 3));
	ck_assert(!wire_job_id_valid("é", strlen("é")));
}
END_TEST

/* Builds an OUTPUT payload by hand. */
static size_t output_payload(unsigned char *p, const char *job, uint8_t stream, uint64_t offset,
			     uint32_t raw_len, const void *z, size_t zlen)
{
	size_t n = 0, id_len = strlen(job);
	p[n++] = (unsigned char)id_len;
	memcpy(p + n, job, id_len);
	n += id_len;
	p[n++] = stream;
	put_be32(p + n, (uint32_t)(offset >> 32));
	put_be32(p + n + 4, (uint32_t)offset);
	n += 8;
	put_be32(p + n, raw_len);
	n += 4;
	memcpy(p + n, z, zlen);
	return n + zlen;
}

static int parse_and_decode(const unsigned char *p, size_t n, struct yb_buf *raw, struct yb_err *err)
{
	struct wire_frame f = { WIRE_OUTPUT, p, n };
	struct wire_output o;
	int rc = wire_parse_output(&f, &o, err);
	if (rc < 0)
		return rc;
	return wire_output_data(&o, raw, err);
}

START_TEST(malformed_output_is_refused)
{
	struct yb_err err = { 0 };
	struct yb_buf z, raw;
	yb_buf_init(&z, 0);
	yb_buf_init(&raw, 0);
	ck_assert_int_eq(yb_zstd_compress(&z, "hello world", 11, 3, &err), 0);
	unsigned char p[8192];
	size_t n = output_payload(p, "j1", WIRE_STDOUT, 0, 11, z.data, z.len);
	ck_assert_int_eq(parse_and_decode(p, n, &raw, &err), 0);
	ck_assert_str_eq(raw.data, "hello world");
	yb_buf_reset(&raw);

	/* every truncation of a good payload is refused, none crashes */
	for (size_t cut = 0; cut < n; cut++) {
		ck_assert_msg(parse_and_decode(p, cut, &raw, &err) == YB_EPROTO, "cut at %zu accepted",
			      cut);
		ck_assert_uint_eq(raw.len, 0);
	}
	/* bad fields */
	n = output_payload(p, "j1", 3, 0, 11, z.data, z.len);
	ck_assert_int_eq(parse_and_decode(p, n, &raw, &err), YB_EPROTO);
	n = output_payload(p, "../x", WIRE_STDOUT, 0, 11, z.data, z.len);
	ck_assert_int_eq(parse_and_decode(p, n, &raw, &err), YB_EPROTO);
	n = output_payload(p, "j1", WIRE_STDOUT, 0, 0, z.data, z.len);
	ck_assert_int_eq(parse_and_decode(p, n, &raw, &err), YB_EPROTO);
	n = output_payload(p, "j1", WIRE_STDOUT, 0, WIRE_MAX_CHUNK + 1, z.data, z.len);
	ck_assert_int_eq(parse_and_decode(p, n, &raw, &err), YB_EPROTO);
	n = output_payload(p, "j1", WIRE_STDOUT, UINT64_MAX - 5, 11, z.data, z.len);
	ck_assert_int_eq(parse_and_decode(p, n, &raw, &err), YB_EPROTO);
	/* announced more than the data holds */
	n = output_payload(p, "j1", WIRE_STDOUT, 0, 12, z.data, z.len);
	ck_assert_int_eq(parse_and_decode(p, n, &raw, &err), YB_EPROTO);
	ck_assert_uint_eq(raw.len, 0);
	/* announced less than the data holds */
	n = output_payload(p, "j1", WIRE_STDOUT, 0, 10, z.data, z.len);
	ck_assert_int_eq(parse_and_decode(p, n, &raw, &err), YB_EPROTO);
	ck_assert_uint_eq(raw.len, 0);
	/* corrupt zstd: flip bytes of the compressed data */
	unsigned char bad_z[64];
	memcpy(bad_z, z.data, z.len);
	bad_z[0] ^= 0xff;
	n = output_payload(p, "j1", WIRE_STDOUT, 0, 11, bad_z, z.len);
	ck_assert_int_eq(parse_and_decode(p, n, &raw, &err), YB_EPROTO);
	/* not zstd at all */
	n = output_payload(p, "j1", WIRE_STDOUT, 0, 11, "hello world", 11);
	ck_assert_int_eq(parse_and_decode(p, n, &raw, &err), YB_EPROTO);
	ck_assert_uint_eq(raw.len, 0);
	yb_buf_release(&z);
	yb_buf_release(&raw);
}
END_TEST

START_TEST(zstd_bomb_is_refused)
{
	/* 64 MiB of zeros compresses to a few KiB; announced as 100 bytes it must be refused without
	 * ever holding more than a small piece of it. */
	struct yb_err err = { 0 };
	size_t big = 64u << 20;
	char *zeros = xcalloc(big, 1);
	struct yb_buf z, raw;
	yb_buf_init(&z, 0);
	yb_buf_init(&raw, 0);
	ck_assert_int_eq(yb_zstd_compress(&z, zeros, big, 19, &err), 0);
	free(zeros);
	ck_assert_uint_lt(z.len, 8192);
	unsigned char p[16384];
	size_t n = output_payload(p, "bomb", WIRE_STDOUT, 0, 100, z.data, z.len);
	ck_assert_int_eq(parse_and_decode(p, n, &raw, &err), YB_EPROTO);
	ck_assert_uint_eq(raw.len, 0);
	ck_assert_uint_lt(raw.cap, 1u << 20);
	n = output_payload(p, "bomb", WIRE_STDOUT, 0, WIRE_MAX_CHUNK, z.data, z.len);
	ck_assert_int_eq(parse_and_decode(p, n, &raw, &err), YB_EPROTO);
	ck_assert_uint_eq(raw.len, 0);
	/* and the wrapper itself, directly */
	ck_assert_int_eq(yb_zstd_decompress(&raw, z.data, z.len, 1u << 20, &err), YB_ENOMEM);
	ck_assert_uint_eq(raw.len, 0);
	yb_buf_release(&z);
	yb_buf_release(&raw);
}
END_TEST

START_TEST(zstd_wrapper_limits)
{
	struct yb_err err = { 0 };
	struct yb_buf z, raw;
	yb_buf_init(&z, 0);
	yb_buf_init(&raw, 0);
	ck_assert_int_eq(yb_zstd_compress(&z, "abc", 3, 3, &err), 0);
	ck_assert_int_eq(yb_zstd_compress(&z, "defg", 4, 3, &err), 0); /* two frames in a row */
	ck_assert_int_eq(yb_zstd_decompress(&raw, z.data, z.len, 7, &err), 0);
	ck_assert_str_eq(raw.data, "abcdefg");
	yb_buf_reset(&raw);
	ck_assert_int_eq(yb_zstd_decompress(&raw, z.data, z.len, 6, &err), YB_ENOMEM);
	ck_assert_uint_eq(raw.len, 0);
	ck_assert_int_eq(yb_zstd_decompress(&raw, z.data, z.len - 1, 100, &err), YB_EINVAL);
	ck_assert_int_eq(yb_zstd_decompress(&raw, z.data, 0, 100, &err), YB_EINVAL);
	ck_assert_uint_eq(raw.len, 0);
	/* the empty input compresses to a frame that decompresses to nothing */
	yb_buf_reset(&z);
	ck_assert_int_eq(yb_zstd_compress(&z, "", 0, 3, &err), 0);
	ck_assert_int_eq(yb_zstd_decompress(&raw, z.data, z.len, 0, &err), 0);
	ck_assert_uint_eq(raw.len, 0);
	/* a capped destination is left as it was */
	struct yb_buf small;
	yb_buf_init(&small, 4);
	yb_buf_reset(&z);
	ck_assert_int_eq(yb_zstd_compress(&z, "abcdefgh", 8, 3, &err), 0);
	ck_assert_int_eq(yb_zstd_decompress(&small, z.data, z.len, 100, &err), YB_ENOMEM);
	ck_assert_uint_eq(small.len, 0);
	yb_buf_release(&small);
	yb_buf_release(&z);
	yb_buf_release(&raw);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wire");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, control_frames_round_trip_in_any_pieces);
	tcase_add_test(tc, output_round_trips_binary_bytes);
	tcase_add_test(tc, reader_refuses_bad_headers_early);
	tcase_add_test(tc, reader_holds_a_whole_max_frame);
	tcase_add_test(tc, control_payloads_are_checked);
	tcase_add_test(tc, job_ids);
	tcase_add_test(tc, malformed_output_is_refused);
	tcase_add_test(tc, zstd_bomb_is_refused);
	tcase_add_test(tc, zstd_wrapper_limits);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
