"""A checkpoint as one ONNX model, from raw columns to predictions (see export.py at the root).

The graph holds the preprocessing of data/preprocessing.py, the network (exported by
`torch.onnx.export`) and the prediction head of the task's LigMod:

- inputs: one per feature column, named after it, each a 1-D tensor of any length (the
  batch). Numeric columns are float32 with NaN for a blank: the training median fills
  it, a "was blank" input is set where training had blanks, then the training mean and
  standard deviation scale it. Categorical columns are strings, mapped to their
  vocabulary index by the `ai.onnx.ml` LabelEncoder: values not seen in training map
  to index 0, "unknown"; the empty string is the blank (its own category when training
  had blanks, else unknown). ONNX has no operator that strips spaces, so values must be
  spelled as in training: stripped of surrounding spaces, whole numbers without `.0`,
  true/false as `True`/`False` (`onnx_inputs` does this; predict.py and serve.py do it
  on their own). ONNX cannot parse dates either: a date column is four float32 inputs,
  `<column>.year`, `.month`, `.day_of_week` (Monday = 0) and `.day_of_year`, NaN for a
  blank date.
- outputs: predict.py's prediction columns without the `predicted_` prefix: `label`
  (the class, a string) and `probability` (of that class), or `value` in the data's units.
- metadata (`metadata_props`): the features and their kinds, the classes, the task, the
  template version and the run the checkpoint came from, as JSON strings.

Before the file is written, `onnx.checker` validates the model and onnxruntime's
predictions are compared with the checkpoint's (`Predictor.predict`) on the test split
of the training table, plus a row of blanks and a row of unseen categories.
"""

import json
import logging
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from .data.datamodule import DataModule
from .data.preprocessing import BLANK, category_text, numeric_inputs
from .data.roles import CATEGORICAL, DATE, NUMERIC
from .errors import UserError
from .inference import Predictor

ML_OPSET = 3  # ai.onnx.ml: LabelEncoder with string keys
NET = "net/"  # prefix of the network's own names in the graph
PRE = "pre/"  # prefix of the preprocessing's names
UNSEEN = "\x00unseen category\x00"  # a category no table holds: the check's "unknown"


def export_onnx(
    ckpt_path: str, output: str, data_path: str | None = None, atol: float = 1e-4
) -> dict[str, Any]:
    """Write the ONNX model of `ckpt_path` to `output` after checking it; return a summary.

    `data_path` is the table whose test split checks the model (default: the table the
    checkpoint was trained on); `atol` the largest difference allowed between
    onnxruntime's and the checkpoint's probabilities (values: relative to their size).
    """
    onnx, onnxruntime = import_onnx()
    start = time.perf_counter()
    predictor = Predictor.load(ckpt_path)
    check_names(predictor)
    rows = check_rows(predictor, data_path)
    model = build_model(onnx, predictor, ckpt_path)
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as err:
        raise UserError(f"onnx.checker refused the exported model: {err}") from None
    difference = compare(onnxruntime, model, predictor, rows, atol)
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    onnx.save(model, partial)
    partial.replace(path)
    return {
        "output": str(path),
        "inputs": [entry.name for entry in model.graph.input],
        "outputs": [entry.name for entry in model.graph.output],
        "rows": len(rows),
        "max_abs_difference": difference,
        "seconds": time.perf_counter() - start,
    }


def import_onnx():
    """(onnx, onnxruntime), or a UserError saying how to install them."""
    try:
        import onnx
        import onnxruntime
        import onnxscript  # noqa: F401 - torch.onnx.export needs it
    except ImportError as err:
        raise UserError(
            f"export.py needs onnx, onnxruntime and onnxscript ({err}); install them with: "
            f"pip install -e '.[export]'."
        ) from None
    return onnx, onnxruntime


# -- what the model takes and gives ----------------------------------------------------


def input_specs(predictor: Predictor) -> list[dict[str, str]]:
    """The ONNX inputs in order: name, table column, kind and element type."""
    by_column: dict[str, list[str]] = {}
    for entry in predictor.preprocessor.numeric:
        by_column.setdefault(entry["column"], []).append(entry["name"])
    specs = []
    for role in predictor.preprocessor.roles:
        if role.role == NUMERIC:
            specs.append({"name": role.column, "column": role.column, "kind": "numeric"})
        elif role.role == DATE:
            for name in by_column[role.column]:
                specs.append({"name": name, "column": role.column, "kind": "date part"})
        elif role.role == CATEGORICAL:
            specs.append({"name": role.column, "column": role.column, "kind": "categorical"})
    for spec in specs:
        spec["type"] = "string" if spec["kind"] == "categorical" else "float32"
    return specs


