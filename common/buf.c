/*
 * buf.c: growable byte buffers with a cap (see buf.h). Growth doubles; the cap is checked before
 * any allocation, so an oversized input is refused without the memory ever being taken.
 */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void yb_buf_init(struct yb_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void yb_buf_release(struct yb_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void yb_buf_reset(struct yb_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

static int grow(struct yb_buf *b, size_t extra)
{
	size_t max = b->max ? b->max : SIZE_MAX - 1;
	if (extra > max || b->len > max - extra)
		return YB_ENOMEM;
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
	return 0;
}

int yb_buf_append(struct yb_buf *b, const void *data, size_t n)
{
	if (grow(b, n) < 0)
		return YB_ENOMEM;
	if (n)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int yb_buf_appendf(struct yb_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return YB_EINVAL;
	if (grow(b, (size_t)n) < 0)
		return YB_ENOMEM;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

char *yb_buf_reserve(struct yb_buf *b, size_t n)
{
	if (grow(b, n) < 0)
		return NULL;
	return b->data + b->len;
}

void yb_buf_commit(struct yb_buf *b, size_t n)
{
	BUG_ON(b->len + n + 1 > b->cap);
	b->len += n;
	b->data[b->len] = '\0';
}

void yb_buf_consume(struct yb_buf *b, size_t n)
{
	if (n >= b->len) {
		yb_buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

char *yb_buf_detach(struct yb_buf *b, size_t *len)
{
	if (!b->data)
		yb_buf_append(b, "", 0);
	char *d = b->data;
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return d;
}
