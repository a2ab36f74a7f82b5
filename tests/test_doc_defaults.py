"""Numbers, defaults and file names that the pages state match the rendered projects.

STATED pins each statement of a default (epochs, patience, batch size, trials, a config
value in parentheses) to the key of the composed config it describes; the fast tests
compose that config in a project rendered for the page's answers and compare. A page
that gains such a statement fails test_every_stated_default_is_checked until STATED (or
NOT_DEFAULTS) covers it, and a STATED entry that no page shows any more fails too.

The slow test runs a short training and an Optuna search in a project of every logger
and checks that each `logs/...` path the pages name, and each file they say a run or
sweep folder holds (columns.csv, main.log, ...), exists.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .conftest import LOGGERS, render
from .doc_commands import all_pages, page_answers, page_project, project_with
from .preloaded import run_ok

README = r"project\[.*\]/README\.md"
IN_WORDS = {"val/loss": "validation loss", 1: "one"}


def in_words(value: Any) -> str:
    """How prose says a value: `validation loss` for val/loss, `one` for 1."""
    return IN_WORDS.get(value, str(value))


def percent(fractions: list[float]) -> str:
    return "/".join(str(round(100 * f)) for f in fractions)


@dataclass(frozen=True)
class Stated:
    pages: str  # regular expression for the page names (see tests/doc_commands.py)
    text: str  # regular expression of the statement (whitespace normalised); group 1: the value
    key: str  # dotted key of the composed config
    overrides: tuple[str, ...] = ()  # composed with these overrides
    answers: tuple[tuple[str, str], ...] = ()  # of the project (else the page's answers)
    say: Callable[[Any], str] = str  # how the page writes the value
    known_issue: str = ""  # a mismatch someone is fixing: reported, not failed


STATED = [
    Stated(r"docs/index\.md", r"trains for up to (\d+) epochs", "trainer.max_epochs"),
    Stated(
        r"docs/index\.md",
        r"early stopping watches the (validation loss)",
        "callbacks.early_stopping.monitor",
        say=in_words,
    ),
    Stated(
        r"docs/index\.md",
        r"`(epoch_N+)\.ckpt`",
        "callbacks.model_checkpoint.filename",
        say=lambda name: re.sub(r"\{epoch:0(\d)d\}", lambda m: "N" * int(m[1]), name),
    ),
    Stated(
        r"docs/index\.md",
        r"`epoch_N+\.ckpt`, by the (validation loss)",
        "callbacks.model_checkpoint.monitor",
        say=in_words,
    ),
    Stated(
        r"docs/anatomy\.md",
        r"`python main.py debug=limit` \| (\d+) epochs",
        "trainer.max_epochs",
        ("debug=limit",),
    ),
    Stated(
        r"docs/anatomy\.md",
        r"`python main.py debug=overfit` \| (\d+) epochs",
        "trainer.max_epochs",
        ("debug=overfit",),
    ),
    Stated(
        r"docs/anatomy\.md",
        r"`python main.py debug=overfit` \| \d+ epochs on the same (\d+) batches",
        "trainer.overfit_batches",
        ("debug=overfit",),
    ),
    Stated(
        r"docs/anatomy\.md",
        r"`debug/default.yaml` \((one) CPU epoch",
        "trainer.max_epochs",
        ("debug=default",),
        say=in_words,
    ),
    Stated(
        r"docs/anatomy\.md",
        r"early-stopping callbacks watch `(val/loss)`",
        "callbacks.early_stopping.monitor",
    ),
    Stated(
        r"docs/anatomy\.md",
        r"The checkpoint and early-stopping callbacks watch `(val/loss)`",
        "callbacks.model_checkpoint.monitor",
    ),
    Stated(README, r"debug=limit # (\d+) short epochs", "trainer.max_epochs", ("debug=limit",)),
    Stated(
        README,
        r"debug=overfit # can the model learn (\d+) batches",
        "trainer.overfit_batches",
        ("debug=overfit",),
    ),
    Stated(README, r"`data.min_category_count` \((\d+)\)", "data.min_category_count"),
    Stated(README, r"the best by `(val/loss)`", "callbacks.model_checkpoint.monitor"),
    Stated(
        r"docs/own-data\.md",
        r"at least `data.min_category_count` times \((\d+)\)",
        "data.min_category_count",
    ),
    Stated(
        r"docs/own-data\.md",
        r"\((\d+) % of 400\)",
        "data.train_val_test_split",
        say=lambda split: str(round(100 * split[0])),
    ),
    Stated(r"docs/own-data\.md", r"`data.missing=(\w+)` \(the default\)", "data.missing"),
    Stated(r"docs/performance\.md", r"At the default batch size \((\d+)\)", "data.batch_size"),
    Stated(
        r"docs/performance\.md",
        r"default batch size, read from the composed config \((\d+)\)",
        "data.batch_size",
    ),
    Stated(
        r"docs/performance\.md",
        r"Default batch size \(changed from 32 to (\d+)\)",
        "data.batch_size",
    ),
    Stated(r"docs/performance\.md", r"`max_epochs` raised from 50 to (\d+)", "trainer.max_epochs"),
    Stated(r"docs/performance\.md", r"Adam with lr ([\d.]+)", "model.optimizer.lr"),
    Stated(r"docs/performance\.md", r"the seed: (\d+)", "seed"),
    Stated(
        r"docs/scaling\.md",
        r"hparams_search=optuna # (\d+) trials",
        "hydra.sweeper.n_trials",
        ("hparams_search=optuna",),
    ),
    Stated(
        r"docs/evaluation\.md",
        r"`n_trials=(\d+)` means \d+ trials completed or pruned",
        "hydra.sweeper.n_trials",
        ("hparams_search=optuna",),
    ),
    Stated(
        r"docs/scaling\.md",
        r"trainer=ddp_sim # (\d+) CPU processes",
        "trainer.devices",
        ("trainer=ddp_sim",),
    ),
    Stated(
        r"docs/scaling\.md",
        r"trainer=gpu # accelerator: (\w+)",
        "trainer.accelerator",
        ("trainer=gpu",),
    ),
    Stated(
        r"docs/scaling\.md",
        r"trainer=gpu # accelerator: \w+, devices: (\d+)",
        "trainer.devices",
        ("trainer=gpu",),
    ),
    *(
        Stated(
            page,
            text.format(size=size),
            "model.net.hidden_sizes",
            answers=(("net_size", size),),
            say=lambda sizes: str(list(sizes)),
        )
        for size in ("small", "medium", "large")
        for page, text in [
            (r"README\.md", r"`{size}` (\[[\d, ]+\])"),
            (r"docs/questions\.md", r"\| `{size}` \| `(\[[\d, ]+\])` \|"),
        ]
    ),
]

# Statements that look like defaults but are not the project's: page -> (pattern, why).
NOT_DEFAULTS = {
    r"CHANGELOG\.md": (r".", "release notes: what each release changed, with the values then"),
    r"docs/performance\.md": (
        r".",
        "benchmark settings (batch sizes 32, 128 and 256, 4 or 5 epochs) that benchmarks/run.py"
        " sets itself; the defaults the page names are in STATED",
    ),
}

# What a statement of a default looks like; each match must be covered by STATED or
# NOT_DEFAULTS. Overrides such as `trainer.max_epochs=200` are examples, not defaults.
LOOKS_LIKE_A_DEFAULT = [
    r"\b\d+ (?:short )?epochs?\b",
    r"\bpatience (?:of )?\(?\d+",
    r"\bbatch(?: size)? \(?\d+",
    r"\b\d+ batches\b",
    r"\b\d+ trials\b",
    r"`(?:data|model|trainer|callbacks|hydra|logger)\.[\w.]+`[^.(`]{0,20}\(\d[\d.]*\)",
]


def normalised(markdown: str) -> str:
    return re.sub(r"\s+", " ", markdown)


def lookup(config: dict, key: str) -> Any:
    value: Any = config
    for part in key.split("."):
        value = value[part]
    return value


_composed: dict[tuple[Path, tuple[str, ...]], dict] = {}


def composed(project: Path, overrides: tuple[str, ...]) -> dict:
    """The project's config, composed by Hydra with these overrides (not resolved)."""
    if (project, overrides) not in _composed:
        from hydra import compose, initialize_config_dir
        from omegaconf import OmegaConf

        with initialize_config_dir(config_dir=str(project / "config"), version_base="1.3"):
            config = compose("config", overrides=list(overrides), return_hydra_config=True)
        _composed[project, overrides] = OmegaConf.to_container(config, resolve=False)
    return _composed[project, overrides]


