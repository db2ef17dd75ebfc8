#!/usr/bin/env bash
# The JSON Schema for editors agrees with yoban validate: every example validates against it, and
# the schema-expressible broken inputs in tests/data/invalid/ are rejected by both.
# Uses Debian's python3 (python3-jsonschema, python3-yaml), not a pyenv one on PATH.
# tests/schema_check.py prints its own closing line in the form of lib/assert.sh ("N passed,
# N failed") and exits 1 on any failure, so this script checks what it needs and hands over.
set -uo pipefail
. "${YB_SOURCE_DIR:?}/tests/integration/lib/assert.sh"
py=/usr/bin/python3
"$py" -c 'import jsonschema, yaml' 2>/dev/null ||
  bail "$py has jsonschema and yaml (deploy/install-deps.sh installs python3-jsonschema python3-yaml)"
exec "$py" "$YB_SOURCE_DIR/tests/schema_check.py" "${YB_BIN:?}/yoban"
