/*
 * test_tz.c: TZif loading, DST resolution and ISO 8601, checked against
 * known offsets, against glibc's localtime_r (the test, not the code under test, may switch TZ),
 * and against broken TZif images that must be refused without a crash.
 */
#include "tz.h"

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Check marks every ck_assert through a pipe; hot loops use this, which only speaks up on failure. */
#define REQUIRE(cond, ...)                                  \
	do {                                                \
		if (!(cond))                                \
			ck_abort_msg(__VA_ARGS__);          \
	} while (0)

static uint64_t seed, rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static int64_t rnd_range(int64_t lo, int64_t hi)
{
	return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

static void seed_rng(void)
{
	const char *env = getenv("YB_SEED");
	seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL) * 2654435761u;
	rng_state = seed ? seed : 1;
}

static const struct tz *zone(const char *name)
{
	const struct tz *z;
	struct yb_err err;
	int rc = tz_load(name, &z, &err);
	ck_assert_msg(rc == 0, "tz_load(%s): %s", name, err.msg);
	return z;
}

static int64_t utc(const char *text)
{
	int64_t t;
	struct yb_err err;
	int rc = tz_parse_iso(text, tz_utc(), &t, &err);
	REQUIRE(rc == 0, "tz_parse_iso('%s'): %s", text, err.msg);
	return t;
}

static int32_t offset_at(const struct tz *z, int64_t t)
{
	struct yb_civil c;
	int32_t off;
	tz_to_local(z, t, &c, &off);
	return off;
}

static int64_t from_local(const struct tz *z, int y, int mo, int d, int h, int mi, int *kind)
{
	struct yb_civil c = { y, mo, d, h, mi, 0, 0 };
	return tz_from_local(z, &c, kind);
}

/* ---- loading -------------------------------------------------------------------------------- */

START_TEST(test_load_names)
{
	const struct tz *a = zone("Asia/Tokyo"), *b = zone("Asia/Tokyo");
	ck_assert_ptr_eq(a, b); /* cached */
	ck_assert_str_eq(tz_name(a), "Asia/Tokyo");
	ck_assert_ptr_eq(zone("UTC"), tz_utc());
	ck_assert_str_eq(tz_name(tz_utc()), "UTC");
	ck_assert_ptr_nonnull(tz_local());
	const struct tz *z = (const struct tz *)(uintptr_t)1;
	struct yb_err err;
	const char *bad[] = { "../etc/passwd", "/etc/localtime", "", "Asia/../../etc/passwd",
			      "Asia/To kyo", "Asia/Tokyo;rm" };
	for (size_t i = 0; i < YB_ARRAY_LEN(bad); i++) {
		ck_assert_int_eq(tz_load(bad[i], &z, &err), YB_EINVAL);
		ck_assert_msg(strstr(err.msg, "bad time zone name"), "%s", err.msg);
	}
	ck_assert_int_eq(tz_load("Asia/Nowhere", &z, &err), YB_ENOENT);
	ck_assert_msg(strstr(err.msg, "unknown time zone 'Asia/Nowhere'"), "%s", err.msg);
	/* leap-second zones would be off by half a minute: refused with the way out */
	ck_assert_int_eq(tz_load("right/Asia/Tokyo", &z, &err), YB_EINVAL);
	ck_assert_msg(strstr(err.msg, "'right/Asia/Tokyo' counts leap seconds"), "%s", err.msg);
	ck_assert_msg(strstr(err.msg, "write 'Asia/Tokyo'"), "%s", err.msg);
	/* names whose meaning is the host's: refused, whatever files this host has */
	const char *host[] = { "localtime", "posixrules", "Factory", "posix/Asia/Tokyo" };
	const char *why[] = { "means whatever this host is set to", "means whatever this host",
			      "no place's time", "write 'Asia/Tokyo'" };
	for (size_t i = 0; i < YB_ARRAY_LEN(host); i++) {
		ck_assert_int_eq(tz_load(host[i], &z, &err), YB_EINVAL);
		ck_assert_msg(strstr(err.msg, why[i]), "%s: %s", host[i], err.msg);
	}
	/* links of the tz database are real names; folders and other files of it are not */
	ck_assert_str_eq(tz_name(zone("Japan")), "Japan");
	ck_assert_str_eq(tz_name(zone("US/Eastern")), "US/Eastern");
	ck_assert_str_eq(tz_name(zone("Etc/GMT-9")), "Etc/GMT-9");
	const char *not_zones[] = { "Asia", "zone.tab", "tzdata.zi", "leapseconds", "iso3166.tab" };
	for (size_t i = 0; i < YB_ARRAY_LEN(not_zones); i++) {
		ck_assert_int_eq(tz_load(not_zones[i], &z, &err), YB_ENOENT);
		ck_assert_msg(strstr(err.msg, "not a zone of the tz database"), "%s", err.msg);
	}
	ck_assert_ptr_eq(z, (const struct tz *)(uintptr_t)1);
}
END_TEST

