/*
 * buf.h: a growable byte buffer with a cap.
 *
 * Every buffer filled from outside the process has a cap: yb_buf_append refuses to grow past
 * buf->max and returns YB_ENOMEM, leaving the buffer as it was. The data is always followed by a
 * NUL byte (not counted in len) so text can be used as a C string. A zeroed struct with max set is
 * a valid empty buffer; yb_buf_init sets it up, yb_buf_release frees what it holds.
 */
#ifndef YB_BUF_H
#define YB_BUF_H

#include "yb.h"

struct yb_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max; /* 0 means SIZE_MAX */
};

void yb_buf_init(struct yb_buf *b, size_t max);
void yb_buf_release(struct yb_buf *b);
void yb_buf_reset(struct yb_buf *b);
int yb_buf_append(struct yb_buf *b, const void *data, size_t n);
int yb_buf_appendf(struct yb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Makes room for n more bytes and returns a pointer to them (or NULL past the cap); the caller
 * then calls yb_buf_commit with how many it really wrote. */
char *yb_buf_reserve(struct yb_buf *b, size_t n);
void yb_buf_commit(struct yb_buf *b, size_t n);
/* Drops the first n bytes. */
void yb_buf_consume(struct yb_buf *b, size_t n);
/* Hands the data to the caller (who frees it) and leaves the buffer empty. */
char *yb_buf_detach(struct yb_buf *b, size_t *len);

#endif
