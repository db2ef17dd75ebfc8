/*
 * report_fmt.c: numbers, dates and escaping for the monthly report's readers. The one idea: the
 * model keeps ISO text and plain numbers, and only here do they become 2026年12月1日 or 1,234, so
 * JSON and CSV stay machine-readable while HTML and Markdown read like a city's report.
 */
#include "report_fmt.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Inserts thousands separators into the digits of s (an optional '-', digits, an optional
 * fraction). */
static char *group(const char *s, char *out, size_t size)
{
	size_t n = strlen(s), start = s[0] == '-' ? 1 : 0, digits = start;
	while (digits < n && s[digits] >= '0' && s[digits] <= '9')
		digits++;
	size_t k = 0;
	for (size_t i = 0; i < n && k + 1 < size; i++) {
		out[k++] = s[i];
		size_t left = digits - i - 1; /* digits after this one in the integer part */
		if (i >= start && i < digits && left > 0 && left % 3 == 0 && k + 1 < size)
			out[k++] = ',';
	}
	out[k] = '\0';
	return out;
}

char *report_fmt_int(int64_t v, char *out, size_t size)
{
	char raw[32];
	snprintf(raw, sizeof raw, "%lld", (long long)v);
	return group(raw, out, size);
}

char *report_fmt_num(double v, int decimals, char *out, size_t size)
{
	char raw[64];
	if (!isfinite(v)) {
		snprintf(out, size, "-");
		return out;
	}
	double scale = pow(10, decimals);
	double r = round(v * scale) / scale;
	if (r == 0)
		r = 0; /* no "-0.0" */
	snprintf(raw, sizeof raw, "%.*f", decimals, r);
	return group(raw, out, size);
}

char *report_fmt_percent(double v, int decimals, enum report_lang lang, char *out, size_t size)
{
	char num[64];
	report_fmt_num(v, decimals, num, sizeof num);
	snprintf(out, size, "%s%s", num, lang == REPORT_JA ? " %" : "%");
	return out;
}

char *report_fmt_seconds(double s, enum report_lang lang, char *out, size_t size)
{
	bool ja = lang == REPORT_JA;
	if (!isfinite(s) || s < 0) {
		snprintf(out, size, "-");
		return out;
	}
	long long whole = (long long)(s + 0.5);
	if (s < 60)
		snprintf(out, size, ja ? "%.1f秒" : "%.1f s", s);
	else if (whole < 3600)
		snprintf(out, size, ja ? "%lld分%02lld秒" : "%lld min %02lld s", whole / 60, whole % 60);
	else if (whole < 86400)
		snprintf(out, size, ja ? "%lld時間%02lld分" : "%lld h %02lld min", whole / 3600,
			 whole % 3600 / 60);
	else
		snprintf(out, size, ja ? "%lld日%02lld時間" : "%lld d %02lld h", whole / 86400,
			 whole % 86400 / 3600);
	return out;
}

