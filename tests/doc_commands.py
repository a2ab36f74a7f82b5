"""The shell commands that the documentation shows, as the test suite sees them.

Pages are the template's own Markdown (README.md, CONTRIBUTING.md and every page under
docs/) and the Markdown files of projects rendered from the template, once per set of
answers that changes them. A command is a line of a fenced ```bash, ```sh, ```shell or
```console block (in console blocks only the lines after a `$ ` prompt), with `\\`
continuations joined, `#` comments dropped and `&&`, `||` and `;` lists split into their
commands. Pipelines (`a | b`) stay one command.

`Command.text` is the normalised form (quoting made uniform), which the registry of
commands that are not run and the runners of tests/test_doc_commands.py match;
`Command.shell` is the command as written, which is what a runner executes.
"""

from __future__ import annotations

import atexit
import functools
import itertools
import re
import shlex
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jinja2
import jinja2.meta
import yaml

ROOT = Path(__file__).resolve().parents[1]
SHELL_LANGUAGES = {"bash", "sh", "shell", "zsh", "console", "shell-session"}
PROMPTED_LANGUAGES = {"console", "shell-session"}
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*\{?\.?(?P<lang>[\w+-]*)")
PROMPT = re.compile(r"^\s*(?:\([^)]*\)\s*)?\$ ")
OPERATORS = ("&&", "||", ";", "&")


@dataclass(frozen=True)
class Command:
    page: str  # e.g. "docs/recipes.md" or "project[logger=csv,task_type=binary]/README.md"
    line: int  # 1-based line of the page where the command starts
    block: int  # index of its fenced block in the page: commands of a block share a context
    shell: str  # the command as written (one command of a && list), comment removed
    text: str  # normalised: shlex-quoted words, single spaces

    def __str__(self) -> str:
        return f"{self.page}:{self.line}: {self.text}"


# -- Markdown -> commands -----------------------------------------------------------------


def fenced_blocks(markdown: str) -> Iterator[tuple[str, int, list[str]]]:
    """(language, line number of the first content line, content lines) of each fence."""
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, lang = match.group("fence"), match.group("lang").lower()
        start = i + 1
        i += 1
        while i < len(lines):
            stripped = lines[i].strip()
            if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
                break
            i += 1
        yield lang, start + 1, lines[start:i]
        i += 1


def split_list(line: str) -> list[str]:
    """The commands of a shell list, split at `&&`, `||`, `;` and `&` outside quotes,
    without a trailing `#` comment."""
    parts: list[str] = []
    current: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\" and quote == '"':
                current.append(line[i : i + 2])
                i += 2
                continue
            if ch == quote:
                quote = None
            current.append(ch)
        elif ch == "\\":
            current.append(line[i : i + 2])
            i += 2
            continue
        elif ch in "'\"":
            quote = ch
            current.append(ch)
        elif ch == "#" and (i == 0 or line[i - 1].isspace() or line[i - 1] in ";&|"):
            break
        elif line.startswith(("&&", "||"), i) or ch in ";&":
            parts.append("".join(current))
            current = []
            i += 2 if line.startswith(("&&", "||"), i) else 1
            continue
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def normalise(command: str) -> str:
    """One spelling per command: words re-quoted by shlex, operators (`|`) kept bare."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars="|")
    lexer.whitespace_split = True
    lexer.commenters = ""
    words = []
    for word in lexer:
        words.append(word if set(word) <= {"|"} else shlex.quote(word))
    return " ".join(words)


def logical_lines(lines: list[str], first: int, prompted: bool) -> Iterator[tuple[int, str]]:
    """(line number, text) of each command line, continuations joined; in a console block
    only prompted lines (and their continuations) count."""
    i = 0
    while i < len(lines):
        line, number = lines[i], first + i
        i += 1
        if prompted:
            if not PROMPT.match(line):
                continue
            line = PROMPT.sub("", line, count=1)
        while line.rstrip().endswith("\\") and i < len(lines):
            following = lines[i].strip()
            if prompted:
                following = re.sub(r"^> ?", "", following)
            line = line.rstrip()[:-1] + " " + following
            i += 1
        heredoc = re.search(r"<<-?\s*['\"]?(\w+)['\"]?", line)
        if heredoc:  # the body is the command's input, not commands
            end = next(
                (j for j in range(i, len(lines)) if lines[j].strip() == heredoc.group(1)),
                len(lines) - 1,
            )
            line = "\n".join([line, *lines[i : end + 1]])
            i = end + 1
        if line.strip():
            yield number, line


def page_commands(page: str, markdown: str) -> list[Command]:
    commands = []
    for block, (lang, first, lines) in enumerate(fenced_blocks(markdown)):
        if lang not in SHELL_LANGUAGES:
            continue
        for number, line in logical_lines(lines, first, lang in PROMPTED_LANGUAGES):
            for part in split_list(line) if "\n" not in line else [line]:
                commands.append(Command(page, number, block, part, normalise(part)))
    return commands


# -- The pages ----------------------------------------------------------------------------


def template_pages() -> dict[str, str]:
    """The template repository's own pages: its top-level Markdown and the user guide."""
    paths = sorted(ROOT.glob("*.md")) + sorted(
        p for p in (ROOT / "docs").rglob("*.md") if "hooks" not in p.relative_to(ROOT).parts
    )
    return {p.relative_to(ROOT).as_posix(): p.read_text() for p in paths}


def choice_questions() -> dict[str, list[str]]:
    copier = yaml.safe_load((ROOT / "copier.yml").read_text())
    return {
        name: list(spec["choices"].values())
        for name, spec in copier.items()
        if isinstance(spec, dict) and "choices" in spec
    }


def page_answer_sets() -> list[dict[str, str]]:
    """Every combination of the choice answers that the rendered Markdown files (their
    text or their file names) depend on; the other answers keep their defaults."""
    template = ROOT / "template"
    sources = [p for p in template.rglob("*") if p.is_file() and ".md" in p.name]
    env = jinja2.Environment()
    used: set[str] = set()
    for path in sources:
        for source in (path.read_text(), str(path.relative_to(template))):
            used |= jinja2.meta.find_undeclared_variables(env.parse(source))
    # Computed values (model_target, data_file, ...) depend on the questions they name.
    copier = yaml.safe_load((ROOT / "copier.yml").read_text())
    for name in list(used):
        spec = copier.get(name)
        if isinstance(spec, dict) and spec.get("when") is False:
            used |= jinja2.meta.find_undeclared_variables(env.parse(str(spec["default"])))
    questions = {k: v for k, v in choice_questions().items() if k in used}
    return [
        dict(zip(questions, values, strict=True))
        for values in itertools.product(*questions.values())
    ]


def answers_label(answers: dict[str, str]) -> str:
    return "project[" + ",".join(f"{k}={v}" for k, v in sorted(answers.items())) + "]"


def template_snapshot(destination: Path) -> Path:
    """copier.yml and template/ of the working tree, uncommitted changes included, as a
    plain folder: Copier renders it without cloning."""
    shutil.copy2(ROOT / "copier.yml", destination / "copier.yml")
    shutil.copytree(ROOT / "template", destination / "template")
    return destination


def render_snapshot(snapshot: Path, destination: Path, answers: dict[str, str]) -> Path:
    from copier import run_copy

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_copy(str(snapshot), destination, data=answers, defaults=True, quiet=True)
    return destination


@functools.cache
def page_projects() -> dict[str, Path]:
    """A project rendered for each answer set of page_answer_sets(), by label."""
    return {answers_label(a): project_with(**a) for a in page_answer_sets()}


@functools.cache
def _workdir() -> Path:
    """A folder for this process's renders, with a snapshot of the template; removed at exit."""
    folder = Path(tempfile.mkdtemp(prefix="doc-pages-"))
    atexit.register(shutil.rmtree, folder, True)
    (folder / "template").mkdir()
    template_snapshot(folder / "template")
    return folder


def project_with(**answers: str) -> Path:
    """The working tree's template rendered with these answers (defaults for the rest),
    once per process."""
    return _render(tuple(sorted(answers.items())))


@functools.cache
def _render(answers: tuple[tuple[str, str], ...]) -> Path:
    folder = _workdir()
    label = answers_label(dict(answers))
    return render_snapshot(folder / "template", folder / label, dict(answers))


def rendered_pages() -> dict[str, str]:
    """The Markdown files of the projects of page_projects(), as "<label>/<path>"."""
    pages = {}
    for label, project in page_projects().items():
        for path in sorted(project.rglob("*.md")):
            pages[f"{label}/{path.relative_to(project).as_posix()}"] = path.read_text()
    return pages


@functools.cache
def all_pages() -> dict[str, str]:
    return {**template_pages(), **rendered_pages()}


def all_commands(pages: dict[str, str]) -> list[Command]:
    return [command for page, text in pages.items() for command in page_commands(page, text)]


def page_answers(page: str) -> dict[str, str]:
    """The answers of the project a page's commands run in: its own for a rendered page,
    the logger of a docs/loggers/<logger>.md page, else the defaults (an empty dict)."""
    match = re.match(r"project\[(.*?)\]/", page)
    if match:
        return dict(pair.split("=", 1) for pair in match.group(1).split(","))
    logger = re.fullmatch(r"docs/loggers/(\w+)\.md", page)
    if logger and logger.group(1) in choice_questions()["logger"]:
        return {"logger": logger.group(1)}
    return {}


def page_label(page: str) -> str:
    """The label of the answer set of page_answer_sets() that has the page's answers
    (defaults for the rest)."""
    wanted = page_answers(page).items()
    return next(answers_label(a) for a in page_answer_sets() if wanted <= a.items())


def page_project(page: str) -> Path:
    """The project of page_projects() for the page's answers."""
    return page_projects()[page_label(page)]


if __name__ == "__main__":  # list them: python -m tests.doc_commands
    for command in all_commands(all_pages()):
        print(command)
