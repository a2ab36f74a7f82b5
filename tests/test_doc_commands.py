"""Every shell command the documentation shows runs, or says why it cannot run here.

The commands come from tests/doc_commands.py (fenced shell blocks of README.md,
CONTRIBUTING.md, docs/ and the Markdown of rendered projects). Each one is either listed
in tests/doc_commands_not_run.yaml with its reason, or claimed by one of the RUNNERS
below. The fast tests check that, so a page that gains a command fails until the command
is runnable or listed. The slow tests run every claimed command, page by page:

- Pages about the template repository (its top-level Markdown, docs/index.md and
  docs/performance.md) run in a git clone of this working tree; every other page in a
  project rendered (with real Copier) for its answers: the defaults, the logger of a
  docs/loggers/ page, or the answers a rendered page came from. A page's blocks run in
  order in one shell session: `cd` and `export` last until the page ends.
- A block that runs git or `copier update` works on a copy of the page's folder, so a
  page's other blocks never see a changed project.
- A block shown by several pages runs in the first of them (the rendered README of the
  default answers before the other answers'), a command line already run in the same
  folder is not run again, and the project's tests (CHECKS) run once per set of answers.
- ADAPTATIONS say what the test does differently from a reader, and why; SUBSTITUTIONS
  what it puts in place of placeholders such as <run>.
"""

from __future__ import annotations

import atexit
import csv
import functools
import io
import os
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from .conftest import GIT_ENV
from .doc_commands import (
    ROOT,
    Command,
    all_commands,
    all_pages,
    answers_label,
    fenced_blocks,
    page_answer_sets,
    page_answers,
    page_label,
    template_pages,
)
from .preloaded import Preloaded, clean_env, preloaded_python

NOT_RUN_FILE = Path(__file__).with_name("doc_commands_not_run.yaml")


def not_run() -> dict[str, str]:
    """Command -> why it is not run, from tests/doc_commands_not_run.yaml."""
    groups = yaml.safe_load(NOT_RUN_FILE.read_text())
    return {command: reason for reason, commands in groups.items() for command in commands}


@dataclass(frozen=True)
class Runner:
    name: str
    pattern: str  # matched against the whole normalised command


# What the slow tests run, by the shape of the command. A command that matches none of
# these and is not in doc_commands_not_run.yaml fails the fast test.
RUNNERS = [
    Runner("cd", r"cd \S+"),
    Runner("export", r"export \w+=\S+"),
    Runner("train", r"(\S*/)?python main\.py( .*)?|uv run --no-sync python main\.py( .*)?"),
    Runner("predict", r"(\S*/)?python predict\.py( .*)?"),
    Runner("pytest", r"(\S*/)?python -m pytest( .*)?"),
    Runner("venv", r"python -m venv \S+|uv venv( \S+)?"),
    Runner("pip", r"(\S*/)?pip install .+"),
    Runner("copier copy", r"copier copy .+"),
    Runner("copier update", r"copier update( .*)?"),
    Runner("git", r"git (status|diff|add|commit|mv|checkout)( .*)?"),
    Runner("files", r"cp \S+ \S+|grep .* \| xargs sed .*"),
    Runner("server", r"mlflow (ui|server)( .*)?|tensorboard --logdir .*"),
    Runner("script", r"scripts/\w+\.sh( .*)?|\.venv/bin/ruff .*"),
]

# What the test does differently from a reader of the pages, and why.
ADAPTATIONS = {
    "short runs": "`python main.py ...` gets SHORT_RUN appended (a resumed run one epoch "
    "more; an Optuna search 2 trials); what the page writes is run as written before them",
    "preloaded interpreter": "`python main.py` and `python predict.py` run in a child forked "
    "from a Python process that has already imported torch, Lightning, Hydra, pandas, "
    "matplotlib and MLflow (the test environment's interpreter): everything after those "
    "imports is the command's own. `.venv/bin/python ...` and `uv run ...` are new processes",
    "environments": "`python -m venv` and `uv venv` run as written; the test then lets the "
    "new environment see the test environment's packages (a .pth file), so `pip install "
    "-e .` installs only the project instead of downloading torch (several GB). `python` "
    "and `pip` of a page are such an environment, made for the page",
    "uv venv": "runs with UV_VENV_CLEAR=1: the README's uv set-up is an alternative to its "
    "pip set-up, which made .venv already in the same folder",
    "template repository": "its scripts find .venv made as above (with the console scripts "
    "of the test environment); the clone's HEAD is tagged 1.1.0, one commit after 1.0.0",
    "copier copy": "runs with --defaults (a reader presses Enter at each question) and, into "
    "an existing folder, --skip for each file already there (the reader answers no to "
    "overwriting it); the template URL is the clone above",
    "copier update": "rendered projects are git repositories at template 1.0.0 (so there is "
    "an update to 1.1.0); work not committed yet is committed first, as the pages ask, "
    "unless the block commits it itself",
    "home": "HOME is a new folder holding ~/customers.csv (the table of docs/own-data.md, "
    "with the columns its commands name); pip, uv and matplotlib keep their caches",
    "servers": "mlflow ui/server and tensorboard get a free port (mlflow one worker process, "
    "not 4), answer an HTTP request and are stopped",
}

