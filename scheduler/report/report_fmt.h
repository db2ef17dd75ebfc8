/*
 * report_fmt.h: how the monthly report writes numbers, dates and text for people, in Japanese
 * conventions (2026年12月1日, 令和8年, 1,234, 99.95 %) or English ones, and the escaping each
 * output format needs (HTML, RFC 4180 CSV, Markdown tables). Pure functions, unit-tested.
 *
 * Every formatter writes a NUL-terminated string into out (at most size bytes, truncated
 * safely) and returns out, so calls nest in a printf.
 */
#ifndef YB_REPORT_FMT_H
#define YB_REPORT_FMT_H

#include "buf.h"
#include "report.h"

/* 1234567 -> "1,234,567"; -1234 -> "-1,234". */
char *report_fmt_int(int64_t v, char *out, size_t size);
/* 1234.5 with 1 decimal -> "1,234.5" (rounded half away from zero). */
char *report_fmt_num(double v, int decimals, char *out, size_t size);
/* 99.95 -> ja "99.95 %", en "99.95%"; decimals as asked. */
char *report_fmt_percent(double v, int decimals, enum report_lang lang, char *out, size_t size);
/* Seconds as people read them: ja "0.4秒", "3分05秒", "2時間03分", "1日04時間";
 * en "0.4 s", "3 min 05 s", "2 h 03 min", "1 d 04 h". */
char *report_fmt_seconds(double s, enum report_lang lang, char *out, size_t size);
/* "2026-12-01..." (a date or an ISO time) -> ja "2026年12月1日", en "2026-12-01"; NULL -> "-". */
char *report_fmt_date(const char *iso, enum report_lang lang, char *out, size_t size);
/* An ISO time -> ja "2026年12月1日 09:05", en "2026-12-01 09:05"; NULL -> "-". */
char *report_fmt_time(const char *iso, enum report_lang lang, char *out, size_t size);
/* "2026-12" -> ja "2026年（令和8年）12月", en "December 2026". */
char *report_fmt_month(const char *month, enum report_lang lang, char *out, size_t size);
/* The Japanese era year of a date: 2026-12-01 -> "令和8年", 2019-04-30 -> "平成31年",
 * 2019-05-01 -> "令和元年"; "" before 1989-01-08 (Shōwa and earlier are not written). */
char *report_fmt_era(int year, int month, int day, char *out, size_t size);

/* Appends s with & < > " ' escaped for HTML text and attribute values. NULL appends nothing. */
int report_html_escape(struct yb_buf *b, const char *s);
/* Appends s as one RFC 4180 field: quoted (and inner quotes doubled) when it holds a comma, a
 * quote, CR or LF, or begins or ends with a space; as it is otherwise. NULL is an empty field. */
int report_csv_field(struct yb_buf *b, const char *s);
/* Appends s for a Markdown table cell: | and \ escaped, line breaks as spaces, < > & as
 * entities (a cell is never HTML). NULL appends "-". */
int report_md_cell(struct yb_buf *b, const char *s);

/* A renderer's output: the buffer, the language, and the first append that failed (rc; later
 * appends are skipped), so renderers write straight through and check once at the end. */
struct report_out {
	struct yb_buf *b;
	enum report_lang lang;
	int rc;
};
void report_put(struct report_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s HTML-escaped (report_html_escape). */
void report_put_html(struct report_out *o, const char *s);
/* The label of key in o->lang. */
#define L(o, key) report_label((o)->lang, key)

/* The label of key in lang (report_i18n.c). BUG() for a key the table lacks. */
const char *report_label(enum report_lang lang, const char *key);

#endif