/* ---- known offsets and DST resolution ------------------------------------------------------ */

START_TEST(test_new_york)
{
	const struct tz *z = zone("America/New_York");
	int kind;
	/* 2026-03-08 02:00 EST -> 03:00 EDT at 07:00Z */
	ck_assert_int_eq(offset_at(z, utc("2026-03-08T06:59:59Z")), -5 * 3600);
	ck_assert_int_eq(offset_at(z, utc("2026-03-08T07:00:00Z")), -4 * 3600);
	ck_assert_int_eq(from_local(z, 2026, 3, 8, 2, 30, &kind), utc("2026-03-08T07:00:00Z"));
	ck_assert_int_eq(kind, TZ_GAP);
	ck_assert_int_eq(from_local(z, 2026, 3, 8, 2, 0, &kind), utc("2026-03-08T07:00:00Z"));
	ck_assert_int_eq(kind, TZ_GAP);
	ck_assert_int_eq(from_local(z, 2026, 3, 8, 3, 0, &kind), utc("2026-03-08T07:00:00Z"));
	ck_assert_int_eq(kind, TZ_EXACT);
	ck_assert_int_eq(from_local(z, 2026, 3, 8, 1, 59, &kind), utc("2026-03-08T06:59:00Z"));
	ck_assert_int_eq(kind, TZ_EXACT);
	/* 2026-11-01 02:00 EDT -> 01:00 EST at 06:00Z; 01:30 happens at 05:30Z and 06:30Z */
	ck_assert_int_eq(offset_at(z, utc("2026-11-01T05:59:59Z")), -4 * 3600);
	ck_assert_int_eq(offset_at(z, utc("2026-11-01T06:00:00Z")), -5 * 3600);
	ck_assert_int_eq(from_local(z, 2026, 11, 1, 1, 30, &kind), utc("2026-11-01T05:30:00Z"));
	ck_assert_int_eq(kind, TZ_FOLD);
	ck_assert_int_eq(from_local(z, 2026, 11, 1, 1, 0, &kind), utc("2026-11-01T05:00:00Z"));
	ck_assert_int_eq(kind, TZ_FOLD);
	ck_assert_int_eq(from_local(z, 2026, 11, 1, 2, 0, &kind), utc("2026-11-01T07:00:00Z"));
	ck_assert_int_eq(kind, TZ_EXACT);
	ck_assert_int_eq(from_local(z, 2026, 11, 1, 0, 59, &kind), utc("2026-11-01T04:59:00Z"));
	ck_assert_int_eq(kind, TZ_EXACT);
	/* far future, past the last transition in the file: the footer rule */
	ck_assert_int_eq(offset_at(z, utc("2100-03-14T06:59:59Z")), -5 * 3600);
	ck_assert_int_eq(offset_at(z, utc("2100-03-14T07:00:00Z")), -4 * 3600);
	ck_assert_int_eq(offset_at(z, utc("2100-11-07T05:59:59Z")), -4 * 3600);
	ck_assert_int_eq(offset_at(z, utc("2100-11-07T06:00:00Z")), -5 * 3600);
	ck_assert_int_eq(from_local(z, 2100, 3, 14, 2, 30, &kind), utc("2100-03-14T07:00:00Z"));
	ck_assert_int_eq(kind, TZ_GAP);
	/* beyond the 400-year window the rule is folded back: 2026 + 400 * 3 */
	ck_assert_int_eq(offset_at(z, utc("3226-03-08T06:59:59Z")), -5 * 3600);
	ck_assert_int_eq(offset_at(z, utc("3226-03-08T07:00:00Z")), -4 * 3600);
	ck_assert_int_eq(from_local(z, 3226, 11, 1, 1, 30, &kind), utc("3226-11-01T05:30:00Z"));
	ck_assert_int_eq(kind, TZ_FOLD);
	/* the past: EST before the 1883 railway time was local mean time -4:56:02 */
	ck_assert_int_eq(offset_at(z, utc("1880-01-01T00:00:00Z")), -(4 * 3600 + 56 * 60 + 2));
	/* 2007 law change: 2006 changed on the first Sunday in April */
	ck_assert_int_eq(offset_at(z, utc("2006-04-02T06:59:59Z")), -5 * 3600);
	ck_assert_int_eq(offset_at(z, utc("2006-04-02T07:00:00Z")), -4 * 3600);
}
END_TEST