# Appended to every `python main.py` that trains (not --help or --cfg).
SHORT_RUN = [
    "trainer.max_epochs=1",
    "++trainer.limit_train_batches=2",
    "++trainer.limit_val_batches=2",
    "++trainer.limit_test_batches=2",
    "print_config=false",
]
RESUME_EPOCHS = "trainer.max_epochs=2"  # a resumed run trains one epoch more than its first
SEARCH_TRIALS = "hydra.sweeper.n_trials=2"  # an Optuna search (20 trials by default)
APPENDED = {*SHORT_RUN, RESUME_EPOCHS, SEARCH_TRIALS}
NO_RUN_FLAGS = {"--help", "-h", "--hydra-help", "--cfg", "-c", "--info", "-i"}

# What the test puts in place of the placeholders and example values of the pages.
TEMPLATE_URL = r"https://github\.com/<owner>/<this-repo>|<template-url>"
CHECKPOINT = r"logs/runs/<run>/checkpoints/(last|epoch_\d+)\.ckpt|<checkpoint>"
SWEEP = r"logs/multiruns/<sweep>"
SERVER_URL = r"http://(your-server|mlflow\.example\.org):5000"
SUBSTITUTIONS = {
    TEMPLATE_URL: "the template repository (see ADAPTATIONS)",
    CHECKPOINT: "last.ckpt or the best epoch_*.ckpt of the newest run of the project made "
    "with the same overrides (for predict.py: trained on a table with the input's columns); "
    "if there is none, `python main.py <those overrides>` makes one first",
    SWEEP: "the newest sweep folder; `python main.py -m seed=1,2` makes one first if none",
    SERVER_URL: "an MLflow tracking server the test starts (as docs/scaling.md shows)",
}

# Commands that a page says take more arguments "as above": page -> (pattern, arguments).
AS_ABOVE = {
    "docs/own-data.md": (
        r"python main\.py '?data\.(drop|categorical|numeric|features)=",
        ["data.path=data/customers.csv", "data.target=churned"],
    ),
}

# Broken commands that others are fixing: the test checks they still fail, then runs the
# fix. Remove an entry when its page changes (the fast test fails on a stale entry).
KNOWN_ISSUES: dict[str, tuple[str, str]] = {}


def runner_for(command: Command) -> Runner | None:
    return next((r for r in RUNNERS if re.fullmatch(r.pattern, command.text)), None)


@pytest.fixture(scope="session")
def doc_pages() -> dict[str, str]:
    """Every page: the template's own and the rendered projects' (once per test process)."""
    return all_pages()


@pytest.fixture(scope="session")
def documented(doc_pages) -> list[Command]:
    return all_commands(doc_pages)


def test_every_command_is_run_or_not_run_for_a_reason(documented):
    registered = not_run()
    unclaimed = [
        f"{command.page}:{command.line}: {command.text}"
        for command in documented
        if command.text not in registered and runner_for(command) is None
    ]
    assert not unclaimed, (
        "These documented commands are neither run by tests/test_doc_commands.py nor listed, "
        "with a reason, in tests/doc_commands_not_run.yaml:\n" + "\n".join(unclaimed)
    )


def test_no_stale_entries(documented):
    shown = {command.text for command in documented}
    stale = [c for c in not_run() if c not in shown]
    assert not stale, f"doc_commands_not_run.yaml lists commands no page shows: {stale}"
    fixed = [c for c in KNOWN_ISSUES if c not in shown]
    assert not fixed, f"KNOWN_ISSUES lists commands no page shows any more (fixed?): {fixed}"


