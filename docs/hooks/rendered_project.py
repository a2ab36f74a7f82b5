"""MkDocs hook: render the template with Copier and show real files of the result in pages.

Code in the guide is never copied by hand: each build renders the template (from HEAD,
plus uncommitted changes, as `scripts/demo.sh` does) into a temporary folder and these
directives, each alone on a line, are replaced by what they point at:

    {% include "my_project/models/ligmod.py" %}                       the whole file
    {% include "my_project/models/ligmod.py" object="LigMod.model_step" %}
                                             a class, function or method, found with ast;
                                             part="header": only its signature and docstring
    {% include "config/config.yaml" key="defaults" %}
                                             a YAML block (dotted keys go deeper), with
                                             the comment lines right above it
    {% include "main.py" lines="20-40" %}    a line range (avoid: it drifts)
    {% tree %}                               the rendered project's file tree
    {% groups %}                             a table of the config groups, their options
                                             and the option config.yaml selects
    {% config overrides="experiment=example" package="model" %}
                                             the output of `python main.py --cfg job ...`,
                                             run in the rendered project

Every directive takes `answers="logger=csv task_type=regression"` to use a project
rendered with those answers instead of the defaults (each set is rendered once per
build). A directive that points at nothing fails the build, so a page cannot silently
show code that no longer exists.
"""

from __future__ import annotations

import ast
import logging
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap
import warnings
from pathlib import Path

from mkdocs.exceptions import PluginError

log = logging.getLogger("mkdocs.hooks.rendered_project")

DIRECTIVE = re.compile(
    r"^(?P<indent>[ \t]*)\{%\s*(?P<name>include|tree|groups|config)\b(?P<args>.*?)%\}\s*$"
)
ARGUMENT = re.compile(r'(?:(?P<key>\w+)=)?"(?P<value>[^"]*)"')
LANGUAGES = {".py": "python", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".md": "markdown"}

_state: dict = {"repo": None, "tmp": None, "projects": {}}


# -- MkDocs events -----------------------------------------------------------------------


def on_config(config):
    _state["repo"] = Path(config.config_file_path).resolve().parent
    _cleanup()
    _state["tmp"] = Path(tempfile.mkdtemp(prefix="docs-render-"))
    _state["projects"] = {}
    return config


def on_page_markdown(markdown, page, config, files):
    lines = markdown.split("\n")
    out: list[str] = []
    fence: str | None = None
    for line in lines:
        stripped = line.lstrip()
        # Directives inside fenced code blocks are shown, not run (e.g. in this syntax's docs).
        marker = re.match(r"(`{3,}|~{3,})", stripped)
        if marker:
            if fence is None:
                fence = marker.group(1)
            elif stripped.startswith(fence) and not stripped[len(fence) :].strip():
                fence = None
            out.append(line)
            continue
        match = DIRECTIVE.match(line) if fence is None else None
        if not match:
            out.append(line)
            continue
        try:
            block = _run(match.group("name"), match.group("args"))
        except PluginError as err:
            raise PluginError(f"{page.file.src_uri}: {line.strip()}: {err}") from None
        out.extend(match.group("indent") + row if row else row for row in block)
    return "\n".join(out)


def on_post_build(config):
    _cleanup()


def on_build_error(error):
    _cleanup()


# -- Directives --------------------------------------------------------------------------


def _run(name: str, args: str) -> list[str]:
    positional, options = _parse(args)
    project = _project(options.pop("answers", ""))
    if name == "include":
        if len(positional) != 1:
            raise PluginError('include needs one path in quotes, e.g. {% include "main.py" %}')
        return _include(project, positional[0], options)
    if name == "tree":
        return _fence("text", _tree(project), title=options.get("title"))
    if name == "groups":
        return _groups(project)
    return _config(project, options)


def _parse(args: str) -> tuple[list[str], dict[str, str]]:
    positional, options = [], {}
    rest = ARGUMENT.sub("", args).strip()
    if rest:
        raise PluginError(f'cannot read {rest!r}; write arguments as key="value"')
    for match in ARGUMENT.finditer(args):
        if match.group("key"):
            options[match.group("key")] = match.group("value")
        else:
            positional.append(match.group("value"))
    return positional, options


def _project(answers: str) -> Path:
    """The template rendered with these answers (and defaults for the rest), once per build."""
    data = dict(pair.split("=", 1) for pair in answers.split())
    key = tuple(sorted(data.items()))
    if key not in _state["projects"]:
        import copier

        target = _state["tmp"] / f"project{len(_state['projects'])}"
        with warnings.catch_warnings():
            # Uncommitted template changes are included on purpose (DirtyLocalWarning).
            warnings.simplefilter("ignore")
            copier.run_copy(
                str(_state["repo"]),
                str(target),
                data=data,
                defaults=True,
                unsafe=False,
                vcs_ref="HEAD",
                quiet=True,
            )
        log.debug(f"rendered the template with {data or 'the default answers'} into {target}")
        _state["projects"][key] = target
    return _state["projects"][key]


def _include(project: Path, relpath: str, options: dict[str, str]) -> list[str]:
    path = project / relpath
    if not path.is_file():
        raise PluginError(f"the rendered project has no file {relpath}")
    text = path.read_text()
    lines = text.splitlines()
    start = 1
    if "object" in options:
        start, end = _python_object(text, options.pop("object"), options.pop("part", "all"))
        body = textwrap.dedent("\n".join(lines[start - 1 : end])).splitlines()
    elif "key" in options:
        start, end = _yaml_block(lines, options.pop("key"))
        body = lines[start - 1 : end]
    elif "lines" in options:
        first, _, last = options.pop("lines").partition("-")
        start, end = int(first), int(last or first)
        if not 1 <= start <= end <= len(lines):
            raise PluginError(f"lines {start}-{end} are outside the file's {len(lines)} lines")
        body = lines[start - 1 : end]
    else:
        body = lines
    title = options.pop("title", relpath)
    if options:
        raise PluginError(f"unknown option(s) {', '.join(options)}")
    language = LANGUAGES.get(path.suffix, "text")
    partial = body is not lines
    return _fence(language, body, title=title, linenums=start if partial else None)