START_TEST(test_berlin_tokyo_lord_howe)
{
	const struct tz *z = zone("Europe/Berlin");
	int kind;
	/* 2026-03-29 01:00Z: 02:00 CET -> 03:00 CEST; 2026-10-25 01:00Z: 03:00 CEST -> 02:00 CET */
	ck_assert_int_eq(offset_at(z, utc("2026-03-29T00:59:59Z")), 3600);
	ck_assert_int_eq(offset_at(z, utc("2026-03-29T01:00:00Z")), 7200);
	ck_assert_int_eq(from_local(z, 2026, 3, 29, 2, 30, &kind), utc("2026-03-29T01:00:00Z"));
	ck_assert_int_eq(kind, TZ_GAP);
	ck_assert_int_eq(offset_at(z, utc("2026-10-25T00:59:59Z")), 7200);
	ck_assert_int_eq(offset_at(z, utc("2026-10-25T01:00:00Z")), 3600);
	ck_assert_int_eq(from_local(z, 2026, 10, 25, 2, 30, &kind), utc("2026-10-25T00:30:00Z"));
	ck_assert_int_eq(kind, TZ_FOLD);

	z = zone("Asia/Tokyo");
	for (int year = 1990; year <= 2400; year += 7) {
		char text[64];
		snprintf(text, sizeof(text), "%04d-03-08T02:30:00Z", year);
		ck_assert_int_eq(offset_at(z, utc(text)), 9 * 3600);
		ck_assert_int_eq(from_local(z, year, 3, 8, 2, 30, &kind), utc(text) - 9 * 3600);
		ck_assert_int_eq(kind, TZ_EXACT);
	}
	/* Tokyo did have summer time, 1948-1951 */
	ck_assert_int_eq(offset_at(z, utc("1949-06-01T00:00:00Z")), 10 * 3600);

	z = zone("Australia/Lord_Howe");
	/* +10:30 standard, +11:00 summer; 2026-04-05 02:00 -> 01:30, 2026-10-04 02:00 -> 02:30 */
	ck_assert_int_eq(offset_at(z, utc("2026-04-04T14:59:59Z")), 11 * 3600);
	ck_assert_int_eq(offset_at(z, utc("2026-04-04T15:00:00Z")), 10 * 3600 + 1800);
	ck_assert_int_eq(from_local(z, 2026, 4, 5, 1, 45, &kind), utc("2026-04-04T14:45:00Z"));
	ck_assert_int_eq(kind, TZ_FOLD);
	ck_assert_int_eq(from_local(z, 2026, 10, 4, 2, 15, &kind), utc("2026-10-03T15:30:00Z"));
	ck_assert_int_eq(kind, TZ_GAP);
	ck_assert_int_eq(offset_at(z, utc("2100-07-01T00:00:00Z")), 10 * 3600 + 1800);
	ck_assert_int_eq(offset_at(z, utc("2100-01-01T00:00:00Z")), 11 * 3600);
}
END_TEST

START_TEST(test_normalising)
{
	const struct tz *z = zone("Asia/Tokyo");
	struct yb_civil c = { 2026, 1, 32, 9, 0, 0, 0 }; /* the 32nd of January is the 1st of February */
	ck_assert_int_eq(tz_from_local(z, &c, NULL), utc("2026-02-01T00:00:00Z"));
	c = (struct yb_civil){ 2026, 13, 1, 0, 0, 0, 0 };
	ck_assert_int_eq(tz_from_local(z, &c, NULL), utc("2026-12-31T15:00:00Z"));
	c = (struct yb_civil){ 2026, 0, 1, 24, 0, 0, 0 };
	ck_assert_int_eq(tz_from_local(z, &c, NULL), utc("2025-12-01T15:00:00Z"));
	c = (struct yb_civil){ 2026, 3, 1, 0, -1, 0, 0 };
	ck_assert_int_eq(tz_from_local(z, &c, NULL), utc("2026-02-28T14:59:00Z"));
	/* extreme instants do not overflow */
	struct yb_civil out;
	tz_to_local(z, INT64_MAX, &out, NULL);
	tz_to_local(z, INT64_MIN, &out, NULL);
	tz_to_local(zone("America/New_York"), INT64_MAX, &out, NULL);
	tz_to_local(zone("America/New_York"), INT64_MIN, &out, NULL);
	ck_assert(out.year < -1000000);
}
END_TEST

/* Every zone below against glibc, over random instants from 1900 to 3000 (the test may set TZ;
 * the code under test never does). */