def test_every_placeholder_has_a_substitution(documented):
    """<...> placeholders and example servers of runnable commands are all in SUBSTITUTIONS."""
    registered = not_run()
    unknown = []
    for command in documented:
        if command.text in registered:
            continue
        text = command.shell
        for pattern in SUBSTITUTIONS:
            text = re.sub(pattern, "", text)
        if re.search(r"<[\w .-]+>|your-server|example\.(org|com)", text):
            unknown.append(f"{command.page}:{command.line}: {command.shell}")
    assert not unknown, "Add these placeholders to SUBSTITUTIONS:\n" + "\n".join(unknown)


def test_extraction_reads_what_a_shell_reads():
    markdown = "\n".join(
        [
            "```bash",
            "# a comment",
            "python main.py \\",
            "    'data.drop=[a,b]'   # trailing comment",
            "python -m venv .venv && .venv/bin/pip install -e '.[dev]'; git status",
            "grep -rl x . | xargs sed -i 's/#/y/'",
            "```",
            "```console",
            "$ python main.py --help",
            "usage: main.py",
            "```",
            "    ```sh",
            "    cd my-project",
            "    ```",
            "```python",
            "print('not a command')",
            "```",
        ]
    )
    from .doc_commands import page_commands

    assert [c.text for c in page_commands("p.md", markdown)] == [
        "python main.py 'data.drop=[a,b]'",
        "python -m venv .venv",
        ".venv/bin/pip install -e '.[dev]'",
        "git status",
        "grep -rl x . | xargs sed -i 's/#/y/'",
        "python main.py --help",
        "cd my-project",
    ]


# -- The slow part: run them ----------------------------------------------------------------

TEMPLATE_REPO_PAGES = ("docs/index.md", "docs/performance.md")


def group_of(page: str) -> str:
    """The session a page runs in: the template repository, its own project, or (for the
    pages of a rendered project) the project of those answers."""
    if page.startswith("project["):
        return page.split("/", 1)[0]
    if "/" not in page or page in TEMPLATE_REPO_PAGES:
        return "template repository"
    return page


def ordered_pages(pages: dict[str, str]) -> list[str]:
    default = answers_label(page_answer_sets()[0])
    return sorted(
        pages,
        key=lambda p: (
            group_of(p) != "template repository",
            p.startswith("project["),
            not p.startswith(default),
            "/" in p,
            p,
        ),
    )


# Commands that only check a project: run once per set of answers, in the first page that
# shows them.
CHECKS = ("pytest",)


def plan(pages: dict[str, str]) -> dict[str, list[tuple[str, list[list[Command]]]]]:
    """group -> [(page, its blocks to run)], in running order. A block that an earlier
    page also shows is left to that page, and so is a CHECKS command for the same answers."""
    registered = not_run()
    seen: set[tuple[str, ...]] = set()
    checked: set[tuple[str, str]] = set()
    groups: dict[str, list[tuple[str, list[list[Command]]]]] = {}
    for page in ordered_pages(pages):
        blocks: dict[int, list[Command]] = {}
        for command in all_commands({page: pages[page]}):
            blocks.setdefault(command.block, []).append(command)
        todo = []
        for block in blocks.values():
            key = tuple(c.text for c in block)
            if key in seen or all(c.text in registered for c in block):
                continue
            seen.add(key)
            kept = []
            for command in block:
                runner = runner_for(command)
                if runner and runner.name in CHECKS:
                    check = (page_label(page), command.text)
                    if check in checked:
                        continue
                    checked.add(check)
                kept.append(command)
            todo.append(kept)
        groups.setdefault(group_of(page), []).append((page, todo))
    return groups


def group_names() -> list[str]:
    static = [p for p in template_pages() if group_of(p) != "template repository"]
    return ["template repository", *static, *map(answers_label, page_answer_sets())]


# -- Environments, the template repository and projects --------------------------------------


def sh(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        args, cwd=cwd, env={**os.environ, **GIT_ENV}, capture_output=True, text=True
    )
    assert result.returncode == 0, f"{args} in {cwd}: {result.stderr}"
    return result.stdout


