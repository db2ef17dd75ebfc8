/*
 * cmd_report.c: `yoban report monthly YYYY-MM`: the monthly report (月次報告書) in HTML,
 * Markdown, CSV or JSON. A thin command: it reads the options and the site config's SLA figures
 * (sla_params_load, shared with `yoban incidents`; the SLA clocks' one formula is
 * scheduler/report/incident_sql.h), connects as the reader, and hands the rest to the report module
 * (scheduler/report/report.h): gather the month into one model, render it once.
 */
#include "cmd_incidents.h"
#include "report.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const struct yb_cmd cmd_report;

/* The domain's SLA figures (report 30 min, start 2 h, recover 6 h), for a site that states none. */
static const struct {
	const char *interval, *label;
} sla_defaults[3] = {
	{ "1800000 milliseconds", "30m" },
	{ "7200000 milliseconds", "2h" },
	{ "21600000 milliseconds", "6h" },
};

struct progress {
	int64_t start_ms;
};

static void show_progress(const char *section, void *arg)
{
	const struct progress *p = arg;
	fprintf(stderr, "yoban report: %-20s %6.2f s\n", section,
		(double)(yb_mono_ms() - p->start_ms) / 1000.0);
}

static int write_out(const char *path, const struct yb_buf *b)
{
	struct yb_err err = { 0 };
	if (!path) {
		if (fwrite(b->data, 1, b->len, stdout) != b->len || fflush(stdout) != 0) {
			cli_error("cannot write the report to stdout");
			return YB_EXIT_FAIL;
		}
		return YB_EXIT_OK;
	}
	/* a temporary file beside it, then rename: a reader never sees half a report */
	if (yb_write_file_atomic(path, b->data, b->len, 0644, &err) < 0) {
		cli_error("%s", err.msg);
		return YB_EXIT_FAIL;
	}
	return YB_EXIT_OK;
}

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'F' }, { "lang", required_argument, NULL, 'l' },
		{ "output", required_argument, NULL, 'o' }, { "tz", required_argument, NULL, 'z' },
		{ "config", required_argument, NULL, 'C' }, { NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *output = NULL, *zone = NULL;
	enum report_format format = REPORT_HTML;
	enum report_lang lang = REPORT_JA;
	int opt, status;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'F':
			if (!strcmp(optarg, "html"))
				format = REPORT_HTML;
			else if (!strcmp(optarg, "md") || !strcmp(optarg, "markdown"))
				format = REPORT_MD;
			else if (!strcmp(optarg, "csv"))
				format = REPORT_CSV;
			else if (!strcmp(optarg, "json"))
				format = REPORT_JSON;
			else
				return cli_usage_error(&cmd_report, "--format takes html, md, csv or json, "
						       "not '%s'", optarg);
			break;
		case 'l':
			if (!strcmp(optarg, "ja"))
				lang = REPORT_JA;
			else if (!strcmp(optarg, "en"))
				lang = REPORT_EN;
			else
				return cli_usage_error(&cmd_report, "--lang takes ja or en, not '%s'",
						       optarg);
			break;
		case 'o': output = optarg; break;
		case 'z': zone = optarg; break;
		case 'C': config = optarg; break;
		default:
			return cli_usage_error(&cmd_report, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error(&cmd_report, "say which report: yoban report monthly YYYY-MM");
	if (strcmp(argv[optind], "monthly"))
		return cli_usage_error(&cmd_report, "unknown report '%s' (there is: monthly)",
				       argv[optind]);
	if (optind + 1 >= argc)
		return cli_usage_error(&cmd_report, "say which month: yoban report monthly YYYY-MM");
	const char *month = argv[optind + 1];
	if (!report_month_valid(month))
		return cli_usage_error(&cmd_report, "the month is YYYY-MM with a month from 01 to 12 "
				       "(2026-11), not '%s'", month);
	if (optind + 2 < argc)
		return cli_usage_error(&cmd_report, "unexpected argument '%s'", argv[optind + 2]);

	struct sla_params sla;
	if ((status = sla_params_load(config, &sla)) != 0)
		return status;
	struct report_params p = {
		.sla_report = sla.report[0] ? sla.report : sla_defaults[0].interval,
		.sla_start = sla.start[0] ? sla.start : sla_defaults[1].interval,
		.sla_recover = sla.recover[0] ? sla.recover : sla_defaults[2].interval,
		.sla_default = !sla.report[0] || !sla.start[0] || !sla.recover[0],
		.availability_target = sla.availability,
		.maint_from = sla.maint_from,
		.maint_to = sla.maint_to,
	};
	char labels[3][32];
	const char *const given[3] = { sla.report, sla.start, sla.recover };
	for (int i = 0; i < 3; i++) {
		if (given[i][0])
			yb_format_duration(strtoll(given[i], NULL, 10), labels[i], sizeof labels[i]);
		else
			snprintf(labels[i], sizeof labels[i], "%s", sla_defaults[i].label);
	}
	p.sla_report_label = labels[0];
	p.sla_start_label = labels[1];
	p.sla_recover_label = labels[2];
	snprintf(p.month, sizeof p.month, "%s", month);
	struct progress prog = { yb_mono_ms() };
	if (isatty(STDERR_FILENO)) {
		p.progress = show_progress;
		p.progress_arg = &prog;
	}

	struct db_conn *c = NULL;
	struct report r = { 0 };
	struct yb_buf out;
	struct yb_err err = { 0 };
	yb_buf_init(&out, 0);
	if ((status = opdb_open(config, &c)) != 0)
		goto out;
	if (zone) {
		const char *zp[] = { zone };
		if (db_exec(c, "SELECT pg_catalog.set_config('TimeZone', $1, false)", 1, zp, NULL,
			    &err) < 0) {
			cli_error("unknown time zone '%s' (--tz takes a name such as Asia/Tokyo): %s",
				  zone, err.msg);
			status = YB_EXIT_USAGE;
			goto out;
		}
	}
	if (report_gather(c, &p, &r, &err) < 0) {
		status = opdb_report(c, &err, "yoban_reviewer");
		goto out;
	}
	if (p.progress)
		p.progress("rendering", p.progress_arg);
	if (report_render(&r, format, lang, &out) < 0) {
		cli_error("the report did not fit in memory");
		status = YB_EXIT_FAIL;
		goto out;
	}
	status = write_out(output, &out);
	if (status == 0 && p.progress)
		p.progress(output ? "written" : "done", p.progress_arg);
out:
	yb_buf_release(&out);
	report_release(&r);
	db_close(c);
	sla_params_release(&sla);
	return status;
}

const struct yb_cmd cmd_report = {
	.name = "report",
	.summary = "the monthly report (月次報告書) in HTML, Markdown, CSV or JSON",
	.help =
		"usage: yoban report monthly YYYY-MM [--format html|md|csv|json] [--lang ja|en]\n"
		"                    [-o FILE] [--tz ZONE] [--config FILE]\n"
		"\n"
		"The month's report for reviewers (docs/report.md): runs by runbook and state, schedule\n"
		"adherence (on time: started within 60 s of the scheduled time; lateness p50 and p99),\n"
		"every failure and incident against the SLA (contract.sla of the site config; 30m, 2h,\n"
		"6h when it has none), data patches with who asked, who approved and the evidence\n"
		"digests, backups and off-site copies per day, effort against the contract's caps,\n"
		"the scheduler's availability, and the evidence chain's head and latest checkpoint.\n"
		"The month is cut in the site's time zone (timezone: of yoban.yaml, Asia/Tokyo by\n"
		"default). Needs read access: yoban_reviewer, yoban_operator, yoban_approver or\n"
		"yoban_admin.\n"
		"\n"
		"  --format FORMAT  html (default): one self-contained file, printable on A4;\n"
		"                   md; csv (one file, rows section,key,field,value); json\n"
		"  --lang ja|en     the language of the labels (default ja)\n"
		"  -o, --output FILE  write FILE (through FILE.tmp.PID and a rename); default stdout\n"
		"  --tz ZONE        cut the month in ZONE instead of the site's time zone\n"
		"  --config FILE    the site config (default $YOBAN_CONFIG, else /etc/yoban/yoban.yaml)\n"
		"\n"
		"On a terminal, the time each section took is shown on stderr.\n"
		"\n"
		"examples:\n"
		"  yoban report monthly 2026-11 -o report-2026-11.html\n"
		"  yoban report monthly 2026-11 --format json | jq .availability\n"
		"  yoban report monthly 2026-11 --format md --lang en\n",
	.run = run,
};
