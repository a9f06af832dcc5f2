"""Validates FHIR R5 Consent resources (JSON files) against the official HL7 FHIR R5 JSON
schema (`openapi/fhir.schema.json` of the npm package hl7.fhir.r5.core).

usage: python3 .ci/fhir-validate.py SCHEMA FILE...

The schema is draft-06; its own metaschema check fails on one pattern of another resource
(Questionnaire's valueDecimal), so it is not checked as a schema here: each file is validated
against the schema's `Consent` definition, resourceType included.
"""
import json
import sys

import jsonschema


def main() -> int:
    schema_path, files = sys.argv[1], sys.argv[2:]
    if not files:
        print("fhir-validate: no files to validate", file=sys.stderr)
        return 1
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    consent = {"$ref": "#/definitions/Consent", "definitions": schema["definitions"]}
    validator = jsonschema.Draft6Validator(consent)
    failed = 0
    for path in files:
        with open(path, encoding="utf-8") as f:
            resource = json.load(f)
        errors = sorted(validator.iter_errors(resource), key=lambda e: list(e.path))
        for e in errors:
            where = "/".join(str(p) for p in e.path) or "(root)"
            print(f"{path}: {where}: {e.message}", file=sys.stderr)
        failed += bool(errors)
    print(f"fhir-validate: {len(files) - failed} of {len(files)} Consent resources valid")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
