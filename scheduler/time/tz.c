/*
 * tz.c: time zones read from TZif files (RFC 8536); the civil-date arithmetic under them is civil.c.
 *
 * The one idea: a zone is a sorted array of transitions (instant, offset from then on), built
 * once at load time. The TZif body gives the past; the footer's POSIX rule ("EST5EDT,M3.2.0,
 * M11.1.0") is expanded into transitions for 400 years past the last one, and because the
 * Gregorian calendar repeats exactly every 400 years (146097 days, a whole number of weeks), any
 * later instant is folded back into that window. Every lookup is then one binary search, in
 * either direction: instant -> offset, or local seconds -> instant with the scheduler's DST
 * rules (a gap resolves to its end, a repeated stretch to its first pass).
 */
#include "tz.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DAY_SECS 86400
/* 400 Gregorian years, in seconds: the period of every POSIX TZ rule. */
#define ERA_SECS ((int64_t)146097 * DAY_SECS)
/* Instants are clamped to this many seconds either side of the epoch (about a billion years),
 * so that the arithmetic below never overflows and years fit in an int. */
#define T_CLAMP ((int64_t)1 << 55)
#define TZIF_MAX_BYTES (1u << 20)
#define TZIF_MAX_TIMES 100000u
#define TZIF_MAX_CHARS 65536u
#define TZIF_MAX_LEAPS 10000u
#define FOOTER_MAX 256
/* RFC 8536 keeps UT offsets within -89999..93599; anything wider is refused. */
#define OFF_LIMIT 93599

struct tz_rule_date {
	char kind; /* 'J': 1-365 without Feb 29, 'N': 0-365, 'M': month.week.day */
	int n, month, week, wday;
	int32_t secs; /* local time of day of the change, may be negative or past 24 h */
};

struct tz_rule {
	int32_t std_off, dst_off; /* seconds east of UTC */
	bool has_dst;
	struct tz_rule_date start, end;
};

struct tz {
	char *name;
	size_t n;     /* transitions */
	int64_t *at;  /* strictly increasing instants */
	int32_t *off; /* off[i] applies from at[i] until at[i + 1] */
	int32_t off0; /* before at[0] (or always, when n == 0) */
	bool periodic;      /* instants >= era_end fold back by whole eras */
	int64_t era_start;  /* the window [era_start, era_end) holds 400 years of rule transitions */
	int64_t era_end;
	bool is_static;     /* the built-in UTC zone */
};

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t clamp_t(int64_t t)
{
	return t > T_CLAMP ? T_CLAMP : t < -T_CLAMP ? -T_CLAMP : t;
}

static void civil_from_secs(int64_t secs, struct yb_civil *out)
{
	int64_t days = floor_div(secs, DAY_SECS);
	int64_t sod = secs - days * DAY_SECS;
	yb_civil_from_days(days, &out->year, &out->month, &out->day);
	out->hour = (int)(sod / 3600);
	out->min = (int)(sod / 60 % 60);
	out->sec = (int)(sod % 60);
	out->wday = yb_weekday_of_days(days);
}

/* Civil fields (possibly out of range) to local seconds, normalising as it goes. */
static int64_t secs_from_civil(const struct yb_civil *c)
{
	int64_t month0 = (int64_t)c->month - 1;
	int64_t year = (int64_t)c->year + floor_div(month0, 12);
	month0 -= floor_div(month0, 12) * 12;
	if (year > 1000000000)
		year = 1000000000;
	if (year < -1000000000)
		year = -1000000000;
	int64_t days = yb_days_from_civil((int)year, (int)month0 + 1, 1) + (int64_t)c->day - 1;
	return days * DAY_SECS + (int64_t)c->hour * 3600 + (int64_t)c->min * 60 + c->sec;
}

/* ---- lookups -------------------------------------------------------------------------------- */

