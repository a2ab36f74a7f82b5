"""What keeps the generated training loop fast (timings live in benchmarks/, not here).

The steps, the epoch-end metric updates and logging live in models/ligmod.py (class
LigMod), shared by every task; a task file (models/binary.py, multiclass.py or
regression.py) only says how to score and predict. These tests read the rendered source
with ast, so a change that brings per-step metric work back fails here, not only in a
benchmark.
"""

import ast

from .conftest import TASKS, run_ok

STEPS = ("training_step", "validation_step", "test_step")
# What LigMod runs per step or per epoch; a task class that defined one of these would
# replace the fast path for that task.
SHARED = (
    *STEPS,
    "model_step",
    "forward",
    "_log_epoch",
    "on_train_epoch_end",
    "on_validation_epoch_end",
    "on_test_epoch_end",
)
# Attributes that hold torchmetrics objects (LigMod's and the tasks').
METRIC_ATTRIBUTES = ("_metrics", "_loss", "_best", "_confusion")
TASK_FILES = {
    "binary": ("binary.py", "BinaryClassifier"),
    "multiclass": ("multiclass.py", "MulticlassClassifier"),
    "regression": ("regression.py", "Regressor"),
}


def class_node(path, class_name: str) -> ast.ClassDef:
    (cls,) = [n for n in ast.parse(path.read_text()).body if getattr(n, "name", "") == class_name]
    return cls


def methods(path, class_name: str) -> dict[str, ast.FunctionDef]:
    cls = class_node(path, class_name)
    return {f.name: f for f in cls.body if isinstance(f, ast.FunctionDef)}


def calls(function: ast.FunctionDef) -> list[str]:
    return [ast.unparse(node.func) for node in ast.walk(function) if isinstance(node, ast.Call)]


def touches_metrics(function: ast.FunctionDef) -> list[str]:
    """The metric objects (self.<name> with a metric suffix) a function refers to."""
    return [
        ast.unparse(node)
        for node in ast.walk(function)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
        and node.attr.endswith(METRIC_ATTRIBUTES)
    ]


def test_steps_only_keep_outputs_and_metrics_are_fed_once_per_epoch(rendered):
    ligmod = methods(rendered() / "my_project/models/ligmod.py", "LigMod")
    for step in STEPS:
        made = calls(ligmod[step])
        # Only the forward pass and keeping its outputs: no metric called or updated.
        kept = (".append", ".detach")
        other = [c for c in made if c != "self.model_step" and not c.endswith(kept)]
        assert not other, f"LigMod.{step} calls {other}"
        assert "self.model_step" in made
        assert not touches_metrics(ligmod[step]), f"LigMod.{step} uses a metric object"
    # model_step: the task's score() on the network's output, nothing else per step.
    assert not touches_metrics(ligmod["model_step"])
    assert set(calls(ligmod["model_step"])) <= {"self.score", "self"}

    epoch = ligmod["_log_epoch"]
    made = calls(epoch)
    # Each stage's metrics take the whole epoch in one update and one compute ...
    assert made.count("metrics.update") == 1 and made.count("metrics.compute") == 1, made
    assert made.count("loss.update") == 1 and made.count("loss.compute") == 1, made
    # ... outside any loop (not one update per kept step).
    for loop in (n for n in ast.walk(epoch) if isinstance(n, (ast.For, ast.While))):
        assert not [c for c in calls(loop) if c.endswith((".update", ".compute"))]
    for stage, hook in (("train", "on_train_epoch_end"), ("val", "on_validation_epoch_end")):
        assert "self._log_epoch" in calls(ligmod[hook]), f"{hook} does not log the epoch"
        assert f"'{stage}'" in ast.unparse(ligmod[hook])


def test_task_files_only_score_and_predict(rendered):
    for task in TASKS:
        filename, class_name = TASK_FILES[task]
        models = rendered(task_type=task) / "my_project/models"
        assert not (set(TASK_FILES) - {task}) & {p.stem for p in models.glob("*.py")}, (
            f"the {task} project holds another task's model file"
        )
        task_class = class_node(models / filename, class_name)
        bases = [ast.unparse(base) for base in task_class.bases]
        assert "LigMod" in bases, f"{class_name} does not subclass LigMod: {bases}"
        # The task class and its mixins (e.g. ConfusionMatrixFigure) leave the steps,
        # the epoch ends and the logging to LigMod.
        owners = {class_name: methods(models / filename, class_name)}
        imported = {
            alias.name: node.module
            for node in ast.parse((models / filename).read_text()).body
            if isinstance(node, ast.ImportFrom) and node.level == 1
            for alias in node.names
        }
        for base in bases:
            if base != "LigMod":
                owners[base] = methods(models / f"{imported[base]}.py", base)
        for owner, defined in owners.items():
            replaced = set(defined) & set(SHARED)
            assert not replaced, f"{task}: {owner} redefines LigMod's {sorted(replaced)}"
        own = owners[class_name]
        assert {"score", "predict"} <= set(own), f"{class_name} lacks score/predict"
        # score runs in every step: no metric object may be used or logged there.
        assert not touches_metrics(own["score"]), f"{class_name}.score uses a metric object"
        assert not [c for c in calls(own["score"]) if c.endswith((".update", ".compute", "log"))]


def test_dataloader_serves_whole_batches_without_per_row_access(rendered):
    # Penguins (multiclass) has text columns: the category tensor is not empty.
    project = rendered(task_type="multiclass")
    script = """
import hydra
from tests.conftest import compose_config
import tempfile, pathlib
cfg = compose_config(pathlib.Path(tempfile.mkdtemp()))
dm = hydra.utils.instantiate(cfg.data, _convert_="all")
dm.setup("fit")
rows = []
dataset = dm.data_train
assert dataset.categories.shape[1] > 0, dataset.categories.shape
type(dataset).__getitem__ = lambda self, i: rows.append(i)
batches = list(dm.train_dataloader())
assert not rows, "rows were fetched one at a time"
numbers, categories, targets = batches[0]
assert len(numbers) == len(categories) == len(targets) == cfg.data.batch_size, len(numbers)
assert sum(len(t) for _, _, t in batches) >= len(dataset) - 1
print("ok", len(batches))
"""
    assert run_ok(project, "-c", script).stdout.startswith("ok")
