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

-- ---- the rules (docs/effort.md says them for people) ------------------------------------------
--
-- Entries are written only by the functions below, which run as yoban_definer:
--   yoban_effort_log         a person (yoban_operator, yoban_admin) logs their own hours:
--                            person = session_user; 0 < hours <= 24 in steps of 0.01 h; a work
--                            date that is not in the future (today in the session's time zone,
--                            which `yoban` sets to the site's) and inside the contract period
--                            when the contract names one; at most 24 h for one person and one day
--                            over all their entries. A correction names an original entry (not a
--                            correction): operators correct their own, admins anyone's; it takes
--                            the original's person, category and date, and the original's net
--                            hours (it and its corrections) stay between 0 and 24.
--   yoban_effort_record_run  yoband records a run's effort in the same statement as the run's
--                            final transition: once per run (effort_entries_run_once), only for a
--                            run that dispatched work (a job row) and ended succeeded, failed,
--                            timed_out, cancelled or lost; to the requester, or to the contract's
--                            team for a scheduled or catch-up fire; dated the run's start in the
--                            site's time zone. It never raises: a run's end must not wait on it.
-- Every entry that moves a capped category (not incident) across 80 % or 100 % of its monthly or
-- total cap writes one cap_warning event in the outbox (yoban_effort_cap_check), in the same
-- transaction as the entry.

CREATE TRIGGER effort_entries_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
	ON yoban.effort_entries FOR EACH STATEMENT EXECUTE FUNCTION yoban.yoban_append_only();

-- The lock that orders the writers of one category (cap crossings are counted against the
-- entries committed before) or of one person's day (the 24-hour rule).
CREATE FUNCTION yoban.yoban_effort_lock(what text) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
	SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('yoban.effort'),
						pg_catalog.hashtext(what));
$$;