/* Reads "YYYY-MM-DD" at the start of iso. */
static bool parse_ymd(const char *iso, int *y, int *m, int *d)
{
	if (!iso || strlen(iso) < 10 || iso[4] != '-' || iso[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (iso[i] < '0' || iso[i] > '9'))
			return false;
	*y = atoi(iso);
	*m = atoi(iso + 5);
	*d = atoi(iso + 8);
	return *m >= 1 && *m <= 12 && *d >= 1 && *d <= 31;
}

char *report_fmt_date(const char *iso, enum report_lang lang, char *out, size_t size)
{
	int y, m, d;
	if (!parse_ymd(iso, &y, &m, &d))
		snprintf(out, size, "%s", iso ? iso : "-");
	else if (lang == REPORT_JA)
		snprintf(out, size, "%d年%d月%d日", y, m, d);
	else
		snprintf(out, size, "%04d-%02d-%02d", y, m, d);
	return out;
}

char *report_fmt_time(const char *iso, enum report_lang lang, char *out, size_t size)
{
	char date[64];
	report_fmt_date(iso, lang, date, sizeof date);
	if (!iso || strlen(iso) < 16 || (iso[10] != 'T' && iso[10] != ' '))
		snprintf(out, size, "%s", date);
	else
		snprintf(out, size, "%s %.5s", date, iso + 11);
	return out;
}

char *report_fmt_era(int year, int month, int day, char *out, size_t size)
{
	static const struct { int y, m, d; const char *name; } eras[] = {
		{ 2019, 5, 1, "令和" }, { 1989, 1, 8, "平成" },
	};
	int key = year * 10000 + month * 100 + day;
	out[0] = '\0';
	for (size_t i = 0; i < YB_ARRAY_LEN(eras); i++) {
		if (key < eras[i].y * 10000 + eras[i].m * 100 + eras[i].d)
			continue;
		int n = year - eras[i].y + 1;
		if (n == 1)
			snprintf(out, size, "%s元年", eras[i].name);
		else
			snprintf(out, size, "%s%d年", eras[i].name, n);
		break;
	}
	return out;
}

char *report_fmt_month(const char *month, enum report_lang lang, char *out, size_t size)
{
	static const char *const names[] = { "January", "February", "March", "April", "May", "June",
					      "July", "August", "September", "October",
					      "November", "December" };
	int y = atoi(month), m = atoi(month + 5);
	if (m < 1 || m > 12) {
		snprintf(out, size, "%s", month);
		return out;
	}
	if (lang == REPORT_JA) {
		char era[32];
		/* the era of the month's last day: a month that begins an era is named by it */
		report_fmt_era(y, m, 28, era, sizeof era);
		if (era[0])
			snprintf(out, size, "%d年（%s）%d月", y, era, m);
		else
			snprintf(out, size, "%d年%d月", y, m);
	} else {
		snprintf(out, size, "%s %d", names[m - 1], y);
	}
	return out;
}

int report_html_escape(struct yb_buf *b, const char *s)
{
	int rc = 0;
	if (!s)
		return 0;
	const char *run = s;
	for (const char *p = s; *p && rc == 0; p++) {
		const char *ent = NULL;
		switch (*p) {
		case '&': ent = "&amp;"; break;
		case '<': ent = "&lt;"; break;
		case '>': ent = "&gt;"; break;
		case '"': ent = "&quot;"; break;
		case '\'': ent = "&#39;"; break;
		default: continue;
		}
		if ((rc = yb_buf_append(b, run, (size_t)(p - run))) == 0)
			rc = yb_buf_append(b, ent, strlen(ent));
		run = p + 1;
	}
	if (rc == 0)
		rc = yb_buf_append(b, run, strlen(run));
	return rc;
}

int report_csv_field(struct yb_buf *b, const char *s)
{
	if (!s || !*s)
		return 0;
	size_t n = strlen(s);
	bool quote = strpbrk(s, ",\"\r\n") != NULL || s[0] == ' ' || s[n - 1] == ' ';
	if (!quote)
		return yb_buf_append(b, s, n);
	int rc = yb_buf_append(b, "\"", 1);
	for (const char *p = s; *p && rc == 0; p++)
		rc = *p == '"' ? yb_buf_append(b, "\"\"", 2) : yb_buf_append(b, p, 1);
	return rc ? rc : yb_buf_append(b, "\"", 1);
}

int report_md_cell(struct yb_buf *b, const char *s)
{
	int rc = 0;
	if (!s)
		return yb_buf_append(b, "-", 1);
	for (const char *p = s; *p && rc == 0; p++) {
		switch (*p) {
		case '|': rc = yb_buf_append(b, "\\|", 2); break;
		case '\\': rc = yb_buf_append(b, "\\\\", 2); break;
		case '\r': break;
		case '\n': rc = yb_buf_append(b, " ", 1); break;
		case '<': rc = yb_buf_append(b, "&lt;", 4); break;
		case '>': rc = yb_buf_append(b, "&gt;", 4); break;
		case '&': rc = yb_buf_append(b, "&amp;", 5); break;
		default: rc = yb_buf_append(b, p, 1);
		}
	}
	return rc;
}

void report_put(struct report_out *o, const char *fmt, ...)
{
	if (o->rc < 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	char small[512];
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		BUG("vsnprintf failed for '%s'", fmt);
	if ((size_t)n < sizeof small) {
		o->rc = yb_buf_append(o->b, small, (size_t)n);
		return;
	}
	char *big = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	o->rc = yb_buf_append(o->b, big, (size_t)n);
	free(big);
}

void report_put_html(struct report_out *o, const char *s)
{
	if (o->rc == 0)
		o->rc = report_html_escape(o->b, s);
}