def output_names(predictor: Predictor) -> list[str]:
    """The prediction columns, named as `LigMod.predict_step` names them."""
    preprocessor = predictor.preprocessor
    numbers = torch.zeros(2, preprocessor.numeric_width)
    categories = torch.zeros(2, len(preprocessor.categorical), dtype=torch.long)
    with torch.inference_mode():
        return list(predictor.model.predict_step((numbers, categories)))


def check_names(predictor: Predictor) -> None:
    """Graph inputs and outputs share one namespace: refuse a feature named like an output."""
    clash = sorted({spec["name"] for spec in input_specs(predictor)} & set(output_names(predictor)))
    if clash:
        raise UserError(
            f"feature column(s) {', '.join(clash)} have the name of a prediction output, "
            f"which an ONNX graph cannot hold twice; rename the column in the table and retrain."
        )


def onnx_inputs(rows: pd.DataFrame, predictor: Predictor) -> dict[str, np.ndarray]:
    """The ONNX model's inputs for raw table rows: what a caller of the model must send.

    Numbers as float32 with NaN for blanks, categories as stripped text ("" for a blank),
    dates as their four float32 parts.
    """
    missing = [name for name in predictor.columns if name not in rows.columns]
    if missing:
        raise UserError(f"the rows have no column(s) {', '.join(missing)}.")
    values: dict[str, np.ndarray] = {}
    for role in predictor.preprocessor.roles:
        if role.role in (NUMERIC, DATE):
            for name, numbers in numeric_inputs(rows, role):
                values[name] = numbers.astype(np.float32)
        elif role.role == CATEGORICAL:
            column = rows[role.column]
            text = [BLANK if pd.isna(value) else category_text(value) for value in column]
            values[role.column] = np.array(text, dtype=object)
    return {spec["name"]: values[spec["name"]] for spec in input_specs(predictor)}


# -- building the graph ----------------------------------------------------------------


class PredictionHead(torch.nn.Module):
    """The LigMod from the network's inputs to its prediction columns, as plain tensors."""

    def __init__(self, model: torch.nn.Module, numeric_width: int, categorical: int) -> None:
        super().__init__()
        self.model = model
        self.numeric_width = numeric_width
        self.categorical = categorical

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        # A table without numeric (or categorical) inputs gets an empty tensor of them here,
        # not as a graph input of width 0.
        rows = inputs[0].shape[0]
        given = iter(inputs)
        numbers = next(given) if self.numeric_width else torch.zeros(rows, 0)
        categories = next(given) if self.categorical else torch.zeros(rows, 0, dtype=torch.long)
        return tuple(self.model.predict_step((numbers, categories)).values())


def network_model(onnx, predictor: Predictor):
    """The network and prediction head as an ONNX model (inputs `numbers`, `categories`)."""
    preprocessor = predictor.preprocessor
    width, categorical = preprocessor.numeric_width, len(preprocessor.categorical)
    head = PredictionHead(predictor.model, width, categorical).eval()
    examples, names = [], []
    if width:
        examples.append(torch.zeros(2, width))
        names.append("numbers")
    if categorical:
        examples.append(torch.zeros(2, categorical, dtype=torch.long))
        names.append("categories")
    batch = torch.export.Dim("batch")
    with quiet_exporter():
        program = torch.onnx.export(
            head,
            tuple(examples),
            dynamo=True,
            input_names=names,
            output_names=output_names(predictor),
            # forward(*inputs): one entry, the tuple of inputs, each with a dynamic batch
            dynamic_shapes=(tuple({0: batch} for _ in examples),),
            verbose=False,
        )
    return onnx.compose.add_prefix(program.model_proto, NET)


@contextmanager
def quiet_exporter() -> Iterator[None]:
    """Silence the exporter's warnings and log lines (e.g. about torchvision) while it runs."""
    names = ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript", "onnx_ir")
    levels = {name: logging.getLogger(name).level for name in names}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in names:
            logging.getLogger(name).setLevel(logging.ERROR)
        try:
            yield
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)


