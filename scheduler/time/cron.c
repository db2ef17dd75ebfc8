/*
 * cron.c: cron expressions (croniter's syntax plus W and last-weekday forms) and the search for
 * the next and previous fire.
 *
 * The one idea: parsing turns every field into a bitset, and the two day fields into a table of
 * 28 day-of-month masks, one for each (weekday of the 1st, length of the month) pair. Whatever
 * the day syntax (lists, L, W, #, dL, the OR rule), the days a month fires on are then one table
 * lookup, so the search jumps field by field with count-trailing-zeros and never steps minute by
 * minute. The same table decides at parse time whether the expression can ever fire. The search
 * runs in local seconds (civil time read as UTC); the zone maps the result back to an instant.
 */
#include "cron.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CRON_TEXT_MAX 1024
#define YEAR_MIN 1
#define YEAR_MAX 9999

/* Field numbers follow croniter's order, which also seeds the 'H' hash. */
enum { F_MIN, F_HOUR, F_DOM, F_MON, F_DOW, F_SEC, F_YEAR, N_FIELDS };

static const char *const field_names[N_FIELDS] = { "minute", "hour", "day-of-month", "month",
						   "day-of-week", "second", "year" };
static const int field_lo[N_FIELDS] = { 0, 0, 1, 1, 0, 0, 1970 };
static const int field_hi[N_FIELDS] = { 59, 23, 31, 12, 7, 59, 2099 };
/* The year field's values (croniter's 1970-2099) are bits 0-129 of three words. */
#define YEAR_LO 1970
#define YEAR_HI 2099
#define ALL_HOURS 0xffffffu

struct cron_expr {
	uint64_t secs, mins; /* bit n: second / minute n */
	uint32_t hours;      /* bit n: hour n */
	uint16_t months;     /* bit n: month n (1-12) */
	bool has_seconds;
	bool has_years;      /* a year field other than '*' */
	bool elapsed;        /* every hour matches: fires on both passes of a repeated hour */
	uint64_t years[3];   /* bit y - YEAR_LO: year y, when has_years */
	/* Days: bit d (1-31) of daymask[wday of the 1st][days in month - 28]. */
	uint32_t daymask[7][4];
	/* The same by year: yeartab[2 * wday of Jan 1 + leap][month - 1], so that the search looks
	 * a month up without working out its weekday. */
	uint32_t yeartab[14][12];
	bool year_fires[14]; /* does a year of that kind have any matching day in a chosen month? */
	char *text;
};

/* What the two day fields say before they are folded into daymask. */
struct day_spec {
	bool dom_star, dow_star, year_star;
	uint32_t dom;       /* plain days 1-31 */
	bool dom_last;      /* L */
	bool dom_last_wday; /* LW */
	uint32_t dom_near;  /* nW: bit n */
	uint8_t dow;        /* plain weekdays, bit 0 = Sunday */
	uint8_t dow_last;   /* dL: bit d */
	uint8_t dow_nth[7]; /* d#k: bit k (1-5) of dow_nth[d] */
};

struct parser {
	uint32_t hash; /* crc32 of the hash key, for 'H' */
	int field;     /* F_* being parsed, for values, ranges and messages */
	struct yb_err *err;
};

/* ---- helpers -------------------------------------------------------------------------------- */

