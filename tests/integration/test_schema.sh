#!/usr/bin/env bash
# The JSON Schema for editors agrees with yoban validate: every example validates against it, and
# the schema-expressible broken inputs in tests/data/invalid/ are rejected by both.
# Uses Debian's python3 (python3-jsonschema, python3-yaml), not a pyenv one on PATH.
set -uo pipefail
py=/usr/bin/python3
if ! "$py" -c 'import jsonschema, yaml' 2>/dev/null; then
  echo "FAIL: $py lacks jsonschema or yaml (deploy/install-deps.sh installs python3-jsonschema python3-yaml)"
  exit 1
fi
exec "$py" "${YB_SOURCE_DIR:?}/tests/schema_check.py" "${YB_BIN:?}/yoban"
