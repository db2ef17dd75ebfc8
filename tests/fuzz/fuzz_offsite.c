/*
 * fuzz_offsite.c: the encrypted copy reader (copy.h) against hostile files. Byte 0 picks the mode:
 * even, the rest of the input is the copy itself; odd, the rest is a list of edits (u16 offset,
 * u8 value; and a final u16 cut length) applied to a valid copy made on the first call, so that
 * the fuzzer works on the authenticated records and not only on the magic. No copy that was
 * edited may be read to its end with data: authentication must fail somewhere.
 */
#include "copy.h"
#include "yb.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned char sk[YB_BOX_KEY_LEN];
static struct yb_buf valid;

static const char manifest[] =
	"{\"format\":\"yoban-backup-1\",\"source\":{\"kind\":\"command\",\"command\":\"echo\"},"
	"\"created_us\":1,\"compression\":{\"algorithm\":\"zstd\",\"level\":3,\"threads\":0},"
	"\"data\":{\"file\":\"data.zst\",\"bytes\":5,\"sha256\":"
	"\"0000000000000000000000000000000000000000000000000000000000000000\"},"
	"\"content\":{\"bytes\":0,\"sha256\":"
	"\"1111111111111111111111111111111111111111111111111111111111111111\"},\"entries\":[]}";

static void make_valid(void)
{
	unsigned char pk[YB_BOX_KEY_LEN];
	for (size_t i = 0; i < sizeof(sk); i++)
		sk[i] = (unsigned char)(i * 7 + 1);
	yb_box_public(sk, pk);
	char sha[YB_SHA256_HEX_LEN];
	yb_sha256_hex(manifest, strlen(manifest), sha);
	struct yb_json *h = yb_json_object();
	yb_json_set(h, "format", yb_json_str("yoban-offsite-1"));
	yb_json_set(h, "generation", yb_json_str("gen-000001-20260101T000000Z"));
	yb_json_set(h, "manifest_sha256", yb_json_str(sha));
	yb_json_set(h, "data_bytes", yb_json_int(5));
	yb_json_set(h, "created_us", yb_json_int(1));
	struct copy_writer w;
	copy_writer_init(&w, h, pk);
	yb_json_free(h);
	struct yb_stream st = w.start;
	yb_buf_init(&valid, 0);
	yb_buf_append(&valid, w.prefix.data, w.prefix.len);
	copy_record(&w, &st, 'M', manifest, strlen(manifest), &valid);
	copy_record(&w, &st, 'D', "hello", 5, &valid);
	copy_record(&w, &st, 'E', NULL, 0, &valid);
	copy_writer_release(&w);
}

struct mem {
	const unsigned char *p;
	size_t left;
};

static ssize_t mem_read(void *ctx, void *buf, size_t cap, struct yb_err *err)
{
	struct mem *m = ctx;
	size_t n = cap < m->left ? cap : m->left;
	n = n > 7 ? n - 3 : n; /* odd pieces */
	memcpy(buf, m->p, n);
	m->p += n;
	m->left -= n;
	return (ssize_t)n;
}

/* 1: read to its authenticated end; 0: refused somewhere. */
static int read_all(const unsigned char *p, size_t len)
{
	struct copy_reader r;
	struct mem m = { p, len };
	struct yb_err err;
	int whole = 0;
	if (copy_reader_open(&r, mem_read, &m, sk, &err) == 0) {
		const void *d;
		ssize_t n;
		while ((n = copy_reader_data(&r, &d, &err)) > 0)
			;
		whole = n == 0;
	}
	copy_reader_release(&r);
	return whole;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!valid.len)
		make_valid();
	if (size < 1)
		return 0;
	if (!(data[0] & 1)) {
		read_all(data + 1, size - 1);
		struct copy_header h;
		struct yb_err err;
		if (copy_header_parse((const char *)data + 1, size - 1, &h, &err) == 0)
			copy_header_release(&h);
		return 0;
	}
	unsigned char *copy = xmalloc(valid.len);
	memcpy(copy, valid.data, valid.len);
	size_t len = valid.len;
	bool edited = false;
	size_t i = 1;
	for (; i + 3 <= size; i += 3) {
		size_t at = ((size_t)data[i] << 8 | data[i + 1]) % valid.len;
		copy[at] = data[i + 2];
	}
	if (i + 2 <= size) {
		size_t cut = ((size_t)data[i] << 8 | data[i + 1]) % (valid.len + 1);
		if (cut < len)
			len = cut;
	}
	edited = len != valid.len || memcmp(copy, valid.data, len); /* a later edit may undo one */
	if (read_all(copy, len) && edited)
		__builtin_trap(); /* an altered copy read to its end */
	if (!edited && !read_all(copy, len))
		__builtin_trap(); /* the valid copy refused */
	free(copy);
	return 0;
}