def overlay(venv: Path, scripts: bool = False) -> None:
    """Let an environment see the test environment's packages and, with scripts=True, run
    its console scripts (copier, ruff, mlflow, ...) with the environment's interpreter."""
    (site,) = venv.glob("lib/python*/site-packages")
    (site / "_doc_commands_overlay.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    if not scripts:
        return
    ours = Path(sys.executable).parent
    for source in ours.iterdir():
        target = venv / "bin" / source.name
        skip = source.name.startswith(("python", "activate", "Activate"))
        if skip or target.exists() or not source.is_file():
            continue
        head = source.read_bytes()[:2]
        if head == b"#!":
            text = source.read_text().replace(str(ours / "python"), str(venv / "bin/python"))
            target.write_text(text)
            target.chmod(0o755)
        else:
            target.symlink_to(source)


def make_venv(path: Path, scripts: bool = False) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", path], check=True)
    overlay(path, scripts=scripts)
    return path


@pytest.fixture(scope="session")
def template_repo(tmp_path_factory) -> Path:
    """This working tree (tracked and new files) as a git repository: tag 1.0.0, then a
    commit tagged 1.1.0 that changes a comment, so copier update has something to do."""
    repo = tmp_path_factory.mktemp("template") / "repo"
    files = sh(ROOT, "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for name in filter(None, files.split("\0")):
        if (ROOT / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, repo / name)
    sh(repo, "git", "init", "-q", "-b", "main")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "1.0.0")
    sh(repo, "git", "tag", "1.0.0")
    config = repo / "template/config/config.yaml.jinja"
    config.write_text(config.read_text() + "\n# Release 1.1.0 of the test's template copy.\n")
    sh(repo, "git", "commit", "-qam", "1.1.0")
    sh(repo, "git", "tag", "1.1.0")
    return repo


@pytest.fixture(scope="session")
def projects(tmp_path_factory, template_repo):
    """A committed git project per set of answers, rendered once; each use gets a copy."""
    cache: dict[str, Path] = {}

    def get(answers: dict[str, str], destination: Path) -> Path:
        key = answers_label(answers)
        if key not in cache:
            from copier import run_copy

            target = tmp_path_factory.mktemp("project") / "my-project"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                run_copy(
                    str(template_repo), target, data=answers, defaults=True, quiet=True,
                    vcs_ref="1.0.0", unsafe=False,
                )  # fmt: skip
            sh(target, "git", "init", "-q", "-b", "main")
            sh(target, "git", "add", "-A")
            sh(target, "git", "commit", "-qm", "Generated from the template")
            cache[key] = target
        shutil.copytree(cache[key], destination, symlinks=True)
        return destination

    return get


@pytest.fixture(scope="session")
def doc_plan(doc_pages):
    return plan(doc_pages)


# -- Files the commands read -------------------------------------------------------------------


def write_customers(path: Path, rows: int = 400) -> Path:
    """A table like docs/own-data.md's: an ID, names, cities with stray spaces (Brest once),
    blank plans and ages, dates, a constant and an empty column, the target `churned`,
    and the columns that its override examples name (zip_code, store, rating)."""
    rng = random.Random(0)
    cities = ["Lyon", "Paris", " Paris", "Paris ", "Lille", "Nice"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["customer_id", "name", "city", "plan", "age", "monthly_fee", "signup_date",
         "newsletter", "country", "notes", "zip_code", "store", "rating", "churned"]
    )  # fmt: skip
    for i in range(rows):
        age = rng.randint(18, 80)
        plan = rng.choice(["pro", "basic"])
        fee = round(rng.uniform(10, 40), 2)
        score = (age - 50) / 15 + (plan == "basic") + fee / 20 + rng.gauss(0, 0.3)
        writer.writerow(
            [1001 + i, f"Customer {i:04d}", "Brest" if i == 7 else rng.choice(cities),
             "" if i % 15 == 3 else plan, "" if i % 13 == 5 else f"{age}.0", fee,
             f"{rng.randint(2019, 2022)}/{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}",
             rng.random() < 0.3, "FR", "", rng.choice([69001, 75011, 59000, 6000, 29200]),
             rng.randint(1, 5), round(rng.uniform(1, 5), 1), "yes" if score > 1.2 else "no"]
        )  # fmt: skip
    path.write_text(out.getvalue())
    return path


def bundled(project: Path) -> tuple[list[str], list[list[str]], str]:
    """Header, rows and target column of the project's bundled table."""
    config = yaml.safe_load((project / "config/data/data.yaml").read_text())
    name = Path(config["path"]).name
    with open(project / "data" / name, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:], config["target"]


def write_rows(path: Path, header: list[str], rows: list[list[str]]) -> None:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(out.getvalue())


def block_with(markdown: str, text: str) -> str:
    """The fenced block of a page that contains `text` (there must be one)."""
    blocks = ["\n".join(lines) for _, _, lines in fenced_blocks(markdown)]
    found = [block for block in blocks if text in block]
    assert len(found) == 1, f"{len(found)} blocks contain {text!r}"
    return found[0] + "\n"


def titled_block(markdown: str, title: str) -> str | None:
    pattern = re.compile(rf'^\s*(`{{3,}}|~{{3,}}).*title="{re.escape(title)}"')
    lines = markdown.splitlines()
    for i, line in enumerate(lines):
        match = pattern.match(line)
        if match:
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == match.group(1))
            return "\n".join(lines[i + 1 : end]) + "\n"
    return None


