/*
 * fuzz_runbook.c: arbitrary bytes as a runbook file, through the YAML tree builder and the
 * runbook checks (rb_runbook_parse reads nothing from disk but the time zone database), then,
 * when the bytes make a valid runbook, through the plan (fires after the calendar, JSON).
 * Wanted: no crash, no leak, no hang, and every diagnostic well formed.
 */
#include "json.h"
#include "plan.h"
#include "runbook.h"
#include "yb.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rb_diags diags;
	struct rb_runbook *rb = NULL;
	rb_diags_init(&diags);
	int rc = rb_runbook_parse("fuzz.yaml", (const char *)data, size, &rb, &diags);
	if ((rc == 0) != (diags.n_errors == 0))
		__builtin_trap();
	for (size_t i = 0; i < diags.n; i++)
		if (diags.items[i].line < 0 || diags.items[i].col < 0 || !diags.items[i].msg[0])
			__builtin_trap();
	rb_diags_sort(&diags);
	struct yb_json *j = rb_diags_json(&diags);
	yb_json_free(j);
	if (rc == 0) {
		struct rb_set set;
		memset(&set, 0, sizeof(set));
		struct rb_plan plan;
		rb_plan_build(&set, rb, 1767225600 /* 2026-01-01 */, 3, &plan);
		j = rb_plan_json(&plan);
		char *text = yb_json_dump(j, 0);
		free(text);
		yb_json_free(j);
		rb_plan_release(&plan);
		rb_runbook_free(rb);
	}
	rb_diags_release(&diags);
	return 0;
}