START_TEST(test_against_glibc)
{
	static const char *const names[] = {
		"America/New_York", "Europe/Berlin", "Asia/Tokyo", "Australia/Lord_Howe",
		"Australia/Sydney", "America/Sao_Paulo", "America/Santiago", "Europe/Dublin",
		"Africa/Casablanca", "Asia/Tehran", "America/Nuuk", "Pacific/Apia", "Asia/Gaza",
		"Europe/London", "Pacific/Chatham", "America/St_Johns", "Asia/Kolkata",
	};
	seed_rng();
	for (size_t i = 0; i < YB_ARRAY_LEN(names); i++) {
		const struct tz *z = zone(names[i]);
		char env[128];
		snprintf(env, sizeof(env), ":%s", names[i]);
		setenv("TZ", env, 1);
		tzset();
		for (int k = 0; k < 20000; k++) {
			int64_t lo = k % 4 == 0 ? utc("2300-01-01T00:00:00Z") : utc("1900-01-01T00:00:00Z");
			int64_t hi = k % 4 == 0 ? utc("3000-01-01T00:00:00Z") : utc("2100-01-01T00:00:00Z");
			int64_t t = rnd_range(lo, hi);
			time_t tt = (time_t)t;
			struct tm tm;
			REQUIRE(localtime_r(&tt, &tm), "localtime_r");
			struct yb_civil c;
			int32_t off;
			tz_to_local(z, t, &c, &off);
			REQUIRE(off == tm.tm_gmtoff && c.year == tm.tm_year + 1900 &&
					      c.month == tm.tm_mon + 1 && c.day == tm.tm_mday &&
					      c.hour == tm.tm_hour && c.min == tm.tm_min &&
					      c.sec == tm.tm_sec && c.wday == tm.tm_wday,
				      "seed %" PRIu64 ": %s at %" PRId64 ": offset %d, glibc %ld", seed,
				      names[i], t, off, (long)tm.tm_gmtoff);
			/* and back: the first instant with that local time is t, or t is on the
			 * second pass of a repeated stretch and the first is earlier with the same
			 * wall clock */
			int kind;
			int64_t back = tz_from_local(z, &c, &kind);
			if (back != t) {
				REQUIRE(kind == TZ_FOLD && back < t,
					      "seed %" PRIu64 ": %s: %" PRId64 " came back as %" PRId64
					      " (kind %d)", seed, names[i], t, back, kind);
				struct yb_civil c2;
				tz_to_local(z, back, &c2, NULL);
				REQUIRE(c2.year == c.year && c2.month == c.month && c2.day == c.day &&
					c2.hour == c.hour && c2.min == c.min && c2.sec == c.sec,
					"seed %" PRIu64 ": %s: wall clock differs", seed, names[i]);
			}
		}
	}
	unsetenv("TZ");
	tzset();
}
END_TEST

/* ---- POSIX rules ---------------------------------------------------------------------------- */

START_TEST(test_posix_rules)
{
	struct tz *r;
	struct yb_err err;
	ck_assert_int_eq(tz_parse_posix("EST5EDT,M3.2.0,M11.1.0", &r, &err), 0);
	const struct tz *ny = zone("America/New_York");
	seed_rng();
	for (int k = 0; k < 20000; k++) {
		int64_t t = rnd_range(utc("2008-01-01T00:00:00Z"), utc("2500-01-01T00:00:00Z"));
		REQUIRE(offset_at(r, t) == offset_at(ny, t), "seed %" PRIu64 ": %" PRId64, seed, t);
	}
	tz_free(r);
	/* no DST */
	ck_assert_int_eq(tz_parse_posix("JST-9", &r, &err), 0);
	ck_assert_int_eq(offset_at(r, utc("2026-07-01T00:00:00Z")), 9 * 3600);
	tz_free(r);
	/* quoted names, minutes, southern hemisphere */
	ck_assert_int_eq(tz_parse_posix("<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", &r, &err), 0);
	ck_assert_int_eq(offset_at(r, utc("2026-07-01T00:00:00Z")), 10 * 3600 + 1800);
	ck_assert_int_eq(offset_at(r, utc("2026-01-01T00:00:00Z")), 11 * 3600);
	tz_free(r);
	/* Julian days: J60 is always March 1st; 59 (zero-based) is Feb 29 in a leap year */
	ck_assert_int_eq(tz_parse_posix("XST0XDT,J60/0,J300/0", &r, &err), 0);
	ck_assert_int_eq(offset_at(r, utc("2024-02-29T23:59:59Z")), 0);
	ck_assert_int_eq(offset_at(r, utc("2024-03-01T00:00:00Z")), 3600);
	tz_free(r);
	ck_assert_int_eq(tz_parse_posix("XST0XDT,59/0,300/0", &r, &err), 0);
	ck_assert_int_eq(offset_at(r, utc("2024-02-28T23:59:59Z")), 0);
	ck_assert_int_eq(offset_at(r, utc("2024-02-29T00:00:00Z")), 3600);
	ck_assert_int_eq(offset_at(r, utc("2023-03-01T00:00:00Z")), 3600);
	tz_free(r);
	/* DST all year (RFC 8536 3.3.1) */
	ck_assert_int_eq(tz_parse_posix("EST5EDT,0/0,J365/25", &r, &err), 0);
	for (int k = 0; k < 1000; k++)
		REQUIRE(offset_at(r, rnd_range(0, 16725225600)) == -4 * 3600, "seed %" PRIu64, seed);
	tz_free(r);
	/* hours beyond 24 and negative times (RFC 8536 extension), as in America/Nuuk */
	ck_assert_int_eq(tz_parse_posix("<-02>2<-01>,M3.5.0/-1,M10.5.0/0", &r, &err), 0);
	ck_assert_int_eq(offset_at(r, utc("2026-03-28T23:59:59Z")), -2 * 3600);
	ck_assert_int_eq(offset_at(r, utc("2026-03-29T01:00:00Z")), -1 * 3600);
	tz_free(r);
	const char *bad[] = { "", "E5", "EST", "EST5EDT,M3.2.0", "EST5EDT,M13.2.0,M11.1.0",
			      "EST5EDT,M3.6.0,M11.1.0", "EST5EDT,M3.2.7,M11.1.0", "EST5EDT,J0,J10",
			      "EST5EDT,J366,J10", "EST25", "EST5EDT,M3.2.0/168,M11.1.0",
			      "<AB>5", "<+09", "EST5EDT,M3.2.0,M11.1.0x", "EST5:60" };
	for (size_t i = 0; i < YB_ARRAY_LEN(bad); i++) {
		r = (struct tz *)(uintptr_t)1;
		ck_assert_msg(tz_parse_posix(bad[i], &r, &err) == YB_EINVAL, "'%s' accepted", bad[i]);
		ck_assert_ptr_eq(r, (struct tz *)(uintptr_t)1);
	}
}
END_TEST

