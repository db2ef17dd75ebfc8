-- 006_notify: failure notices (an outbox, its deliveries and every attempt), incidents with their
-- SLA times, and the leader's heartbeat history that availability is measured from.
--
-- The outbox is written by triggers on the tables yoband already writes, so a notice is born in
-- the same transaction as the event that causes it: a crash can neither lose it nor invent it.
-- When a run reaches failed, timed_out, lost (or skipped because its fire was missed while no
-- scheduler led), or succeeded, the trigger on yoban.runs writes one notify_events row (and, for
-- a production failure, one incidents row) and NOTIFYs yoban_notify. The delivery worker
-- (yoban-notify) turns an event into one notifications row per channel (the runbook revision's
-- notify: block, else the site's notify.default), claims them with FOR UPDATE SKIP LOCKED,
-- delivers, and records every attempt in notify_attempts. The scheduler loop never waits for it.
--
-- Incidents open by themselves and close only by a person: yoban_incident_ack and
-- yoban_incident_resolve are SECURITY DEFINER functions like yoban_trigger, recording
-- session_user. A later success of the same runbook closes nothing.

CREATE TYPE yoban.notify_event AS ENUM ('failure', 'timeout', 'lost', 'missed', 'success',
	'escalation', 'approval_needed', 'approved', 'rejected', 'cap_warning');
CREATE TYPE yoban.delivery_state AS ENUM ('pending', 'delivered', 'failed');

-- One row per incident (障害): opened by the trigger below, closed by a person.
CREATE TABLE yoban.incidents (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	run_id bigint UNIQUE REFERENCES yoban.runs (id),
	runbook text NOT NULL,
	event yoban.notify_event NOT NULL CHECK (event IN ('failure', 'timeout', 'lost', 'missed')),
	summary text NOT NULL,
	detected_at timestamptz NOT NULL DEFAULT now(),
	notified_at timestamptz,     -- the first notice delivered: the report time
	escalated_at timestamptz,    -- not acknowledged within the report time
	acknowledged_at timestamptz, -- work started
	acknowledged_by text,
	ack_comment text,
	recovered_at timestamptz,    -- service back (given by the resolver, default the resolve time)
	resolved_at timestamptz,
	resolved_by text,
	cause text,
	temporary_fix text,
	permanent_fix text,
	CHECK ((resolved_at IS NULL) = (resolved_by IS NULL)),
	CHECK (resolved_at IS NULL OR (cause IS NOT NULL AND temporary_fix IS NOT NULL AND
		permanent_fix IS NOT NULL AND recovered_at IS NOT NULL AND acknowledged_at IS NOT NULL))
);
CREATE INDEX incidents_open ON yoban.incidents (id) WHERE resolved_at IS NULL;
CREATE INDEX incidents_detected ON yoban.incidents (detected_at);

-- The outbox: one row per event worth telling someone about.
CREATE TABLE yoban.notify_events (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	event yoban.notify_event NOT NULL,
	run_id bigint REFERENCES yoban.runs (id),
	incident_id bigint REFERENCES yoban.incidents (id),
	runbook text,
	revision_id bigint REFERENCES yoban.runbook_revisions (id),
	detail jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(detail) = 'object'),
	created_at timestamptz NOT NULL DEFAULT now(),
	planned_at timestamptz,     -- when the worker made its deliveries
	channels text[]             -- the channels it chose, in order (empty: nobody asked)
);
CREATE INDEX notify_events_unplanned ON yoban.notify_events (id) WHERE planned_at IS NULL;
CREATE INDEX notify_events_run ON yoban.notify_events (run_id);

-- One delivery of one event through one channel. A delivery that failed its last attempt hands
-- over to the next channel of the event's list (fallover_of names the failed one).
CREATE TABLE yoban.notifications (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	event_id bigint NOT NULL REFERENCES yoban.notify_events (id),
	channel text NOT NULL,
	channel_index integer NOT NULL CHECK (channel_index >= 0),
	fallover_of bigint REFERENCES yoban.notifications (id),
	hops integer NOT NULL DEFAULT 0 CHECK (hops >= 0), -- fallovers since the first channel
	state yoban.delivery_state NOT NULL DEFAULT 'pending',
	attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	next_attempt_at timestamptz NOT NULL DEFAULT now(),
	created_at timestamptz NOT NULL DEFAULT now(),
	delivered_at timestamptz,
	last_error text,
	UNIQUE (event_id, channel_index, fallover_of)
);
CREATE INDEX notifications_due ON yoban.notifications (next_attempt_at) WHERE state = 'pending';