CREATE FUNCTION yoban.yoban_effort_log(hours numeric, category text, run bigint DEFAULT NULL,
	incident bigint DEFAULT NULL, ticket text DEFAULT NULL, work_date date DEFAULT NULL,
	note text DEFAULT NULL, corrects bigint DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
	k yoban.contract;
	orig yoban.effort_entries;
	cat yoban.effort_category;
	who text := session_user;
	day_hours numeric;
	net numeric;
	id_ bigint;
BEGIN
	PERFORM yoban.yoban_require_role('yoban_operator', 'yoban_admin');
	IF hours IS NULL OR hours = 0 OR hours < -24 OR hours > 24 THEN
		RAISE EXCEPTION 'hours must be more than 0 and at most 24 (one entry is one person''s one day), not %',
			coalesce(hours::text, 'null') USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF hours <> round(hours, 2) THEN
		RAISE EXCEPTION 'hours are kept to 0.01 h: % has more decimals', hours
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF corrects IS NOT NULL THEN
		SELECT * INTO orig FROM yoban.effort_entries e WHERE e.id = corrects;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'no effort entry % to correct (see yoban effort list)', corrects
				USING ERRCODE = 'no_data_found';
		END IF;
		IF orig.corrects IS NOT NULL THEN
			RAISE EXCEPTION 'entry % is itself a correction (of entry %): correct the original, %',
				corrects, orig.corrects, orig.corrects USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF orig.person <> session_user
		   AND NOT pg_catalog.pg_has_role(session_user, 'yoban_admin', 'MEMBER') THEN
			RAISE EXCEPTION 'entry % is %''s: only they or an admin (yoban_admin) may correct it',
				corrects, orig.person USING ERRCODE = 'insufficient_privilege',
				HINT = 'an administrator can grant it: GRANT yoban_admin TO ' ||
				       pg_catalog.quote_ident(session_user);
		END IF;
		IF category IS NOT NULL AND category <> orig.category::text THEN
			RAISE EXCEPTION 'a correction keeps the category of entry % (%), not %', corrects,
				orig.category, category USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF work_date IS NOT NULL AND work_date <> orig.work_date THEN
			RAISE EXCEPTION 'a correction keeps the date of entry % (%), not %', corrects,
				orig.work_date, work_date USING ERRCODE = 'invalid_parameter_value';
		END IF;
		who := orig.person;
		cat := orig.category;
		work_date := orig.work_date;
		run := coalesce(run, orig.run_id);
		incident := coalesce(incident, orig.incident_id);
	ELSE
		IF hours < 0 THEN
			RAISE EXCEPTION 'negative hours (%) only correct an entry: name it with --corrects ID', hours
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF category IS NULL OR category NOT IN ('service', 'incident', 'modification') THEN
			RAISE EXCEPTION 'unknown effort category "%" (service, incident or modification)',
				coalesce(category, 'null') USING ERRCODE = 'invalid_parameter_value';
		END IF;
		cat := category::yoban.effort_category;
		work_date := coalesce(work_date, current_date);
	END IF;
	IF work_date > current_date THEN
		RAISE EXCEPTION 'the work date % is in the future (today is %): log work when it is done',
			work_date, current_date USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT * INTO k FROM yoban.contract;
	IF corrects IS NULL AND (work_date < k.period_from OR work_date > k.period_to) THEN
		RAISE EXCEPTION 'the work date % is outside the contract period (% to %)', work_date,
			k.period_from, k.period_to USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF run IS NOT NULL AND NOT EXISTS (SELECT 1 FROM yoban.runs r WHERE r.id = run) THEN
		RAISE EXCEPTION 'no run % (see yoban runs)', run USING ERRCODE = 'no_data_found';
	END IF;
	IF incident IS NOT NULL AND NOT EXISTS (SELECT 1 FROM yoban.incidents i WHERE i.id = incident) THEN
		RAISE EXCEPTION 'no incident % (see yoban incidents)', incident USING ERRCODE = 'no_data_found';
	END IF;
	IF ticket IS NOT NULL AND (btrim(ticket) = '' OR length(ticket) > 200 OR ticket ~ '[[:cntrl:]]') THEN
		RAISE EXCEPTION 'the ticket must be 1 to 200 characters on one line'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF note IS NOT NULL AND length(note) > 4000 THEN
		RAISE EXCEPTION 'the note is longer than 4000 characters' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM yoban.yoban_effort_lock('day:' || who || ':' || work_date::text);
	SELECT coalesce(sum(e.hours), 0) INTO day_hours FROM yoban.effort_entries e
		WHERE e.person = who AND e.work_date = yoban_effort_log.work_date;
	IF day_hours + hours > 24 THEN
		RAISE EXCEPTION '% would have % hours on % (% logged already): one person''s day has at most 24',
			who, day_hours + hours, work_date, day_hours USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF corrects IS NOT NULL THEN
		SELECT sum(e.hours) INTO net FROM yoban.effort_entries e
			WHERE e.id = corrects OR e.corrects = yoban_effort_log.corrects;
		IF net + hours < 0 THEN
			RAISE EXCEPTION 'the correction would take entry % below 0 hours (it stands at % h now)',
				corrects, net USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF net + hours > 24 THEN
			RAISE EXCEPTION 'the correction would take entry % above 24 hours (it stands at % h now)',
				corrects, net USING ERRCODE = 'invalid_parameter_value';
		END IF;
	END IF;
	INSERT INTO yoban.effort_entries (person, work_date, hours, category, run_id, incident_id,
		ticket, note, corrects, source)
	VALUES (who, work_date, hours, cat, run, incident, ticket, note, corrects, 'manual')
	RETURNING id INTO id_;
	INSERT INTO yoban.audit (actor, action, run_id, detail)
		VALUES (session_user, 'effort:log', run, pg_catalog.jsonb_build_object('entry', id_,
			'person', who, 'work_date', work_date, 'hours', hours, 'category', cat::text,
			'incident', incident, 'ticket', ticket, 'note', note, 'corrects', corrects));
	RETURN id_;
END
$$;

-- yoband: a run's effort, in the statement that writes its final transition. Returns the entry's
-- id, or NULL when nothing is recorded (already recorded, never ran, skipped, a bad figure).
CREATE FUNCTION yoban.yoban_effort_record_run(run bigint, hours numeric, category text,
	zone text DEFAULT 'Asia/Tokyo') RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
	r yoban.runs;
	who text;
	day date;
	id_ bigint;
BEGIN
	-- Only yoban_daemon may EXECUTE it (below); no role check that could fail a run's end.
	SELECT * INTO r FROM yoban.runs x WHERE x.id = run;
	IF NOT FOUND OR r.state NOT IN ('succeeded', 'failed', 'timed_out', 'cancelled', 'lost')
	   OR NOT EXISTS (SELECT 1 FROM yoban.jobs j WHERE j.run_id = run) THEN
		RETURN NULL; -- not ended, skipped, or it never dispatched work
	END IF;
	IF hours IS NULL OR hours <= 0 OR hours > 24 OR category IS NULL
	   OR category NOT IN ('service', 'incident', 'modification') THEN
		RAISE WARNING 'run %: effort % h of "%" not recorded (hours must be in (0, 24])', run,
			hours, category;
		RETURN NULL;
	END IF;
	IF r.trigger IN ('schedule', 'catchup') THEN
		SELECT c.team INTO who FROM yoban.contract c;
	ELSE
		who := r.requested_by;
	END IF;
	BEGIN
		day := (coalesce(r.started_at, r.ended_at, now()) AT TIME ZONE zone)::date;
	EXCEPTION WHEN invalid_parameter_value THEN
		day := coalesce(r.started_at, r.ended_at, now())::date;
	END;
	INSERT INTO yoban.effort_entries (person, work_date, hours, category, run_id, source, note,
		created_by)
	VALUES (who, day, round(hours, 2), category::yoban.effort_category, run, 'run',
		'run ' || run || ' of ' || r.runbook || ' (' || r.state || ')', session_user)
	ON CONFLICT (run_id) WHERE source = 'run' DO NOTHING
	RETURNING id INTO id_;
	RETURN id_;
END
$$;

-- Cap warnings: the entry took its category's month (the calendar month of its work date) or its
-- contract total (the entries in the contract period) across 80 % or 100 % of a cap: before the
-- entry below the threshold, with it at or above. One event per cap crossed, naming the highest
-- threshold crossed; incident hours never warn; a correction that lowers the figure warns of
-- nothing, and a later entry that crosses again warns again.
CREATE FUNCTION yoban.yoban_effort_cap_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	k yoban.contract;
	per_pm numeric;
	scope text;
	cap numeric;
	lo date;
	hi date;
	before_h numeric;
	after_h numeric;
	th integer;
	crossed integer;
	n integer := 0;
BEGIN
	IF NEW.category = 'incident' THEN
		RETURN NULL;
	END IF;
	-- Entries of one category are counted one transaction after another.
	PERFORM yoban.yoban_effort_lock('category:' || NEW.category::text);
	SELECT * INTO k FROM yoban.contract;
	per_pm := k.hours_per_day * k.days_per_month;
	FOREACH scope IN ARRAY ARRAY['month', 'total'] LOOP
		cap := CASE WHEN pg_catalog.jsonb_typeof(k.caps #> ARRAY[NEW.category::text,
				CASE scope WHEN 'month' THEN 'per_month' ELSE 'total' END]) = 'number'
			THEN (k.caps #>> ARRAY[NEW.category::text,
				CASE scope WHEN 'month' THEN 'per_month' ELSE 'total' END])::numeric END;
		CONTINUE WHEN cap IS NULL OR cap <= 0;
		IF scope = 'month' THEN
			lo := pg_catalog.date_trunc('month', NEW.work_date)::date;
			hi := (lo + interval '1 month' - interval '1 day')::date;
		ELSE
			CONTINUE WHEN NEW.work_date < k.period_from OR NEW.work_date > k.period_to;
			lo := k.period_from;
			hi := k.period_to;
		END IF;
		SELECT coalesce(sum(e.hours), 0) INTO before_h FROM yoban.effort_entries e
			WHERE e.category = NEW.category AND e.id <> NEW.id
			  AND (lo IS NULL OR e.work_date >= lo) AND (hi IS NULL OR e.work_date <= hi);
		after_h := before_h + NEW.hours;
		crossed := NULL;
		FOREACH th IN ARRAY ARRAY[100, 80] LOOP
			IF before_h < cap * per_pm * th / 100 AND cap * per_pm * th / 100 <= after_h THEN
				crossed := th;
				EXIT;
			END IF;
		END LOOP;
		CONTINUE WHEN crossed IS NULL;
		INSERT INTO yoban.notify_events (event, detail)
		VALUES ('cap_warning', pg_catalog.jsonb_build_object(
			'category', NEW.category::text, 'cap', scope,
			'month', CASE WHEN scope = 'month' THEN pg_catalog.to_char(lo, 'YYYY-MM') END,
			'period_from', k.period_from, 'period_to', k.period_to,
			'threshold', crossed,
			'hours', after_h, 'hours_before', before_h,
			'person_months', round(after_h / per_pm, 2),
			'cap_person_months', cap, 'cap_hours', round(cap * per_pm, 2),
			'percent', round(after_h / per_pm / cap * 100, 1),
			'hours_per_day', k.hours_per_day, 'days_per_month', k.days_per_month,
			'entry', NEW.id, 'person', NEW.person, 'work_date', NEW.work_date,
			'entry_hours', NEW.hours, 'run', NEW.run_id, 'source', NEW.source));
		n := n + 1;
	END LOOP;
	IF n > 0 THEN
		PERFORM pg_catalog.pg_notify('yoban_notify', 'event');
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER effort_entries_cap_check AFTER INSERT ON yoban.effort_entries
	FOR EACH ROW EXECUTE FUNCTION yoban.yoban_effort_cap_check();