def actual(stated: Stated, page: str) -> str:
    project = project_with(**dict(stated.answers)) if stated.answers else page_project(page)
    return stated.say(lookup(composed(project, stated.overrides), stated.key))


def test_stated_defaults_match_the_rendered_config():
    pages = all_pages()
    wrong, missing, fixed = [], [], []
    for stated in STATED:
        matched = False
        for page in (p for p in pages if re.fullmatch(stated.pages, p)):
            for match in re.finditer(stated.text, normalised(pages[page])):
                matched = True
                value = actual(stated, page)
                if match.group(1) == value and stated.known_issue:
                    fixed.append(f"{page}: {stated.text} ({stated.known_issue})")
                elif match.group(1) != value and not stated.known_issue:
                    wrong.append(f"{page}: says {match.group(0)!r}, but {stated.key} is {value}")
                elif match.group(1) != value:
                    print(f"known issue, {page}: {match.group(0)!r} but {stated.key} is {value}")
        if not matched:
            missing.append(f"{stated.pages}: {stated.text}")
    assert not wrong, "Pages state defaults the rendered project does not have:\n" + "\n".join(
        wrong
    )
    assert not missing, (
        "STATED has statements no page makes any more (update or remove them):\n"
        + "\n".join(missing)
    )
    assert not fixed, "Known issues that are fixed (remove known_issue):\n" + "\n".join(fixed)