def build_model(onnx, predictor: Predictor, ckpt_path: str):
    """Preprocessing, network and head in one ONNX model, with its metadata."""
    from onnx import TensorProto, helper, numpy_helper

    net = network_model(onnx, predictor)
    preprocessor = predictor.preprocessor
    nodes, initializers = [], []

    def constant(name: str, value: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(value, PRE + name))
        return PRE + name

    axis1 = constant("axis1", np.array([1], dtype=np.int64))
    inputs = []
    for spec in input_specs(predictor):
        kind = TensorProto.STRING if spec["type"] == "string" else TensorProto.FLOAT
        inputs.append(helper.make_tensor_value_info(spec["name"], kind, ["batch"]))

    # Numeric inputs and date parts, in float64 as the Preprocessor computes them.
    scaled, blanks = [], []
    for i, entry in enumerate(preprocessor.numeric):
        x, p = entry["name"], f"{PRE}numeric{i}/"
        median, mean, std = (
            constant(f"numeric{i}/{key}", np.float64(entry[key]))
            for key in ("median", "mean", "std")
        )
        nodes += [
            helper.make_node("Cast", [x], [p + "x"], to=TensorProto.DOUBLE),
            helper.make_node("IsNaN", [p + "x"], [p + "blank"]),
            helper.make_node("Where", [p + "blank", median, p + "x"], [p + "filled"]),
            helper.make_node("Sub", [p + "filled", mean], [p + "centred"]),
            helper.make_node("Div", [p + "centred", std], [p + "scaled"]),
            helper.make_node("Cast", [p + "scaled"], [p + "float"], to=TensorProto.FLOAT),
            helper.make_node("Unsqueeze", [p + "float", axis1], [p + "column"]),
        ]
        scaled.append(p + "column")
        if entry["blank_input"]:
            nodes += [
                helper.make_node("Cast", [p + "blank"], [p + "was_blank"], to=TensorProto.FLOAT),
                helper.make_node("Unsqueeze", [p + "was_blank", axis1], [p + "blank_column"]),
            ]
            blanks.append(p + "blank_column")
    if scaled:
        nodes.append(helper.make_node("Concat", scaled + blanks, [NET + "numbers"], axis=1))

    # Categorical inputs: vocabulary index, 0 for unknown (index i + 1 for vocabulary[i]).
    indices = []
    for i, entry in enumerate(preprocessor.categorical):
        x, p = entry["column"], f"{PRE}categorical{i}/"
        vocabulary = entry["vocabulary"]
        if vocabulary:
            nodes.append(
                helper.make_node(
                    "LabelEncoder", [x], [p + "index"], domain="ai.onnx.ml",
                    keys_strings=vocabulary, values_int64s=list(range(1, len(vocabulary) + 1)),
                    default_int64=0,
                )
            )  # fmt: skip
        else:  # every category was rare in training: all are unknown
            nodes += [
                helper.make_node("Shape", [x], [p + "shape"]),
                helper.make_node(
                    "ConstantOfShape", [p + "shape"], [p + "index"],
                    value=helper.make_tensor("zero", TensorProto.INT64, [1], [0]),
                ),
            ]  # fmt: skip
        nodes.append(helper.make_node("Unsqueeze", [p + "index", axis1], [p + "column"]))
        indices.append(p + "column")
    if indices:
        nodes.append(helper.make_node("Concat", indices, [NET + "categories"], axis=1))

    nodes += list(net.graph.node)

    # Outputs: the head's columns under their own names; class indices become labels.
    outputs = []
    for name in output_names(predictor):
        if name == "label":
            classes = np.array(predictor.target.classes, dtype=object)
            nodes.append(
                helper.make_node("Gather", [constant("classes", classes), NET + name], [name])
            )
            outputs.append(helper.make_tensor_value_info(name, TensorProto.STRING, ["batch"]))
        else:
            nodes.append(helper.make_node("Identity", [NET + name], [name]))
            outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch"]))

    graph = helper.make_graph(
        nodes,
        "raw_rows_to_predictions",
        inputs,
        outputs,
        initializer=initializers + list(net.graph.initializer),
        value_info=list(net.graph.value_info),
    )
    opsets = [entry for entry in net.opset_import if entry.domain not in ("ai.onnx.ml",)]
    opsets.append(helper.make_opsetid("ai.onnx.ml", ML_OPSET))
    model = helper.make_model(graph, opset_imports=opsets, ir_version=net.ir_version)
    model.functions.extend(net.functions)
    model.producer_name = __package__
    model.doc_string = (
        "Raw table columns to predictions; numeric inputs float32 (NaN: blank), categorical "
        "inputs strings as spelled in training ('' : blank, unseen: unknown). See metadata."
    )
    helper.set_model_props(model, metadata(predictor, ckpt_path))
    return model


