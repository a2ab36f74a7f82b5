#!/usr/bin/env bash
# Render a project with the default answers into build/demo, train it and print its
# test metrics.
. "$(dirname "$0")/venv.sh"
rm -rf build/demo
.venv/bin/copier copy --quiet --defaults --vcs-ref HEAD . build/demo
cd build/demo
exec ../../.venv/bin/python main.py