/* Index of the last transition at or before t, or -1. */
static ptrdiff_t find_at(const struct tz *z, int64_t t)
{
	size_t lo = 0, hi = z->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (z->at[mid] <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (ptrdiff_t)lo - 1;
}

static int32_t offset_at(const struct tz *z, int64_t t)
{
	if (z->periodic && t >= z->era_end)
		t -= (floor_div(t - z->era_start, ERA_SECS)) * ERA_SECS;
	ptrdiff_t i = find_at(z, t);
	return i < 0 ? z->off0 : z->off[i];
}

int64_t tz_local_seconds(const struct tz *zone, int64_t t)
{
	t = clamp_t(t);
	return t + offset_at(zone, t);
}

void tz_to_local(const struct tz *zone, int64_t t, struct yb_civil *out, int32_t *utcoff)
{
	t = clamp_t(t);
	int32_t off = offset_at(zone, t);
	civil_from_secs(t + off, out);
	if (utcoff)
		*utcoff = off;
}

/* The local seconds where transition i's ambiguous stretch (gap or fold) starts and ends. */
static void transition_span(const struct tz *z, size_t i, int64_t *lo, int64_t *hi)
{
	int32_t before = i == 0 ? z->off0 : z->off[i - 1], after = z->off[i];
	*lo = z->at[i] + (before < after ? before : after);
	*hi = z->at[i] + (before < after ? after : before);
}

int64_t tz_resolve_span(const struct tz *zone, int64_t ls, struct tz_span *span)
{
	const struct tz *z = zone;
	int64_t shift = 0;
	ls = clamp_t(ls);
	if (z->periodic && ls >= z->era_end) {
		shift = floor_div(ls - z->era_start, ERA_SECS) * ERA_SECS;
		ls -= shift;
	}
	/* The last transition whose ambiguous stretch starts at or before ls. */
	size_t lo = 0, hi = z->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int64_t s, e;
		transition_span(z, mid, &s, &e);
		if (s <= ls)
			lo = mid + 1;
		else
			hi = mid;
	}
	int k = TZ_EXACT;
	int64_t t, start = 0, end = 0, second = 0;
	if (lo == 0) {
		t = ls - z->off0;
	} else {
		size_t i = lo - 1;
		int64_t s, e;
		transition_span(z, i, &s, &e);
		int32_t before = i == 0 ? z->off0 : z->off[i - 1];
		if (ls < e && z->off[i] > before) {
			k = TZ_GAP;
			t = z->at[i];
			start = s;
			end = e;
		} else if (ls < e) {
			k = TZ_FOLD;
			t = ls - before;
			second = ls - z->off[i];
			/* a rule whose next change comes before the second pass ends it: no second pass */
			if (i + 1 < z->n && second >= z->at[i + 1])
				second = t;
			start = s;
			end = e;
		} else {
			t = ls - z->off[i];
		}
	}
	span->kind = k;
	if (k != TZ_EXACT) {
		span->start = start + shift;
		span->end = end + shift;
		span->second = second + shift;
	}
	return t + shift;
}

int64_t tz_resolve_local(const struct tz *zone, int64_t ls, int *kind, int64_t *span_end)
{
	struct tz_span span;
	int64_t t = tz_resolve_span(zone, ls, &span);
	if (kind)
		*kind = span.kind;
	if (span_end && span.kind != TZ_EXACT)
		*span_end = span.end;
	return t;
}

int64_t tz_from_local(const struct tz *zone, const struct yb_civil *local, int *kind)
{
	return tz_resolve_local(zone, secs_from_civil(local), kind, NULL);
}

/* ---- POSIX TZ rules ------------------------------------------------------------------------- */

static const char *parse_abbr(const char *p)
{
	if (*p == '<') {
		const char *s = ++p;
		while (*p && *p != '>') {
			if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			      (*p >= '0' && *p <= '9') || *p == '+' || *p == '-'))
				return NULL;
			p++;
		}
		if (*p != '>' || p - s < 3)
			return NULL;
		return p + 1;
	}
	const char *s = p;
	while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
		p++;
	return p - s >= 3 ? p : NULL;
}