def replace_key(yaml_text: str, key: str, block: str) -> str:
    """yaml_text with its top-level `key:` block replaced by `block`."""
    lines = yaml_text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{key}:"))
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i][:1] not in ("", " ", "\n", "#")),
        len(lines),
    )
    return "".join(lines[:start]) + block + "".join(lines[end:])


def recipes_files(markdown: str, project: Path) -> Iterator[tuple[str, str]]:
    """docs/recipes.md: the network, its model config and the experiment the page has the
    reader write."""
    yield "my_project/models/components/resmlp.py", block_with(markdown, "class ResidualMLP(")
    model = (project / "config/model/model.yaml").read_text()
    net = block_with(markdown, "_target_: my_project.models.components.resmlp.ResidualMLP")
    yield "config/model/resmlp.yaml", replace_key(model, "net", net)
    yield "config/experiment/resmlp_deep.yaml", block_with(markdown, "task_name: resmlp_deep")


# Files a page has the reader write by hand, written before its commands run.
PAGE_FILES = {"docs/recipes.md": recipes_files}


# -- Servers -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(command: list[str], port: int, cwd: Path, env: dict, where: str = "") -> subprocess.Popen:
    """Start a server and wait until it answers GET / on the port."""
    log = tempfile.NamedTemporaryFile(prefix="server-", suffix=".log", delete=False)
    server = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=log, stderr=log, start_new_session=True
    )
    deadline = time.monotonic() + 240
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as answer:
                assert answer.status == 200
                return server
        except (OSError, urllib.error.URLError):
            if server.poll() is not None or time.monotonic() > deadline:
                stop(server)
                raise AssertionError(
                    f"{where}`{shlex.join(command)}` did not answer on port {port}:\n"
                    + Path(log.name).read_text()[-4000:]
                ) from None
            time.sleep(1)


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)


@functools.cache
def tracking_server() -> str:
    """An MLflow tracking server for this test process, as docs/scaling.md starts one."""
    folder = Path(tempfile.mkdtemp(prefix="tracking-"))
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri",
               "sqlite:///mlflow.db", "--artifacts-destination", "./mlartifacts",
               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]  # fmt: skip
    server = serve(command, port, folder, clean_env())
    atexit.register(shutil.rmtree, folder, True)
    atexit.register(stop, server)
    return f"http://127.0.0.1:{port}"


# -- A page's shell session --------------------------------------------------------------------


