-- 004_trigger_null_params: yoban_trigger refuses a parameter whose value is JSON null.
--
-- A parameter reaches a step as the environment variable $YOBAN_PARAM_NAME, a string. Before this
-- migration, '{"BATCH_DATE": null}' was accepted and yoband turned the null into the four letters
-- "null", so a step saw BATCH_DATE=null and ran with it. A null is neither a value nor "take the
-- default": the caller meant one of the two, so the function refuses it and says both ways out.
-- (`yoban trigger --param NAME=VALUE` always sends strings; this is for callers of the function
-- itself: psql, scripts.) Everything else is as in 003_functions.sql; CREATE OR REPLACE keeps the
-- owner (yoban_definer) and the grants.

CREATE OR REPLACE FUNCTION yoban.yoban_trigger(runbook text, params jsonb DEFAULT '{}',
	staging boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	null_name text;
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
	RETURN yoban.yoban_request('trigger', pg_catalog.jsonb_build_object(
		'runbook', runbook, 'params', params,
		'mode', CASE WHEN staging THEN 'staging' ELSE 'production' END), NULL);
END
$$;