-- Every attempt, with what the other side answered. An attempt is written when it starts
-- (ok NULL, answer ''), and completed when it ends; one whose worker died stays ok NULL and is
-- marked interrupted when the delivery is taken up again.
CREATE TABLE yoban.notify_attempts (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	notification_id bigint NOT NULL REFERENCES yoban.notifications (id),
	attempt integer NOT NULL CHECK (attempt >= 1),
	channel text NOT NULL,
	started_at timestamptz NOT NULL,
	ended_at timestamptz,
	ok boolean,                 -- NULL: in flight, or interrupted
	answer text NOT NULL,       -- the server's reply or the error, at most 2,000 characters
	worker text NOT NULL DEFAULT session_user,
	UNIQUE (notification_id, attempt)
);

-- The leader's presence over time, from its heartbeats (yoban.heartbeats keeps only the last
-- one). A heartbeat within the grace of a span's end extends it; a later one starts a new span.
CREATE TABLE yoban.leader_spans (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	instance text NOT NULL,
	from_at timestamptz NOT NULL,
	to_at timestamptz NOT NULL,
	CHECK (to_at >= from_at)
);
CREATE INDEX leader_spans_to ON yoban.leader_spans (instance, to_at DESC);
CREATE INDEX leader_spans_range ON yoban.leader_spans (from_at, to_at);

-- What a runbook revision's notify block asks for, as the worker found it when it first planned
-- an event of that revision: lets the trigger below skip the outbox row for a success nobody
-- asked to hear about (most runs succeed). A revision not seen yet gets its event anyway.
CREATE TABLE yoban.revision_notify (
	revision_id bigint PRIMARY KEY REFERENCES yoban.runbook_revisions (id),
	notify_on text[] NOT NULL,
	channels text[] NOT NULL,
	recorded_at timestamptz NOT NULL DEFAULT now()
);

-- ---- triggers --------------------------------------------------------------------------------

-- A run reached an end worth a notice: the event, the incident (production failures), the
-- NOTIFY. Runs as whoever moved the run (yoban_daemon).
CREATE FUNCTION yoban.yoban_run_notify() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	ev yoban.notify_event;
	incident bigint;
	what text;
BEGIN
	IF NEW.mode <> 'production' THEN
		RETURN NULL;
	END IF;
	ev := CASE NEW.state
		WHEN 'failed' THEN 'failure'
		WHEN 'timed_out' THEN 'timeout'
		WHEN 'lost' THEN 'lost'
		WHEN 'succeeded' THEN 'success'
		WHEN 'skipped' THEN CASE WHEN NEW.reason LIKE 'missed%' THEN 'missed' END
	END;
	IF ev IS NULL THEN
		RETURN NULL;
	END IF;
	IF ev = 'success' AND EXISTS (SELECT 1 FROM yoban.revision_notify n
			WHERE n.revision_id = NEW.revision_id AND NOT 'success' = ANY (n.notify_on)) THEN
		RETURN NULL; -- the runbook does not ask to hear of successes
	END IF;
	IF ev IN ('failure', 'timeout', 'lost', 'missed') THEN
		what := CASE ev WHEN 'failure' THEN 'failed' WHEN 'timeout' THEN 'timed out'
			WHEN 'lost' THEN 'was lost' ELSE 'missed its fire' END;
		INSERT INTO yoban.incidents (run_id, runbook, event, summary)
			VALUES (NEW.id, NEW.runbook, ev, 'run ' || NEW.id || ' of ' || NEW.runbook || ' ' ||
				what || coalesce(': ' || NEW.reason, ''))
			ON CONFLICT (run_id) DO NOTHING
			RETURNING id INTO incident;
	END IF;
	INSERT INTO yoban.notify_events (event, run_id, incident_id, runbook, revision_id, detail)
		VALUES (ev, NEW.id, incident, NEW.runbook, NEW.revision_id,
			pg_catalog.jsonb_build_object('state', NEW.state::text, 'reason', NEW.reason,
				'trigger', NEW.trigger::text, 'scheduled_for', NEW.scheduled_for,
				'started_at', NEW.started_at, 'ended_at', NEW.ended_at));
	-- One payload for all: PostgreSQL folds the same notification within a transaction, so a
	-- batch of a thousand transitions wakes the worker once.
	PERFORM pg_catalog.pg_notify('yoban_notify', 'event');
	RETURN NULL;
END
$$;
CREATE TRIGGER runs_notify AFTER UPDATE OF state ON yoban.runs FOR EACH ROW
	WHEN (OLD.state IS DISTINCT FROM NEW.state AND
	      NEW.state IN ('succeeded', 'failed', 'timed_out', 'lost', 'skipped'))
	EXECUTE FUNCTION yoban.yoban_run_notify();

