/*
 * fuzz_manifest.c: arbitrary bytes through manifest_parse; whatever it accepts must dump and
 * parse again to the same entries (the parser is restore's gatekeeper, see manifest.h).
 */
#include "manifest.h"
#include "yb.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest m, again;
	struct yb_err err;
	if (manifest_parse((const char *)data, size, &m, &err) < 0)
		return 0;
	char *text = manifest_dump(&m);
	if (manifest_parse(text, strlen(text), &again, &err) < 0 || again.n_entries != m.n_entries)
		__builtin_trap();
	for (size_t i = 0; i < m.n_entries; i++)
		if (strcmp(m.entries[i].path, again.entries[i].path) ||
		    strcmp(m.entries[i].sha256, again.entries[i].sha256) ||
		    !manifest_find(&m, m.entries[i].path))
			__builtin_trap();
	manifest_release(&again);
	manifest_release(&m);
	free(text);
	return 0;
}
