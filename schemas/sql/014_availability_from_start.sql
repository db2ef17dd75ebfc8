-- 014_availability_from_start: availability is counted from the first time a scheduler led.
--
-- 006's yoban_availability counted every minute of the period as down until a leader's span
-- covered it, so a site that started Yoban on the 28th read about 10 % for that month, and the
-- quickstart's fresh install read 0.02 %: minutes before Yoban existed were counted as outage.
-- The contract's 99.9 % is about the service Yoban gives, which begins when a scheduler first
-- leads (the earliest leader span). Before that nothing is counted; a database where no scheduler
-- has ever led has no minutes counted and no percentage (NULL: "not measured"), never 0 %.
-- Every gap after the first span still counts in full.

CREATE OR REPLACE FUNCTION yoban.yoban_availability(from_at timestamptz, to_at timestamptz,
	maintenance tstzrange[] DEFAULT '{}', OUT total_minutes double precision,
	OUT down_minutes double precision, OUT percent double precision)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	WITH service AS (
		SELECT min(s.from_at) AS began FROM yoban.leader_spans s
	), period AS (
		SELECT CASE WHEN sv.began IS NULL THEN '{}'::tstzmultirange
			ELSE pg_catalog.tstzmultirange(pg_catalog.tstzrange(
				greatest(yoban_availability.from_at, sv.began),
				greatest(least(yoban_availability.to_at, now()),
					 greatest(yoban_availability.from_at, sv.began))))
				- coalesce((SELECT pg_catalog.range_agg(m) FROM pg_catalog.unnest(maintenance) m),
					   '{}'::tstzmultirange)
			END AS counted
		FROM service sv
	), led AS (
		SELECT coalesce(pg_catalog.range_agg(pg_catalog.tstzrange(s.from_at, s.to_at, '[]')),
				'{}'::tstzmultirange) AS spans
		FROM yoban.leader_spans s
		WHERE s.to_at >= yoban_availability.from_at AND s.from_at < yoban_availability.to_at
	), sums AS (
		SELECT (SELECT coalesce(sum(extract(epoch FROM upper(r) - lower(r))), 0)
			FROM pg_catalog.unnest(p.counted) r) / 60.0 AS total,
		       (SELECT coalesce(sum(extract(epoch FROM upper(r) - lower(r))), 0)
			FROM pg_catalog.unnest(p.counted - l.spans) r) / 60.0 AS down
		FROM period p, led l
	)
	SELECT total::float8, down::float8,
		CASE WHEN total > 0 THEN (100.0 * (total - down) / total)::float8 END
	FROM sums;
$$;