static uint32_t crc32_ieee(const char *s)
{
	uint32_t crc = 0xffffffffu;
	for (; *s; s++) {
		crc ^= (unsigned char)*s;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

static int ctz64(uint64_t x)
{
	return __builtin_ctzll(x);
}

static int top64(uint64_t x)
{
	return 63 - __builtin_clzll(x);
}

/* Bits >= n (n may be 64 or more). */
static uint64_t bits_from(int n)
{
	return n >= 64 ? 0 : ~0ull << n;
}

/* Bits <= n (n may be negative). */
static uint64_t bits_upto(int n)
{
	return n < 0 ? 0 : n >= 63 ? ~0ull : (2ull << n) - 1;
}

static int field_error(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int field_error(struct parser *ps, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return yb_err_set(ps->err, YB_EINVAL, "%s field: %s", field_names[ps->field], msg);
}

static bool is_space_c(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static const char *const month_names[12] = { "jan", "feb", "mar", "apr", "may", "jun",
					     "jul", "aug", "sep", "oct", "nov", "dec" };
static const char *const wday_names[7] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

/* A number or (month, day-of-week) a three-letter name at *p; advances *p. */
static int parse_value(struct parser *ps, const char **p, const char *end, int *out)
{
	const char *s = *p;
	if (s < end && is_digit(*s)) {
		long v = 0;
		int n = 0;
		while (s < end && is_digit(*s)) {
			if (n++ < 6)
				v = v * 10 + (*s - '0');
			else
				v = 1000000;
			s++;
		}
		if (v < field_lo[ps->field] || v > field_hi[ps->field])
			return field_error(ps, "'%.*s' is out of range %d-%d", (int)(s - *p), *p,
					   field_lo[ps->field],
					   ps->field == F_DOW ? 7 : field_hi[ps->field]);
		*out = (int)v;
		*p = s;
		return 0;
	}
	if (end - s >= 3 && (ps->field == F_MON || ps->field == F_DOW)) {
		const char *const *names = ps->field == F_MON ? month_names : wday_names;
		int n = ps->field == F_MON ? 12 : 7;
		for (int i = 0; i < n; i++) {
			if (lower(s[0]) == names[i][0] && lower(s[1]) == names[i][1] &&
			    lower(s[2]) == names[i][2] &&
			    (end - s == 3 || !((s[3] >= 'a' && s[3] <= 'z') || (s[3] >= 'A' && s[3] <= 'Z')))) {
				*out = ps->field == F_MON ? i + 1 : i;
				*p = s + 3;
				return 0;
			}
		}
	}
	const char *e = s;
	while (e < end && *e != ',' && *e != '-' && *e != '/' && *e != '#')
		e++;
	if (e == s)
		e = s + (s < end);
	if (ps->field == F_MON)
		return field_error(ps, "'%.*s' is not a month (write 1-12 or jan..dec)", (int)(e - s), s);
	if (ps->field == F_DOW)
		return field_error(ps, "'%.*s' is not a day of the week (write 0-7 or sun..sat)",
				   (int)(e - s), s);
	return field_error(ps, "'%.*s' is not a number", (int)(e - s), s);
}

static int parse_step(struct parser *ps, const char **p, const char *end, int *step)
{
	const char *s = *p;
	int span = field_hi[ps->field] - field_lo[ps->field] + 1;
	if (ps->field == F_DOW)
		span = 7;
	long v = 0;
	int n = 0;
	while (s < end && is_digit(*s)) {
		if (n++ < 6)
			v = v * 10 + (*s - '0');
		s++;
	}
	if (n == 0)
		return field_error(ps, "step after '/' must be a number");
	if (v < 1 || v > span || n > 6)
		return field_error(ps, "step '%.*s' is out of range 1-%d", (int)(s - *p), *p, span);
	*step = (int)v;
	*p = s;
	return 0;
}

/* The hashed value in [lo, hi] for this field, the way croniter and Jenkins spread 'H'. */
static int hashed(const struct parser *ps, int lo, int hi)
{
	return (int)((ps->hash >> ps->field) % (uint32_t)(hi - lo + 1)) + lo;
}

static void set_bit(const struct parser *ps, uint64_t *bits, int v)
{
	int i = ps->field == F_YEAR ? v - YEAR_LO : ps->field == F_DOW ? v % 7 : v;
	bits[i / 64] |= 1ull << (i % 64);
}

/* a..b by step, or, when a > b, croniter's wrap-around: a to the field's end by step, then on
 * from the field's start. croniter carries the step across the end only when it lands exactly
 * one past the end; otherwise the second part starts `step - (hi - last)` past the start, so
 * months 'apr-mar/2' are 4,6,8,10,12 then 3 (not 2). Copied to the letter, answers included. */
static void fill_range(const struct parser *ps, uint64_t *bits, int a, int b, int step)
{
	int lo = field_lo[ps->field], hi = ps->field == F_DOW ? 6 : field_hi[ps->field];
	if (a <= b) {
		for (int v = a; v <= b; v += step)
			set_bit(ps, bits, v);
		return;
	}
	int last = a;
	for (int v = a; v <= hi; v += step) {
		set_bit(ps, bits, v);
		last = v;
	}
	int skip = 0;
	if (last - lo + step > hi - lo + 1 && hi - last < step)
		skip = step - (hi - last);
	for (int v = lo + skip; v <= b; v += step)
		set_bit(ps, bits, v);
}

/* One list item of the general form: '*' | 'H' | 'H(a-b)' | a | a-b, then optionally '/n'. In
 * day-of-month, b may be 'L' (croniter reads it as 31: '29-L' is 29-31). A range whose end comes
 * before its start wraps around the field's end ('nov-mar', 'sat-tue', '22-2'). */
static int parse_range_item(struct parser *ps, const char *s, const char *end, uint64_t *bits)
{
	int lo = field_lo[ps->field], hi = ps->field == F_DOW ? 6 : field_hi[ps->field];
	int a, b, step = 1;
	bool hash = false, open_end = false, range = false;
	const char *p = s;
	int rc;
	if (*p == '*') {
		a = lo;
		b = hi;
		p++;
	} else if (*p == 'H' || *p == 'h') {
		hash = true;
		p++;
		a = lo;
		b = ps->field == F_DOM ? 28 : hi; /* every month has a 28th */
		if (p < end && *p == '(') {
			p++;
			if ((rc = parse_value(ps, &p, end, &a)) < 0)
				return rc;
			if (p >= end || *p != '-')
				return field_error(ps, "'%.*s': write H(a-b)", (int)(end - s), s);
			p++;
			if ((rc = parse_value(ps, &p, end, &b)) < 0)
				return rc;
			if (p >= end || *p != ')')
				return field_error(ps, "'%.*s': missing ')'", (int)(end - s), s);
			p++;
			if (ps->field == F_DOW && b == 7)
				b = 6;
			if (ps->field == F_DOW && a == 7)
				a = 0;
			if (a > b)
				return field_error(ps, "'%.*s': range runs backwards (H(a-b) needs a <= b)",
						   (int)(end - s), s);
		}
	} else {
		if ((rc = parse_value(ps, &p, end, &a)) < 0)
			return rc;
		b = a;
		if (p < end && *p == '-') {
			p++;
			range = true;
			if (ps->field == F_DOM && p < end && (*p == 'L' || *p == 'l') &&
			    (p + 1 == end || p[1] == '/')) {
				b = 31;
				p++;
			} else if ((rc = parse_value(ps, &p, end, &b)) < 0) {
				return rc;
			}
		} else {
			open_end = true; /* "a/n" means a to the end */
		}
	}
	if (p < end && *p == '/') {
		p++;
		if ((rc = parse_step(ps, &p, end, &step)) < 0)
			return rc;
		if (hash) {
			int span = b - a + 1 < step ? b - a + 1 : step;
			a = hashed(ps, a, a + span - 1);
		} else if (open_end) {
			b = hi;
			if (a > b) /* "7/2" in day-of-week */
				b = a;
		}
	} else if (hash) {
		a = b = hashed(ps, a, b);
	}
	if (p != end)
		return field_error(ps, "unexpected '%.*s' in '%.*s'", (int)(end - p), p, (int)(end - s), s);
	if (range && ps->field == F_DOW) {
		/* 7 is Sunday, 0: "fri-7" wraps to 5,6,0; "0-7" and "7-0" are the whole week */
		bool whole = a % 7 == b % 7 && a != b;
		a %= 7;
		b %= 7;
		if (whole)
			a = 0, b = 6;
	}
	fill_range(ps, bits, a, b, step);
	return 0;
}

/* One item of the day-of-month field: L, LW, nW, or the general form. */
static int parse_dom_item(struct parser *ps, const char *s, const char *end, uint64_t *bits,
			  struct day_spec *ds)
{
	size_t n = (size_t)(end - s);
	if (n == 1 && (*s == 'L' || *s == 'l')) {
		ds->dom_last = true;
		return 0;
	}
	if (n == 2 && lower(s[0]) == 'l' && lower(s[1]) == 'w') {
		ds->dom_last_wday = true;
		return 0;
	}
	if (n >= 2 && lower(end[-1]) == 'w' && is_digit(*s)) {
		const char *p = s;
		int day, rc;
		if ((rc = parse_value(ps, &p, end - 1, &day)) < 0)
			return rc;
		if (p != end - 1)
			return field_error(ps, "'%.*s': write nW, e.g. '15W'", (int)n, s);
		ds->dom_near |= 1u << day;
		return 0;
	}
	return parse_range_item(ps, s, end, bits);
}

/* One item of the day-of-week field: d#k, dL, or the general form. */
static int parse_dow_item(struct parser *ps, const char *s, const char *end, uint64_t *bits,
			  struct day_spec *ds)
{
	const char *hashmark = memchr(s, '#', (size_t)(end - s));
	if (!hashmark && end - s >= 2 && lower(*s) == 'l') { /* croniter's "L5": the last Friday */
		const char *p = s + 1;
		int d, rc;
		if ((rc = parse_value(ps, &p, end, &d)) < 0)
			return rc;
		if (p != end)
			return field_error(ps, "'%.*s': write Ld or dL, e.g. 'L5' or '5L'",
					   (int)(end - s), s);
		ds->dow_last |= (uint8_t)(1u << (d % 7));
		return 0;
	}
	if (hashmark || (end - s >= 2 && lower(end[-1]) == 'l')) {
		const char *p = s, *stop = hashmark ? hashmark : end - 1;
		int d, rc;
		if ((rc = parse_value(ps, &p, stop, &d)) < 0)
			return rc;
		if (p != stop)
			return field_error(ps, "'%.*s': write d#k or dL, e.g. 'mon#2' or '5L'",
					   (int)(end - s), s);
		d %= 7;
		if (!hashmark) {
			ds->dow_last |= (uint8_t)(1u << d);
			return 0;
		}
		p = hashmark + 1;
		if (end - p != 1 || *p < '1' || *p > '5')
			return field_error(ps, "'%.*s': the week after '#' must be 1-5", (int)(end - s), s);
		ds->dow_nth[d] |= (uint8_t)(1u << (*p - '0'));
		return 0;
	}
	if (end - s == 1 && lower(*s) == 'l')
		return field_error(ps, "'L' alone is not a day of the week (write e.g. '5L' for the "
				   "last Friday)");
	return parse_range_item(ps, s, end, bits);
}

static int parse_field(struct parser *ps, const char *s, const char *end, uint64_t *bits,
		       struct day_spec *ds)
{
	int rc;
	bits[0] = bits[1] = bits[2] = 0;
	if (end - s == 1 && (*s == '*' || (*s == '?' && (ps->field == F_DOM || ps->field == F_DOW)))) {
		if (ps->field == F_DOM)
			ds->dom_star = true;
		if (ps->field == F_DOW)
			ds->dow_star = true;
		if (ps->field == F_YEAR)
			ds->year_star = true;
		static const char star[] = "*";
		return parse_range_item(ps, star, star + 1, bits);
	}
	const char *item = s;
	for (const char *p = s;; p++) {
		if (p < end && *p != ',')
			continue;
		if (p == item)
			return field_error(ps, "empty list item in '%.*s'", (int)(end - s), s);
		if (ps->field == F_DOM)
			rc = parse_dom_item(ps, item, p, bits, ds);
		else if (ps->field == F_DOW)
			rc = parse_dow_item(ps, item, p, bits, ds);
		else
			rc = parse_range_item(ps, item, p, bits);
		if (rc < 0)
			return rc;
		if (p == end)
			break;
		item = p + 1;
	}
	return 0;
}

/* ---- days ----------------------------------------------------------------------------------- */

static int nearest_weekday(int day, int wd1, int dim)
{
	int wd = (wd1 + day - 1) % 7;
	if (wd == 6) /* Saturday: Friday before, unless that leaves the month */
		return day == 1 ? 3 : day - 1;
	if (wd == 0) /* Sunday: Monday after, unless that leaves the month */
		return day == dim ? day - 2 : day + 1;
	return day;
}

static void build_daymask(struct cron_expr *e, const struct day_spec *ds)
{
	for (int wd1 = 0; wd1 < 7; wd1++) {
		for (int dim = 28; dim <= 31; dim++) {
			uint32_t valid = (uint32_t)(bits_upto(dim) & ~1ull);
			uint32_t dom = ds->dom & valid, dow = 0;
			if (ds->dom_last)
				dom |= 1u << dim;
			if (ds->dom_last_wday)
				dom |= 1u << nearest_weekday(dim, wd1, dim);
			for (int n = 1; n <= dim; n++)
				if (ds->dom_near & (1u << n))
					dom |= 1u << nearest_weekday(n, wd1, dim);
			for (int d = 1; d <= dim; d++) {
				int wd = (wd1 + d - 1) % 7;
				int week = (d - 1) / 7 + 1;
				if ((ds->dow & (1u << wd)) || (ds->dow_nth[wd] & (1u << week)) ||
				    ((ds->dow_last & (1u << wd)) && d + 7 > dim))
					dow |= 1u << d;
			}
			uint32_t m;
			if (ds->dom_star && ds->dow_star)
				m = valid;
			else if (ds->dom_star)
				m = dow;
			else if (ds->dow_star)
				m = dom;
			else
				m = dom | dow;
			e->daymask[wd1][dim - 28] = m;
		}
	}
}

static void build_yeartab(struct cron_expr *e)
{
	for (int wd_jan1 = 0; wd_jan1 < 7; wd_jan1++) {
		for (int leap = 0; leap < 2; leap++) {
			int wd1 = wd_jan1;
			for (int m = 1; m <= 12; m++) {
				int dim = yb_days_in_month(leap ? 2000 : 2001, m);
				e->yeartab[2 * wd_jan1 + leap][m - 1] = e->daymask[wd1][dim - 28];
				if ((e->months & (1u << m)) && e->daymask[wd1][dim - 28])
					e->year_fires[2 * wd_jan1 + leap] = true;
				wd1 = (wd1 + dim) % 7;
			}
		}
	}
}

static bool leap(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* The search walks years one at a time, so the weekday of January 1st moves on by one day, or
 * two across a leap year, instead of being worked out afresh. */
struct year_cursor {
	int year, jan1;
	const uint32_t *days; /* days[month - 1] */
	bool fires;           /* any fire at all this year */
};

static void year_cursor_set(const struct cron_expr *e, struct year_cursor *yc, int year, int jan1)
{
	yc->year = year;
	yc->jan1 = jan1;
	yc->days = e->yeartab[2 * jan1 + leap(year)];
	yc->fires = e->year_fires[2 * jan1 + leap(year)];
}

static void year_cursor_move(const struct cron_expr *e, struct year_cursor *yc, int year)
{
	int jan1;
	if (year == yc->year + 1)
		jan1 = (yc->jan1 + 1 + leap(yc->year)) % 7;
	else if (year == yc->year - 1)
		jan1 = (yc->jan1 + 6 - leap(year)) % 7;
	else
		jan1 = yb_weekday(year, 1, 1);
	year_cursor_set(e, yc, year, jan1);
}

/* Can some month of the expression ever have a matching day? Every (weekday of the 1st, length)
 * pair a month can have does occur within 400 years, so the table answers exactly. */
static bool can_fire(const struct cron_expr *e)
{
	for (int m = 1; m <= 12; m++) {
		if (!(e->months & (1u << m)))
			continue;
		int lo = m == 2 ? 28 : yb_days_in_month(2001, m), hi = m == 2 ? 29 : lo;
		for (int dim = lo; dim <= hi; dim++)
			for (int wd1 = 0; wd1 < 7; wd1++)
				if (e->daymask[wd1][dim - 28])
					return true;
	}
	return false;
}

static bool year_allowed(const struct cron_expr *e, int y)
{
	if (!e->has_years)
		return true;
	if (y < YEAR_LO || y > YEAR_HI)
		return false;
	int i = y - YEAR_LO;
	return e->years[i / 64] >> (i % 64) & 1;
}

/* The first year >= y (dir 1) or <= y (dir -1) that the year field allows; 0 if none. */
static int year_from(const struct cron_expr *e, int y, int dir)
{
	if (!e->has_years)
		return y;
	if (dir > 0 && y < YEAR_LO)
		y = YEAR_LO;
	if (dir < 0 && y > YEAR_HI)
		y = YEAR_HI;
	for (; y >= YEAR_LO && y <= YEAR_HI; y += dir)
		if (year_allowed(e, y))
			return y;
	return 0;
}

/* With a year field: does one of its years have a fire? */
static bool years_can_fire(const struct cron_expr *e)
{
	for (int y = YEAR_LO; y <= YEAR_HI; y++)
		if (year_allowed(e, y) && e->year_fires[2 * yb_weekday(y, 1, 1) + leap(y)])
			return true;
	return false;
}

static uint32_t month_days(const struct cron_expr *e, int year, int month)
{
	int wd1 = yb_weekday(year, month, 1);
	return e->daymask[wd1][yb_days_in_month(year, month) - 28];
}

/* ---- parsing -------------------------------------------------------------------------------- */

/* Each macro's plain expansion, and croniter's when a hash key is given (its hash_id): then
 * minute, hour and second, and the day fields a macro fixes, are hashed ('H' below has the same
 * ranges as croniter's, but for day-of-month, which Yoban hashes within 1-28). */
static const struct {
	const char *name, *expansion, *hashed;
} macros[] = {
	{ "@yearly", "0 0 1 1 *", "H H H H * H" },   { "@annually", "0 0 1 1 *", "H H H H * H" },
	{ "@monthly", "0 0 1 * *", "H H H * * H" },  { "@weekly", "0 0 * * 0", "H H * * H H" },
	{ "@daily", "0 0 * * *", "H H * * * H" },    { "@midnight", "0 0 * * *", "H H(0-2) * * * H" },
	{ "@hourly", "0 * * * *", "H * * * * H" },
};

bool cron_text_hashed(const char *text)
{
	while (is_space_c(*text))
		text++;
	return *text == '@' || strpbrk(text, "Hh") != NULL;
}

static bool same_ci(const char *a, size_t n, const char *b)
{
	if (strlen(b) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)a[i]) != b[i])
			return false;
	return true;
}


int cron_parse(const char *text, const char *hash_key, struct cron_expr **out, int *err_col,
	       struct yb_err *err)
{
	struct parser ps = { .hash = crc32_ieee(hash_key ? hash_key : ""), .err = err };
	struct day_spec ds;
	struct cron_expr *e = NULL;
	const char *starts[N_FIELDS + 1], *ends[N_FIELDS + 1];
	int n = 0, rc = 0, col = 0;
	bool from_macro = false;
	memset(&ds, 0, sizeof(ds));

	size_t len = strlen(text);
	if (len > CRON_TEXT_MAX) {
		rc = yb_err_set(err, YB_EINVAL, "cron expression is longer than %d bytes",
				CRON_TEXT_MAX);
		goto out;
	}
	const char *body = text, *body_end = text + len;
	while (body < body_end && is_space_c(*body))
		body++;
	while (body_end > body && is_space_c(body_end[-1]))
		body_end--;
	if (body < body_end && *body == '@') {
		size_t i;
		for (i = 0; i < YB_ARRAY_LEN(macros); i++)
			if (same_ci(body, (size_t)(body_end - body), macros[i].name))
				break;
		col = (int)(body - text);
		if (i == YB_ARRAY_LEN(macros)) {
			rc = yb_err_set(err, YB_EINVAL, "unknown macro '%.*s' (write @yearly, @annually, "
					"@monthly, @weekly, @daily, @midnight or @hourly)",
					(int)(body_end - body > 32 ? 32 : body_end - body), body);
			goto out;
		}
		from_macro = true;
		body = hash_key ? macros[i].hashed : macros[i].expansion;
		body_end = body + strlen(body);
	}
	for (const char *p = body; p < body_end;) {
		while (p < body_end && is_space_c(*p))
			p++;
		if (p == body_end)
			break;
		const char *s = p;
		while (p < body_end && !is_space_c(*p))
			p++;
		if (n == N_FIELDS + 1)
			break;
		starts[n] = s;
		ends[n] = p;
		n++;
	}
	if (n < 5 || n > N_FIELDS) {
		rc = yb_err_set(err, YB_EINVAL, "expected 5 fields (minute hour day-of-month month "
				"day-of-week), 6 (with seconds last) or 7 (seconds, then the year), got %s%d",
				n > N_FIELDS ? "more than " : "", n > N_FIELDS ? N_FIELDS : n);
		goto out;
	}
	e = xcalloc(1, sizeof(*e));
	e->has_seconds = n >= 6;
	e->secs = 1;
	for (int i = 0; i < n; i++) {
		uint64_t bits[3];
		ps.field = i;
		/* Columns point into text; a macro's fields all point at the macro. */
		if (!from_macro)
			col = (int)(starts[i] - text);
		if ((rc = parse_field(&ps, starts[i], ends[i], bits, &ds)) < 0)
			goto out;
		switch (i) {
		case F_MIN: e->mins = bits[0]; break;
		case F_HOUR: e->hours = (uint32_t)bits[0]; break;
		case F_DOM: ds.dom = (uint32_t)bits[0]; break;
		case F_MON: e->months = (uint16_t)bits[0]; break;
		case F_DOW: ds.dow = (uint8_t)bits[0]; break;
		case F_SEC: e->secs = bits[0]; break;
		case F_YEAR:
			e->has_years = !ds.year_star;
			memcpy(e->years, bits, sizeof(e->years));
			break;
		}
	}
	e->elapsed = e->hours == ALL_HOURS;
	build_daymask(e, &ds);
	build_yeartab(e);
	if (can_fire(e) && e->has_years && !years_can_fire(e)) {
		if (!from_macro)
			col = (int)(starts[F_YEAR] - text);
		rc = yb_err_set(err, YB_EINVAL, "year field: no year in '%.*s' has a day the other "
				"fields allow (the expression could never fire)",
				(int)(ends[F_YEAR] - starts[F_YEAR]), starts[F_YEAR]);
		goto out;
	}
	if (!can_fire(e)) {
		if (!from_macro)
			col = (int)(starts[F_DOM] - text);
		rc = yb_err_set(err, YB_EINVAL, "day-of-month field: '%.*s' never happens in month "
				"'%.*s' (the expression could never fire)",
				(int)(ends[F_DOM] - starts[F_DOM]), starts[F_DOM],
				(int)(ends[F_MON] - starts[F_MON]), starts[F_MON]);
		goto out;
	}
	e->text = xstrdup(text);
	*out = e;
	e = NULL;
out:
	if (rc < 0 && err_col)
		*err_col = col;
	free(e);
	return rc;
}

void cron_free(struct cron_expr *expr)
{
	if (!expr)
		return;
	free(expr->text);
	free(expr);
}

bool cron_has_seconds(const struct cron_expr *expr)
{
	return expr->has_seconds;
}

bool cron_fires_by_elapsed_time(const struct cron_expr *expr)
{
	return expr->elapsed;
}

bool cron_year_range(const struct cron_expr *expr, int *first, int *last)
{
	if (!expr->has_years)
		return false;
	*first = year_from(expr, YEAR_LO, 1);
	*last = year_from(expr, YEAR_HI, -1);
	return true;
}

const char *cron_text(const struct cron_expr *expr)
{
	return expr->text;
}

bool cron_matches(const struct cron_expr *e, const struct yb_civil *c)
{
	if (c->month < 1 || c->month > 12 || c->day < 1 ||
	    c->day > yb_days_in_month(c->year, c->month) || c->hour < 0 || c->hour > 23 ||
	    c->min < 0 || c->min > 59 || c->sec < 0 || c->sec > 59)
		return false;
	if (e->has_seconds && !(e->secs & (1ull << c->sec)))
		return false;
	if (!year_allowed(e, c->year))
		return false;
	return (e->mins & (1ull << c->min)) && (e->hours & (1u << c->hour)) &&
	       (e->months & (1u << c->month)) &&
	       (month_days(e, c->year, c->month) & (1u << c->day));
}

/* ---- the search ----------------------------------------------------------------------------- */

struct fields {
	int y, mo, d, h, mi, s;
	int jan1; /* weekday of January 1st of y */
};

/* Days before each month in a common year. */
static const int days_before[12] = { 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334 };

static void fields_from_secs(int64_t ls, struct fields *f)
{
	int64_t days = ls / 86400 - (ls % 86400 < 0);
	int64_t sod = ls - days * 86400;
	yb_civil_from_days(days, &f->y, &f->mo, &f->d);
	f->h = (int)(sod / 3600);
	f->mi = (int)(sod / 60 % 60);
	f->s = (int)(sod % 60);
	int64_t jan1_days = days - (days_before[f->mo - 1] + (f->mo > 2 && leap(f->y)) + f->d - 1);
	int64_t w = (jan1_days + 4) % 7; /* 1970-01-01 was a Thursday */
	f->jan1 = (int)(w < 0 ? w + 7 : w);
}

static int64_t secs_from_fields(const struct fields *f)
{
	return yb_days_from_civil(f->y, f->mo, f->d) * 86400 + f->h * 3600 + f->mi * 60 + f->s;
}

/* The first matching local time at or after f, in place; YB_ERANGE past YEAR_MAX. */
static int search_forward(const struct cron_expr *e, struct fields *f)
{
	int y = f->y, mo = f->mo, d = f->d, h = f->h, mi = f->mi, s = f->s;
	struct year_cursor yc;
	if (e->has_years && !year_allowed(e, y)) {
		if (!(y = year_from(e, y, 1)))
			return YB_ERANGE;
		mo = 1, d = 1, h = 0, mi = 0, s = 0;
		year_cursor_set(e, &yc, y, yb_weekday(y, 1, 1));
	} else {
		year_cursor_set(e, &yc, y, f->jan1);
	}
	uint32_t days;
	for (;;) {
		if (yc.year != y) { /* the year field, the range and the cursor: once a year */
			if (e->has_years && !year_allowed(e, y)) {
				if (!(y = year_from(e, y, 1)))
					return YB_ERANGE;
			}
			if (y > YEAR_MAX)
				return YB_ERANGE;
			year_cursor_move(e, &yc, y);
		}
		if (!yc.fires) { /* e.g. a year whose February has no fifth Monday */
			y++, mo = 1, d = 1, h = 0, mi = 0, s = 0;
			continue;
		}
		uint64_t m = e->months & bits_from(mo);
		if (!m) {
			y++, mo = 1, d = 1, h = 0, mi = 0, s = 0;
			continue;
		}
		if (ctz64(m) != mo)
			mo = ctz64(m), d = 1, h = 0, mi = 0, s = 0;
		days = yc.days[mo - 1];
		m = days & bits_from(d);
		if (!m) {
			mo++, d = 1, h = 0, mi = 0, s = 0;
			continue;
		}
		if (ctz64(m) != d)
			d = ctz64(m), h = 0, mi = 0, s = 0;
		m = e->hours & bits_from(h);
		if (!m) {
			d++, h = 0, mi = 0, s = 0;
			continue;
		}
		if (ctz64(m) != h)
			h = ctz64(m), mi = 0, s = 0;
		m = e->mins & bits_from(mi);
		if (!m) {
			h++, mi = 0, s = 0;
			continue;
		}
		if (ctz64(m) != mi)
			mi = ctz64(m), s = 0;
		m = e->secs & bits_from(s);
		if (!m) {
			mi++, s = 0;
			continue;
		}
		s = ctz64(m);
		break;
	}
	*f = (struct fields){ y, mo, d, h, mi, s, yc.jan1 };
	return 0;
}

/* The last matching local time at or before f, in place; YB_ERANGE before YEAR_MIN. */
static int search_backward(const struct cron_expr *e, struct fields *f)
{
	int y = f->y, mo = f->mo, d = f->d, h = f->h, mi = f->mi, s = f->s;
	struct year_cursor yc;
	if (e->has_years && !year_allowed(e, y)) {
		if (!(y = year_from(e, y, -1)))
			return YB_ERANGE;
		mo = 12, d = 31, h = 23, mi = 59, s = 59;
		year_cursor_set(e, &yc, y, yb_weekday(y, 1, 1));
	} else {
		year_cursor_set(e, &yc, y, f->jan1);
	}
	uint32_t days;
	for (;;) {
		if (yc.year != y) {
			if (e->has_years && !year_allowed(e, y)) {
				if (!(y = year_from(e, y, -1)))
					return YB_ERANGE;
			}
			if (y < YEAR_MIN)
				return YB_ERANGE;
			year_cursor_move(e, &yc, y);
		}
		if (!yc.fires) {
			y--, mo = 12, d = 31, h = 23, mi = 59, s = 59;
			continue;
		}
		uint64_t m = e->months & bits_upto(mo);
		if (!m) {
			y--, mo = 12, d = 31, h = 23, mi = 59, s = 59;
			continue;
		}
		if (top64(m) != mo)
			mo = top64(m), d = 31, h = 23, mi = 59, s = 59;
		days = yc.days[mo - 1];
		m = days & bits_upto(d);
		if (!m) {
			mo--, d = 31, h = 23, mi = 59, s = 59;
			continue;
		}
		if (top64(m) != d)
			d = top64(m), h = 23, mi = 59, s = 59;
		m = e->hours & bits_upto(h);
		if (!m) {
			d--, h = 23, mi = 59, s = 59;
			continue;
		}
		if (top64(m) != h)
			h = top64(m), mi = 59, s = 59;
		m = e->mins & bits_upto(mi);
		if (!m) {
			h--, mi = 59, s = 59;
			continue;
		}
		if (top64(m) != mi)
			mi = top64(m), s = 59;
		m = e->secs & bits_upto(s);
		if (!m) {
			mi--, s = 59;
			continue;
		}
		s = top64(m);
		break;
	}
	*f = (struct fields){ y, mo, d, h, mi, s, yc.jan1 };
	return 0;
}

/* Local seconds of YEAR_MIN-01-01 and of YEAR_MAX-12-31 23:59:59. */
#define LS_MIN ((int64_t)-62135596800)
#define LS_MAX ((int64_t)253402300799)

/* The first matching local time at or after ls (local seconds). */
static int first_from(const struct cron_expr *e, int64_t ls, int64_t *local)
{
	struct fields f;
	if (ls > LS_MAX)
		return YB_ERANGE;
	fields_from_secs(ls < LS_MIN ? LS_MIN : ls, &f);
	int rc = search_forward(e, &f);
	if (rc == 0)
		*local = secs_from_fields(&f);
	return rc;
}

/* The last matching local time at or before ls. */
static int last_from(const struct cron_expr *e, int64_t ls, int64_t *local)
{
	struct fields f;
	if (ls < LS_MIN)
		return YB_ERANGE;
	fields_from_secs(ls > LS_MAX ? LS_MAX : ls, &f);
	int rc = search_backward(e, &f);
	if (rc == 0)
		*local = secs_from_fields(&f);
	return rc;
}

/* DST: a local time in a gap fires once, when the gap ends. In a repeated stretch, a fixed-time
 * expression fires on the first pass only; an elapsed-time one (every hour matches) on both. */
int cron_next(const struct cron_expr *expr, const struct tz *zone, int64_t after, int64_t *out)
{
	if (after > LS_MAX)
		return YB_ERANGE;
	int64_t ls = LS_MIN;
	struct tz_span fold = { .kind = TZ_EXACT }; /* elapsed: the fold `after` is on the first pass of */
	if (after >= LS_MIN - 2 * 86400) {
		int64_t la = tz_local_seconds(zone, after);
		ls = la + 1;
		if (expr->elapsed && tz_resolve_span(zone, la, &fold) != after)
			fold.kind = TZ_EXACT;
	}
	for (;;) {
		int64_t local = INT64_MAX, l2;
		int rc = first_from(expr, ls, &local);
		if (fold.kind == TZ_FOLD && local >= fold.end) {
			/* the rest of the first pass has no fire: the second pass comes first */
			if (first_from(expr, fold.start, &l2) == 0 && l2 < fold.end) {
				struct tz_span sp;
				tz_resolve_span(zone, l2, &sp);
				*out = sp.second;
				return 0;
			}
			fold.kind = TZ_EXACT;
		}
		if (rc < 0)
			return rc;
		struct tz_span sp;
		int64_t t = tz_resolve_span(zone, local, &sp);
		if (t > after) {
			*out = t;
			return 0;
		}
		if (sp.kind == TZ_FOLD && expr->elapsed && sp.second > after) {
			*out = sp.second;
			return 0;
		}
		/* A fixed-time fire's second pass: it fired on the first. */
		ls = sp.kind == TZ_FOLD && !expr->elapsed && sp.end > local ? sp.end : local + 1;
	}
}

int cron_prev(const struct cron_expr *expr, const struct tz *zone, int64_t before, int64_t *out)
{
	if (before <= LS_MIN - 2 * 86400)
		return YB_ERANGE;
	int64_t b = before > LS_MAX + 2 * 86400 ? LS_MAX + 2 * 86400 : before - 1;
	int64_t ls = tz_local_seconds(zone, b), local;
	struct tz_span sp;
	int64_t first = tz_resolve_span(zone, ls, &sp);
	if (sp.kind == TZ_FOLD && first != b) {
		/* b is on the second pass: an elapsed-time fire earlier in it, else the first pass */
		if (expr->elapsed && last_from(expr, ls, &local) == 0 && local >= sp.start) {
			tz_resolve_span(zone, local, &sp);
			*out = sp.second;
			return 0;
		}
		ls = sp.end - 1;
	}
	int rc = last_from(expr, ls, &local);
	if (rc < 0)
		return rc;
	int64_t t = tz_resolve_span(zone, local, &sp);
	if (sp.kind == TZ_FOLD && expr->elapsed && sp.second < before)
		t = sp.second;
	if (t >= before)
		BUG("cron_prev of '%s' found %lld, not before %lld", expr->text, (long long)t,
		    (long long)before);
	*out = t;
	return 0;
}