def metadata(predictor: Predictor, ckpt_path: str) -> dict[str, str]:
    """What a user of the model file needs to know, as strings (JSON for structures)."""
    checkpoint = predictor.checkpoint
    path = Path(ckpt_path).resolve()
    run = {
        "run_dir": str(path.parent.parent),
        "checkpoint": str(path),
        "epoch": checkpoint.get("epoch"),
        "global_step": checkpoint.get("global_step"),
        "logger_runs": checkpoint.get("logger_runs", {}),
        "data": checkpoint.get("datamodule_hyper_parameters", {}).get("path"),
    }
    classes = getattr(predictor.target, "classes", [])
    return {
        "task": predictor.task,
        "target": predictor.target.column,
        "features": json.dumps(input_specs(predictor)),
        "classes": json.dumps(classes),
        "outputs": json.dumps(output_names(predictor)),
        "template_version": template_version(),
        "run": json.dumps(run),
    }


def template_version() -> str:
    """The template commit or tag the project was rendered from (.copier-answers.yml)."""
    import yaml

    answers = Path(__file__).resolve().parents[1] / ".copier-answers.yml"
    try:
        return str(yaml.safe_load(answers.read_text()).get("_commit", "unknown"))
    except (OSError, AttributeError, yaml.YAMLError):
        return "unknown"


# -- the check -------------------------------------------------------------------------


def check_rows(predictor: Predictor, data_path: str | None) -> pd.DataFrame:
    """The test split of the training table, a row of blanks and a row of unseen categories."""
    hparams = dict(predictor.checkpoint.get("datamodule_hyper_parameters") or {})
    if not hparams:
        raise UserError("the checkpoint holds no data settings, so there is no test split.")
    path = Path(data_path or hparams["path"])
    if not path.is_file():
        raise UserError(
            f"the export is checked on the test split of the training table, but there is "
            f"no file at {path.resolve()}; point data_path= at the table the model was "
            f"trained on."
        )
    hparams["path"] = str(path)
    try:
        datamodule = DataModule(**hparams)
    except TypeError as err:
        raise UserError(
            f"the checkpoint's data settings do not fit this project's DataModule ({err}); "
            f"export a checkpoint trained with this version of the project."
        ) from None
    datamodule.load_state_dict(predictor.checkpoint["DataModule"])
    rows = datamodule.test_rows()[predictor.columns]
    blank = pd.DataFrame([{column: None for column in predictor.columns}])
    unseen = rows.iloc[[0]].astype(object).copy()
    for entry in predictor.preprocessor.categorical:
        unseen[entry["column"]] = UNSEEN
    return pd.concat([rows, blank, unseen], ignore_index=True).infer_objects()


def compare(onnxruntime, model, predictor: Predictor, rows: pd.DataFrame, atol: float) -> float:
    """Largest difference between onnxruntime's and the checkpoint's predictions on `rows`;
    a UserError if a label differs or a number is off by more than `atol` (+ 1e-4 relative)."""
    expected = predictor.predict(rows)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    names = [entry.name for entry in session.get_outputs()]
    got = dict(zip(names, session.run(None, onnx_inputs(rows, predictor)), strict=True))
    largest = 0.0
    for name in expected.columns:
        want = expected[name].to_numpy()
        if name == "label":
            differ = np.flatnonzero(got[name].astype(str) != want.astype(str))
            if len(differ):
                i = differ[0]
                raise UserError(
                    f"onnxruntime predicts label {got[name][i]!r} where the checkpoint predicts "
                    f"{want[i]!r} ({len(differ)} of {len(rows)} check rows); the export is wrong."
                )
            continue
        want = want.astype(np.float64)
        difference = np.abs(got[name].astype(np.float64) - want)
        largest = max(largest, float(difference.max(initial=0.0)))
        if not np.all(difference <= atol + 1e-4 * np.abs(want)):
            raise UserError(
                f"onnxruntime's {name} differs from the checkpoint's by up to "
                f"{difference.max():.3g} (more than atol={atol}) on the check rows."
            )
    return largest
