#!/usr/bin/python3
"""schema_check.py: schemas/runbook.schema.json against the files it describes.

1. Every file in runbooks/ validates against the schema: runbooks against the root, inventory.yaml
   against $defs/inventory, calendars/*.yaml against $defs/calendar, yoban.yaml against $defs/site.
2. Every broken input in tests/data/invalid/ whose first line is "# schema: reject" (its error is
   one a schema can express: unknown key, wrong type, bad enum, missing key, a step with no
   action or two, a data patch without approval...) is rejected by BOTH the schema and
   `yoban validate` (exit 1).
3. The schema itself is a valid JSON Schema 2020-12.

Run with Debian's python3 (python3-jsonschema, python3-yaml):
    /usr/bin/python3 tests/schema_check.py [path/to/yoban]
YAML is read the way Yoban reads it: only true/false are booleans, no dates, no sexagesimal numbers,
so that "on:", "2026-08-14" and "22:00" stay strings, as they do for the C loader.
"""
import json
import os
import re
import subprocess
import sys

import jsonschema
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


class YobanLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2-like core resolvers (what the C loader means by each scalar)."""


YobanLoader.yaml_implicit_resolvers = {}
for tag, regexp, first in [
    ("tag:yaml.org,2002:bool", r"^(?:true|false)$", "tf"),
    ("tag:yaml.org,2002:int", r"^[-+]?[0-9]+$", "-+0123456789"),
    ("tag:yaml.org,2002:float", r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$",
     "-+0123456789."),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
]:
    YobanLoader.add_implicit_resolver(tag, re.compile(regexp), list(first))


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=YobanLoader)


def validator_for(schema, definition):
    sub = {"$schema": schema["$schema"], "$defs": schema["$defs"]}
    sub["$ref"] = "#/$defs/" + definition if definition else schema["$ref"]
    return jsonschema.Draft202012Validator(sub)


def kind_of(path):
    base = os.path.basename(path)
    if base in ("inventory.yaml", "inventory.yml"):
        return "inventory"
    if base in ("yoban.yaml", "yoban.yml"):
        return "site"
    if os.path.basename(os.path.dirname(path)) == "calendars":
        return "calendar"
    return None  # a runbook: the schema's root


def yaml_files(folder):
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.endswith((".yaml", ".yml")):
                yield os.path.join(dirpath, name)


def main():
    yoban = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.environ.get("YB_BIN", os.path.join(ROOT, "build", "bin")), "yoban")
    with open(os.path.join(ROOT, "schemas", "runbook.schema.json"), encoding="utf-8") as f:
        schema = json.load(f)
    passed = failed = 0

    def report(ok, what, detail=""):
        nonlocal passed, failed
        if ok:
            passed += 1
            print("ok   " + what)
        else:
            failed += 1
            print("FAIL " + what + (": " + detail if detail else ""))

    try:
        jsonschema.Draft202012Validator.check_schema(schema)
        report(True, "the schema is valid JSON Schema 2020-12")
    except jsonschema.SchemaError as e:
        report(False, "the schema is valid JSON Schema 2020-12", e.message)

    validators = {k: validator_for(schema, k) for k in ("inventory", "calendar", "site")}
    validators[None] = validator_for(schema, None)

    examples = list(yaml_files(os.path.join(ROOT, "runbooks")))
    report(len(examples) >= 8, "runbooks/ has the examples (%d files)" % len(examples))
    for path in examples:
        rel = os.path.relpath(path, ROOT)
        errors = sorted(validators[kind_of(path)].iter_errors(load_yaml(path)), key=str)
        report(not errors, "schema accepts " + rel,
               "; ".join("%s: %s" % ("/".join(map(str, e.absolute_path)), e.message)
                         for e in errors[:3]))

    invalid_dir = os.path.join(ROOT, "tests", "data", "invalid")
    marked = []
    for name in sorted(os.listdir(invalid_dir)):
        path = os.path.join(invalid_dir, name)
        if name.endswith(".yaml") and os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                if f.readline().strip() == "# schema: reject":
                    marked.append(path)
    report(len(marked) >= 10, "at least 10 invalid inputs are schema-expressible (%d)" % len(marked))
    for path in marked:
        rel = os.path.relpath(path, ROOT)
        try:
            doc = load_yaml(path)
            schema_rejects = any(True for _ in validators[None].iter_errors(doc))
        except yaml.YAMLError:
            schema_rejects = True
        report(schema_rejects, "schema rejects " + rel)
        proc = subprocess.run([yoban, "validate", rel], cwd=ROOT, capture_output=True, text=True)
        report(proc.returncode == 1 and ": error: " in proc.stderr,
               "yoban validate rejects " + rel, "exit %d" % proc.returncode)

    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