-- A leader's heartbeat extends its span (or starts one after a gap of more than 30 s: three
-- heartbeats of yoband's 10 s missed, or another instance took over).
CREATE FUNCTION yoban.yoban_heartbeat_span() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	UPDATE yoban.leader_spans SET to_at = NEW.at
		WHERE id = (SELECT s.id FROM yoban.leader_spans s WHERE s.instance = NEW.instance
			    AND s.to_at >= NEW.at - interval '30 seconds' AND s.to_at <= NEW.at
			    ORDER BY s.to_at DESC LIMIT 1);
	IF NOT FOUND THEN
		INSERT INTO yoban.leader_spans (instance, from_at, to_at)
			VALUES (NEW.instance, NEW.at, NEW.at);
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER heartbeats_span AFTER INSERT OR UPDATE ON yoban.heartbeats FOR EACH ROW
	WHEN (NEW.leader) EXECUTE FUNCTION yoban.yoban_heartbeat_span();

-- ---- for the delivery worker (SECURITY INVOKER, EXECUTE to yoban_daemon) ----------------------

-- Incidents not acknowledged within the report time, not yet escalated: marked, and one
-- escalation event each in the outbox. Returns how many.
CREATE FUNCTION yoban.yoban_notify_escalate(report interval) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	n integer;
BEGIN
	WITH due AS (
		UPDATE yoban.incidents i SET escalated_at = now()
		WHERE i.resolved_at IS NULL AND i.acknowledged_at IS NULL AND i.escalated_at IS NULL
		  AND i.detected_at + report <= now()
		RETURNING i.id, i.run_id, i.runbook, i.detected_at, i.summary
	), ev AS (
		INSERT INTO yoban.notify_events (event, run_id, incident_id, runbook, revision_id, detail)
		SELECT 'escalation', due.run_id, due.id, due.runbook, r.revision_id,
			pg_catalog.jsonb_build_object('summary', due.summary,
				'detected_at', due.detected_at, 'report', report::text)
		FROM due LEFT JOIN yoban.runs r ON r.id = due.run_id
		RETURNING 1
	)
	SELECT count(*) INTO n FROM ev;
	IF n > 0 THEN
		PERFORM pg_catalog.pg_notify('yoban_notify', 'event');
	END IF;
	RETURN n;
END
$$;

-- ---- for people (SECURITY DEFINER, like yoban_trigger) ---------------------------------------

-- Work started on an incident. Once: a second ack is refused with who acknowledged it.
CREATE FUNCTION yoban.yoban_incident_ack(incident bigint, comment text DEFAULT NULL)
RETURNS timestamptz
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	row_ yoban.incidents%ROWTYPE;
BEGIN
	PERFORM yoban.yoban_require_role('yoban_operator', 'yoban_admin');
	SELECT * INTO row_ FROM yoban.incidents WHERE id = incident FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no incident %', incident USING ERRCODE = 'no_data_found';
	END IF;
	IF row_.acknowledged_at IS NOT NULL THEN
		RAISE EXCEPTION 'incident % was already acknowledged at % by %', incident,
			row_.acknowledged_at, row_.acknowledged_by USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF comment IS NOT NULL AND length(comment) > 4000 THEN
		RAISE EXCEPTION 'the comment is longer than 4000 characters'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	UPDATE yoban.incidents SET acknowledged_at = now(), acknowledged_by = session_user,
		ack_comment = comment WHERE id = incident;
	INSERT INTO yoban.audit (actor, action, run_id, detail)
		VALUES (session_user, 'incident:ack', row_.run_id,
			pg_catalog.jsonb_build_object('incident', incident, 'comment', comment));
	RETURN now();
END
$$;

-- Closes an incident with its record (cause, temporary and permanent fix, recovery time).
CREATE FUNCTION yoban.yoban_incident_resolve(incident bigint, cause text, temporary_fix text,
	permanent_fix text, recovered_at timestamptz DEFAULT NULL) RETURNS timestamptz
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
	row_ yoban.incidents%ROWTYPE;
	field text;
	val text;
