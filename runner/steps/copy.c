/*
 * copy.c: the encrypted off-site copy format (see copy.h) and its key files.
 *
 * The one idea: nothing read from a copy is used before it authenticates. The header is in clear
 * only so that an operator can see what a file is; every record binds it (additional data), so a
 * header edited to point at another generation fails at the first record, and the manifest is
 * used only after its digest matched the header's.
 */
#include "copy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PUB_TAG "yoban-offsite-public-key-1 "
#define SEC_TAG "yoban-offsite-secret-key-1 "

int copy_read_key(const char *path, bool secret, unsigned char key[YB_BOX_KEY_LEN],
		  struct yb_err *err)
{
	char *text = NULL;
	size_t len = 0;
	unsigned char *raw = NULL;
	size_t raw_len = 0;
	const char *tag = secret ? SEC_TAG : PUB_TAG;
	int rc = yb_read_regular(path, 4096, secret ? YB_READ_PRIVATE : 0, &text, &len, err);
	if (rc < 0)
		return rc;
	text[strcspn(text, "\r\n")] = '\0';
	if (strncmp(text, tag, strlen(tag)) ||
	    yb_base64_decode(text + strlen(tag), &raw, &raw_len, NULL) < 0 || raw_len != YB_BOX_KEY_LEN) {
		rc = yb_err_set(err, YB_EINVAL, "'%s' is not a%s off-site %s key (one line: '%sBASE64'; "
				"make a pair with yoban offsite-restore --new-key FILE)", path,
				secret ? "" : "n", secret ? "secret" : "public", tag);
		goto out;
	}
	memcpy(key, raw, YB_BOX_KEY_LEN);
out:
	if (raw)
		memset(raw, 0, raw_len);
	free(raw);
	memset(text, 0, len);
	free(text);
	return rc;
}

int copy_keygen(const char *secret_path, struct yb_err *err)
{
	unsigned char pk[YB_BOX_KEY_LEN], sk[YB_BOX_KEY_LEN];
	char *pub_path = xasprintf("%s.pub", secret_path), *sec = NULL, *pub = NULL, *b = NULL;
	int rc = 0;
	if (access(secret_path, F_OK) == 0 || access(pub_path, F_OK) == 0) {
		rc = yb_err_set(err, YB_EEXIST, "'%s' or '%s' already exists: a key is never overwritten",
				secret_path, pub_path);
		goto out;
	}
	yb_box_keypair(pk, sk);
	b = yb_base64(sk, sizeof(sk));
	sec = xasprintf(SEC_TAG "%s\n", b);
	free(b);
	b = yb_base64(pk, sizeof(pk));
	pub = xasprintf(PUB_TAG "%s\n", b);
	if ((rc = yb_write_file_atomic(secret_path, sec, strlen(sec), 0600, err)) < 0 ||
	    (rc = yb_write_file_atomic(pub_path, pub, strlen(pub), 0644, err)) < 0)
		goto out;
out:
	memset(sk, 0, sizeof(sk));
	if (sec)
		memset(sec, 0, strlen(sec));
	free(sec);
	free(pub);
	free(b);
	free(pub_path);
	return rc;
}

void copy_header_release(struct copy_header *h)
{
	free(h->generation);
	free(h->source);
	memset(h, 0, sizeof(*h));
}

int copy_header_parse(const char *text, size_t len, struct copy_header *out, struct yb_err *err)
{
	struct yb_json *o = NULL;
	struct copy_header h = { 0 };
	int rc = yb_json_parse(text, len, &o, err);
	if (rc < 0)
		return yb_err_prefix(err, "off-site copy header");
	const char *format = yb_json_get_str(o, "format"), *gen = yb_json_get_str(o, "generation");
	const char *sha = yb_json_get_str(o, "manifest_sha256"), *src = yb_json_get_str(o, "source");
	struct yb_json *bytes = yb_json_get(o, "data_bytes"), *created = yb_json_get(o, "created_us");
	if (!format || strcmp(format, "yoban-offsite-1") || !gen || strncmp(gen, "gen-", 4) ||
	    strlen(gen) > 64 || strchr(gen, '/') || !sha || strlen(sha) != 64 ||
	    strspn(sha, "0123456789abcdef") != 64 || !bytes || !yb_json_is_int(bytes) ||
	    yb_json_int_value(bytes) < 0 || !created || !yb_json_is_int(created)) {
		rc = yb_err_set(err, YB_EINVAL, "not a Yoban off-site copy header (format "
				"yoban-offsite-1 with generation, manifest_sha256, data_bytes, created_us)");
		goto out;
	}
	h.generation = xstrdup(gen);
	memcpy(h.manifest_sha256, sha, YB_SHA256_HEX_LEN);
	h.data_bytes = (uint64_t)yb_json_int_value(bytes);
	h.created_us = yb_json_int_value(created);
	h.source = xstrdup(src ? src : "");
	*out = h;
	memset(&h, 0, sizeof(h));
out:
	copy_header_release(&h);
	yb_json_free(o);
	return rc;
}

/* ---- writing ---- */