-- ---- ownership and privileges ------------------------------------------------------------------

ALTER FUNCTION yoban.yoban_effort_log(numeric, text, bigint, bigint, text, date, text, bigint)
	OWNER TO yoban_definer;
ALTER FUNCTION yoban.yoban_effort_record_run(bigint, numeric, text, text) OWNER TO yoban_definer;
ALTER FUNCTION yoban.yoban_effort_cap_check() OWNER TO yoban_definer;
ALTER FUNCTION yoban.yoban_effort_lock(text) OWNER TO yoban_definer;

REVOKE ALL ON yoban.contract, yoban.effort_entries FROM PUBLIC;
GRANT SELECT ON yoban.contract, yoban.effort_entries
	TO yoban_operator, yoban_approver, yoban_reviewer, yoban_admin, yoban_daemon, yoban_definer;
-- yoband (the leader) writes the site's contract: on every load.
GRANT UPDATE (period_from, period_to, hours_per_day, days_per_month, caps, team, updated_at)
	ON yoban.contract TO yoban_daemon;
-- Only the definer functions write entries (and their audit rows and cap warnings).
GRANT INSERT ON yoban.effort_entries, yoban.audit, yoban.notify_events TO yoban_definer;
GRANT SELECT ON yoban.runs, yoban.jobs, yoban.incidents TO yoban_definer;

REVOKE ALL ON FUNCTION yoban.yoban_effort_log(numeric, text, bigint, bigint, text, date, text, bigint),
	yoban.yoban_effort_record_run(bigint, numeric, text, text), yoban.yoban_effort_cap_check(),
	yoban.yoban_effort_lock(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION yoban.yoban_effort_log(numeric, text, bigint, bigint, text, date, text, bigint)
	TO yoban_operator, yoban_admin;
GRANT EXECUTE ON FUNCTION yoban.yoban_effort_record_run(bigint, numeric, text, text) TO yoban_daemon;
GRANT EXECUTE ON FUNCTION yoban.yoban_effort_lock(text) TO yoban_definer;
