#!/usr/bin/env bash
# Run the template's test suite (renders projects and runs them); extra arguments go
# to pytest, e.g. scripts/test.sh -m "not slow".
. "$(dirname "$0")/venv.sh"
exec .venv/bin/python -m pytest -n auto "$@"
