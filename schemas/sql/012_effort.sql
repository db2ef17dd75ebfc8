-- 012_effort: effort hours (工数) against the contract's caps (issue 12, section 2).
--
-- The tables below are the shape other work builds on (the evidence chain of 013 covers
-- effort_entries; the monthly report reads both). Functions, triggers and grants follow them.

CREATE TYPE yoban.effort_category AS ENUM ('service', 'incident', 'modification');

-- The contract figures yoband loaded from the site config (contract:), one row, rewritten by
-- the leader on every load. Until a daemon has loaded a site config the defaults hold:
-- 8 hours a day, 20 days a month, no caps.
CREATE TABLE yoban.contract (
	one boolean PRIMARY KEY DEFAULT true CHECK (one),
	period_from date,
	period_to date,
	hours_per_day numeric NOT NULL DEFAULT 8 CHECK (hours_per_day > 0),
	days_per_month numeric NOT NULL DEFAULT 20 CHECK (days_per_month > 0),
	-- {"service": {"per_month": 3, "total": 48}, ...} in person-months; a missing key: no cap
	caps jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(caps) = 'object'),
	team text NOT NULL DEFAULT 'operations-team', -- whom scheduled runs' effort is logged to
	updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO yoban.contract DEFAULT VALUES;

-- One entry of work: who, which day, how many hours, in which category. Append-only: a wrong
-- entry is corrected by another entry (negative hours naming the one it corrects).
CREATE TABLE yoban.effort_entries (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	person text NOT NULL,
	work_date date NOT NULL,
	hours numeric(7, 2) NOT NULL CHECK (hours <> 0 AND hours BETWEEN -24 AND 24),
	category yoban.effort_category NOT NULL,
	run_id bigint REFERENCES yoban.runs (id),
	incident_id bigint REFERENCES yoban.incidents (id),
	ticket text,
	note text,
	corrects bigint REFERENCES yoban.effort_entries (id),
	source text NOT NULL DEFAULT 'manual' CHECK (source IN ('manual', 'run')),
	created_at timestamptz NOT NULL DEFAULT now(),
	created_by text NOT NULL DEFAULT session_user,
	CHECK (hours > 0 OR corrects IS NOT NULL)
);
-- A run records its runbook's effort once.
CREATE UNIQUE INDEX effort_entries_run_once ON yoban.effort_entries (run_id) WHERE source = 'run';
CREATE INDEX effort_entries_date ON yoban.effort_entries (work_date);