def test_every_stated_default_is_checked():
    unchecked = []
    for page, markdown in all_pages().items():
        text = normalised(markdown)
        covered = [
            match.span()
            for stated in STATED
            if re.fullmatch(stated.pages, page)
            for match in re.finditer(stated.text, text)
        ]
        exempt = [
            match.span()
            for pattern, (statement, _) in NOT_DEFAULTS.items()
            if re.fullmatch(pattern, page)
            for match in re.finditer(statement, text)
        ]
        for pattern in LOOKS_LIKE_A_DEFAULT:
            for match in re.finditer(pattern, text):
                start, end = match.span()
                if not any(a < end and start < b for a, b in covered + exempt):
                    unchecked.append(f"{page}: ...{text[max(0, start - 40) : end + 20]}...")
    assert not unchecked, (
        "These statements look like defaults; add them to STATED in "
        "tests/test_doc_defaults.py (or to NOT_DEFAULTS with the reason):\n" + "\n".join(unchecked)
    )


# -- File names ---------------------------------------------------------------------------------

STATED_PATH = re.compile(r"(?<![\w/.])logs/(?:(?:[\w.*-]|<[\w ]+>)+/?)*")


def stated_paths(markdown: str) -> set[str]:
    """`logs/...` paths a page names (in text or commands), as glob patterns."""
    paths = set()
    for match in STATED_PATH.finditer(markdown):
        path = match.group(0).rstrip("/.")
        path = re.sub(r"<[\w ]+>", "*", path)
        path = re.sub(r"epoch_(\d{3}|N{3})\.ckpt", "epoch_[0-9][0-9][0-9].ckpt", path)
        paths.add(path)
    return paths


# Files the pages say a run or sweep folder holds, named without their folder.
RUN_FILE = re.compile(
    r"`((?:\.hydra/|checkpoints/)?(?:[\w-]+\.ckpt|metrics\.json|main\.log|columns\.csv|summary\.csv"
    r"|summary_grouped\.csv|optimization_results\.yaml|\.hydra/\w+\.yaml))`"
)


def run_files(markdown: str) -> set[str]:
    """Run-folder file names a page states, as glob patterns under logs/."""
    globs = set()
    for match in RUN_FILE.finditer(markdown):
        name = re.sub(r"epoch_(\d{3}|N{3})\.ckpt", "epoch_[0-9][0-9][0-9].ckpt", match.group(1))
        globs.add(name)
    return globs


@pytest.fixture(scope="module")
def logger_projects(tmp_path_factory) -> dict[str, Path]:
    """A project of each logger after a short training run and a 1-trial Optuna search."""
    short = ["trainer.max_epochs=2", "++trainer.limit_train_batches=2",
             "++trainer.limit_val_batches=2", "++trainer.limit_test_batches=2",
             "print_config=false"]  # fmt: skip
    projects = {}
    for logger in LOGGERS:
        project = render(tmp_path_factory.mktemp(logger) / "project", logger=logger)
        run_ok(project, "main.py", *short)
        run_ok(
            project, "main.py", "-m", "hparams_search=optuna", "hydra.sweeper.n_trials=1", *short
        )
        projects[logger] = project
    return projects


@pytest.mark.slow
def test_stated_paths_exist_after_a_run(logger_projects):
    """Every `logs/...` path a page names exists after a run: in the project of the page's
    logger, or for a page about all loggers, in one of them."""
    missing = []
    for page, markdown in all_pages().items():
        logger = page_answers(page).get("logger")
        where = [logger_projects[logger]] if logger else list(logger_projects.values())
        for path in sorted(stated_paths(markdown)):
            if not any(list(project.glob(path)) for project in where):
                missing.append(f"{page}: {path}")
        for name in sorted(run_files(markdown)):
            folders = ("logs/runs/*", "logs/runs/*/checkpoints", "logs/multiruns/*")
            if not any(list(p.glob(f"{f}/{name}")) for p in where for f in folders):
                missing.append(f"{page}: {name} (in a run or sweep folder)")
    assert not missing, "Pages name paths that no run writes:\n" + "\n".join(missing)


if __name__ == "__main__":  # list what the pages state: python -m tests.test_doc_defaults
    for page, markdown in all_pages().items():
        print(page, sorted(stated_paths(markdown) | run_files(markdown)), file=sys.stdout)
