-- 003_functions: the only ways to change Yoban's tables.
--
-- People (operators, admins) call SECURITY DEFINER functions: yoban_trigger, yoban_cancel,
-- yoban_rerun, yoban_reload. Each checks that session_user (the login, which SET ROLE cannot
-- change) is a member of an allowed role, writes one request row and one audit row naming
-- session_user, and NOTIFYs yoban_requests with the request id; the daemon LISTENs and acts.
-- They are owned by yoban_definer, a NOLOGIN role with no members that may only insert requests
-- and audit rows and read runs, so a flaw in one of them cannot reach further than that. Each sets
-- its own search_path (pg_catalog, then pg_temp last) and names every object with its schema.
--
-- The daemon's functions (yoban_claim_fire, yoban_run_transition, ...) are SECURITY INVOKER: they
-- run with yoban_daemon's own rights and exist so that each write is one atomic statement.

CREATE FUNCTION yoban.yoban_require_role(variadic roles text[]) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	r text;
BEGIN
	FOREACH r IN ARRAY roles LOOP
		IF pg_catalog.pg_has_role(session_user, r, 'MEMBER') THEN
			RETURN;
		END IF;
	END LOOP;
	RAISE EXCEPTION 'permission denied: role "%" is not a member of %', session_user,
		pg_catalog.array_to_string(roles, ' or ')
		USING ERRCODE = 'insufficient_privilege',
		      HINT = 'an administrator can grant it: GRANT ' || roles[1] || ' TO ' ||
			     pg_catalog.quote_ident(session_user);
END
$$;

-- Writes the request and its audit row and wakes the daemon; returns the request id.
CREATE FUNCTION yoban.yoban_request(kind yoban.request_kind, args jsonb, run_id bigint)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	request_id bigint;
BEGIN
	INSERT INTO yoban.requests (kind, args, requested_by)
		VALUES (kind, args, session_user) RETURNING id INTO request_id;
	INSERT INTO yoban.audit (actor, action, run_id, request_id, detail)
		VALUES (session_user, 'request:' || kind::text, run_id, request_id, args);
	PERFORM pg_catalog.pg_notify('yoban_requests', request_id::text);
	RETURN request_id;
END
$$;