/* ---- TZif images ---------------------------------------------------------------------------- */

static char *read_zone_file(const char *name, size_t *len)
{
	char path[256];
	snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", name);
	char *data;
	struct yb_err err;
	ck_assert_int_eq(yb_read_file(path, 1 << 20, &data, len, &err), 0);
	return data;
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void put64(unsigned char *p, int64_t v)
{
	put32(p, (uint32_t)((uint64_t)v >> 32));
	put32(p + 4, (uint32_t)v);
}

/* A version-2 image with the given transitions (all alternating between two types). */
static size_t make_tzif(unsigned char *buf, size_t n_times, const int64_t *times,
			const int32_t offs[2], const char *footer)
{
	size_t pos = 0;
	/* v1 header with no data at all, as zic -b slim writes */
	memcpy(buf, "TZif2", 5);
	memset(buf + 5, 0, 39);
	put32(buf + 36, 1);
	put32(buf + 40, 1);
	pos = 44;
	memset(buf + pos, 0, 7); /* one type (6 bytes) + one char */
	pos += 7;
	unsigned char *h = buf + pos;
	memcpy(h, "TZif2", 5);
	memset(h + 5, 0, 39);
	put32(h + 32, (uint32_t)n_times);
	put32(h + 36, 2);
	put32(h + 40, 8);
	pos += 44;
	for (size_t i = 0; i < n_times; i++, pos += 8)
		put64(buf + pos, times[i]);
	for (size_t i = 0; i < n_times; i++)
		buf[pos++] = (unsigned char)(i % 2 == 0 ? 1 : 0);
	for (int i = 0; i < 2; i++, pos += 6) {
		put32(buf + pos, (uint32_t)offs[i]);
		buf[pos + 4] = (unsigned char)i;
		buf[pos + 5] = (unsigned char)(i * 4);
	}
	memcpy(buf + pos, "STD\0DST\0", 8);
	pos += 8;
	buf[pos++] = '\n';
	memcpy(buf + pos, footer, strlen(footer));
	pos += strlen(footer);
	buf[pos++] = '\n';
	return pos;
}

/* A version-1 image: 32-bit transitions, no footer; the last type goes on forever. */
static size_t make_tzif_v1(unsigned char *buf, size_t n_times, const int32_t *times,
			   const int32_t offs[2])
{
	memcpy(buf, "TZif", 4);
	memset(buf + 4, 0, 40);
	put32(buf + 32, (uint32_t)n_times);
	put32(buf + 36, 2);
	put32(buf + 40, 8);
	size_t pos = 44;
	for (size_t i = 0; i < n_times; i++, pos += 4)
		put32(buf + pos, (uint32_t)times[i]);
	for (size_t i = 0; i < n_times; i++)
		buf[pos++] = (unsigned char)(i % 2 == 0 ? 1 : 0);
	for (int i = 0; i < 2; i++, pos += 6) {
		put32(buf + pos, (uint32_t)offs[i]);
		buf[pos + 4] = (unsigned char)i;
		buf[pos + 5] = (unsigned char)(i * 4);
	}
	memcpy(buf + pos, "STD\0DST\0", 8);
	return pos + 8;
}

START_TEST(test_tzif_images)
{
	struct yb_err err;
	struct tz *z;
	unsigned char buf[4096];
	int64_t times[3] = { 1000000, 2000000, 3000000 };
	int32_t offs[2] = { 3600, 7200 };
	size_t len = make_tzif(buf, 3, times, offs, "STD-1");
	ck_assert_int_eq(tz_parse_tzif(buf, len, "made", &z, &err), 0);
	ck_assert_int_eq(offset_at(z, 999999), 3600);   /* type 0 before the first */
	ck_assert_int_eq(offset_at(z, 1000000), 7200);  /* type 1 */
	ck_assert_int_eq(offset_at(z, 2000000), 3600);
	ck_assert_int_eq(offset_at(z, 3000000), 7200);
	ck_assert_int_eq(offset_at(z, 4000000), 3600);  /* the footer after the last */
	ck_assert_str_eq(tz_name(z), "made");
	tz_free(z);
	/* every strict prefix of a valid image is refused, never read past its end */
	for (size_t n = 0; n < len; n++) {
		unsigned char *copy = malloc(n ? n : 1);
		memcpy(copy, buf, n);
		z = (struct tz *)(uintptr_t)1;
		REQUIRE(tz_parse_tzif(copy, n, "cut", &z, &err) == YB_EINVAL, "prefix %zu", n);
		REQUIRE(z == (struct tz *)(uintptr_t)1, "prefix %zu", n);
		free(copy);
	}
	/* and likewise for real files */
	const char *real[] = { "America/New_York", "Asia/Tokyo", "Europe/Berlin" };
	for (size_t i = 0; i < YB_ARRAY_LEN(real); i++) {
		size_t flen;
		char *data = read_zone_file(real[i], &flen);
		ck_assert_int_eq(tz_parse_tzif(data, flen, real[i], &z, &err), 0);
		tz_free(z);
		for (size_t n = 0; n < flen; n += 1 + n / 64) {
			char *copy = malloc(n ? n : 1);
			memcpy(copy, data, n);
			REQUIRE(tz_parse_tzif(copy, n, "cut", &z, &err) == YB_EINVAL, "%s cut at %zu",
				real[i], n);
			free(copy);
		}
		free(data);
	}
	/* broken fields */
	unsigned char bad[4096];
	memcpy(bad, buf, len);
	memcpy(bad, "TZIF", 4);
	ck_assert_int_eq(tz_parse_tzif(bad, len, "x", &z, &err), YB_EINVAL);
	ck_assert_msg(strstr(err.msg, "'x' is not a valid TZif file"), "%s", err.msg);
	memcpy(bad, buf, len);
	put32(bad + 51 + 32, 0xffffffffu); /* timecnt of the v2 header */
	ck_assert_int_eq(tz_parse_tzif(bad, len, "x", &z, &err), YB_EINVAL);
	memcpy(bad, buf, len);
	put32(bad + 51 + 36, 0); /* typecnt 0 */
	ck_assert_int_eq(tz_parse_tzif(bad, len, "x", &z, &err), YB_EINVAL);
	memcpy(bad, buf, len);
	put32(bad + 51 + 40, 0x7fffffffu); /* charcnt huge */
	ck_assert_int_eq(tz_parse_tzif(bad, len, "x", &z, &err), YB_EINVAL);
	memcpy(bad, buf, len);
	bad[51 + 44 + 24] = 7; /* a transition's type index out of range */
	ck_assert_int_eq(tz_parse_tzif(bad, len, "x", &z, &err), YB_EINVAL);
	int64_t unsorted[3] = { 1000000, 900000, 3000000 };
	len = make_tzif(bad, 3, unsorted, offs, "STD-1");
	ck_assert_int_eq(tz_parse_tzif(bad, len, "x", &z, &err), YB_EINVAL);
	len = make_tzif(bad, 3, times, offs, "STD-1 junk");
	ck_assert_int_eq(tz_parse_tzif(bad, len, "x", &z, &err), YB_EINVAL);
	int32_t wild[2] = { 3600, 100000 }; /* an offset beyond 26 hours */
	len = make_tzif(bad, 3, times, wild, "STD-1");
	ck_assert_int_eq(tz_parse_tzif(bad, len, "x", &z, &err), YB_EINVAL);
	int32_t min[2] = { 3600, INT32_MIN };
	len = make_tzif(bad, 3, times, min, "STD-1");
	ck_assert_int_eq(tz_parse_tzif(bad, len, "x", &z, &err), YB_EINVAL);
	/* an empty footer is allowed: the last type goes on */
	len = make_tzif(bad, 3, times, offs, "");
	ck_assert_int_eq(tz_parse_tzif(bad, len, "x", &z, &err), 0);
	ck_assert_int_eq(offset_at(z, 9000000), 7200);
	tz_free(z);
	/* version 1: 32-bit times, negative ones too, and no footer */
	int32_t v1_times[3] = { -1000000, 1000000, 2000000 };
	len = make_tzif_v1(bad, 3, v1_times, offs);
	ck_assert_int_eq(tz_parse_tzif(bad, len, "v1", &z, &err), 0);
	ck_assert_int_eq(offset_at(z, -1000001), 3600);
	ck_assert_int_eq(offset_at(z, -1000000), 7200);
	ck_assert_int_eq(offset_at(z, 1000000), 3600);
	ck_assert_int_eq(offset_at(z, 4000000000), 7200);
	tz_free(z);
	ck_assert_int_eq(tz_parse_tzif(bad, len - 1, "v1", &z, &err), YB_EINVAL);
	/* zic's "big bang" first transition at -2^59 */
	int64_t bang[3] = { -(1ll << 59), 2000000, 3000000 };
	len = make_tzif(bad, 3, bang, offs, "STD-1");
	ck_assert_int_eq(tz_parse_tzif(bad, len, "x", &z, &err), 0);
	ck_assert_int_eq(offset_at(z, 0), 7200);
	tz_free(z);
}
END_TEST

START_TEST(test_tzdir)
{
	char dir[] = "/tmp/yb-tzdir-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	unsigned char buf[512];
	int64_t times[1] = { 0 };
	int32_t offs[2] = { 0, 5 * 3600 + 45 * 60 };
	size_t len = make_tzif(buf, 1, times, offs, "<+0545>-5:45");
	char path[512];
	snprintf(path, sizeof(path), "%s/Test_Zone", dir);
	struct yb_err err;
	ck_assert_int_eq(yb_write_file_atomic(path, buf, len, 0644, &err), 0);
	setenv("TZDIR", dir, 1);
	const struct tz *z = zone("Test_Zone");
	ck_assert_int_eq(offset_at(z, utc("2026-01-01T00:00:00Z")), 5 * 3600 + 45 * 60);
	char text[64];
	tz_format_iso(z, utc("2026-01-01T00:00:00Z"), text, sizeof(text));
	ck_assert_str_eq(text, "2026-01-01T05:45:00+05:45");
	/* read once: removing the file changes nothing for this process */
	unlink(path);
	ck_assert_ptr_eq(zone("Test_Zone"), z);
	rmdir(dir);
	/* a folder with its own tzdata.zi: only the names it lists (zones and links) */
	char dir2[] = "/tmp/yb-tzdir-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir2));
	const char *files[] = { "Other_Zone", "Listed_Link", "tzdata.zi" };
	const char listing[] = "# version test\nZ Listed_Zone 5:45 - +0545\nL Listed_Zone Listed_Link\n";
	for (size_t i = 0; i < YB_ARRAY_LEN(files); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir2, files[i]);
		ck_assert_int_eq(yb_write_file_atomic(path, i == 2 ? (const void *)listing : buf,
						      i == 2 ? sizeof(listing) - 1 : len, 0644, &err), 0);
	}
	setenv("TZDIR", dir2, 1);
	const struct tz *other = NULL;
	ck_assert_int_eq(tz_load("Other_Zone", &other, &err), YB_ENOENT);
	ck_assert_msg(strstr(err.msg, "not a zone of the tz database"), "%s", err.msg);
	ck_assert_int_eq(offset_at(zone("Listed_Link"), 0), 5 * 3600 + 45 * 60);
	for (size_t i = 0; i < YB_ARRAY_LEN(files); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir2, files[i]);
		unlink(path);
	}
	rmdir(dir2);
	unsetenv("TZDIR");
}
END_TEST