/* [+-]h[hh][:mm[:ss]] with hours up to max_hours; *secs gets the signed seconds. */
static const char *parse_hms(const char *p, int max_hours, int32_t *secs)
{
	int sign = 1;
	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	if (*p < '0' || *p > '9')
		return NULL;
	int h = 0, digits = 0;
	while (*p >= '0' && *p <= '9' && digits < 3) {
		h = h * 10 + (*p++ - '0');
		digits++;
	}
	if (h > max_hours)
		return NULL;
	int m = 0, s = 0;
	if (*p == ':') {
		p++;
		if (!(p[0] >= '0' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9'))
			return NULL;
		m = (p[0] - '0') * 10 + (p[1] - '0');
		p += 2;
		if (*p == ':') {
			p++;
			if (!(p[0] >= '0' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9'))
				return NULL;
			s = (p[0] - '0') * 10 + (p[1] - '0');
			p += 2;
		}
	}
	*secs = sign * (h * 3600 + m * 60 + s);
	return p;
}

static const char *parse_num(const char *p, int lo, int hi, int *out)
{
	if (*p < '0' || *p > '9')
		return NULL;
	int v = 0;
	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (*p++ - '0');
		if (v > hi)
			return NULL;
	}
	if (v < lo)
		return NULL;
	*out = v;
	return p;
}

static const char *parse_rule_date(const char *p, struct tz_rule_date *d)
{
	memset(d, 0, sizeof(*d));
	if (*p == 'J') {
		d->kind = 'J';
		p = parse_num(p + 1, 1, 365, &d->n);
	} else if (*p == 'M') {
		d->kind = 'M';
		p = parse_num(p + 1, 1, 12, &d->month);
		if (p && *p == '.')
			p = parse_num(p + 1, 1, 5, &d->week);
		else
			p = NULL;
		if (p && *p == '.')
			p = parse_num(p + 1, 0, 6, &d->wday);
		else
			p = NULL;
	} else {
		d->kind = 'N';
		p = parse_num(p, 0, 365, &d->n);
	}
	if (!p)
		return NULL;
	d->secs = 7200;
	if (*p == '/')
		p = parse_hms(p + 1, 167, &d->secs);
	return p;
}

static int parse_posix_rule(const char *text, struct tz_rule *r)
{
	memset(r, 0, sizeof(*r));
	const char *p = parse_abbr(text);
	int32_t secs;
	if (!p || !(p = parse_hms(p, 24, &secs)))
		return YB_EINVAL;
	r->std_off = -secs;
	if (!*p)
		return 0;
	if (!(p = parse_abbr(p)))
		return YB_EINVAL;
	r->has_dst = true;
	r->dst_off = r->std_off + 3600;
	if (*p && *p != ',') {
		if (!(p = parse_hms(p, 24, &secs)))
			return YB_EINVAL;
		r->dst_off = -secs;
	}
	if (!*p) { /* no rule: the US rules, as glibc assumes */
		r->start = (struct tz_rule_date){ 'M', 0, 3, 2, 0, 7200 };
		r->end = (struct tz_rule_date){ 'M', 0, 11, 1, 0, 7200 };
		return 0;
	}
	if (*p != ',' || !(p = parse_rule_date(p + 1, &r->start)))
		return YB_EINVAL;
	if (*p != ',' || !(p = parse_rule_date(p + 1, &r->end)))
		return YB_EINVAL;
	return *p ? YB_EINVAL : 0;
}

/* The instant in year y when the rule date happens, given the offset in force before it. */
static int64_t rule_instant(const struct tz_rule_date *d, int year, int32_t off_before)
{
	int64_t days = yb_days_from_civil(year, 1, 1);
	if (d->kind == 'J') {
		days += d->n - 1 + (yb_is_leap(year) && d->n >= 60);
	} else if (d->kind == 'N') {
		days += d->n;
	} else {
		int64_t first = yb_days_from_civil(year, d->month, 1);
		int wd1 = yb_weekday_of_days(first);
		int day = 1 + (d->wday - wd1 + 7) % 7 + 7 * (d->week - 1);
		int dim = yb_days_in_month(year, d->month);
		while (day > dim)
			day -= 7;
		days = first + day - 1;
	}
	return days * DAY_SECS + d->secs - off_before;
}

/* ---- building a zone ------------------------------------------------------------------------ */

struct builder {
	int64_t *at;
	int32_t *off;
	size_t n, cap;
	int32_t off0;
};

/* Appends a transition, dropping any that would not be strictly later or would change nothing. */
static void builder_add(struct builder *b, int64_t at, int32_t off)
{
	int32_t prev = b->n ? b->off[b->n - 1] : b->off0;
	if (b->n && at <= b->at[b->n - 1]) {
		if (at < b->at[b->n - 1])
			return;
		b->off[b->n - 1] = off; /* same instant: the later one wins */
		int32_t before = b->n >= 2 ? b->off[b->n - 2] : b->off0;
		if (before == off)
			b->n--;
		return;
	}
	if (off == prev)
		return;
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->at = xrealloc(b->at, b->cap * sizeof(*b->at));
		b->off = xrealloc(b->off, b->cap * sizeof(*b->off));
	}
	b->at[b->n] = at;
	b->off[b->n] = off;
	b->n++;
}

/* Expands the rule past the last transition: 400 years of it, the window that later instants
 * fold back into. */
static void builder_extend(struct builder *b, const struct tz_rule *r, struct tz *z)
{
	if (!r->has_dst) {
		int64_t at = b->n ? b->at[b->n - 1] + 1 : INT64_MIN;
		if (b->n == 0)
			b->off0 = r->std_off;
		else
			builder_add(b, at, r->std_off);
		return;
	}
	int64_t last = b->n ? b->at[b->n - 1] : yb_days_from_civil(1900, 1, 1) * DAY_SECS;
	struct yb_civil c;
	civil_from_secs(last, &c);
	int first_year = c.year + 1;
	if (b->n == 0)
		b->off0 = r->std_off;
	for (int y = first_year - 1; y <= first_year + 400; y++) {
		int64_t s = rule_instant(&r->start, y, r->std_off);
		int64_t e = rule_instant(&r->end, y, r->dst_off);
		if (s <= e) {
			if (s > last)
				builder_add(b, s, r->dst_off);
			if (e > last)
				builder_add(b, e, r->std_off);
		} else {
			if (e > last)
				builder_add(b, e, r->std_off);
			if (s > last)
				builder_add(b, s, r->dst_off);
		}
	}
	z->periodic = true;
	z->era_start = yb_days_from_civil(first_year, 1, 1) * DAY_SECS;
	z->era_end = z->era_start + ERA_SECS;
}

static struct tz *builder_finish(struct builder *b, const char *name)
{
	struct tz *z = xcalloc(1, sizeof(*z));
	z->name = xstrdup(name);
	z->n = b->n;
	z->at = b->at;
	z->off = b->off;
	z->off0 = b->off0;
	return z;
}

void tz_free(struct tz *zone)
{
	if (!zone || zone->is_static)
		return;
	free(zone->name);
	free(zone->at);
	free(zone->off);
	free(zone);
}

int tz_parse_posix(const char *rule, struct tz **out, struct yb_err *err)
{
	struct tz_rule r;
	if (strlen(rule) > FOOTER_MAX || parse_posix_rule(rule, &r) < 0)
		return yb_err_set(err, YB_EINVAL, "bad POSIX TZ rule '%.64s'", rule);
	struct builder b = { 0 };
	struct tz tmp = { 0 };
	builder_extend(&b, &r, &tmp);
	struct tz *z = builder_finish(&b, rule);
	z->periodic = tmp.periodic;
	z->era_start = tmp.era_start;
	z->era_end = tmp.era_end;
	*out = z;
	return 0;
}

/* ---- TZif ----------------------------------------------------------------------------------- */

struct tzif_header {
	uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

static int read_header(const unsigned char *p, size_t len, struct tzif_header *h, int *version)
{
	if (len < 44 || memcmp(p, "TZif", 4) != 0)
		return -1;
	*version = p[4] == 0 ? 1 : p[4] >= '2' && p[4] <= '9' ? p[4] - '0' : -1;
	if (*version < 0)
		return -1;
	h->isutcnt = be32(p + 20);
	h->isstdcnt = be32(p + 24);
	h->leapcnt = be32(p + 28);
	h->timecnt = be32(p + 32);
	h->typecnt = be32(p + 36);
	h->charcnt = be32(p + 40);
	if (h->typecnt == 0 || h->typecnt > 256 || h->charcnt == 0 ||
	    h->charcnt > TZIF_MAX_CHARS || h->timecnt > TZIF_MAX_TIMES ||
	    h->leapcnt > TZIF_MAX_LEAPS || (h->isutcnt != 0 && h->isutcnt != h->typecnt) ||
	    (h->isstdcnt != 0 && h->isstdcnt != h->typecnt))
		return -1;
	return 0;
}

static size_t block_size(const struct tzif_header *h, size_t time_size)
{
	return (size_t)h->timecnt * time_size + h->timecnt + (size_t)h->typecnt * 6 + h->charcnt +
	       (size_t)h->leapcnt * (time_size + 4) + h->isstdcnt + h->isutcnt;
}

int tz_parse_tzif(const void *data, size_t len, const char *name, struct tz **out,
		  struct yb_err *err)
{
	const unsigned char *p = data;
	struct tzif_header h;
	int version, rc = 0;
	struct builder b = { 0 };
	int32_t *types = NULL;
	size_t time_size = 4;
	if (read_header(p, len, &h, &version) < 0)
		goto bad;
	size_t body = block_size(&h, 4);
	if (body > len - 44)
		goto bad;
	if (version >= 2) {
		p += 44 + body;
		len -= 44 + body;
		if (read_header(p, len, &h, &version) < 0 || version < 2)
			goto bad;
		time_size = 8;
		body = block_size(&h, 8);
		if (body > len - 44)
			goto bad;
	}
	if (h.leapcnt > 0) { /* a "right/" zone: its instants count leap seconds, ours do not */
		rc = yb_err_set(err, YB_EINVAL, "'%s' counts leap seconds (a 'right/' zone); use the "
				"zone of the same name without 'right/'", name ? name : "");
		goto out;
	}
	const unsigned char *times = p + 44;
	const unsigned char *idx = times + (size_t)h.timecnt * time_size;
	const unsigned char *ttinfo = idx + h.timecnt;
	types = xmalloc(h.typecnt * sizeof(*types));
	for (uint32_t i = 0; i < h.typecnt; i++) {
		const unsigned char *t = ttinfo + (size_t)i * 6;
		int32_t off = (int32_t)be32(t);
		if (off < -OFF_LIMIT || off > OFF_LIMIT || t[4] > 1 || t[5] >= h.charcnt)
			goto bad;
		types[i] = off;
	}
	b.off0 = types[0];
	int64_t prev = INT64_MIN;
	for (uint32_t i = 0; i < h.timecnt; i++) {
		int64_t at = time_size == 8 ? be64(times + (size_t)i * 8)
					    : (int64_t)(int32_t)be32(times + (size_t)i * 4);
		if (idx[i] >= h.typecnt || (i > 0 && at <= prev))
			goto bad;
		prev = at;
		if (at < -T_CLAMP) /* zic's "big bang" marker: the type of all earlier time */
			b.off0 = types[idx[i]];
		else if (at <= T_CLAMP)
			builder_add(&b, at, types[idx[i]]);
	}
	struct tz tmp = { 0 };
	if (version >= 2) {
		const char *foot = (const char *)p + 44 + body;
		size_t left = len - 44 - body;
		if (left < 2 || foot[0] != '\n')
			goto bad;
		const char *nl = memchr(foot + 1, '\n', left - 1 < FOOTER_MAX + 1 ? left - 1 : FOOTER_MAX + 1);
		if (!nl)
			goto bad;
		size_t flen = (size_t)(nl - foot - 1);
		if (flen > 0) {
			char rule_text[FOOTER_MAX + 1];
			memcpy(rule_text, foot + 1, flen);
			rule_text[flen] = '\0';
			if (memchr(rule_text, '\0', flen))
				goto bad;
			struct tz_rule r;
			if (parse_posix_rule(rule_text, &r) < 0)
				goto bad;
			builder_extend(&b, &r, &tmp);
		}
	}
	struct tz *z = builder_finish(&b, name ? name : "");
	z->periodic = tmp.periodic;
	z->era_start = tmp.era_start;
	z->era_end = tmp.era_end;
	b.at = NULL;
	b.off = NULL;
	*out = z;
	goto out;
bad:
	rc = yb_err_set(err, YB_EINVAL, "'%s' is not a valid TZif file (RFC 8536)",
			name ? name : "");
out:
	free(types);
	free(b.at);
	free(b.off);
	return rc;
}

/* ---- loading and the cache ------------------------------------------------------------------ */

static struct tz utc_zone = { .name = (char *)"UTC", .is_static = true };

struct cached {
	struct cached *next;
	struct tz *zone;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cached *cache;
static const struct tz *local_zone;

const struct tz *tz_utc(void)
{
	return &utc_zone;
}

const char *tz_name(const struct tz *zone)
{
	return zone->name;
}

static bool name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 255 || name[0] == '/' || strstr(name, ".."))
		return false;
	for (const char *p = name; *p; p++) {
		char c = *p;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '/' || c == '_' || c == '-' || c == '+' || c == '.'))
			return false;
	}
	return true;
}

