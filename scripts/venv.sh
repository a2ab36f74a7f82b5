# Sourced by demo.sh and test.sh: create .venv once and install what the template's
# checks need (Copier, pytest, and every package a rendered project can use).
set -eu
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade "pip>=25.1"
# torch first and pinned: an unpinned torch would pull a multi-GB CUDA build.
.venv/bin/python -m pip install --quiet "torch==2.13.0"
.venv/bin/python -m pip install --quiet --group test
