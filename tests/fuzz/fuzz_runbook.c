/*
 * fuzz_runbook.c: arbitrary bytes as a runbook file, through the YAML tree builder and the
 * runbook checks (rb_runbook_parse reads nothing from disk but the time zone database), then,
 * when the bytes make a valid runbook, through the plan (fires after the calendar, JSON).
 * An input starting with the line "#site", "#inventory" or "#calendar" goes through that site
 * file's parser instead (yoban.yaml, inventory.yaml, calendars/NAME.yaml).
 * Wanted: no crash, no leak, no hang, and every diagnostic well formed.
 */
#include "json.h"
#include "plan.h"
#include "runbook.h"
#include "runbook_priv.h"
#include "yb.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool starts(const uint8_t *data, size_t size, const char *prefix)
{
	size_t n = strlen(prefix);
	return size >= n && !memcmp(data, prefix, n);
}

static int site_file(enum rb_site_file which, const uint8_t *data, size_t size)
{
	struct rb_diags diags;
	rb_diags_init(&diags);
	int rc = rb_site_file_parse(which, "fuzz/site.yaml", (const char *)data, size, &diags);
	if ((rc == 0) != (diags.n_errors == 0))
		__builtin_trap();
	rb_diags_release(&diags);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rb_diags diags;
	struct rb_runbook *rb = NULL;
	if (starts(data, size, "#site\n"))
		return site_file(RB_FILE_SITE, data, size);
	if (starts(data, size, "#inventory\n"))
		return site_file(RB_FILE_INVENTORY, data, size);
	if (starts(data, size, "#calendar\n"))
		return site_file(RB_FILE_CALENDAR, data, size);
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