BEGIN
	PERFORM yoban.yoban_require_role('yoban_operator', 'yoban_admin');
	SELECT * INTO row_ FROM yoban.incidents i WHERE i.id = incident FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no incident %', incident USING ERRCODE = 'no_data_found';
	END IF;
	IF row_.resolved_at IS NOT NULL THEN
		RAISE EXCEPTION 'incident % was already resolved at % by %', incident,
			row_.resolved_at, row_.resolved_by USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOREACH field IN ARRAY ARRAY['cause', 'temporary_fix', 'permanent_fix'] LOOP
		val := CASE field WHEN 'cause' THEN cause WHEN 'temporary_fix' THEN temporary_fix
			ELSE permanent_fix END;
		IF val IS NULL OR btrim(val) = '' THEN
			RAISE EXCEPTION 'the incident record needs its %: say it in a sentence', field
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF length(val) > 4000 THEN
			RAISE EXCEPTION 'the % is longer than 4000 characters', field
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
	END LOOP;
	recovered_at := coalesce(recovered_at, now());
	IF recovered_at < row_.detected_at OR recovered_at > now() THEN
		RAISE EXCEPTION 'the recovery time % is not between the detection (%) and now',
			recovered_at, row_.detected_at USING ERRCODE = 'invalid_parameter_value';
	END IF;
	UPDATE yoban.incidents i SET resolved_at = now(), resolved_by = session_user,
		recovered_at = yoban_incident_resolve.recovered_at,
		acknowledged_at = coalesce(i.acknowledged_at, now()),
		acknowledged_by = coalesce(i.acknowledged_by, session_user),
		cause = yoban_incident_resolve.cause, temporary_fix = yoban_incident_resolve.temporary_fix,
		permanent_fix = yoban_incident_resolve.permanent_fix
	WHERE i.id = incident;
	INSERT INTO yoban.audit (actor, action, run_id, detail)
		VALUES (session_user, 'incident:resolve', row_.run_id,
			pg_catalog.jsonb_build_object('incident', incident, 'cause', cause,
				'temporary_fix', temporary_fix, 'permanent_fix', permanent_fix,
				'recovered_at', recovered_at));
	RETURN now();
END
$$;

-- Scheduler availability over [from_at, to_at) (cut at now): the time some instance led, against
-- the time there was, maintenance windows (given by the caller from the site config) left out of
-- both. Returns the minutes and the percentage.
CREATE FUNCTION yoban.yoban_availability(from_at timestamptz, to_at timestamptz,
	maintenance tstzrange[] DEFAULT '{}', OUT total_minutes double precision,
	OUT down_minutes double precision, OUT percent double precision)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	WITH period AS (
		SELECT pg_catalog.tstzmultirange(pg_catalog.tstzrange(from_at, least(to_at, now())))
			- coalesce((SELECT pg_catalog.range_agg(m) FROM pg_catalog.unnest(maintenance) m),
				   '{}'::tstzmultirange) AS counted
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

-- ---- privileges --------------------------------------------------------------------------------

REVOKE ALL ON yoban.incidents, yoban.notify_events, yoban.notifications, yoban.notify_attempts,
	yoban.leader_spans, yoban.revision_notify FROM PUBLIC;
GRANT SELECT ON yoban.incidents, yoban.notify_events, yoban.notifications, yoban.notify_attempts,
	yoban.leader_spans, yoban.revision_notify
	TO yoban_operator, yoban_approver, yoban_reviewer, yoban_admin, yoban_daemon;
GRANT INSERT ON yoban.revision_notify TO yoban_daemon;
-- The daemon's transitions fire the triggers; the worker plans, delivers and escalates.
GRANT INSERT ON yoban.incidents, yoban.notify_events, yoban.notifications, yoban.notify_attempts,
	yoban.leader_spans TO yoban_daemon;
GRANT UPDATE (planned_at, channels) ON yoban.notify_events TO yoban_daemon;
GRANT UPDATE (state, attempts, next_attempt_at, delivered_at, last_error)
	ON yoban.notifications TO yoban_daemon;
GRANT UPDATE (ended_at, ok, answer) ON yoban.notify_attempts TO yoban_daemon;
GRANT UPDATE (notified_at, escalated_at) ON yoban.incidents TO yoban_daemon;
GRANT UPDATE (to_at) ON yoban.leader_spans TO yoban_daemon;
-- The definer functions close incidents and write audit rows, nothing more.
GRANT SELECT, UPDATE ON yoban.incidents TO yoban_definer;

ALTER FUNCTION yoban.yoban_incident_ack(bigint, text) OWNER TO yoban_definer;
ALTER FUNCTION yoban.yoban_incident_resolve(bigint, text, text, text, timestamptz)
	OWNER TO yoban_definer;
REVOKE ALL ON FUNCTION yoban.yoban_run_notify(), yoban.yoban_heartbeat_span(),
	yoban.yoban_notify_escalate(interval), yoban.yoban_incident_ack(bigint, text),
	yoban.yoban_incident_resolve(bigint, text, text, text, timestamptz),
	yoban.yoban_availability(timestamptz, timestamptz, tstzrange[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION yoban.yoban_run_notify(), yoban.yoban_heartbeat_span(),
	yoban.yoban_notify_escalate(interval) TO yoban_daemon;
GRANT EXECUTE ON FUNCTION yoban.yoban_incident_ack(bigint, text),
	yoban.yoban_incident_resolve(bigint, text, text, text, timestamptz)
	TO yoban_operator, yoban_admin;
GRANT EXECUTE ON FUNCTION yoban.yoban_availability(timestamptz, timestamptz, tstzrange[])
	TO yoban_operator, yoban_approver, yoban_reviewer, yoban_admin, yoban_daemon;
