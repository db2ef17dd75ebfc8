/*
 * report_i18n.c: every word the monthly report prints for people, in Japanese (the default for
 * this domain: the reader is a city's staff or auditor) and English. One table, looked up by key;
 * a key missing here is a BUG(), so a renderer can never print a raw key to a reviewer.
 */
#include "report_fmt.h"

#include <string.h>

static const struct label {
	const char *key, *ja, *en;
} labels[] = {
	{ "title", "月次運用報告書", "Monthly operations report" },
	{ "period", "対象期間", "Period" },
	{ "partial", "月の途中です。作成時点までの集計です。",
	  "The month is not over: figures up to the time of generation." },
	{ "generated", "作成日時", "Generated" },
	{ "intro",
	  "本報告書は、Yoban が PostgreSQL に記録した実行記録から自動作成したものです。各節の数値は"
	  "同一時点のデータベースの内容に基づきます。",
	  "This report was produced by Yoban from the records it keeps in PostgreSQL; every figure "
	  "comes from one snapshot of the database." },
	{ "s_summary", "概要", "Summary" },
	{ "s_runs", "1. 実行結果", "1. Runs" },
	{ "s_schedule", "2. スケジュール遵守状況", "2. Schedule adherence" },
	{ "s_incidents", "3. 障害・異常終了と SLA", "3. Failures and incidents against the SLA" },
	{ "s_patches", "4. データパッチ", "4. Data patches" },
	{ "s_backups", "5. バックアップと遠隔地退避", "5. Backups and off-site copies" },
	{ "s_effort", "6. 工数", "6. Effort" },
	{ "s_availability", "7. スケジューラ稼働率", "7. Scheduler availability" },
	{ "s_chain", "8. 証跡チェーン", "8. Evidence chain" },
	{ "sum_runs", "実行数", "Runs" },
	{ "sum_on_time", "定刻開始率", "Started on time" },
	{ "sum_incidents", "障害件数", "Incidents" },
	{ "sum_availability", "稼働率", "Availability" },
	{ "sla_breached", "SLA 未達", "SLA breached" },
	{ "st_succeeded", "正常終了", "succeeded" },
	{ "st_failed", "異常終了", "failed" },
	{ "st_timed_out", "時間超過", "timed out" },
	{ "st_lost", "消失", "lost" },
	{ "st_cancelled", "取消", "cancelled" },
	{ "st_skipped", "スキップ", "skipped" },
	{ "st_awaiting_approval", "承認待ち", "awaiting approval" },
	{ "st_pending", "開始待ち", "pending" },
	{ "st_queued", "順番待ち", "queued" },
	{ "st_running", "実行中", "running" },
	{ "st_cancelling", "取消中", "cancelling" },
	{ "runbook", "ランブック", "Runbook" },
	{ "total", "合計", "Total" },
	{ "jobs_line", "ジョブ数（ステップ×ホスト）:", "Jobs (steps on hosts):" },
	{ "sentence_end", "。", ". " },
	{ "jobs_not_ok", "正常終了以外", "not succeeded" },
	{ "runs_note",
	  "実行は予定時刻（手動実行は依頼時刻）の属する日に数えます。時刻はすべて上記の時間帯です。",
	  "A run counts on the day of its scheduled time (a manual run: the time it was asked for); "
	  "all times are in the time zone above." },
	{ "chart_runs", "日別の実行数（結果別）", "Runs per day, by outcome" },
	{ "chart_ok", "正常終了", "succeeded" },
	{ "chart_failed", "異常終了・時間超過・消失", "failed, timed out, lost" },
	{ "chart_other", "取消・スキップ", "cancelled, skipped" },
	{ "chart_open", "未終了", "not ended" },
	{ "chart_day_axis", "日", "day of the month" },
	{ "date", "日付", "Date" },
	{ "sched_total", "予定された実行", "Scheduled runs" },
	{ "sched_started", "開始した実行", "Started" },
	{ "sched_on_time", "定刻に開始した実行", "Started on time" },
	{ "late_p50", "開始遅延（中央値）", "Lateness, median (p50)" },
	{ "late_p99", "開始遅延（99パーセンタイル）", "Lateness, 99th percentile (p99)" },
	{ "late_max", "開始遅延（最大）", "Lateness, worst" },
	{ "on_time_def",
	  "定刻開始とは、予定時刻から 60 秒以内に開始したことをいいます。定刻開始率は、定刻に開始した"
	  "実行を予定された実行で割ったものです。閉庁日・保守時間帯などで意図的にスキップした実行は"
	  "含めず、スケジューラ停止中に取りこぼした実行は遅延として数えます。遅延は開始した実行の"
	  "開始時刻と予定時刻の差です。",
	  "On time means started within 60 seconds of the scheduled time. The on-time share is the "
	  "runs started on time divided by the scheduled runs; runs skipped on purpose (a closed day, "
	  "a maintenance window) are left out, and a fire missed while no scheduler ran counts as "
	  "late. Lateness is the start time minus the scheduled time, over the runs that started." },
	{ "sla_figures", "SLA（検知からの時間）:", "SLA (from detection):" },
	{ "sla_default", "契約に定めがないため標準値を適用", "the contract gives none: the usual figures" },
	{ "clock_report", "報告", "report" },
	{ "clock_start", "対応開始", "start" },
	{ "clock_recover", "復旧", "recover" },
	{ "clock_met", "達成", "met" },
	{ "clock_breached", "超過", "breached" },
	{ "clock_running", "期限前（対応中）", "not yet due" },
	{ "clock_none", "基準なし", "no figure" },
	{ "due", "期限", "due" },
	{ "incidents", "障害（インシデント）", "Incidents" },
	{ "incident", "障害", "Incident" },
	{ "detected", "検知", "Detected" },
	{ "sla_result", "判定", "SLA" },
	{ "pass", "合格", "pass" },
	{ "fail", "不合格", "fail" },
	{ "open", "未解決", "open" },
	{ "cause", "原因", "Cause" },
	{ "temporary_fix", "暫定対処", "Temporary fix" },
	{ "permanent_fix", "恒久対策", "Permanent fix" },
	{ "failures", "異常終了した実行", "Runs that failed" },
	{ "run", "実行", "Run" },
	{ "state", "状態", "State" },
	{ "ended", "終了", "Ended" },
	{ "reason", "理由", "Reason" },
	{ "none", "該当なし。", "None." },
	{ "staging", "ステージング", "staging" },
	{ "production", "本番", "production" },
	{ "requested_by", "依頼者", "Requested by" },
	{ "approvers", "承認者", "Approved by" },
	{ "ap_waiting", "承認待ち", "waiting for approval" },
	{ "ap_approved", "承認済み（開始待ち）", "approved, not started yet" },
	{ "ap_started", "承認済み・実行開始", "approved and started" },
	{ "ap_rejected", "却下", "rejected" },
	{ "ap_void", "無効（ランブックまたは手順書が変更された）", "void (the runbook or procedure changed)" },
	{ "procedure", "作業手順書", "Procedure document" },
	{ "sql_outcome", "パッチの結果", "Outcome of the patch" },
	{ "evidence", "エビデンス", "Evidence" },
	{ "size", "サイズ", "Size" },
	{ "sha256", "SHA-256", "SHA-256" },
	{ "rows", "行", "rows" },
	{ "ev_stdout", "標準出力", "stdout" },
	{ "ev_stderr", "標準エラー出力", "stderr" },
	{ "ev_artifact", "成果物", "artifact" },
	{ "backups_ok", "バックアップ成功/実施", "Backups ok / run" },
	{ "verified", "検証済み", "Verified" },
	{ "generations", "保持世代数", "Generations kept" },
	{ "pruned", "削除世代", "Pruned" },
	{ "offsite_ok", "遠隔地退避 成功/実施", "Off-site ok / run" },
	{ "newest", "最新世代", "Newest generation" },
	{ "backups_note",
	  "保持世代数は、その日の終わりにリポジトリに残っている世代の数です（成功したバックアップから"
	  "削除した世代を引いたもの）。検証済みは、書き込み後の読み戻し検証または検証ジョブに合格した"
	  "世代の数です。",
	  "Generations kept: the generations left in the repository at the end of the day (backups "
	  "that succeeded minus generations pruned). Verified: generations that passed the read-back "
	  "check after writing or a verify job." },
	{ "category", "区分", "Category" },
	{ "cat_service", "運用業務", "Service work" },
	{ "cat_incident", "障害対応", "Incident recovery" },
	{ "cat_modification", "保守改修", "Modifications" },
	{ "hours", "時間", "Hours" },
	{ "person_days", "人日", "Person-days" },
	{ "person_months", "人月", "Person-months" },
	{ "cap_month", "月上限（人月）", "Monthly cap (p-m)" },
	{ "cap_total", "総上限（人月）", "Total cap (p-m)" },
	{ "cap_used", "消化率", "Used" },
	{ "total_pm", "契約累計（人月）", "Contract to date (p-m)" },
	{ "no_cap", "上限なし", "no cap" },
	{ "unit_pm", "人月", "person-months" },
	{ "unit_pd", "人日", "person-day" },
	{ "this_month", "（当月）", "(month)" },
	{ "contract_total", "（累計）", "(to date)" },
	{ "contract_period", "契約期間:", "Contract period:" },
	{ "chart_effort", "工数と上限", "Effort against its caps" },
	{ "chart_effort_legend", "棒: 実績（人月）　破線: 上限", "bar: person-months used; dashed line: the cap" },
	{ "effort_note",
	  "障害対応の工数には上限がありません。累計は契約開始日から当月末までです。",
	  "Incident recovery has no cap. The total runs from the contract's start to the month's "
	  "end." },
	{ "avail_percent", "稼働率", "Availability" },
	{ "avail_target", "目標", "Target" },
	{ "avail_minutes", "対象時間（分）", "Minutes counted" },
	{ "avail_down", "停止時間（分）", "Minutes without a scheduler" },
	{ "maintenance", "計画停止（除外）", "Maintenance windows (left out)" },
	{ "met", "目標達成", "target met" },
	{ "not_met", "目標未達", "target NOT met" },
	{ "avail_note",
	  "稼働率は、スケジューラ（yoband）が主系として動作していた時間の割合です。ハートビートの記録"
	  "から求め、サイト設定の計画停止時間帯は分母・分子の両方から除きます。",
	  "Availability is the share of the time a scheduler (yoband) was leading, from its "
	  "heartbeats; the site's maintenance windows are left out of both sides." },
	{ "chain_head", "月末時点の証跡チェーン先頭", "Chain head at the month's end" },
	{ "checkpoint", "最新のチェックポイント", "Latest checkpoint" },
	{ "signed_at", "署名日時", "signed" },
	{ "not_recorded", "記録なし", "not recorded" },
	{ "chain_note",
	  "証跡チェーンは、すべての証跡レコードを順番に連結したハッシュの列です。チェックポイントは"
	  "その先頭への電子署名で、これ以降の改ざん・削除を yoban verify で検出できます。",
	  "The evidence chain links every evidence record in order by hashes; a checkpoint is a "
	  "signature of its head, against which `yoban verify` detects any later rewrite or "
	  "deletion." },
};

const char *report_label(enum report_lang lang, const char *key)
{
	for (size_t i = 0; i < YB_ARRAY_LEN(labels); i++)
		if (!strcmp(labels[i].key, key))
			return lang == REPORT_EN ? labels[i].en : labels[i].ja;
	BUG("the report has no label '%s'", key);
}