CREATE FUNCTION yoban.yoban_trigger(runbook text, params jsonb DEFAULT '{}', staging boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
	RETURN yoban.yoban_request('trigger', pg_catalog.jsonb_build_object(
		'runbook', runbook, 'params', params,
		'mode', CASE WHEN staging THEN 'staging' ELSE 'production' END), NULL);
END
$$;

CREATE FUNCTION yoban.yoban_cancel(run bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM yoban.yoban_require_role('yoban_operator', 'yoban_admin');
	IF NOT EXISTS (SELECT 1 FROM yoban.runs WHERE id = run) THEN
		RAISE EXCEPTION 'no run %', run USING ERRCODE = 'no_data_found';
	END IF;
	RETURN yoban.yoban_request('cancel', pg_catalog.jsonb_build_object('run', run), run);
END
$$;

CREATE FUNCTION yoban.yoban_rerun(run bigint, from_step text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM yoban.yoban_require_role('yoban_operator', 'yoban_admin');
	IF NOT EXISTS (SELECT 1 FROM yoban.runs WHERE id = run) THEN
		RAISE EXCEPTION 'no run %', run USING ERRCODE = 'no_data_found';
	END IF;
	RETURN yoban.yoban_request('rerun',
		pg_catalog.jsonb_build_object('run', run, 'from_step', from_step), run);
END
$$;

CREATE FUNCTION yoban.yoban_reload() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM yoban.yoban_require_role('yoban_operator', 'yoban_admin');
	RETURN yoban.yoban_request('reload', '{}', NULL);
END
$$;

-- The daemon: records a runbook file's content; returns the revision id (new or existing).
CREATE FUNCTION yoban.yoban_record_revision(runbook text, content bytea) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
	digest text := pg_catalog.encode(pg_catalog.sha256(content), 'hex');
	revision bigint;
BEGIN
	INSERT INTO yoban.runbook_revisions (runbook, sha256, content)
		VALUES (runbook, digest, content)
		ON CONFLICT (runbook, sha256) DO NOTHING RETURNING id INTO revision;
	IF revision IS NULL THEN
		SELECT r.id INTO revision FROM yoban.runbook_revisions r
			WHERE r.runbook = yoban_record_revision.runbook AND r.sha256 = digest;
	END IF;
	RETURN revision;
END
$$;

-- The daemon: claims one scheduled fire. Exactly one caller ever gets claimed = true for a given
-- (runbook, scheduled_for, mode); every other gets the same run id and claimed = false
-- ("already claimed"). The creation is recorded in run_transitions in the same statement.
CREATE FUNCTION yoban.yoban_claim_fire(runbook text, scheduled_for timestamptz,
	mode yoban.run_mode DEFAULT 'production', revision_id bigint DEFAULT NULL,
	params jsonb DEFAULT '{}', trigger yoban.run_trigger DEFAULT 'schedule',
	OUT run_id bigint, OUT claimed boolean)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
BEGIN
	IF trigger NOT IN ('schedule', 'catchup') THEN
		RAISE EXCEPTION 'a fire is claimed for trigger schedule or catchup, not %', trigger
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	WITH claim AS (
		INSERT INTO yoban.runs AS r (runbook, revision_id, trigger, mode, scheduled_for, params,
			requested_by)
		VALUES (runbook, revision_id, trigger, mode, scheduled_for, coalesce(params, '{}'),
			session_user)
		ON CONFLICT (runbook, scheduled_for, mode) WHERE trigger IN ('schedule', 'catchup')
			DO NOTHING
		RETURNING r.id
	), history AS (
		INSERT INTO yoban.run_transitions (run_id, from_state, to_state, reason)
		SELECT claim.id, NULL, 'pending', 'claimed ' || trigger::text || ' fire' FROM claim
		RETURNING run_transitions.run_id
	)
	SELECT history.run_id INTO run_id FROM history;
	IF run_id IS NOT NULL THEN
		claimed := true;
		RETURN;
	END IF;
	claimed := false;
	SELECT r.id INTO run_id FROM yoban.runs r
		WHERE r.runbook = yoban_claim_fire.runbook AND r.scheduled_for = yoban_claim_fire.scheduled_for
		  AND r.mode = yoban_claim_fire.mode AND r.trigger IN ('schedule', 'catchup');
END
$$;

-- The daemon: creates a manual or rerun run for a handled request; returns the run id.
CREATE FUNCTION yoban.yoban_create_run(runbook text, trigger yoban.run_trigger,
	mode yoban.run_mode, requested_by text, request_id bigint DEFAULT NULL,
	revision_id bigint DEFAULT NULL, params jsonb DEFAULT '{}', rerun_of bigint DEFAULT NULL,
	rerun_from_step text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
	new_id bigint;
BEGIN
	IF trigger NOT IN ('manual', 'rerun') THEN
		RAISE EXCEPTION 'scheduled fires are claimed with yoban_claim_fire, not created'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	WITH created AS (
		INSERT INTO yoban.runs (runbook, revision_id, trigger, mode, scheduled_for, params,
			requested_by, request_id, rerun_of, rerun_from_step)
		VALUES (runbook, revision_id, trigger, mode, now(), coalesce(params, '{}'),
			requested_by, request_id, rerun_of, rerun_from_step)
		RETURNING id
	)
	INSERT INTO yoban.run_transitions (run_id, from_state, to_state, reason)
		SELECT created.id, NULL, 'pending', trigger::text || ' by ' || requested_by FROM created
		RETURNING run_transitions.run_id INTO new_id;
	RETURN new_id;
END
$$;

-- The daemon: moves a run from one state to another, compare-and-set: nothing happens (false)
-- unless the run is in from_state, so two writers can never both move it. started_at is set on
-- entering running, ended_at on entering a terminal state. Run row and history row are written
-- by one statement.
CREATE FUNCTION yoban.yoban_run_transition(run bigint, from_state yoban.run_state,
	to_state yoban.run_state, reason text DEFAULT NULL) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
	moved bigint;
BEGIN
	IF from_state IN ('succeeded', 'failed', 'timed_out', 'cancelled', 'lost', 'skipped') THEN
		RAISE EXCEPTION 'run state % is final', from_state USING ERRCODE = 'invalid_parameter_value';
	END IF;
	WITH moved_run AS (
		UPDATE yoban.runs r SET state = to_state,
			started_at = CASE WHEN to_state = 'running' THEN coalesce(r.started_at, now())
				     ELSE r.started_at END,
			ended_at = CASE WHEN to_state IN ('succeeded', 'failed', 'timed_out', 'cancelled',
				   'lost', 'skipped') THEN now() ELSE r.ended_at END,
			reason = coalesce(yoban_run_transition.reason, r.reason)
		WHERE r.id = run AND r.state = from_state
		RETURNING r.id
	)
	INSERT INTO yoban.run_transitions (run_id, from_state, to_state, reason)
		SELECT moved_run.id, from_state, to_state, yoban_run_transition.reason FROM moved_run
		RETURNING run_transitions.run_id INTO moved;
	RETURN moved IS NOT NULL;
END
$$;

-- The daemon: marks a request handled (once).
CREATE FUNCTION yoban.yoban_request_done(request bigint, instance text, ok boolean,
	result jsonb DEFAULT NULL) RETURNS boolean
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
	UPDATE yoban.requests SET handled_at = now(), handled_by = instance,
		ok = yoban_request_done.ok, result = yoban_request_done.result
	WHERE id = request AND handled_at IS NULL
	RETURNING true;
$$;

-- The daemon: says it is alive (and whether it leads).
CREATE FUNCTION yoban.yoban_heartbeat(instance text, host text, pid integer, leader boolean)
RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
	INSERT INTO yoban.heartbeats AS h (instance, host, pid, leader)
		VALUES (instance, host, pid, leader)
	ON CONFLICT (instance) DO UPDATE SET host = excluded.host, pid = excluded.pid,
		leader = excluded.leader, at = now(),
		started_at = CASE WHEN h.pid = excluded.pid THEN h.started_at ELSE now() END;
$$;

-- Administrators: creates a login role (if absent) and grants it Yoban roles. Invoker rights:
-- only a role that may create roles (a superuser, or CREATEROLE) can use it. Role names are
-- passed as values and quoted with %I, never spliced.
CREATE FUNCTION yoban.yoban_grant_login(login text, roles text[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	r text;
BEGIN
	IF login IS NULL OR login = '' OR length(login) > 63 THEN
		RAISE EXCEPTION 'bad role name "%"', login USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = login) THEN
		BEGIN
			EXECUTE format('CREATE ROLE %I LOGIN', login);
		EXCEPTION WHEN duplicate_object OR unique_violation THEN
			NULL;
		END;
	END IF;
	FOREACH r IN ARRAY coalesce(roles, '{}') LOOP
		IF r NOT IN ('yoban_operator', 'yoban_approver', 'yoban_reviewer', 'yoban_admin',
			     'yoban_daemon') THEN
			RAISE EXCEPTION 'unknown yoban role "%"', r USING ERRCODE = 'invalid_parameter_value';
		END IF;
		EXECUTE format('GRANT %I TO %I', r, login);
	END LOOP;
END
$$;

ALTER FUNCTION yoban.yoban_trigger(text, jsonb, boolean) OWNER TO yoban_definer;
ALTER FUNCTION yoban.yoban_cancel(bigint) OWNER TO yoban_definer;
ALTER FUNCTION yoban.yoban_rerun(bigint, text) OWNER TO yoban_definer;
ALTER FUNCTION yoban.yoban_reload() OWNER TO yoban_definer;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA yoban FROM PUBLIC;
-- The helpers the definer functions call run as yoban_definer.
GRANT EXECUTE ON FUNCTION yoban.yoban_require_role(text[]) TO yoban_definer;
GRANT EXECUTE ON FUNCTION yoban.yoban_request(yoban.request_kind, jsonb, bigint) TO yoban_definer;
GRANT EXECUTE ON FUNCTION yoban.yoban_trigger(text, jsonb, boolean), yoban.yoban_cancel(bigint),
	yoban.yoban_rerun(bigint, text), yoban.yoban_reload()
	TO yoban_operator, yoban_admin;
GRANT EXECUTE ON FUNCTION yoban.yoban_record_revision(text, bytea),
	yoban.yoban_claim_fire(text, timestamptz, yoban.run_mode, bigint, jsonb, yoban.run_trigger),
	yoban.yoban_create_run(text, yoban.run_trigger, yoban.run_mode, text, bigint, bigint, jsonb,
			       bigint, text),
	yoban.yoban_run_transition(bigint, yoban.run_state, yoban.run_state, text),
	yoban.yoban_request_done(bigint, text, boolean, jsonb),
	yoban.yoban_heartbeat(text, text, integer, boolean)
	TO yoban_daemon;
-- The append-only trigger function runs for whoever writes the table.
GRANT EXECUTE ON FUNCTION yoban.yoban_append_only() TO yoban_daemon, yoban_definer;
