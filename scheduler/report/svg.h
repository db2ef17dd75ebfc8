/*
 * svg.h: the monthly report's two charts as inline SVG (no script, no external file): runs per
 * day stacked by outcome, and effort against its caps as bars with the cap line. Each chart has
 * a viewBox 680 units wide (the A4 content width at 96 dpi) and scales to its container.
 */
#ifndef YB_SVG_H
#define YB_SVG_H

#include "report_fmt.h"

void report_svg_runs_per_day(struct report_out *o, const struct report *r);
void report_svg_effort(struct report_out *o, const struct report *r);

#endif
