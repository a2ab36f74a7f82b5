"""export.py and serve.py of rendered projects: an ONNX model from raw columns to
predictions, checked against the checkpoint, and an HTTP server run for real."""

import io
import json
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from .conftest import TASKS, render, run, run_ok
from .tables import TARGETS, write_messy_table

pytestmark = pytest.mark.slow

# New rows as users bring them: an unseen city, a row of blanks (with a padded category),
# numbers as text, and an unseen store code.
NEW_ROWS = """age,city,member,joined,store
35,Atlantis,True,2013/02/01,2
, Paris ,,,
61,Nice,False,2012/07/14,9
"""
# The same rows as JSON for the server.
JSON_ROWS = [
    {"age": 35, "city": "Atlantis", "member": True, "joined": "2013/02/01", "store": 2},
    {"age": None, "city": " Paris ", "member": None, "joined": "", "store": None},
    {"age": "61", "city": "Nice", "member": False, "joined": "2012/07/14", "store": 9},
]


def trained(tmp_path: Path, task: str) -> tuple[Path, Path]:
    """A project trained briefly on the messy table (dates, blanks, text categories)."""
    project = render(tmp_path / "project", task_type=task, logger="none")
    table = write_messy_table(task, tmp_path / "customers.csv")
    run_ok(
        project, "main.py", f"data.path={table}", f"data.target={TARGETS[task]}",
        "trainer.max_epochs=5", "print_config=false",
    )  # fmt: skip
    (checkpoint,) = project.glob("logs/runs/*/checkpoints/last.ckpt")
    return project, checkpoint


def predict_py(project: Path, checkpoint: Path, tmp_path: Path) -> pd.DataFrame:
    """predict.py's prediction columns for NEW_ROWS."""
    rows, output = tmp_path / "new.csv", tmp_path / "predictions.csv"
    rows.write_text(NEW_ROWS)
    run_ok(project, "predict.py", f"ckpt_path={checkpoint}", f"input={rows}", f"output={output}")
    predictions = pd.read_csv(output)
    return predictions[[c for c in predictions.columns if c.startswith("predicted_")]]


def onnx_feeds(features: list[dict], csv_text: str) -> dict[str, np.ndarray]:
    """The ONNX inputs for CSV rows, made as the model's documentation and metadata say:
    numbers float32 (NaN: blank), categories stripped text ("" blank), dates as parts."""
    text = pd.read_csv(io.StringIO(csv_text), dtype=str, keep_default_na=False)
    feeds = {}
    for feature in features:
        column = text[feature["column"]].str.strip()
        if feature["kind"] == "categorical":
            feeds[feature["name"]] = column.to_numpy(dtype=object)
        elif feature["kind"] == "numeric":
            feeds[feature["name"]] = pd.to_numeric(column.replace("", np.nan)).to_numpy("float32")
        else:
            assert feature["kind"] == "date part", feature
            dates = pd.to_datetime(column.replace("", None), format="%Y/%m/%d")
            part = feature["name"].rsplit(".", 1)[1]
            feeds[feature["name"]] = getattr(dates.dt, part).to_numpy("float32", na_value=np.nan)
    return feeds


@pytest.mark.parametrize("task", TASKS)
def test_export_writes_an_onnx_model_that_predicts_raw_columns_as_the_checkpoint(tmp_path, task):
    import onnx
    import onnxruntime

    project, checkpoint = trained(tmp_path, task)
    model_path = tmp_path / "out" / "model.onnx"
    result = run_ok(project, "export.py", f"ckpt_path={checkpoint}", f"output={model_path}")
    # The export compared onnxruntime with the checkpoint on the test split (45 rows of
    # the 297 with a target) plus a row of blanks and one of unseen categories.
    checked = re.search(r"matches the checkpoint on (\d+) check rows", result.stdout)
    assert checked and int(checked[1]) == 45 + 2, result.stdout

    onnx.checker.check_model(str(model_path), full_check=True)
    model = onnx.load(model_path)
    meta = {prop.key: prop.value for prop in model.metadata_props}
    features = json.loads(meta["features"])
    assert meta["task"] == task and meta["target"] == TARGETS[task]
    classes = {"binary": ["no", "yes"], "multiclass": ["basic", "plus", "premium"]}
    assert json.loads(meta["classes"]) == classes.get(task, [])
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert meta["template_version"] == answers["_commit"]
    run_info = json.loads(meta["run"])
    assert run_info["checkpoint"] == str(checkpoint.resolve())
    assert run_info["run_dir"] == str(checkpoint.resolve().parents[1])
    assert {f["column"]: f["kind"] for f in features} == {
        "age": "numeric", "city": "categorical", "member": "categorical",
        "joined": "date part", "store": "numeric",
    }  # fmt: skip

    session = onnxruntime.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    inputs = {entry.name: entry for entry in session.get_inputs()}
    assert list(inputs) == [f["name"] for f in features]
    assert "joined.day_of_week" in inputs and "joined" not in inputs
    assert inputs["city"].type == "tensor(string)" and inputs["age"].type == "tensor(float)"
    assert all(
        len(entry.shape) == 1 and isinstance(entry.shape[0], str) for entry in inputs.values()
    )
    outputs = [entry.name for entry in session.get_outputs()]
    assert outputs == (["value"] if task == "regression" else ["label", "probability"])

    feeds = onnx_feeds(features, NEW_ROWS)
    got = dict(zip(outputs, session.run(None, feeds), strict=True))
    expected = predict_py(project, checkpoint, tmp_path)
    for name in outputs:
        want = expected[f"predicted_{name}"].to_numpy()
        if name == "label":
            assert list(got[name]) == list(want.astype(str))
        else:
            np.testing.assert_allclose(got[name], want, rtol=1e-4, atol=1e-4)
    # Any batch size: the first row alone gives the same prediction.
    alone = session.run(None, {name: values[:1] for name, values in feeds.items()})
    assert alone[-1][0] == pytest.approx(got[outputs[-1]][0], abs=1e-6)