static void put_u32(unsigned char *p, uint32_t v)
{
	uint32_t be = htonl(v);
	memcpy(p, &be, 4);
}

void copy_writer_init(struct copy_writer *w, const struct yb_json *header,
		      const unsigned char recipient_pk[YB_BOX_KEY_LEN])
{
	char *text = yb_json_dump(header, 0);
	size_t n = strlen(text);
	unsigned char len[4], key[YB_STREAM_KEY_LEN], sealed[YB_STREAM_KEY_LEN + YB_SEAL_OVERHEAD],
		stream_header[YB_STREAM_HEADER_LEN];
	BUG_ON(n > COPY_MAX_HEADER);
	yb_buf_init(&w->prefix, 0);
	yb_buf_append(&w->prefix, COPY_MAGIC, COPY_MAGIC_LEN);
	put_u32(len, (uint32_t)n);
	yb_buf_append(&w->prefix, len, 4);
	yb_buf_append(&w->prefix, text, n);
	w->ad_len = w->prefix.len;
	yb_stream_key(key);
	yb_seal(sealed, key, sizeof(key), recipient_pk);
	yb_stream_push_init(&w->start, stream_header, key);
	memset(key, 0, sizeof(key)); /* from here only the recipient can recover it */
	yb_buf_append(&w->prefix, sealed, sizeof(sealed));
	yb_buf_append(&w->prefix, stream_header, sizeof(stream_header));
	free(text);
}

void copy_writer_release(struct copy_writer *w)
{
	yb_buf_release(&w->prefix);
	memset(&w->start, 0, sizeof(w->start));
}

void copy_record(const struct copy_writer *w, struct yb_stream *st, char type, const void *data,
		 size_t len, struct yb_buf *out)
{
	BUG_ON(len > COPY_PIECE);
	unsigned char *plain = xmalloc(len + 1);
	plain[0] = (unsigned char)type;
	if (len)
		memcpy(plain + 1, data, len);
	size_t clen = len + 1 + YB_STREAM_OVERHEAD;
	unsigned char *p = (unsigned char *)yb_buf_reserve(out, 4 + clen);
	put_u32(p, (uint32_t)clen);
	yb_stream_push(st, p + 4, plain, len + 1, w->prefix.data, w->ad_len, type == 'E');
	yb_buf_commit(out, 4 + clen);
	free(plain);
}

/* ---- reading ---- */

/* Reads exactly n bytes; returns how many came before the end (n unless truncated), <0 error. */
static ssize_t read_exact(struct copy_reader *r, void *buf, size_t n, struct yb_err *err)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = r->source(r->ctx, (char *)buf + got, n - got, err);
		if (k < 0)
			return k;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (ssize_t)got;
}

/* The next record into r->plain: its type and length (without the type byte). */
static int next_record(struct copy_reader *r, unsigned char *type, size_t *len, struct yb_err *err)
{
	unsigned char lenbuf[4];
	ssize_t k = read_exact(r, lenbuf, 4, err);
	if (k < 0)
		return (int)k;
	if (k == 0)
		return yb_err_set(err, YB_EINVAL, "the copy is truncated: it ends before its final "
				  "record");
	if (k < 4)
		return yb_err_set(err, YB_EINVAL, "the copy is truncated inside a record");
	uint32_t be;
	memcpy(&be, lenbuf, 4);
	size_t clen = ntohl(be);
	if (clen < 1 + YB_STREAM_OVERHEAD || clen > COPY_MAX_RECORD)
		return yb_err_set(err, YB_EINVAL, "the copy has a record of impossible length %zu "
				  "(altered or not a copy)", clen);
	k = read_exact(r, r->record, clen, err);
	if (k < 0)
		return (int)k;
	if ((size_t)k < clen)
		return yb_err_set(err, YB_EINVAL, "the copy is truncated inside a record");
	bool final = false;
	int rc = yb_stream_pull(&r->st, r->plain, r->record, clen, r->ad.data, r->ad.len, &final, err);
	if (rc < 0)
		return rc;
	*type = r->plain[0];
	*len = clen - YB_STREAM_OVERHEAD - 1;
	if ((*type == 'E') != final || (*type != 'M' && *type != 'D' && *type != 'E') ||
	    (*type == 'E' && *len))
		return yb_err_set(err, YB_EINVAL, "the copy's records are not in the order M..., "
				  "D..., E (altered)");
	return 0;
}

/* After 'E': nothing may follow. */
static int check_end(struct copy_reader *r, struct yb_err *err)
{
	unsigned char one;
	ssize_t k = read_exact(r, &one, 1, err);
	if (k < 0)
		return (int)k;
	if (k > 0)
		return yb_err_set(err, YB_EINVAL, "the copy has bytes after its final record");
	return 0;
}