@dataclass
class Session:
    """A reader's shell: a folder (workspace) with the project or the template clone, the
    current directory, environment variables, and servers started for the page."""

    workspace: Path
    cwd: Path
    env: dict[str, str]
    preloaded: Preloaded
    template_repo: Path
    page: str = ""
    markdown: str = ""
    log: list[str] = field(default_factory=list)
    done: set = field(default_factory=set)

    # -- running things

    def shell(self, command: str, timeout: float = 600, env: dict | None = None):
        return subprocess.run(
            ["bash", "-c", command], cwd=self.cwd, env=env or self.env,
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip

    def check(self, command: Command, ran: str, result, expect_ok: bool = True) -> None:
        failed = result.returncode != 0
        assert failed != expect_ok, (
            f"{command.page}:{command.line}: `{command.shell}` "
            f"{'failed' if failed else 'succeeded'} (exit {result.returncode})\n"
            f"ran: {ran}\nin: {self.cwd}\n--- stdout\n{result.stdout[-3000:]}\n"
            f"--- stderr\n{result.stderr[-5000:]}"
        )

    def python(self, words: list[str], timeout: float = 600):
        return self.preloaded.run(self.cwd, *words[1:], env=self.env, timeout=timeout)

    def run(self, command: Command) -> None:
        if command.text in KNOWN_ISSUES:
            fix, why = KNOWN_ISSUES[command.text]
            result = self.shell(command.shell)
            self.check(command, command.shell + "  (a known issue: " + why + ")", result, False)
            result = self.shell(fix)
            self.check(command, fix, result)
            self.log.append(f"known issue, ran the fix: {fix}")
            return
        runner = runner_for(command)
        assert runner is not None, command
        start = time.monotonic()
        ran = getattr(self, "run_" + runner.name.replace(" ", "_"))(command)
        self.log.append(f"{time.monotonic() - start:6.1f}s {command.page}:{command.line}: {ran}")

    def run_cd(self, command: Command) -> str:
        target = shlex.split(command.shell)[1]
        for base in (self.cwd, self.workspace):
            if (base / target).is_dir():
                self.cwd = (base / target).resolve()
                return command.shell
        raise AssertionError(f"{command.page}:{command.line}: no folder {target} to cd into")

    def run_export(self, command: Command) -> str:
        name, _, value = shlex.split(command.shell)[1].partition("=")
        if re.fullmatch(SERVER_URL, value):
            value = self.tracking()
        self.env[name] = value
        return f"export {name}={value}"

    def run_train(self, command: Command) -> str:
        words = shlex.split(command.shell)
        at = words.index("main.py") + 1
        context = AS_ABOVE.get(command.page)
        if context and re.match(context[0], command.text):
            words[at:at] = context[1]
        words = self.checkpoints(words, command)
        self.data_files(words)
        if not NO_RUN_FLAGS & set(words):
            resume = any(w.startswith("ckpt_path=") for w in words) and "train=false" not in words
            words += [RESUME_EPOCHS if resume and w.startswith("trainer.max_epochs") else w
                      for w in SHORT_RUN]  # fmt: skip
            if "hparams_search=optuna" in words:
                words.append(SEARCH_TRIALS)
        ran = shlex.join(words)
        result = self.python(words) if words[0] == "python" else self.shell(ran)
        self.check(command, ran, result)
        return ran

    def run_predict(self, command: Command) -> str:
        words = shlex.split(command.shell)
        self.data_files(words)
        words = self.checkpoints(words, command)
        ran = shlex.join(words)
        result = self.python(words) if words[0] == "python" else self.shell(ran)
        self.check(command, ran, result)
        return ran

    def run_venv(self, command: Command) -> str:
        env = self.env
        if command.text.startswith("uv venv"):
            env = {**self.env, "UV_VENV_CLEAR": "1"}
        result = self.shell(command.shell, env=env)
        self.check(command, command.shell, result)
        words = shlex.split(command.shell)
        folder = next((w for w in words[2:] if not w.startswith("-") and w != "venv"), ".venv")
        overlay(self.cwd / folder)
        return command.shell

    def run_copier_copy(self, command: Command) -> str:
        words = shlex.split(command.shell)
        words = [self.template_url(w) for w in words]
        destination = self.cwd / words[-1]
        extra = [] if "--defaults" in words else ["--defaults"]
        if destination.is_dir():
            for path in sorted(destination.rglob("*")):
                relative = path.relative_to(destination)
                if path.is_file() and ".git" not in relative.parts:
                    extra += ["--skip", relative.as_posix()]
        words[2:2] = extra
        return self.plain(command, shlex.join(words))

    def run_copier_update(self, command: Command) -> str:
        dirty = self.shell("git status --porcelain").stdout.strip()
        if dirty and not self.block_committed:
            self.shell("git add -A && git commit -qm 'Work before updating'")
            self.log.append("committed the work before copier update")
        return self.plain(command, command.shell)

    def run_git(self, command: Command) -> str:
        if re.match(r"git (add|commit)\b", command.text):
            self.block_committed = True
        return self.plain(command, command.shell)

    def run_script(self, command: Command) -> str:
        return self.plain(command, command.shell, timeout=900)

    # pytest, pip, cp and grep | sed run as written, in the session's folder.
    run_pytest = run_pip = run_files = run_script

    def plain(self, command: Command, ran: str, timeout: float = 600) -> str:
        result = self.shell(ran, timeout=timeout)
        self.check(command, ran, result)
        return ran

    def run_server(self, command: Command) -> str:
        port = free_port()
        words = shlex.split(command.shell)
        if "--port" in words:
            words[words.index("--port") + 1] = str(port)
        else:
            words += ["--port", str(port)]
        if words[0] == "mlflow" and "--workers" not in words:
            words += ["--workers", "1"]
        words = self.sweeps(words)
        ran = shlex.join(words)
        where = f"{command.page}:{command.line}: "
        stop(serve(["bash", "-c", "exec " + ran], port, self.cwd, self.env, where))
        return ran + "  (answered, stopped)"

    def tracking(self) -> str:
        """The URL of an MLflow tracking server (SUBSTITUTIONS)."""
        return tracking_server()

    # -- placeholders and inputs

    block_committed: bool = False

    def template_url(self, word: str) -> str:
        return re.sub(TEMPLATE_URL, str(self.template_repo), word)

    def sweeps(self, words: list[str]) -> list[str]:
        out = []
        for word in words:
            if re.search(SWEEP, word):
                sweeps = sorted((self.cwd / "logs/multiruns").glob("*"))
                if not sweeps:
                    self.prerequisite(["python", "main.py", "-m", "seed=1,2"])
                    sweeps = sorted((self.cwd / "logs/multiruns").glob("*"))
                word = re.sub(SWEEP, f"logs/multiruns/{sweeps[-1].name}", word)
            out.append(word)
        return out

    def prerequisite(self, words: list[str]) -> None:
        words = words + SHORT_RUN
        result = self.python(words)
        assert result.returncode == 0, f"prerequisite {words} failed:\n{result.stderr[-3000:]}"
        self.log.append(f"prerequisite: {shlex.join(words)}")

    def checkpoints(self, words: list[str], command: Command) -> list[str]:
        """Put real checkpoints in place of <run>/<checkpoint> (SUBSTITUTIONS)."""
        placeholder = re.compile(CHECKPOINT)
        at = next((i for i, w in enumerate(words) if placeholder.search(w)), None)
        if at is None:
            return words
        kind = "last" if "last.ckpt" in words[at] else "best"
        script = "predict.py" if "predict.py" in words else "main.py"
        own = [w for w in words[words.index(script) + 1 :]
               if not w.startswith(("ckpt_path=", "train=", "input=", "output="))]  # fmt: skip
        run = self.find_run(own, words, script)
        if run is None:
            self.prerequisite(["python", "main.py", *(own if script == "main.py" else [])])
            run = self.find_run(own, words, script)
        assert run is not None, f"{command.page}:{command.line}: no run for {words[at]}"
        best = sorted(run.glob("checkpoints/epoch_*.ckpt"))
        checkpoint = run / "checkpoints/last.ckpt" if kind == "last" else best[-1]
        words = list(words)
        words[at] = placeholder.sub(str(checkpoint.relative_to(self.cwd)), words[at])
        return words

    def find_run(self, own: list[str], words: list[str], script: str) -> Path | None:
        """The newest run made with the same overrides (main.py), or trained on a table with
        the columns of the input (predict.py)."""
        runs = sorted((self.cwd / "logs/runs").glob("*/checkpoints/last.ckpt"))
        for last in reversed(runs):
            run = last.parent.parent
            if not list(run.glob("checkpoints/epoch_*.ckpt")):
                continue
            if script == "main.py":
                made = yaml.safe_load((run / ".hydra/overrides.yaml").read_text())
                if [o for o in made if o not in APPENDED] == own:
                    return run
            else:
                source = next(w for w in words if w.startswith("input="))[len("input=") :]
                with open(self.cwd / source, newline="") as f:
                    header = set(next(csv.reader(f)))
                with open(run / "columns.csv", newline="") as f:
                    used = {r["column"] for r in csv.DictReader(f)
                            if r["role"] in ("numeric", "categorical", "date")}  # fmt: skip
                if used <= header:
                    return run
        return None

    def data_files(self, words: list[str]) -> None:
        """Make the tables a command reads if no page or earlier command made them: data.path
        (the bundled table, its target renamed to data.target), predict.py's input (a block
        of the page with that title, or the bundled table's first rows without the target)."""
        values = dict(w.split("=", 1) for w in words if "=" in w and not w.startswith("-"))
        project = self.cwd
        if "data.path" in values and not (self.cwd / values["data.path"]).exists():
            header, rows, target = bundled(project)
            renamed = [values.get("data.target", target) if h == target else h for h in header]
            write_rows(self.cwd / values["data.path"], renamed, rows)
        if "input" in values and not (self.cwd / values["input"]).exists():
            text = titled_block(self.markdown, values["input"])
            if text is not None:
                (self.cwd / values["input"]).parent.mkdir(parents=True, exist_ok=True)
                (self.cwd / values["input"]).write_text(text)
            else:
                header, rows, target = bundled(project)
                keep = [i for i, h in enumerate(header) if h != target]
                write_rows(
                    self.cwd / values["input"],
                    [header[i] for i in keep],
                    [[row[i] for i in keep] for row in rows[:5]],
                )

    # -- copies for blocks that change the project

    def copy(self, block: list[Command]) -> Session:
        workspace = Path(tempfile.mkdtemp(prefix="block-", dir=self.workspace.parent))
        shutil.rmtree(workspace)
        shutil.copytree(self.workspace, workspace, symlinks=True)
        other = Session(
            workspace, workspace / self.cwd.relative_to(self.workspace), dict(self.env),
            self.preloaded, self.template_repo, self.page, self.markdown, self.log,
        )  # fmt: skip
        if "old-project" in " ".join(c.shell for c in block):
            make_old_project(workspace / "old-project")
        return other


def make_old_project(folder: Path) -> None:
    """A project made by hand before the template: a git repository with a README and a
    training script (docs/updating.md)."""
    folder.mkdir()
    (folder / "README.md").write_text("# Churn model\n\nOur old training script.\n")
    (folder / "train.py").write_text('print("training")\n')
    sh(folder, "git", "init", "-q", "-b", "main")
    sh(folder, "git", "add", "-A")
    sh(folder, "git", "commit", "-qm", "Old project")


def base_env(home: Path, venv: Path) -> dict[str, str]:
    drop = ("MLFLOW_", "WANDB_", "VIRTUAL_ENV", "CONDA", "UV_", "PYTEST_", "PYTHONPATH")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    real_home = Path.home()
    env.update(
        HOME=str(home),
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        PYTHONUNBUFFERED="1",
        COLUMNS="120",
        WANDB_SILENT="true",
        PIP_CACHE_DIR=os.environ.get("PIP_CACHE_DIR", str(real_home / ".cache/pip")),
        UV_CACHE_DIR=os.environ.get("UV_CACHE_DIR", str(real_home / ".cache/uv")),
        MPLCONFIGDIR=os.environ.get("MPLCONFIGDIR", str(real_home / ".config/matplotlib")),
        **GIT_ENV,
    )
    return env


@pytest.mark.slow
@pytest.mark.parametrize("group", group_names())
def test_documented_commands_run(group, doc_pages, doc_plan, template_repo, projects, tmp_path):
    pages = doc_plan.get(group, [])
    if not any(blocks for _, blocks in pages):
        pytest.skip("every block of these pages runs with an earlier page, or is not run")
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    write_customers(home / "customers.csv")
    venv = make_venv(tmp_path / "reader-env", scripts=True)
    env = base_env(home, venv)
    if group == "template repository":
        start = workspace / "template"
        sh(workspace, "git", "clone", "-q", str(template_repo), str(start))
        make_venv(start / ".venv", scripts=True)
    else:
        answers = page_answers(pages[0][0])
        start = projects(answers, workspace / "my-project")
    session = Session(workspace, start, env, preloaded_python(), template_repo)
    try:
        for page, blocks in pages:
            session.cwd, session.env = start, dict(env)
            session.page, session.markdown = page, doc_pages[page]
            for path, text in PAGE_FILES.get(page, lambda *_: ())(session.markdown, start):
                (start / path).parent.mkdir(parents=True, exist_ok=True)
                (start / path).write_text(text)
            for block in blocks:
                run_block(session, block)
    finally:
        print(f"\n{group}:\n" + "\n".join(session.log))


def run_block(session: Session, block: list[Command]) -> None:
    registered = not_run()
    changes = any(
        (runner_for(c) or Runner("", "")).name in ("git", "copier update")
        for c in block
        if c.text not in registered
    )
    runner = session.copy(block) if changes else session
    runner.block_committed = False
    lines: dict[int, list[Command]] = {}
    for command in block:
        lines.setdefault(command.line, []).append(command)
    for line in lines.values():
        key = (runner.cwd, tuple(c.text for c in line))
        moves = any(re.match(r"(cd|export) ", c.text) for c in line)
        if key in runner.done and not moves:
            runner.log.append(f"   ran already in {runner.cwd.name}: {line[0].page}:{line[0].line}")
            continue
        for command in line:
            if command.text in registered:
                runner.log.append(f"   not run: {command.text} ({registered[command.text]})")
            else:
                runner.run(command)
        runner.done.add(key)
