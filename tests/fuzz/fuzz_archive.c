/*
 * fuzz_archive.c: arbitrary bytes as a tar stream, through aio_scan (verification) and
 * aio_extract (restore) into a fresh folder under /tmp, fed in pieces whose sizes come from the
 * input. Whatever is extracted must lie inside that folder: afterwards the folder's parent holds
 * nothing but the folder. Layout of an input: byte 0 seeds the piece sizes; the rest is the stream.
 */
#include "archive_io.h"
#include "repo.h"
#include "yb.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct pieces {
	const uint8_t *p;
	size_t left;
	unsigned seed;
};

static ssize_t next_piece(void *ctx, const void **out, struct yb_err *err)
{
	struct pieces *s = ctx;
	if (!s->left)
		return 0;
	s->seed = s->seed * 1103515245u + 12345u;
	size_t n = 1 + (s->seed >> 16) % 4096;
	if (n > s->left)
		n = s->left;
	*out = s->p;
	s->p += n;
	s->left -= n;
	return (ssize_t)n;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *de;
	while (d && (de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	if (d)
		closedir(d);
	return n;
}

static char base[64];

static void remove_base(void)
{
	if (base[0])
		repo_rmtree(base, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct pieces s = { data + 1, size - 1, data[0] };
	struct yb_err err;
	aio_scan(next_piece, &s, NULL, NULL, &err);

	if (!base[0]) {
		snprintf(base, sizeof(base), "/tmp/yb-fuzz-archive-XXXXXX");
		if (!mkdtemp(base))
			abort();
		atexit(remove_base);
	}
	char *dest = xasprintf("%s/dest", base);
	mkdir(dest, 0700);
	s = (struct pieces){ data + 1, size - 1, data[0] };
	aio_extract(next_piece, &s, dest, NULL, NULL, &err);
	if (count_entries(base) != 1) /* something escaped the destination */
		__builtin_trap();
	repo_rmtree(dest, NULL);
	free(dest);
	return 0;
}
