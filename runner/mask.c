/*
 * mask.c: secret masking over a stream cut into arbitrary pieces (see mask.h).
 *
 * The one idea: a byte is emitted only when no secret can start at it any more. The held-back
 * bytes plus the new piece are scanned left to right; at each position either a whole secret
 * matches (emit the mask, skip it), or the rest of the data is a proper prefix of some secret
 * (stop and hold it), or neither (the byte is safe). So the hold is always shorter than the
 * longest secret, and nothing that was emitted can later turn out to be part of a secret.
 */
#include "mask.h"

#include <stdlib.h>
#include <string.h>

void mask_init(struct mask *m, const char *const *secrets, size_t n_secrets)
{
	memset(m, 0, sizeof(*m));
	m->secrets = xcalloc(n_secrets ? n_secrets : 1, sizeof(*m->secrets));
	m->lens = xcalloc(n_secrets ? n_secrets : 1, sizeof(*m->lens));
	for (size_t i = 0; i < n_secrets; i++) {
		size_t len = strlen(secrets[i]);
		if (len == 0)
			continue;
		/* insertion sort, longest first */
		size_t j = m->n++;
		while (j > 0 && m->lens[j - 1] < len) {
			m->secrets[j] = m->secrets[j - 1];
			m->lens[j] = m->lens[j - 1];
			j--;
		}
		m->secrets[j] = secrets[i];
		m->lens[j] = len;
		m->first[(unsigned char)secrets[i][0]] = true;
	}
	yb_buf_init(&m->held, 0);
}

void mask_release(struct mask *m)
{
	free(m->secrets);
	free(m->lens);
	yb_buf_release(&m->held);
	memset(m, 0, sizeof(*m));
}

/* At p (with left bytes): the length of the whole secret matching there, 0 if none; *partial
 * is set when the remaining bytes are a proper prefix of a secret. */
static size_t match_at(const struct mask *m, const char *p, size_t left, bool *partial)
{
	*partial = false;
	for (size_t i = 0; i < m->n; i++) {
		size_t len = m->lens[i];
		if (len <= left) {
			if (memcmp(p, m->secrets[i], len) == 0)
				return len;
		} else if (memcmp(p, m->secrets[i], left) == 0) {
			*partial = true;
		}
	}
	return 0;
}

/* Scans data; emits what is decided and returns how many bytes were decided (the rest is a
 * possible prefix). At the end of the stream (final) nothing is held. */
static size_t scan(const struct mask *m, const char *data, size_t len, bool final,
		   mask_emit_fn emit, void *ctx)
{
	size_t run = 0, i = 0;
	while (i < len) {
		if (!m->first[(unsigned char)data[i]]) {
			i++;
			continue;
		}
		bool partial;
		size_t hit = match_at(m, data + i, len - i, &partial);
		if (hit) {
			/* A longer secret might still match once more bytes arrive. */
			if (partial && !final)
				break;
			if (i > run)
				emit(ctx, data + run, i - run);
			emit(ctx, MASK_TEXT, sizeof(MASK_TEXT) - 1);
			i += hit;
			run = i;
			continue;
		}
		if (partial && !final)
			break;
		i++;
	}
	if (i > run)
		emit(ctx, data + run, i - run);
	return i;
}

void mask_feed(struct mask *m, const void *data, size_t len, mask_emit_fn emit, void *ctx)
{
	if (m->n == 0) {
		if (len)
			emit(ctx, data, len);
		return;
	}
	if (m->held.len == 0) {
		size_t done = scan(m, data, len, false, emit, ctx);
		yb_buf_append(&m->held, (const char *)data + done, len - done);
		return;
	}
	/* Rare: a possible prefix was held. Scan it together with the new bytes. */
	struct yb_buf joined;
	yb_buf_init(&joined, 0);
	yb_buf_append(&joined, m->held.data, m->held.len);
	yb_buf_append(&joined, data, len);
	size_t done = scan(m, joined.data, joined.len, false, emit, ctx);
	yb_buf_reset(&m->held);
	yb_buf_append(&m->held, joined.data + done, joined.len - done);
	yb_buf_release(&joined);
}

void mask_flush(struct mask *m, mask_emit_fn emit, void *ctx)
{
	if (m->held.len)
		scan(m, m->held.data, m->held.len, true, emit, ctx);
	yb_buf_reset(&m->held);
}