/* The names of the tz database: the Zone and Link names of $TZDIR/tzdata.zi, sorted, read once
 * per folder (under cache_lock). A folder without tzdata.zi (a test's own) has no list. */
static struct {
	char *dir;
	char **names;
	size_t n;
} iana;

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void iana_load(const char *dir)
{
	if (iana.dir && !strcmp(iana.dir, dir))
		return;
	for (size_t i = 0; i < iana.n; i++)
		free(iana.names[i]);
	free(iana.names);
	free(iana.dir);
	iana.dir = xstrdup(dir);
	iana.names = NULL;
	iana.n = 0;
	char *path = xasprintf("%s/tzdata.zi", dir), *data = NULL;
	size_t len = 0, cap = 0;
	if (yb_read_regular(path, 4u << 20, 0, &data, &len, NULL) == 0) {
		/* "Z Asia/Tokyo 9:18:59 - LMT 1887 D 31 15u" and "L Asia/Tokyo Japan" */
		for (char *line = data, *next; line < data + len; line = next) {
			char *nl = memchr(line, '\n', (size_t)(data + len - line));
			next = nl ? nl + 1 : data + len;
			if (nl)
				*nl = '\0';
			if ((line[0] != 'Z' && line[0] != 'L') || line[1] != ' ')
				continue;
			char *f = line + 2;
			if (line[0] == 'L') { /* the link's own name is its second field */
				f = strchr(f, ' ');
				if (!f)
					continue;
				f++;
			}
			size_t n = strcspn(f, " \t");
			if (n == 0)
				continue;
			if (iana.n == cap) {
				cap = cap ? cap * 2 : 1024;
				iana.names = xrealloc(iana.names, cap * sizeof(*iana.names));
			}
			iana.names[iana.n++] = xstrndup(f, n);
		}
		qsort(iana.names, iana.n, sizeof(*iana.names), cmp_name);
	}
	free(data);
	free(path);
}