/* ---- ISO 8601 ------------------------------------------------------------------------------- */

START_TEST(test_iso)
{
	const struct tz *tokyo = zone("Asia/Tokyo"), *ny = zone("America/New_York");
	int64_t want = utc("2026-01-12T00:00:00Z");
	/* a fraction is handed back in nanoseconds by tz_parse_iso_ns (and dropped by tz_parse_iso) */
	const char *frac[] = { "2018-01-02T10:00:00.0005Z", "2018-01-02T10:00:00,5Z",
			       "2018-01-02T10:00:00.123456789Z", "2018-01-02T10:00:00Z" };
	const int32_t frac_ns[] = { 500000, 500000000, 123456789, 0 };
	for (size_t i = 0; i < YB_ARRAY_LEN(frac); i++) {
		int64_t t = 0;
		int32_t ns = -1;
		struct yb_err err;
		ck_assert_msg(tz_parse_iso_ns(frac[i], tokyo, &t, &ns, &err) == 0, "%s: %s", frac[i],
			      err.msg);
		ck_assert_int_eq(t, utc("2018-01-02T10:00:00Z"));
		ck_assert_int_eq(ns, frac_ns[i]);
	}
	int64_t bad_t;
	struct yb_err bad_err;
	ck_assert_int_eq(tz_parse_iso_ns("2018-01-02T10:00:00.1234567891Z", tokyo, &bad_t, NULL,
					 &bad_err), YB_EINVAL);
	const char *same[] = { "2026-01-12T09:00:00+09:00", "2026-01-12T00:00:00Z",
			       "2026-01-12 09:00:00+09:00", "2026-01-12T09:00", "2026-01-12T09:00:00",
			       "2026-01-12T09:00+09:00", "2026-01-12T09:00:00+0900",
			       "2026-01-11T19:00:00-05:00", "2026-01-12T09:00:00.250+09:00",
			       "2026-01-12t00:00:00z", "2026-01-12T09:00:00+09" };
	for (size_t i = 0; i < YB_ARRAY_LEN(same); i++) {
		int64_t t = 0;
		struct yb_err err;
		ck_assert_msg(tz_parse_iso(same[i], tokyo, &t, &err) == 0, "%s: %s", same[i], err.msg);
		ck_assert_msg(t == want, "%s gave %" PRId64, same[i], t);
	}
	int64_t t;
	struct yb_err err;
	ck_assert_int_eq(tz_parse_iso("2026-01-12", tokyo, &t, &err), 0);
	ck_assert_int_eq(t, utc("2026-01-11T15:00:00Z"));
	/* local times follow the DST rules */
	ck_assert_int_eq(tz_parse_iso("2026-03-08T02:30", ny, &t, &err), 0);
	ck_assert_int_eq(t, utc("2026-03-08T07:00:00Z"));
	ck_assert_int_eq(tz_parse_iso("2026-11-01T01:30", ny, &t, &err), 0);
	ck_assert_int_eq(t, utc("2026-11-01T05:30:00Z"));
	const char *bad[] = { "", "2026", "2026-1-12", "2026-01-12T9:00", "2026-01-12T09:00:00+9",
			      "2026-01-12X09:00", "2026-01-12T09:00:00 ", "2026-01-12T09:00:00.",
			      "2026/01/12", "2026-01-12T09:00:00+09:00junk", "２０２６-01-12" };
	for (size_t i = 0; i < YB_ARRAY_LEN(bad); i++) {
		t = 42;
		ck_assert_msg(tz_parse_iso(bad[i], tokyo, &t, &err) == YB_EINVAL, "'%s' accepted", bad[i]);
		ck_assert(strstr(err.msg, "bad time"));
		ck_assert_int_eq(t, 42);
	}
	const char *range[] = { "2026-13-01", "2026-02-29", "2026-00-10", "2026-01-32",
				"2026-01-12T24:00", "2026-01-12T09:60", "2026-01-12T09:00:60",
				"2026-01-12T09:00+26:00" };
	for (size_t i = 0; i < YB_ARRAY_LEN(range); i++) {
		ck_assert_msg(tz_parse_iso(range[i], tokyo, &t, &err) == YB_ERANGE, "'%s'", range[i]);
		ck_assert(strstr(err.msg, "out of range"));
	}
	ck_assert_int_eq(tz_parse_iso("2024-02-29", tokyo, &t, &err), 0);

	char text[64];
	tz_format_iso(tokyo, want, text, sizeof(text));
	ck_assert_str_eq(text, "2026-01-12T09:00:00+09:00");
	tz_format_iso(tz_utc(), want, text, sizeof(text));
	ck_assert_str_eq(text, "2026-01-12T00:00:00+00:00"); /* never "Z" */
	tz_format_iso(ny, utc("2026-11-01T06:30:00Z"), text, sizeof(text));
	ck_assert_str_eq(text, "2026-11-01T01:30:00-05:00");
	/* local mean time has seconds in its offset */
	tz_format_iso(tokyo, utc("1880-01-01T00:00:00Z"), text, sizeof(text));
	ck_assert_str_eq(text, "1880-01-01T09:18:59+09:18:59");
	/* round trip */
	seed_rng();
	for (int k = 0; k < 10000; k++) {
		int64_t a = rnd_range(utc("1900-01-01T00:00:00Z"), utc("2200-01-01T00:00:00Z"));
		tz_format_iso(ny, a, text, sizeof(text));
		REQUIRE(tz_parse_iso(text, tokyo, &t, &err) == 0 && t == a, "seed %" PRIu64 ": %s", seed,
			text);
	}
	/* a small buffer is truncated, not overrun */
	char small[8];
	tz_format_iso(tokyo, want, small, sizeof(small));
	ck_assert_str_eq(small, "2026-01");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tz");
	TCase *tc = tcase_create("tz");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_load_names);
	tcase_add_test(tc, test_new_york);
	tcase_add_test(tc, test_berlin_tokyo_lord_howe);
	tcase_add_test(tc, test_normalising);
	tcase_add_test(tc, test_against_glibc);
	tcase_add_test(tc, test_posix_rules);
	tcase_add_test(tc, test_tzif_images);
	tcase_add_test(tc, test_tzdir);
	tcase_add_test(tc, test_iso);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
