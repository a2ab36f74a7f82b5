"""What keeps the generated training loop fast (timings live in benchmarks/, not here)."""

import ast

from .conftest import run_ok

STEPS = ("training_step", "validation_step", "test_step")


def methods(path, class_name: str) -> dict[str, ast.FunctionDef]:
    (cls,) = [n for n in ast.parse(path.read_text()).body if getattr(n, "name", "") == class_name]
    return {f.name: f for f in cls.body if isinstance(f, ast.FunctionDef)}


def calls(function: ast.FunctionDef) -> list[str]:
    return [ast.unparse(node.func) for node in ast.walk(function) if isinstance(node, ast.Call)]


def test_steps_neither_call_nor_update_metric_objects(rendered):
    for task in ("binary", "multiclass", "regression"):
        ligmod = methods(rendered(task_type=task) / "my_project/models/ligmod.py", "LigMod")
        for step in STEPS:
            made = calls(ligmod[step])
            # Only the forward pass and keeping its outputs: no metric called or updated.
            other = [
                c for c in made if c != "self.model_step" and not c.endswith((".append", ".detach"))
            ]
            assert not other, f"{step} calls {other}"
            assert "self.model_step" in made
        epoch = calls(ligmod["_log_epoch"])
        assert "metrics.update" in epoch and "metrics.compute" in epoch


def test_dataloader_serves_whole_batches_without_per_row_access(rendered):
    project = rendered()
    script = """
import hydra
from tests.conftest import compose_config
import tempfile, pathlib
cfg = compose_config(pathlib.Path(tempfile.mkdtemp()))
dm = hydra.utils.instantiate(cfg.data, _convert_="all")
dm.setup("fit")
rows = []
dataset = dm.data_train
type(dataset).__getitem__ = lambda self, i: rows.append(i)
batches = list(dm.train_dataloader())
assert not rows, "rows were fetched one at a time"
assert len(batches[0][0]) == cfg.data.batch_size, len(batches[0][0])
assert sum(len(x) for x, _ in batches) >= len(dataset) - 1
print("ok", len(batches))
"""
    assert run_ok(project, "-c", script).stdout.startswith("ok")