/* Zones whose meaning is the host's, not the tz database's: refused with the way out. */
static int host_dependent(const char *name, struct yb_err *err)
{
	if (!strcmp(name, "localtime") || !strcmp(name, "posixrules"))
		return yb_err_set(err, YB_EINVAL, "time zone '%s' means whatever this host is set to, "
				  "which can differ from host to host; write the zone's own name, "
				  "e.g. 'Asia/Tokyo'", name);
	if (!strcmp(name, "Factory"))
		return yb_err_set(err, YB_EINVAL, "time zone 'Factory' is no place's time (the tz "
				  "database's placeholder, '-00'); write the zone's own name, e.g. "
				  "'Asia/Tokyo'");
	if (!strncmp(name, "posix/", 6))
		return yb_err_set(err, YB_EINVAL, "time zone '%s' is a copy that some hosts lack; "
				  "write '%s'", name, name + 6);
	if (!strncmp(name, "right/", 6))
		return yb_err_set(err, YB_EINVAL, "'%s' counts leap seconds (a 'right/' zone); write "
				  "'%s'", name, name + 6);
	return 0;
}

static int load_file(const char *path, const char *name, struct tz **out, struct yb_err *err)
{
	char *data = NULL;
	size_t len = 0;
	int rc = yb_read_regular(path, TZIF_MAX_BYTES, 0, &data, &len, err);
	if (rc == 0)
		rc = tz_parse_tzif(data, len, name, out, err);
	free(data);
	return rc;
}

