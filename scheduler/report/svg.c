/*
 * svg.c: the report's charts, drawn as inline SVG from the model. The one idea: a chart is a
 * picture of figures already printed in a table beside it, so it carries no number the tables do
 * not, and a reader who cannot see colours loses nothing (each chart has a <title> and a text
 * legend).
 */
#include "svg.h"

#include <math.h>
#include <stdio.h>

#define W 680.0

static const char *const day_colors[REPORT_DAY_N] = { "#2e7d32", "#c62828", "#9e9e9e",
						       "#1565c0" };
static const char *const day_keys[REPORT_DAY_N] = { "chart_ok", "chart_failed", "chart_other",
						     "chart_open" };

/* A round axis top at or above v: 1, 2, 5 times a power of ten. */
static double nice_ceiling(double v)
{
	if (v <= 4)
		return 4; /* small counts: ticks at whole runs */
	double p = pow(10, floor(log10(v)));
	for (int i = 0; i < 3; i++) {
		double m = (double[]){ 1, 2, 5 }[i] * p;
		if (m >= v)
			return m;
	}
	return 10 * p;
}

void report_svg_runs_per_day(struct report_out *o, const struct report *r)
{
	const double left = 44, top = 28, plot_h = 170, plot_w = W - left - 8, h = top + plot_h + 30;
	int64_t most = 0;
	for (int d = 0; d < r->n_days; d++) {
		int64_t t = 0;
		for (int g = 0; g < REPORT_DAY_N; g++)
			t += r->days[d].n[g];
		most = t > most ? t : most;
	}
	double ymax = nice_ceiling((double)most);
	report_put(o, "<svg class=\"chart\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" "
		   "xmlns=\"http://www.w3.org/2000/svg\" font-size=\"10\">", W, h);
	report_put(o, "<title>");
	report_put_html(o, L(o, "chart_runs"));
	report_put(o, "</title>");
	/* legend */
	double x = left;
	for (int g = 0; g < REPORT_DAY_N; g++) {
		report_put(o, "<rect x=\"%.1f\" y=\"6\" width=\"10\" height=\"10\" fill=\"%s\"/>", x,
			   day_colors[g]);
		report_put(o, "<text x=\"%.1f\" y=\"15\">", x + 14);
		report_put_html(o, L(o, day_keys[g]));
		report_put(o, "</text>");
		x += 150;
	}
	/* axis and grid */
	for (int i = 0; i <= 4; i++) {
		double v = ymax * i / 4, y = top + plot_h - plot_h * i / 4;
		char label[32];
		report_fmt_num(v, v == floor(v) ? 0 : 1, label, sizeof label);
		report_put(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ccc\" "
			   "stroke-width=\"0.5\"/><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s"
			   "</text>", left, y, left + plot_w, y, left - 4, y + 3.5, label);
	}
	double slot = plot_w / (r->n_days ? r->n_days : 1), bar = slot * 0.75;
	for (int d = 0; d < r->n_days; d++) {
		double y = top + plot_h, bx = left + slot * d + (slot - bar) / 2;
		for (int g = 0; g < REPORT_DAY_N; g++) {
			double hh = plot_h * (double)r->days[d].n[g] / ymax;
			if (r->days[d].n[g] == 0)
				continue;
			y -= hh;
			report_put(o, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
				   "fill=\"%s\"><title>%d: %lld</title></rect>", bx, y, bar, hh,
				   day_colors[g], d + 1, (long long)r->days[d].n[g]);
		}
		if (d == 0 || (d + 1) % 5 == 0)
			report_put(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%d</text>",
				   bx + bar / 2, top + plot_h + 14, d + 1);
	}
	report_put(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>",
		   left, top + plot_h, left + plot_w, top + plot_h);
	report_put(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", left + plot_w / 2,
		   top + plot_h + 28);
	report_put_html(o, L(o, "chart_day_axis"));
	report_put(o, "</text></svg>\n");
}

/* One bar: value against cap (person-months), on the scale top shared by its group (the
 * month's bars, or the contract's), so an uncapped category is drawn to the same scale. */
static void effort_bar(struct report_out *o, double y, const char *label, double value, double cap,
		       double top)
{
	const double left = 175, plot_w = W - left - 170, bar_h = 16;
	if (value > top)
		top = value;
	double w = value > 0 ? plot_w * value / top : 0;
	bool over = cap > 0 && value > cap;
	char v[32], c[32];
	report_put(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", left - 6, y + 12);
	report_put_html(o, label);
	report_put(o, "</text><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
		   "fill=\"#f2f2f2\"/>", left, y, plot_w, bar_h);
	report_put(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" fill=\"%s\"/>",
		   left, y, w, bar_h, over ? "#c62828" : "#1565c0");
	report_fmt_num(value, 2, v, sizeof v);
	if (cap > 0) {
		double cx = left + plot_w * cap / top;
		report_fmt_num(cap, 2, c, sizeof c);
		report_put(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000\" "
			   "stroke-width=\"2\" stroke-dasharray=\"4 2\"/>", cx, y - 3, cx, y + bar_h + 3);
		report_put(o, "<text x=\"%.1f\" y=\"%.1f\">%s / %s ", left + plot_w + 6, y + 12, v, c);
		report_put_html(o, L(o, "unit_pm"));
		report_put(o, "</text>");
	} else {
		report_put(o, "<text x=\"%.1f\" y=\"%.1f\">%s ", left + plot_w + 6, y + 12, v);
		report_put_html(o, L(o, "unit_pm"));
		report_put(o, " (");
		report_put_html(o, L(o, "no_cap"));
		report_put(o, ")</text>");
	}
}

void report_svg_effort(struct report_out *o, const struct report *r)
{
	double h = 26 + YB_EFFORT_N * 2 * 24 + 8;
	report_put(o, "<svg class=\"chart\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" "
		   "xmlns=\"http://www.w3.org/2000/svg\" font-size=\"10\"><title>", W, h);
	report_put_html(o, L(o, "chart_effort"));
	report_put(o, "</title><text x=\"175\" y=\"14\">");
	report_put_html(o, L(o, "chart_effort_legend"));
	report_put(o, "</text>");
	double y = 26, month_top = 0, total_top = 0;
	for (int k = 0; k < YB_EFFORT_N; k++) {
		const struct yb_effort_line *e = &r->effort.lines[k];
		month_top = fmax(month_top, fmax(e->person_months, e->cap_month));
		total_top = fmax(total_top, fmax(e->total_person_months, e->cap_total));
	}
	month_top = month_top > 0 ? month_top * 1.1 : 1;
	total_top = total_top > 0 ? total_top * 1.1 : 1;
	for (int k = 0; k < YB_EFFORT_N; k++) {
		const struct yb_effort_line *e = &r->effort.lines[k];
		char key[32], label[128];
		snprintf(key, sizeof key, "cat_%s", yb_effort_category_name(k));
		snprintf(label, sizeof label, "%s %s", L(o, key), L(o, "this_month"));
		effort_bar(o, y, label, e->person_months, e->cap_month, month_top);
		y += 24;
		snprintf(label, sizeof label, "%s %s", L(o, key), L(o, "contract_total"));
		effort_bar(o, y, label, e->total_person_months, e->cap_total, total_top);
		y += 24;
	}
	report_put(o, "</svg>\n");
}