int copy_reader_open(struct copy_reader *r, copy_source_fn source, void *ctx,
		     const unsigned char sk[YB_BOX_KEY_LEN], struct yb_err *err)
{
	unsigned char magic[COPY_MAGIC_LEN], lenbuf[4], pk[YB_BOX_KEY_LEN], key[YB_STREAM_KEY_LEN],
		sealed[YB_STREAM_KEY_LEN + YB_SEAL_OVERHEAD], sh[YB_STREAM_HEADER_LEN];
	char *text = NULL;
	int rc = 0;
	memset(r, 0, sizeof(*r));
	r->source = source;
	r->ctx = ctx;
	yb_buf_init(&r->ad, 0);
	manifest_init(&r->manifest);
	r->record = xmalloc(COPY_MAX_RECORD);
	r->plain = xmalloc(COPY_MAX_RECORD);
	ssize_t k = read_exact(r, magic, sizeof(magic), err);
	if (k < 0)
		return (int)k;
	if ((size_t)k < sizeof(magic) || memcmp(magic, COPY_MAGIC, COPY_MAGIC_LEN))
		return yb_err_set(err, YB_EINVAL, "not a Yoban off-site copy (no '%.10s' at its start)",
				  COPY_MAGIC);
	if ((k = read_exact(r, lenbuf, 4, err)) != 4)
		return k < 0 ? (int)k : yb_err_set(err, YB_EINVAL, "the copy is truncated in its header");
	uint32_t be;
	memcpy(&be, lenbuf, 4);
	size_t n = ntohl(be);
	if (n > COPY_MAX_HEADER)
		return yb_err_set(err, YB_EINVAL, "the copy's header is longer than %u bytes",
				  COPY_MAX_HEADER);
	text = xmalloc(n + 1);
	if ((k = read_exact(r, text, n, err)) != (ssize_t)n) {
		rc = k < 0 ? (int)k : yb_err_set(err, YB_EINVAL, "the copy is truncated in its header");
		goto out;
	}
	if ((rc = copy_header_parse(text, n, &r->header, err)) < 0)
		goto out;
	yb_buf_append(&r->ad, magic, sizeof(magic));
	yb_buf_append(&r->ad, lenbuf, 4);
	yb_buf_append(&r->ad, text, n);
	if ((k = read_exact(r, sealed, sizeof(sealed), err)) != sizeof(sealed) ||
	    (k = read_exact(r, sh, sizeof(sh), err)) != sizeof(sh)) {
		rc = k < 0 ? (int)k : yb_err_set(err, YB_EINVAL, "the copy is truncated in its header");
		goto out;
	}
	yb_box_public(sk, pk);
	if ((rc = yb_seal_open(key, sealed, sizeof(sealed), pk, sk, err)) < 0 ||
	    (rc = yb_stream_pull_init(&r->st, sh, key, err)) < 0)
		goto out;
	/* the manifest, whole, before any data */
	struct yb_buf m;
	yb_buf_init(&m, MANIFEST_MAX_BYTES);
	for (;;) {
		unsigned char type;
		size_t len;
		if ((rc = next_record(r, &type, &len, err)) < 0)
			break;
		if (type == 'M') {
			if (yb_buf_append(&m, r->plain + 1, len) < 0) {
				rc = yb_err_set(err, YB_ENOMEM, "the copy's manifest is too large");
				break;
			}
			continue;
		}
		if (type == 'E') {
			r->ended = true;
			rc = check_end(r, err);
		} else {
			r->pending_type = type;
			r->pending_len = len;
		}
		break;
	}
	if (rc == 0) {
		char sha[YB_SHA256_HEX_LEN];
		yb_sha256_hex(m.data ? m.data : "", m.len, sha);
		if (strcmp(sha, r->header.manifest_sha256))
			rc = yb_err_set(err, YB_EINVAL, "the copy's manifest does not match the digest in "
					"its header (altered)");
		else if ((rc = manifest_parse(m.data ? m.data : "", m.len, &r->manifest, err)) == 0)
			r->manifest_text = yb_buf_detach(&m, &r->manifest_len);
	}
	yb_buf_release(&m);
out:
	memset(key, 0, sizeof(key));
	free(text);
	return rc;
}

ssize_t copy_reader_data(struct copy_reader *r, const void **data, struct yb_err *err)
{
	if (r->pending_type == 'D') {
		r->pending_type = 0;
		*data = r->plain + 1;
		return (ssize_t)r->pending_len;
	}
	while (!r->ended) {
		unsigned char type;
		size_t len;
		int rc = next_record(r, &type, &len, err);
		if (rc < 0)
			return rc;
		if (type == 'M')
			return yb_err_set(err, YB_EINVAL, "the copy's records are not in the order M..., "
					  "D..., E (altered)");
		if (type == 'E') {
			r->ended = true;
			if ((rc = check_end(r, err)) < 0)
				return rc;
			break;
		}
		if (len == 0)
			continue;
		*data = r->plain + 1;
		return (ssize_t)len;
	}
	return 0;
}

void copy_reader_release(struct copy_reader *r)
{
	yb_buf_release(&r->ad);
	copy_header_release(&r->header);
	manifest_release(&r->manifest);
	free(r->manifest_text);
	free(r->record);
	free(r->plain);
	memset(&r->st, 0, sizeof(r->st));
	r->record = r->plain = NULL;
	r->manifest_text = NULL;
}