int tz_load(const char *name, const struct tz **out, struct yb_err *err)
{
	if (!name || !name_ok(name))
		return yb_err_set(err, YB_EINVAL, "bad time zone name '%.64s' (write e.g. 'Asia/Tokyo')",
				  name ? name : "");
	int rc = host_dependent(name, err);
	if (rc < 0)
		return rc;
	if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0) {
		*out = &utc_zone;
		return 0;
	}
	pthread_mutex_lock(&cache_lock);
	for (struct cached *c = cache; c; c = c->next) {
		if (strcmp(c->zone->name, name) == 0) {
			*out = c->zone;
			goto out;
		}
	}
	const char *dir = getenv("TZDIR");
	if (!dir || !*dir)
		dir = "/usr/share/zoneinfo";
	iana_load(dir);
	if (iana.n && !bsearch(&name, iana.names, iana.n, sizeof(*iana.names), cmp_name)) {
		rc = yb_err_set(err, YB_ENOENT, "unknown time zone '%s': not a zone of the tz database "
				"(%s/tzdata.zi); write e.g. 'Asia/Tokyo'", name, dir);
		goto out;
	}
	char *path = xasprintf("%s/%s", dir, name);
	struct tz *zone;
	rc = load_file(path, name, &zone, err);
	free(path);
	if (rc < 0) {
		if (rc == YB_ENOENT)
			yb_err_set(err, YB_ENOENT,
				   "unknown time zone '%s' (see the names under %s, e.g. 'Asia/Tokyo')",
				   name, dir);
		goto out;
	}
	struct cached *c = xmalloc(sizeof(*c));
	c->zone = zone;
	c->next = cache;
	cache = c;
	*out = zone;