def start_server(project: Path, log: Path, *args: str) -> tuple[subprocess.Popen, str]:
    """serve.py on a free port (port=0); its URL, read from its first line."""
    out = log.open("w")
    server = subprocess.Popen(
        [sys.executable, "serve.py", "port=0", *args],
        cwd=project,
        stdout=out,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (found := re.search(r"at (http://127\.0\.0\.1:\d+) ", log.read_text())):
        assert server.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, "serve.py did not start"
        time.sleep(0.2)
    return server, found[1]


def test_server_refuses_bad_requests_then_predicts_as_predict_py(tmp_path):
    import httpx

    project, checkpoint = trained(tmp_path, "binary")
    log = tmp_path / "server.log"
    server, url = start_server(
        project, log, f"ckpt_path={checkpoint}", "max_rows=20", "max_body_bytes=20000"
    )
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            health = client.get("/health")
            assert health.status_code == 200 and health.json()["status"] == "ok"
            assert health.json()["features"] == ["age", "city", "member", "joined", "store"]

            row = JSON_ROWS[0]
            without_age = {k: v for k, v in row.items() if k != "age"}
            bad = [  # (request, status, words the message must hold)
                ({"content": b'{"rows": [{"age": 3'}, 400, ["not valid JSON"]),
                ({"json": {"data": [row]}}, 422, ['no "rows"']),
                ({"json": {"rows": [row, without_age]}}, 422, ["rows[1]", "age", "null"]),
                ({"json": {"rows": [{**row, "age": "old"}]}}, 422, ["'age'", "'old'"]),
                ({"content": json.dumps({"rows": [row] * 300})}, 413, ["max_body_bytes"]),
                ({"json": {"rows": [row] * 21}}, 413, ["21 rows", "limit of 20", "max_rows"]),
            ]
            for request, status, words in bad:
                answer = client.post("/predict", headers={"content-type": "application/json"},
                                     **request)  # fmt: skip
                assert answer.status_code == status, (request, answer.text)
                message = answer.json()["error"]
                assert all(word in message for word in words), message
                assert "Traceback" not in answer.text
                assert client.get("/health").status_code == 200  # still serving

            answer = client.post("/predict", json={"rows": JSON_ROWS})
            assert answer.status_code == 200, answer.text
            predictions = pd.DataFrame(answer.json()["predictions"])
            many = client.post("/predict", json={"rows": [row] * 20})
            assert many.status_code == 200 and len(many.json()["predictions"]) == 20

        # A short concurrent load: 8 clients, 5 requests each, of 1 to 20 rows; every
        # answer is whole and equals the single-row answer for that row.
        single = client_answer(url, [row])[0]

        def same(answers: list[dict], count: int) -> bool:
            return len(answers) == count and all(
                a["predicted_label"] == single["predicted_label"]
                and abs(a["predicted_probability"] - single["predicted_probability"]) < 1e-6
                for a in answers
            )

        def load(worker: int) -> list[bool]:
            with httpx.Client(base_url=url, timeout=60) as own:
                counts = [1 + (worker * 5 + i) % 20 for i in range(5)]
                return [same(client_answer(url, [row] * n, own), n) for n in counts]

        with ThreadPoolExecutor(max_workers=8) as pool:
            outcomes = [ok for results in pool.map(load, range(8)) for ok in results]
        assert len(outcomes) == 40 and all(outcomes)
        # The port is taken now: a second server says so in one line.
        port = url.rsplit(":", 1)[1]
        second = run(project, "serve.py", f"ckpt_path={checkpoint}", f"port={port}")
        assert second.returncode == 1 and "Traceback" not in second.stderr
        assert second.stderr.strip().startswith(f"Error: cannot listen on 127.0.0.1:{port}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert "Traceback" not in log.read_text()

    expected = predict_py(project, checkpoint, tmp_path)
    assert list(predictions.columns) == list(expected.columns)
    assert list(predictions["predicted_label"]) == list(expected["predicted_label"])
    np.testing.assert_allclose(
        predictions["predicted_probability"], expected["predicted_probability"], rtol=1e-6
    )


def client_answer(url: str, rows: list[dict], client=None) -> list[dict]:
    """The predictions the server answers for `rows` (asserting a 200)."""
    import httpx

    own = client or httpx.Client(base_url=url, timeout=60)
    answer = own.post("/predict", json={"rows": rows})
    assert answer.status_code == 200, answer.text
    return answer.json()["predictions"]


def test_bad_arguments_of_export_and_serve_fail_with_one_line(rendered):
    project = rendered(task_type="regression", logger="none")
    cases = [
        ("export.py", ["ckpt_path=missing.ckpt"], "Error: ckpt_path: no file at"),
        ("serve.py", ["ckpt_path=missing.ckpt"], "Error: ckpt_path: no file at"),
        ("serve.py", ["ckpt_path=missing.ckpt", "port=http"], "Error: port is 'http'"),
        ("serve.py", ["ckpt_path=missing.ckpt", "port=70000"], "Error: port is 70000"),
    ]
    # Side by side: each spends its time importing.
    processes = [
        subprocess.Popen(
            [sys.executable, script, *args],
            cwd=project,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for script, args, _ in cases
    ]
    for process, (script, args, words) in zip(processes, cases, strict=True):
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 1 and "Traceback" not in stderr, (script, args, stderr)
        assert stderr.strip().splitlines() == [stderr.strip()], stderr
        assert stderr.startswith(words), stderr