def _python_object(text: str, dotted: str, part: str = "all") -> tuple[int, int]:
    """First and last line of a class, function or method named by a dotted path;
    with part="header", only its signature and docstring."""
    nodes = ast.parse(text).body
    found = None
    for name in dotted.split("."):
        found = next(
            (
                node
                for node in nodes
                if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and node.name == name
            ),
            None,
        )
        if found is None:
            raise PluginError(f"no class or function {dotted!r} in the file")
        nodes = found.body
    first = min([found.lineno] + [d.lineno for d in found.decorator_list])
    if part == "all":
        return first, found.end_lineno
    if part != "header":
        raise PluginError(f'part is "all" or "header", not {part!r}')
    body = found.body[0]
    docstring = isinstance(body, ast.Expr) and isinstance(body.value, ast.Constant)
    return first, body.end_lineno if docstring else body.lineno - 1


def _yaml_block(lines: list[str], dotted: str) -> tuple[int, int]:
    """First and last line of the block under a (dotted) YAML key, with its comments."""

    def indent(line: str) -> int:
        return len(line) - len(line.lstrip())

    def content(line: str) -> bool:
        return bool(line.strip()) and not line.lstrip().startswith("#")

    lo, hi, level = 0, len(lines), -1
    start = None
    for name in dotted.split("."):
        rows = [i for i in range(lo, hi) if content(lines[i]) and indent(lines[i]) > level]
        if not rows:
            raise PluginError(f"no YAML key {dotted!r} in the file")
        child = min(indent(lines[i]) for i in rows)
        start = next(
            (
                i
                for i in rows
                if indent(lines[i]) == child and lines[i].strip().startswith(f"{name}:")
            ),
            None,
        )
        if start is None:
            raise PluginError(f"no YAML key {dotted!r} in the file")
        level = child
        lo = start + 1
        hi = next(
            (
                i
                for i in range(lo, hi)
                if lines[i].strip()
                and indent(lines[i]) <= level
                and not (lines[i].lstrip().startswith("- ") and indent(lines[i]) == level)
            ),
            hi,
        )
    first = start
    while (
        first > 0
        and lines[first - 1].lstrip().startswith("#")
        and indent(lines[first - 1]) == level
    ):
        first -= 1
    last = hi
    while last > start + 1 and not lines[last - 1].strip():
        last -= 1
    return first + 1, last


def _tree(project: Path) -> list[str]:
    name = "my-project/"
    rows = [name]

    def walk(folder: Path, prefix: str) -> None:
        # Empty folders are left out: git does not keep them.
        entries = sorted(
            (p for p in folder.iterdir() if p.is_file() or any(f.is_file() for f in p.rglob("*"))),
            key=lambda p: (p.is_file(), p.name),
        )
        for i, entry in enumerate(entries):
            last = i == len(entries) - 1
            rows.append(
                f"{prefix}{'└── ' if last else '├── '}{entry.name}{'/' if entry.is_dir() else ''}"
            )
            if entry.is_dir():
                walk(entry, prefix + ("    " if last else "│   "))

    walk(project, "")
    return rows


def _groups(project: Path) -> list[str]:
    import yaml

    config = project / "config"
    chosen: dict[str, str] = {}
    for entry in yaml.safe_load((config / "config.yaml").read_text()).get("defaults", []):
        if isinstance(entry, dict):
            for key, value in entry.items():
                optional = key.startswith("optional ")
                shown = "`null` (none)" if value is None else f"`{value}`"
                chosen[key.split()[-1]] = shown + (", if it exists" if optional else "")
    rows = ["| group | chosen in `config.yaml` | options |", "|---|---|---|"]
    for folder in sorted(p for p in config.rglob("*") if p.is_dir()):
        group = folder.relative_to(config).as_posix()
        options = ", ".join(f"`{p.stem}`" for p in sorted(folder.glob("*.yaml")))
        if group in chosen or options:
            rows.append(f"| `{group}/` | {chosen.get(group, '')} | {options or 'your own files'} |")
    return rows


def _config(project: Path, options: dict[str, str]) -> list[str]:
    overrides = shlex.split(options.pop("overrides", ""))
    package = options.pop("package", None)
    if options:
        raise PluginError(f"unknown option(s) {', '.join(options)}")
    command = ["main.py", "--cfg", "job"] + (["-p", package] if package else []) + overrides
    result = subprocess.run(
        [sys.executable, *command], cwd=project, capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0 or not result.stdout.strip():
        raise PluginError(f"`python {shlex.join(command)}` failed:\n{result.stderr[-2000:]}")
    return _fence(
        "yaml", result.stdout.rstrip("\n").splitlines(), title=f"python {shlex.join(command)}"
    )


def _fence(
    language: str, body: list[str], title: str | None = None, linenums: int | None = None
) -> list[str]:
    ticks = "`" * max(
        3, 1 + max((len(m) for row in body for m in re.findall(r"`+", row)), default=0)
    )
    attrs = [language]
    if title:
        attrs.append(f'title="{title}"')
    if linenums:
        attrs.append(f'linenums="{linenums}"')
    return [f"{ticks}{' '.join(attrs)}", *body, ticks]


def _cleanup() -> None:
    if _state["tmp"] is not None:
        shutil.rmtree(_state["tmp"], ignore_errors=True)
        _state["tmp"] = None