out:
	pthread_mutex_unlock(&cache_lock);
	return rc;
}

const struct tz *tz_local(void)
{
	pthread_mutex_lock(&cache_lock);
	if (!local_zone) {
		/* Named after the link's target when it is one ("Asia/Tokyo"), else "localtime". */
		char target[512], name[256] = "localtime";
		ssize_t n = readlink("/etc/localtime", target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			const char *p = strstr(target, "zoneinfo/");
			if (p && name_ok(p + 9))
				snprintf(name, sizeof(name), "%s", p + 9);
		}
		struct tz *zone;
		if (load_file("/etc/localtime", name, &zone, NULL) == 0)
			local_zone = zone;
		else
			local_zone = &utc_zone;
	}
	const struct tz *z = local_zone;
	pthread_mutex_unlock(&cache_lock);
	return z;
}

/* ---- ISO 8601 ------------------------------------------------------------------------------- */

void tz_format_iso(const struct tz *zone, int64_t t, char *out, size_t out_size)
{
	struct yb_civil c;
	int32_t off;
	tz_to_local(zone, t, &c, &off);
	char sign = off < 0 ? '-' : '+';
	int32_t a = off < 0 ? -off : off;
	if (a % 60)
		snprintf(out, out_size, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d:%02d", c.year, c.month,
			 c.day, c.hour, c.min, c.sec, sign, a / 3600, a / 60 % 60, a % 60);
	else
		snprintf(out, out_size, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", c.year, c.month,
			 c.day, c.hour, c.min, c.sec, sign, a / 3600, a / 60 % 60);
}

