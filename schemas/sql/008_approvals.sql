-- 008_approvals: requests that wait for approval, approvals with separation of duties, revision
-- approvals for scheduled runbooks, procedure digests, the staging gate and rehearsals, and the
-- record of every gate decision.
--
-- The rules live here, in SECURITY DEFINER functions owned by yoban_definer, so they hold for
-- psql exactly as for the CLI:
--   yoban_request          a run in state awaiting_approval, pinned to the runbook's current
--                          revision and to the SHA-256 of its procedure document;
--   yoban_approve          an approver (yoban_approver) who is not the requester (session_user);
--                          one person counts once; when `approvers` distinct approvals are in, the
--                          run may start no earlier than --at and no earlier than lead_time (or,
--                          for --emergency, the site's emergency lead time) after the last one;
--   yoban_reject           ends the request (with a comment);
--   yoban_approve_revision a scheduled runbook's revision is approved once, for all its fires.
-- An approval is void when the runbook revision or the procedure document changed before the
-- start: yoban_approve and the daemon's yoban_approvals_due say which of the two changed.
--
-- What "current" means: yoband (the leader) writes yoban.runbook_gates from the runbooks it loaded
-- (yoban_record_gates): each runbook's revision, its approval and staging settings and its
-- procedure digest. Requests and approvals are checked against that row.
--
-- The staging gate: a runbook with staging: {required: true} runs in production (trigger, fire or
-- approved request) only after the same revision succeeded in staging, in a staging run of its own
-- or in a rehearsal (yoban.rehearsals records which revision a rehearsal ran).
--
-- The new run state is added by ALTER TYPE, which cannot be used in the transaction that adds it:
-- nothing below uses it except plpgsql bodies, which are only planned when called.

ALTER TYPE yoban.run_state ADD VALUE IF NOT EXISTS 'awaiting_approval';

-- waiting: for approvals; approved: all in, waiting for its start time (or the staging gate);
-- started: the run went to pending; rejected, void (revision or procedure changed): ended.
CREATE TYPE yoban.approval_state AS ENUM ('waiting', 'approved', 'started', 'rejected', 'void');

-- The gate of each runbook yoband schedules now (one row per runbook, replaced on every load).
CREATE TABLE yoban.runbook_gates (
	runbook text PRIMARY KEY CHECK (runbook ~ '^[a-z0-9][a-z0-9-]{0,127}$'),
	revision_id bigint NOT NULL REFERENCES yoban.runbook_revisions (id),
	kind text NOT NULL,
	approvers integer NOT NULL DEFAULT 0 CHECK (approvers BETWEEN 0 AND 10), -- 0: no approval
	lead_time interval NOT NULL DEFAULT '0',
	emergency_lead_time interval NOT NULL DEFAULT '0',
	procedure text,
	procedure_sha256 text CHECK (procedure_sha256 ~ '^[0-9a-f]{64}$'),
	staging_required boolean NOT NULL DEFAULT false,
	rehearses text,            -- kind rehearsal: the rehearsed runbook
	recorded_at timestamptz NOT NULL DEFAULT now()
);

-- Every procedure document digest seen, with the revision that named it (evidence).
CREATE TABLE yoban.procedure_digests (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	runbook text NOT NULL,
	revision_id bigint NOT NULL REFERENCES yoban.runbook_revisions (id),
	procedure text NOT NULL,
	sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
	recorded_at timestamptz NOT NULL DEFAULT now(),
	recorded_by text NOT NULL DEFAULT session_user,
	UNIQUE (runbook, revision_id, procedure, sha256)
);

-- One row per `yoban request`: the run it made (state awaiting_approval until it starts) and what
-- it is pinned to.
CREATE TABLE yoban.approval_requests (
	run_id bigint PRIMARY KEY REFERENCES yoban.runs (id),
	runbook text NOT NULL,
	revision_id bigint NOT NULL REFERENCES yoban.runbook_revisions (id),
	revision_sha256 text NOT NULL,
	procedure text,
	procedure_sha256 text,
	approvers integer NOT NULL CHECK (approvers >= 1),
	lead_time interval NOT NULL,           -- the one that applies (emergency: the site's)
	emergency boolean NOT NULL DEFAULT false,
	not_before timestamptz,                -- --at
	reason text,
	requested_by text NOT NULL DEFAULT session_user,
	requested_at timestamptz NOT NULL DEFAULT now(),
	state yoban.approval_state NOT NULL DEFAULT 'waiting',
	approved_at timestamptz,               -- the last approval needed came in
	start_after timestamptz,               -- greatest(not_before, approved_at + lead_time)
	decided_at timestamptz,                -- started, rejected or void
	decision text                          -- why it ended as it did
);
CREATE INDEX approval_requests_open ON yoban.approval_requests (run_id)
	WHERE state IN ('waiting', 'approved');

-- Approvals: one row per person and request (one person counts once). Append-only.
CREATE TABLE yoban.approvals (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	run_id bigint NOT NULL REFERENCES yoban.approval_requests (run_id),
	approver text NOT NULL DEFAULT session_user,
	comment text,
	revision_id bigint NOT NULL,
	procedure_sha256 text,
	at timestamptz NOT NULL DEFAULT now(),
	UNIQUE (run_id, approver)
);

-- Revision approvals (scheduled runbooks with approval:), one per person, revision and procedure
-- digest. Append-only.
CREATE TABLE yoban.revision_approvals (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	runbook text NOT NULL,
	revision_id bigint NOT NULL REFERENCES yoban.runbook_revisions (id),
	procedure_sha256 text,
	approver text NOT NULL DEFAULT session_user,
	comment text,
	at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX revision_approvals_once ON yoban.revision_approvals
	(revision_id, coalesce(procedure_sha256, ''), approver);

-- Which revision of which runbook a rehearsal run ran (its success counts for the staging gate).
CREATE TABLE yoban.rehearsals (
	run_id bigint PRIMARY KEY REFERENCES yoban.runs (id),
	runbook text NOT NULL,
	revision_id bigint NOT NULL REFERENCES yoban.runbook_revisions (id)
);

-- Every decision of a gate (approval, revision approval, staging), passed or not. Append-only.
CREATE TABLE yoban.gate_decisions (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at timestamptz NOT NULL DEFAULT now(),
	decided_by text NOT NULL DEFAULT session_user,
	run_id bigint REFERENCES yoban.runs (id),
	runbook text NOT NULL,
	revision_id bigint,
	mode yoban.run_mode,
	gate text NOT NULL CHECK (gate IN ('trigger', 'approval', 'revision-approval', 'staging')),
	passed boolean NOT NULL,
	reason text NOT NULL
);
CREATE INDEX gate_decisions_run ON yoban.gate_decisions (run_id, id);

CREATE TRIGGER approvals_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON yoban.approvals
	FOR EACH STATEMENT EXECUTE FUNCTION yoban.yoban_append_only();
CREATE TRIGGER revision_approvals_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
	ON yoban.revision_approvals FOR EACH STATEMENT EXECUTE FUNCTION yoban.yoban_append_only();
CREATE TRIGGER gate_decisions_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
	ON yoban.gate_decisions FOR EACH STATEMENT EXECUTE FUNCTION yoban.yoban_append_only();
CREATE TRIGGER procedure_digests_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
	ON yoban.procedure_digests FOR EACH STATEMENT EXECUTE FUNCTION yoban.yoban_append_only();

-- ---- checks shared by the functions ---------------------------------------------------------

-- When did this revision last succeed in staging (its own staging run or a rehearsal)? NULL: never.
CREATE FUNCTION yoban.yoban_staging_passed(runbook text, revision_id bigint) RETURNS timestamptz
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
	last_at timestamptz;
BEGIN
	SELECT max(t) INTO last_at FROM (
		SELECT r.ended_at AS t FROM yoban.runs r
			WHERE r.runbook = yoban_staging_passed.runbook
			  AND r.revision_id = yoban_staging_passed.revision_id
			  AND r.mode = 'staging' AND r.state = 'succeeded'
		UNION ALL
		SELECT r.ended_at FROM yoban.rehearsals h JOIN yoban.runs r ON r.id = h.run_id
			WHERE h.runbook = yoban_staging_passed.runbook
			  AND h.revision_id = yoban_staging_passed.revision_id AND r.state = 'succeeded'
			  -- it ran the rehearsed steps (a rehearsal's own revision has none)
			  AND EXISTS (SELECT 1 FROM yoban.jobs j WHERE j.run_id = r.id
				      AND j.state = 'succeeded')
	) s;
	RETURN last_at;
END
$$;

-- The staging gate for a production run of this revision: NULL when it may run, else why not.
CREATE FUNCTION yoban.yoban_staging_refusal(runbook text, revision_id bigint) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
	g yoban.runbook_gates;
	sha text;
BEGIN
	SELECT * INTO g FROM yoban.runbook_gates WHERE runbook_gates.runbook = yoban_staging_refusal.runbook;
	IF NOT FOUND OR NOT g.staging_required THEN
		RETURN NULL;
	END IF;
	IF yoban.yoban_staging_passed(runbook, revision_id) IS NOT NULL THEN
		RETURN NULL;
	END IF;
	SELECT v.sha256 INTO sha FROM yoban.runbook_revisions v WHERE v.id = revision_id;
	RETURN pg_catalog.format('staging required: revision %s of runbook "%s" (sha256 %s) has not '
		'succeeded in staging; run it there first: yoban trigger --staging %s',
		revision_id, runbook, pg_catalog.left(coalesce(sha, '?'), 12), runbook);
END
$$;

-- Distinct approvals of this revision with this procedure digest.
CREATE FUNCTION yoban.yoban_revision_approvals(revision_id bigint, procedure_sha256 text)
RETURNS integer
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT count(DISTINCT a.approver)::integer FROM yoban.revision_approvals a
	WHERE a.revision_id = $1 AND a.procedure_sha256 IS NOT DISTINCT FROM $2;
$$;

-- Refuses a request that must not be written: a trigger or rerun of a runbook that needs approval
-- (use yoban request), a production trigger of a runbook whose staging has not passed.
CREATE FUNCTION yoban.yoban_requests_gate() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	name text;
	mode text;
	g yoban.runbook_gates;
	why text;
BEGIN
	IF NEW.kind = 'trigger' THEN
		name := NEW.args->>'runbook';
		mode := coalesce(NEW.args->>'mode', 'production');
	ELSIF NEW.kind = 'rerun' AND NEW.args->>'run' ~ '^[0-9]{1,18}$' THEN
		SELECT r.runbook, r.mode::text INTO name, mode FROM yoban.runs r
			WHERE r.id = (NEW.args->>'run')::bigint;
	ELSE
		RETURN NEW;
	END IF;
	SELECT * INTO g FROM yoban.runbook_gates WHERE runbook = name;
	IF NOT FOUND THEN
		RETURN NEW;
	END IF;
	IF g.approvers > 0 AND mode = 'production' THEN
		RAISE EXCEPTION 'runbook "%" needs approval (% %): ask for it with: yoban request %', name,
			g.approvers, CASE WHEN g.approvers = 1 THEN 'approver' ELSE 'approvers' END, name;
	END IF;
	IF mode = 'production' THEN
		why := yoban.yoban_staging_refusal(name, g.revision_id);
		IF why IS NOT NULL THEN
			RAISE EXCEPTION '%', why;
		END IF;
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER requests_gate BEFORE INSERT ON yoban.requests
	FOR EACH ROW EXECUTE FUNCTION yoban.yoban_requests_gate();

-- ---- people: request, approve, reject, approve a revision -----------------------------------

CREATE FUNCTION yoban.yoban_request(runbook text, params jsonb, at timestamptz, reason text,
	staging boolean DEFAULT false, emergency boolean DEFAULT false) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
	g yoban.runbook_gates;
	rev_sha text;
	null_name text;
	lead interval;
	run bigint;
	mode yoban.run_mode := CASE WHEN staging THEN 'staging' ELSE 'production' END;
BEGIN
	PERFORM yoban.yoban_require_role('yoban_operator', 'yoban_admin');
	IF runbook IS NULL OR runbook !~ '^[a-z0-9][a-z0-9-]{0,127}$' THEN
		RAISE EXCEPTION 'bad runbook name "%" (lowercase letters, digits and dashes)', runbook
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF params IS NULL THEN
		params := '{}';
	ELSIF pg_catalog.jsonb_typeof(params) <> 'object' THEN
		RAISE EXCEPTION 'params must be a JSON object, not %', pg_catalog.jsonb_typeof(params)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT e.key INTO null_name FROM pg_catalog.jsonb_each(params) AS e
		WHERE pg_catalog.jsonb_typeof(e.value) = 'null' ORDER BY e.key LIMIT 1;
	IF null_name IS NOT NULL THEN
		RAISE EXCEPTION 'parameter "%" is null: give it a value (a string), or leave it out to take the runbook''s default', null_name
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT * INTO g FROM yoban.runbook_gates WHERE runbook_gates.runbook = runbook;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'runbook "%" is not loaded by yoband (is it in the runbooks folder? see yoban validate, then yoban reload)', runbook
			USING ERRCODE = 'no_data_found';
	END IF;
	IF g.approvers = 0 THEN
		RAISE EXCEPTION 'runbook "%" needs no approval: run it with yoban trigger %', runbook, runbook
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF at IS NOT NULL AND at < now() - interval '1 minute' THEN
		RAISE EXCEPTION '--at % is in the past', at USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT v.sha256 INTO rev_sha FROM yoban.runbook_revisions v WHERE v.id = g.revision_id;
	lead := CASE WHEN emergency THEN LEAST(g.lead_time, g.emergency_lead_time) ELSE g.lead_time END;
	-- runs.reason is why a run ended as it did (or, here, what it waits for): the request's
	-- reason is kept with the request and in the history.
	INSERT INTO yoban.runs (runbook, revision_id, trigger, mode, scheduled_for, state, requested_by,
		params)
	VALUES (runbook, g.revision_id, 'manual', mode, at, 'awaiting_approval', session_user, params)
	RETURNING id INTO run;
	INSERT INTO yoban.run_transitions (run_id, from_state, to_state, reason)
		VALUES (run, NULL, 'awaiting_approval', 'requested by ' || session_user ||
			coalesce(': ' || reason, ''));
	INSERT INTO yoban.approval_requests (run_id, runbook, revision_id, revision_sha256, procedure,
		procedure_sha256, approvers, lead_time, emergency, not_before, reason, requested_by)
	VALUES (run, runbook, g.revision_id, rev_sha, g.procedure, g.procedure_sha256, g.approvers, lead,
		coalesce(emergency, false), at, reason, session_user);
	INSERT INTO yoban.audit (actor, action, run_id, detail)
		VALUES (session_user, 'approval:request', run, pg_catalog.jsonb_build_object(
			'runbook', runbook, 'revision_id', g.revision_id, 'revision_sha256', rev_sha,
			'procedure', g.procedure, 'procedure_sha256', g.procedure_sha256,
			'approvers', g.approvers, 'lead_time', lead::text, 'emergency', coalesce(emergency, false),
			'at', at, 'mode', mode, 'params', params, 'reason', reason));
	RETURN run;
END
$$;

-- Voids a request whose runbook revision or procedure document changed (which one: why).
CREATE FUNCTION yoban.yoban_approval_void(run bigint, why text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	q yoban.approval_requests;
BEGIN
	UPDATE yoban.approval_requests SET state = 'void', decided_at = now(), decision = why
		WHERE run_id = run AND state IN ('waiting', 'approved') RETURNING * INTO q;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	UPDATE yoban.runs SET state = 'skipped', ended_at = now(), reason = why
		WHERE id = run AND state = 'awaiting_approval';
	INSERT INTO yoban.run_transitions (run_id, from_state, to_state, reason)
		VALUES (run, 'awaiting_approval', 'skipped', why);
	INSERT INTO yoban.gate_decisions (run_id, runbook, revision_id, mode, gate, passed, reason)
		SELECT run, q.runbook, q.revision_id, r.mode, 'approval', false, why
		FROM yoban.runs r WHERE r.id = run;
	INSERT INTO yoban.audit (actor, action, run_id, detail)
		VALUES (session_user, 'approval:void', run, pg_catalog.jsonb_build_object('reason', why,
			'revision_id', q.revision_id, 'procedure_sha256', q.procedure_sha256));
END
$$;

-- Has the runbook or its procedure changed since the request? NULL: no; else which, in words.
CREATE FUNCTION yoban.yoban_approval_changed(q yoban.approval_requests) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	g yoban.runbook_gates;
	now_sha text;
BEGIN
	SELECT * INTO g FROM yoban.runbook_gates WHERE runbook = q.runbook;
	IF NOT FOUND THEN
		RETURN pg_catalog.format('approval void: runbook "%s" is no longer loaded by yoband', q.runbook);
	END IF;
	IF g.revision_id <> q.revision_id THEN
		SELECT v.sha256 INTO now_sha FROM yoban.runbook_revisions v WHERE v.id = g.revision_id;
		RETURN pg_catalog.format('approval void: the runbook revision changed (runbook "%s": '
			'revision %s, sha256 %s, was approved; revision %s, sha256 %s, is loaded now): '
			'request it again', q.runbook, q.revision_id, pg_catalog.left(q.revision_sha256, 12),
			g.revision_id, pg_catalog.left(coalesce(now_sha, '?'), 12));
	END IF;
	IF g.procedure_sha256 IS DISTINCT FROM q.procedure_sha256 THEN
		RETURN pg_catalog.format('approval void: the procedure document changed (%s: sha256 %s '
			'was approved, %s now): request it again', coalesce(q.procedure, g.procedure, '?'),
			pg_catalog.left(coalesce(q.procedure_sha256, 'none'), 12),
			pg_catalog.left(coalesce(g.procedure_sha256, 'none'), 12));
	END IF;
	RETURN NULL;
END
$$;

CREATE FUNCTION yoban.yoban_approve(run bigint, comment text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
	q yoban.approval_requests;
	changed text;
	prior timestamptz;
	n integer;
BEGIN
	PERFORM yoban.yoban_require_role('yoban_approver');
	SELECT * INTO q FROM yoban.approval_requests WHERE run_id = run FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'run % is not a request for approval (see yoban pending)', run
			USING ERRCODE = 'no_data_found';
	END IF;
	IF q.state NOT IN ('waiting', 'approved') THEN
		RAISE EXCEPTION 'run % is not waiting for approval: it is %', run,
			q.state::text || coalesce(' (' || q.decision || ')', '')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF session_user = q.requested_by THEN
		RAISE EXCEPTION 'you (%) requested run %: it must be approved by someone else', session_user, run;
	END IF;
	SELECT a.at INTO prior FROM yoban.approvals a WHERE a.run_id = run AND a.approver = session_user;
	IF FOUND THEN
		RAISE EXCEPTION 'you (%) approved run % already (at %): one person counts once', session_user,
			run, prior USING ERRCODE = 'unique_violation';
	END IF;
	changed := yoban.yoban_approval_changed(q);
	IF changed IS NOT NULL THEN
		PERFORM yoban.yoban_approval_void(run, changed);
		RETURN pg_catalog.jsonb_build_object('run', run, 'state', 'void', 'error', changed);
	END IF;
	INSERT INTO yoban.approvals (run_id, approver, comment, revision_id, procedure_sha256)
		VALUES (run, session_user, comment, q.revision_id, q.procedure_sha256);
	SELECT count(DISTINCT a.approver) INTO n FROM yoban.approvals a WHERE a.run_id = run;
	IF n >= q.approvers AND q.state = 'waiting' THEN
		UPDATE yoban.approval_requests SET state = 'approved', approved_at = now(),
			start_after = GREATEST(coalesce(q.not_before, now()), now() + q.lead_time)
			WHERE run_id = run RETURNING * INTO q;
	END IF;
	INSERT INTO yoban.audit (actor, action, run_id, detail)
		VALUES (session_user, 'approval:approve', run, pg_catalog.jsonb_build_object(
			'comment', comment, 'approvals', n, 'needed', q.approvers,
			'revision_id', q.revision_id, 'procedure_sha256', q.procedure_sha256,
			'start_after', q.start_after, 'emergency', q.emergency));
	PERFORM pg_catalog.pg_notify('yoban_requests', 'approval ' || run);
	RETURN pg_catalog.jsonb_build_object('run', run, 'state', q.state::text, 'approvals', n,
		'needed', q.approvers, 'start_after', q.start_after);
END
$$;

CREATE FUNCTION yoban.yoban_reject(run bigint, comment text) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
	q yoban.approval_requests;
	why text;
BEGIN
	PERFORM yoban.yoban_require_role('yoban_approver');
	IF comment IS NULL OR pg_catalog.btrim(comment) = '' THEN
		RAISE EXCEPTION 'a rejection needs a comment (why)' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT * INTO q FROM yoban.approval_requests WHERE run_id = run FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'run % is not a request for approval (see yoban pending)', run
			USING ERRCODE = 'no_data_found';
	END IF;
	IF q.state NOT IN ('waiting', 'approved') THEN
		RAISE EXCEPTION 'run % is not waiting for approval: it is %', run, q.state
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	why := 'rejected by ' || session_user || ': ' || comment;
	UPDATE yoban.approval_requests SET state = 'rejected', decided_at = now(), decision = why
		WHERE run_id = run;
	UPDATE yoban.runs SET state = 'cancelled', ended_at = now(), reason = why
		WHERE id = run AND state = 'awaiting_approval';
	INSERT INTO yoban.run_transitions (run_id, from_state, to_state, reason)
		VALUES (run, 'awaiting_approval', 'cancelled', why);
	INSERT INTO yoban.audit (actor, action, run_id, detail)
		VALUES (session_user, 'approval:reject', run, pg_catalog.jsonb_build_object('comment', comment));
	RETURN pg_catalog.jsonb_build_object('run', run, 'state', 'rejected');
END
$$;

CREATE FUNCTION yoban.yoban_approve_revision(runbook text, comment text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
	g yoban.runbook_gates;
	sha text;
	n integer;
BEGIN
	PERFORM yoban.yoban_require_role('yoban_approver');
	SELECT * INTO g FROM yoban.runbook_gates WHERE runbook_gates.runbook = runbook;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'runbook "%" is not loaded by yoband', runbook USING ERRCODE = 'no_data_found';
	END IF;
	IF g.approvers = 0 THEN
		RAISE EXCEPTION 'runbook "%" needs no approval', runbook USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT v.sha256 INTO sha FROM yoban.runbook_revisions v WHERE v.id = g.revision_id;
	IF EXISTS (SELECT 1 FROM yoban.revision_approvals a WHERE a.revision_id = g.revision_id
		   AND a.procedure_sha256 IS NOT DISTINCT FROM g.procedure_sha256
		   AND a.approver = session_user) THEN
		RAISE EXCEPTION 'you (%) approved revision % of runbook "%" already: one person counts once',
			session_user, g.revision_id, runbook USING ERRCODE = 'unique_violation';
	END IF;
	INSERT INTO yoban.revision_approvals (runbook, revision_id, procedure_sha256, approver, comment)
		VALUES (runbook, g.revision_id, g.procedure_sha256, session_user, comment);
	n := yoban.yoban_revision_approvals(g.revision_id, g.procedure_sha256);
	INSERT INTO yoban.audit (actor, action, detail)
		VALUES (session_user, 'approval:revision', pg_catalog.jsonb_build_object('runbook', runbook,
			'revision_id', g.revision_id, 'revision_sha256', sha,
			'procedure_sha256', g.procedure_sha256, 'comment', comment, 'approvals', n,
			'needed', g.approvers));
	RETURN pg_catalog.jsonb_build_object('runbook', runbook, 'revision_id', g.revision_id,
		'sha256', sha, 'approvals', n, 'needed', g.approvers, 'approved', n >= g.approvers);
END
$$;

-- ---- the daemon ------------------------------------------------------------------------------

-- Replaces the gates with those of the runbooks loaded now (parallel arrays, one per runbook);
-- records each procedure digest. Runbooks no longer loaded lose their gate.
CREATE FUNCTION yoban.yoban_record_gates(runbooks text[], revisions bigint[], kinds text[],
	approvers integer[], lead_ms bigint[], procedures text[], procedure_sha text[],
	staging boolean[], rehearses text[], emergency_lead_ms bigint) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	n integer;
BEGIN
	DELETE FROM yoban.runbook_gates WHERE runbook <> ALL (runbooks);
	INSERT INTO yoban.runbook_gates AS g (runbook, revision_id, kind, approvers, lead_time,
		emergency_lead_time, procedure, procedure_sha256, staging_required, rehearses)
	SELECT t.runbook, t.rev, t.kind, t.approvers, t.lead * interval '1 millisecond',
		emergency_lead_ms * interval '1 millisecond', t.proc, nullif(t.sha, ''), t.staging,
		t.rehearses
	FROM unnest(runbooks, revisions, kinds, approvers, lead_ms, procedures, procedure_sha, staging,
		    rehearses) AS t(runbook, rev, kind, approvers, lead, proc, sha, staging, rehearses)
	ON CONFLICT (runbook) DO UPDATE SET revision_id = excluded.revision_id, kind = excluded.kind,
		approvers = excluded.approvers, lead_time = excluded.lead_time,
		emergency_lead_time = excluded.emergency_lead_time, procedure = excluded.procedure,
		procedure_sha256 = excluded.procedure_sha256,
		staging_required = excluded.staging_required, rehearses = excluded.rehearses,
		recorded_at = CASE WHEN (g.revision_id, g.procedure_sha256) IS NOT DISTINCT FROM
			(excluded.revision_id, excluded.procedure_sha256) THEN g.recorded_at ELSE now() END;
	GET DIAGNOSTICS n = ROW_COUNT;
	INSERT INTO yoban.procedure_digests (runbook, revision_id, procedure, sha256)
	SELECT g.runbook, g.revision_id, g.procedure, g.procedure_sha256 FROM yoban.runbook_gates g
		WHERE g.procedure IS NOT NULL AND g.procedure_sha256 IS NOT NULL
	ON CONFLICT DO NOTHING;
	RETURN n;
END
$$;

-- A run the daemon made (trigger, rerun, fire): may it run? NULL: yes; else why not (the daemon
-- ends it as skipped with that reason). Every decision of a gate that applies is recorded. A
-- rehearsal's run records which revision of which runbook it rehearses.
CREATE FUNCTION yoban.yoban_gate_check(run bigint) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
	r yoban.runs;
	g yoban.runbook_gates;
	t yoban.runbook_gates;
	n integer;
	why text;
	gate text;
BEGIN
	SELECT * INTO r FROM yoban.runs WHERE id = run;
	SELECT * INTO g FROM yoban.runbook_gates WHERE runbook = r.runbook;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	IF g.kind = 'rehearsal' AND g.rehearses IS NOT NULL THEN
		SELECT * INTO t FROM yoban.runbook_gates WHERE runbook = g.rehearses;
		IF FOUND THEN
			INSERT INTO yoban.rehearsals (run_id, runbook, revision_id)
				VALUES (run, t.runbook, t.revision_id) ON CONFLICT DO NOTHING;
		END IF;
		RETURN NULL;
	END IF;
	IF g.approvers > 0 AND r.mode = 'production' AND NOT EXISTS (
		SELECT 1 FROM yoban.approval_requests q WHERE q.run_id = run) THEN
		IF r.trigger IN ('schedule', 'catchup') THEN
			gate := 'revision-approval';
			n := yoban.yoban_revision_approvals(r.revision_id, g.procedure_sha256);
			IF n < g.approvers THEN
				why := pg_catalog.format('revision %s of runbook "%s" is not approved (%s of %s '
					'approvals): an approver runs yoban approve --revision %s', r.revision_id,
					r.runbook, n, g.approvers, r.runbook);
			END IF;
		ELSE
			gate := 'trigger';
			why := pg_catalog.format('runbook "%s" needs approval: ask for it with yoban request %s',
				r.runbook, r.runbook);
		END IF;
		INSERT INTO yoban.gate_decisions (run_id, runbook, revision_id, mode, gate, passed, reason)
			VALUES (run, r.runbook, r.revision_id, r.mode, gate, why IS NULL,
				coalesce(why, pg_catalog.format('revision %s approved by %s people', r.revision_id, n)));
		IF why IS NOT NULL THEN
			RETURN why;
		END IF;
	END IF;
	IF r.mode = 'production' AND g.staging_required THEN
		why := yoban.yoban_staging_refusal(r.runbook, r.revision_id);
		INSERT INTO yoban.gate_decisions (run_id, runbook, revision_id, mode, gate, passed, reason)
			VALUES (run, r.runbook, r.revision_id, r.mode, 'staging', why IS NULL,
				coalesce(why, 'staging passed for this revision'));
	END IF;
	RETURN why;
END
$$;

-- The approved requests whose time has come: each is voided (revision or procedure changed),
-- left waiting (the staging gate; recorded once per reason), or moved to pending and returned
-- for the daemon to run. Waiting requests whose runbook changed are voided too.
CREATE FUNCTION yoban.yoban_approvals_due() RETURNS TABLE (run_id bigint, runbook text,
	revision_id bigint, mode text, params text, scheduled_for timestamptz, requested_by text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
	q yoban.approval_requests;
	changed text;
	why text;
	r yoban.runs;
	who text;
BEGIN
	FOR q IN SELECT * FROM yoban.approval_requests a WHERE a.state IN ('waiting', 'approved')
		 ORDER BY a.run_id FOR UPDATE SKIP LOCKED LOOP
		changed := yoban.yoban_approval_changed(q);
		IF changed IS NOT NULL THEN
			PERFORM yoban.yoban_approval_void(q.run_id, changed);
			CONTINUE;
		END IF;
		IF q.state <> 'approved' OR q.start_after > now() THEN
			CONTINUE;
		END IF;
		SELECT * INTO r FROM yoban.runs x WHERE x.id = q.run_id;
		IF r.mode = 'production' THEN
			why := yoban.yoban_staging_refusal(q.runbook, q.revision_id);
			IF why IS NOT NULL THEN
				IF NOT EXISTS (SELECT 1 FROM yoban.gate_decisions d WHERE d.run_id = q.run_id
					       AND d.gate = 'staging' AND d.reason = 'waiting: ' || why) THEN
					INSERT INTO yoban.gate_decisions (run_id, runbook, revision_id, mode, gate,
						passed, reason)
					VALUES (q.run_id, q.runbook, q.revision_id, r.mode, 'staging', false,
						'waiting: ' || why);
					UPDATE yoban.runs x SET reason = 'waiting: ' || why WHERE x.id = q.run_id;
				END IF;
				CONTINUE;
			END IF;
		END IF;
		SELECT string_agg(a.approver, ', ' ORDER BY a.at) INTO who FROM yoban.approvals a
			WHERE a.run_id = q.run_id;
		why := 'approved by ' || coalesce(who, '?') ||
			CASE WHEN q.emergency THEN ' (emergency)' ELSE '' END;
		UPDATE yoban.approval_requests a SET state = 'started', decided_at = now(), decision = why
			WHERE a.run_id = q.run_id;
		UPDATE yoban.runs x SET state = 'pending', reason = NULL,
			scheduled_for = coalesce(x.scheduled_for, now()) WHERE x.id = q.run_id;
		INSERT INTO yoban.run_transitions (run_id, from_state, to_state, reason)
			VALUES (q.run_id, 'awaiting_approval', 'pending', why);
		INSERT INTO yoban.gate_decisions (run_id, runbook, revision_id, mode, gate, passed, reason)
			VALUES (q.run_id, q.runbook, q.revision_id, r.mode, 'approval', true, why ||
				CASE WHEN r.mode = 'production' AND EXISTS (SELECT 1 FROM yoban.runbook_gates g
					WHERE g.runbook = q.runbook AND g.staging_required)
				THEN '; staging passed for this revision' ELSE '' END);
		run_id := q.run_id;
		runbook := q.runbook;
		revision_id := q.revision_id;
		mode := r.mode::text;
		params := r.params::text;
		scheduled_for := coalesce(r.scheduled_for, now());
		requested_by := q.requested_by;
		RETURN NEXT;
	END LOOP;
END
$$;

-- ---- ownership and privileges ------------------------------------------------------------------

ALTER FUNCTION yoban.yoban_request(text, jsonb, timestamptz, text, boolean, boolean)
	OWNER TO yoban_definer;
ALTER FUNCTION yoban.yoban_approve(bigint, text) OWNER TO yoban_definer;
ALTER FUNCTION yoban.yoban_reject(bigint, text) OWNER TO yoban_definer;
ALTER FUNCTION yoban.yoban_approve_revision(text, text) OWNER TO yoban_definer;

REVOKE ALL ON yoban.runbook_gates, yoban.procedure_digests, yoban.approval_requests,
	yoban.approvals, yoban.revision_approvals, yoban.rehearsals, yoban.gate_decisions FROM PUBLIC;
GRANT SELECT ON yoban.runbook_gates, yoban.procedure_digests, yoban.approval_requests,
	yoban.approvals, yoban.revision_approvals, yoban.rehearsals, yoban.gate_decisions
	TO yoban_operator, yoban_approver, yoban_reviewer, yoban_admin, yoban_daemon, yoban_definer;
-- The daemon records gates, digests, rehearsals and decisions, and starts or voids requests.
GRANT INSERT, UPDATE, DELETE ON yoban.runbook_gates TO yoban_daemon;
GRANT INSERT ON yoban.procedure_digests, yoban.rehearsals, yoban.gate_decisions TO yoban_daemon;
GRANT UPDATE (state, decided_at, decision) ON yoban.approval_requests TO yoban_daemon;
-- The definer functions create the waiting run and record approvals, rejections and voids.
GRANT INSERT ON yoban.runs, yoban.run_transitions, yoban.approval_requests, yoban.approvals,
	yoban.revision_approvals, yoban.gate_decisions TO yoban_definer;
GRANT UPDATE (state, ended_at, reason) ON yoban.runs TO yoban_definer;
-- The staging gate counts a rehearsal only when it ran steps (yoban_staging_passed).
GRANT SELECT ON yoban.jobs TO yoban_definer;
GRANT UPDATE (state, approved_at, start_after, decided_at, decision) ON yoban.approval_requests
	TO yoban_definer;

REVOKE ALL ON FUNCTION yoban.yoban_staging_passed(text, bigint),
	yoban.yoban_staging_refusal(text, bigint), yoban.yoban_revision_approvals(bigint, text),
	yoban.yoban_requests_gate(), yoban.yoban_request(text, jsonb, timestamptz, text, boolean, boolean),
	yoban.yoban_approval_void(bigint, text), yoban.yoban_approval_changed(yoban.approval_requests),
	yoban.yoban_approve(bigint, text), yoban.yoban_reject(bigint, text),
	yoban.yoban_approve_revision(text, text),
	yoban.yoban_record_gates(text[], bigint[], text[], integer[], bigint[], text[], text[],
				 boolean[], text[], bigint),
	yoban.yoban_gate_check(bigint), yoban.yoban_approvals_due() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION yoban.yoban_staging_passed(text, bigint),
	yoban.yoban_staging_refusal(text, bigint), yoban.yoban_revision_approvals(bigint, text)
	TO yoban_operator, yoban_approver, yoban_reviewer, yoban_admin, yoban_daemon, yoban_definer;
GRANT EXECUTE ON FUNCTION yoban.yoban_requests_gate(), yoban.yoban_approval_void(bigint, text),
	yoban.yoban_approval_changed(yoban.approval_requests) TO yoban_definer, yoban_daemon;
GRANT EXECUTE ON FUNCTION yoban.yoban_request(text, jsonb, timestamptz, text, boolean, boolean)
	TO yoban_operator, yoban_admin;
GRANT EXECUTE ON FUNCTION yoban.yoban_approve(bigint, text), yoban.yoban_reject(bigint, text),
	yoban.yoban_approve_revision(text, text) TO yoban_approver;
GRANT EXECUTE ON FUNCTION yoban.yoban_record_gates(text[], bigint[], text[], integer[], bigint[],
	text[], text[], boolean[], text[], bigint), yoban.yoban_gate_check(bigint),
	yoban.yoban_approvals_due() TO yoban_daemon;
