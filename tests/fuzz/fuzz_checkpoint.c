/*
 * fuzz_checkpoint.c: arbitrary bytes through yb_checkpoint_parse, the reader of a checkpoint
 * file an auditor hands to `yoban verify --checkpoint`. Whatever it accepts must write back to
 * JSON and parse again to the same fields, and checking its signature must answer (almost always
 * "not signed by this key") without reading past what it was given.
 */
#include "checkpoint.h"
#include "yb.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct yb_checkpoint cp, again;
	struct yb_err err;
	if (yb_checkpoint_parse((const char *)data, size, &cp, &err) < 0)
		return 0;
	char *text = yb_checkpoint_json(&cp);
	if (yb_checkpoint_parse(text, strlen(text), &again, &err) < 0 || again.seq != cp.seq ||
	    strcmp(again.site, cp.site) || strcmp(again.hash, cp.hash) ||
	    strcmp(again.signed_at, cp.signed_at) || strcmp(again.public_key, cp.public_key) ||
	    strcmp(again.signature, cp.signature))
		__builtin_trap();
	(void)yb_checkpoint_check(&cp, NULL, &err);
	free(text);
	return 0;
}