/* Exactly n digits. */
static const char *digits(const char *p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return NULL;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return p + n;
}

int tz_parse_iso(const char *text, const struct tz *zone, int64_t *out, struct yb_err *err)
{
	return tz_parse_iso_ns(text, zone, out, NULL, err);
}

int tz_parse_iso_ns(const char *text, const struct tz *zone, int64_t *out, int32_t *nanos,
		    struct yb_err *err)
{
	struct yb_civil c = { 0 };
	int32_t ns = 0;
	const char *p = text;
	bool has_off = false;
	int32_t off = 0;
	if (!(p = digits(p, 4, &c.year)) || *p++ != '-' || !(p = digits(p, 2, &c.month)) ||
	    *p++ != '-' || !(p = digits(p, 2, &c.day)))
		goto bad;
	if (c.month < 1 || c.month > 12 || c.day < 1 || c.day > yb_days_in_month(c.year, c.month))
		goto range;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (!(p = digits(p, 2, &c.hour)) || *p++ != ':' || !(p = digits(p, 2, &c.min)))
			goto bad;
		if (*p == ':') {
			if (!(p = digits(p + 1, 2, &c.sec)))
				goto bad;
			if (*p == '.' || *p == ',') { /* a fraction: up to nanoseconds */
				p++;
				int n = 0;
				while (*p >= '0' && *p <= '9' && n < 9) {
					ns = ns * 10 + (*p - '0');
					p++;
					n++;
				}
				if (n == 0)
					goto bad;
				for (; n < 9; n++)
					ns *= 10;
			}
		}
		if (c.hour > 23 || c.min > 59 || c.sec > 59)
			goto range;
		if (*p == 'Z' || *p == 'z') {
			has_off = true;
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
			if (!(p = digits(p, 2, &oh)))
				goto bad;
			if (*p == ':') {
				if (!(p = digits(p + 1, 2, &om)))
					goto bad;
			} else if (*p >= '0' && *p <= '9') {
				if (!(p = digits(p, 2, &om)))
					goto bad;
			}
			if (oh > 25 || om > 59)
				goto range;
			off = sign * (oh * 3600 + om * 60);
			has_off = true;
		}
	}
	if (*p)
		goto bad;
	int64_t ls = secs_from_civil(&c);
	*out = has_off ? ls - off : tz_resolve_local(zone, ls, NULL, NULL);
	if (nanos)
		*nanos = ns;
	return 0;
bad:
	return yb_err_set(err, YB_EINVAL,
			  "bad time '%.64s' (write e.g. '2026-01-12T09:00:00+09:00' or '2026-01-12')",
			  text);
range:
	return yb_err_set(err, YB_ERANGE, "time '%.64s' has a field out of range", text);
}
