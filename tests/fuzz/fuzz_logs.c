/*
 * fuzz_logs.c: what `yoban logs` does with a stored chunk: the bytea hex text PostgreSQL sends
 * (decoded with a cap), the capped zstd decompression, and what --format json carries: the text
 * for people (bad UTF-8 repaired), whose dump must always be valid JSON that reads back, and the
 * exact bytes (common/json.h, yb_json_bytes), which must read back unchanged. The command's file is included whole
 * so that its static functions are the ones fuzzed (the commands are not a library).
 * Layout of an input: byte 0 picks the path (even: bytea text, odd: raw text); the rest is data.
 */
#include "cmd_common.c"
#include "cmd_db_common.c"
#include "cmd_logs.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *body = (const char *)data + 1;
	size_t n = size - 1;
	if (data[0] % 2 == 0) {
		char *text = xstrndup(body, n);
		struct yb_buf z, raw;
		struct yb_err err;
		yb_buf_init(&z, 1 << 16);
		yb_buf_init(&raw, 1 << 16);
		if (bytea_decode(text, &z, &err) == 0) {
			if (z.len * 2 + 2 != strlen(text))
				__builtin_trap();
			if (yb_zstd_decompress(&raw, z.data, z.len, 1 << 16, &err) == 0 && raw.len > 1 << 16)
				__builtin_trap();
		}
		yb_buf_release(&z);
		yb_buf_release(&raw);
		free(text);
	} else {
		struct yb_json *v = yb_json_strn(body, n);
		char *dumped = yb_json_dump(v, 0);
		struct yb_json *back = NULL;
		if (yb_json_parse(dumped, strlen(dumped), &back, NULL) < 0)
			__builtin_trap();
		yb_json_free(back);
		free(dumped);
		yb_json_free(v);
		/* the lossless form: the same bytes after a dump and a parse */
		v = yb_json_bytes(body, n);
		dumped = yb_json_dump(v, 0);
		back = NULL;
		unsigned char *bytes = NULL;
		size_t len = 0;
		if (yb_json_parse(dumped, strlen(dumped), &back, NULL) < 0 ||
		    yb_json_bytes_value(back, &bytes, &len, NULL) < 0 || len != n ||
		    (n && memcmp(bytes, body, n)))
			__builtin_trap();
		free(bytes);
		yb_json_free(back);
		free(dumped);
		yb_json_free(v);
	}
	return 0;
}
