/*
 * bench_cron.c: nanoseconds per cron_next over the expressions of cron_corpus.txt, in Asia/Tokyo,
 * the figure compared with croniter by run_cron.sh.
 *
 * Each expression is parsed once (hash key "bench"), then cron_next is chained from
 * 2026-01-12T09:00:00+09:00, starting over every 100 calls (so that the rare schedules stay far
 * from the year 9999), exactly as croniter_bench.py chains get_next. The figure is the total time
 * over the total number of calls, every expression weighing the same.
 *   bench_cron [corpus] [calls per expression] [zone]   timing (default 200000 calls, Asia/Tokyo)
 *   bench_cron --print N [corpus]                  the first N fires of each, for comparison
 */
#include "cron.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EXPRS 256
#define RESTART_EVERY 100

static int load_corpus(const char *path, char **lines, int max)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "bench_cron: cannot open '%s' (run from the source folder or pass the "
				"corpus path)\n", path);
		exit(2);
	}
	char buf[512];
	int n = 0;
	while (fgets(buf, sizeof(buf), f) && n < max) {
		buf[strcspn(buf, "\r\n")] = '\0';
		if (buf[0] == '\0' || buf[0] == '#')
			continue;
		lines[n++] = xstrdup(buf);
	}
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	int print_n = 0;
	int arg = 1;
	if (argc > 2 && strcmp(argv[1], "--print") == 0) {
		print_n = atoi(argv[2]);
		arg = 3;
	}
	const char *path = argc > arg ? argv[arg] : "tests/bench/cron_corpus.txt";
	long calls = argc > arg + 1 ? atol(argv[arg + 1]) : 200000;
	const char *zone_name = argc > arg + 2 ? argv[arg + 2] : "Asia/Tokyo";
	char *lines[MAX_EXPRS];
	int n = load_corpus(path, lines, MAX_EXPRS);
	const struct tz *zone;
	struct yb_err err;
	if (tz_load(zone_name, &zone, &err) < 0) {
		fprintf(stderr, "bench_cron: %s\n", err.msg);
		return 1;
	}
	int64_t start;
	if (tz_parse_iso("2026-01-12T09:00:00+09:00", zone, &start, &err) < 0)
		BUG("%s", err.msg);
	struct cron_expr *exprs[MAX_EXPRS];
	for (int i = 0; i < n; i++) {
		int col;
		if (cron_parse(lines[i], "bench", &exprs[i], &col, &err) < 0) {
			fprintf(stderr, "bench_cron: '%s': %s\n", lines[i], err.msg);
			return 1;
		}
	}
	if (print_n > 0) {
		for (int i = 0; i < n; i++) {
			printf("%s|", lines[i]);
			int64_t t = start;
			for (int k = 0; k < print_n; k++) {
				char text[64];
				if (cron_next(exprs[i], zone, t, &t) < 0)
					break;
				tz_format_iso(zone, t, text, sizeof(text));
				printf("%s%s", k ? " " : "", text);
			}
			printf("\n");
		}
		goto out;
	}
	int64_t total_ns = 0, sink = 0;
	long total_calls = 0;
	for (int i = 0; i < n; i++) {
		int64_t t = start;
		for (long k = 0; k < calls / 10; k++) { /* warm up */
			if (k % RESTART_EVERY == 0)
				t = start;
			if (cron_next(exprs[i], zone, t, &t) < 0)
				BUG("'%s' ran out of range", lines[i]);
		}
		int64_t t0 = yb_mono_ns();
		for (long k = 0; k < calls; k++) {
			if (k % RESTART_EVERY == 0)
				t = start;
			if (cron_next(exprs[i], zone, t, &t) < 0)
				BUG("'%s' ran out of range", lines[i]);
			sink += t;
		}
		int64_t dt = yb_mono_ns() - t0;
		total_ns += dt;
		total_calls += calls;
		printf("%9.1f ns  %s\n", (double)dt / (double)calls, lines[i]);
	}
	printf("expressions %d, calls %ld, sink %lld\n", n, total_calls, (long long)(sink & 0xff));
	printf("cron_next_ns_per_call %.1f\n", (double)total_ns / (double)total_calls);
out:
	for (int i = 0; i < n; i++) {
		cron_free(exprs[i]);
		free(lines[i]);
	}
	return 0;
}
