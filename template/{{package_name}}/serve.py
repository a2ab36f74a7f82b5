"""An HTTP prediction server for a checkpoint (see serve.py at the project root).

    POST /predict  {"rows": [{column: value, ...}, ...]}  ->  {"predictions": [...]}
    GET  /health   {"status": "ok", ...}

Each prediction holds predict.py's prediction columns for its row (`predicted_label`
and `predicted_probability`, or `predicted_value`), computed by the same code
(`Predictor.predict`): rows are taken as predict.py takes them, with text categories,
blanks (null or "") and unseen categories. The checkpoint is loaded once; the rows of a
request go through the network as one batch.

A bad request gets a 4xx status and `{"error": "<what is wrong and how to fix it>"}`:
400 for a body that is not JSON, 413 for a body over `max_body_bytes` or more rows than
`max_rows`, 422 for JSON without "rows", a row without a feature column, or a value
the model cannot read (e.g. text in a numeric column). The server then goes on serving.

FastAPI and uvicorn (the `serve` extra) run it: one process whose handler owns every
error answer and the body size limit.
"""

import json
import math
import socket
from typing import TYPE_CHECKING, Any

import pandas as pd

from .errors import UserError

if TYPE_CHECKING:  # loaded in serve(), after the arguments are checked: torch is slow to import
    from .inference import Predictor

try:
    import uvicorn
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
except ImportError as err:
    raise UserError(
        f"serve.py needs FastAPI and uvicorn ({err}); install them with: pip install -e '.[serve]'."
    ) from None

SCALARS = (str, int, float, bool, type(None))
EXAMPLE = '{"rows": [{"column": value, ...}, ...]}'


class RequestError(Exception):
    """A request the server refuses: its HTTP status and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def create_app(predictor: "Predictor", max_rows: int, max_body_bytes: int) -> FastAPI:
    """The server's application: /predict and /health for `predictor`."""
    app = FastAPI(title=f"{__package__} predictions", docs_url=None, redoc_url=None)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "task": predictor.task,
            "features": predictor.columns,
            "checkpoint": predictor.path,
            "max_rows": max_rows,
            "max_body_bytes": max_body_bytes,
        }

    def answer(body: bytes) -> dict[str, Any]:
        rows = table_of(parse(body), predictor.columns, max_rows)
        if rows.empty:
            return {"predictions": []}
        predictions = predictor.predict(rows).add_prefix("predicted_")
        return {"predictions": records(predictions)}

    @app.post("/predict")
    async def predict(request: Request) -> dict[str, Any]:
        body = await read_body(request, max_body_bytes)
        # Parsing and predicting in a worker thread keep the event loop free for others.
        return await run_in_threadpool(answer, body)

    @app.exception_handler(RequestError)
    def refused(request: Request, err: RequestError) -> JSONResponse:
        return JSONResponse({"error": err.message}, status_code=err.status)

    @app.exception_handler(UserError)
    def unreadable(request: Request, err: UserError) -> JSONResponse:
        return JSONResponse({"error": str(err)}, status_code=422)

    @app.exception_handler(HTTPException)
    def http_error(request: Request, err: HTTPException) -> JSONResponse:
        message = f"{err.detail}: the server answers POST /predict and GET /health."
        return JSONResponse({"error": message}, status_code=err.status_code)

    @app.exception_handler(RequestValidationError)
    def invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": str(err)}, status_code=422)

    @app.exception_handler(Exception)
    def crashed(request: Request, err: Exception) -> JSONResponse:
        # uvicorn logs the traceback; the client gets one line.
        return JSONResponse(
            {"error": f"internal error ({type(err).__name__}); see the server's log."},
            status_code=500,
        )

    return app


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or a 413 once it passes `limit` bytes.

    The rest of an oversized body is read and dropped, not kept, so the client gets the
    answer instead of a reset connection.
    """
    body = bytearray()
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= limit:
            body += chunk
    if size > limit:
        raise RequestError(
            413,
            f"the body has {size} bytes, more than the server's limit of {limit} "
            f"(max_body_bytes); send fewer rows per request.",
        )
    return bytes(body)


def parse(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RequestError(
            400,
            f"the body is not valid JSON ({err}); send {EXAMPLE}.",
        ) from None


def table_of(payload: Any, columns: list[str], max_rows: int) -> pd.DataFrame:
    """The feature columns of the payload's rows as a table, or a RequestError naming the fault."""
    if not isinstance(payload, dict) or "rows" not in payload:
        raise RequestError(422, f'the JSON has no "rows"; send {EXAMPLE}.')
    rows = payload["rows"]
    if not isinstance(rows, list):
        kind = type(rows).__name__
        raise RequestError(422, f'"rows" must be a list, not {kind}; send {EXAMPLE}.')
    if len(rows) > max_rows:
        raise RequestError(
            413,
            f"the request has {len(rows)} rows, more than the server's limit of {max_rows} "
            f"(max_rows); split it into smaller requests.",
        )
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise RequestError(
                422, f"rows[{i}] must be an object of column: value, not {type(row).__name__}."
            )
        missing = [column for column in columns if column not in row]
        if missing:
            raise RequestError(
                422,
                f"rows[{i}] has no column(s) {', '.join(missing)}, which the model was trained "
                f"on; add them (null for a blank value).",
            )
        for column in columns:
            if not isinstance(row[column], SCALARS):
                raise RequestError(
                    422,
                    f"rows[{i}][{column!r}] is of type {type(row[column]).__name__}; a value "
                    f"must be text, a number, true/false or null.",
                )
    return pd.DataFrame([[row[column] for column in columns] for row in rows], columns=columns)


def records(predictions: pd.DataFrame) -> list[dict[str, Any]]:
    """One dict per row, numbers as JSON can hold them (a non-finite number as null)."""
    return [
        {
            name: None if isinstance(value, float) and not math.isfinite(value) else value
            for name, value in row.items()
        }
        for row in predictions.to_dict(orient="records")
    ]


# -- running it ------------------------------------------------------------------------


def check_port(port: Any) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise UserError(
            f"port is {port!r}; use a whole number from 1 to 65535 (0: any free port), "
            f"e.g. port=8000."
        )
    return port


def check_limit(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(f"{name} is {value!r}; use a whole number of at least 1.")
    return value


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or a UserError saying why there is none."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as err:
        raise UserError(
            f"host {host!r} is not an address of this machine ({err}); use e.g. "
            f"host=127.0.0.1 (this machine only) or host=0.0.0.0 (every interface)."
        ) from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as err:
        sock.close()
        raise UserError(
            f"cannot listen on {host}:{port} ({err.strerror or err}); stop what uses it or "
            f"choose another port, e.g. port={port + 1 if 0 < port < 65535 else 8000}."
        ) from None
    return sock


def serve(
    ckpt_path: str,
    host: str,
    port: Any,
    max_rows: Any = 10000,
    max_body_bytes: Any = 10_000_000,
    threads: Any = 1,
    log_level: str = "info",
) -> None:
    """Load the checkpoint once and answer requests on host:port until stopped (Ctrl-C)."""
    port = check_port(port)
    max_rows = check_limit("max_rows", max_rows)
    max_body_bytes = check_limit("max_body_bytes", max_body_bytes)
    if threads is not None:
        threads = check_limit("threads", threads)
    import torch  # after the checks: it takes seconds to import

    from .inference import Predictor

    if threads is not None:
        torch.set_num_threads(threads)
    app = create_app(Predictor.load(ckpt_path), max_rows, max_body_bytes)
    sock = bind(str(host), port)
    bound = sock.getsockname()[1]
    url_host = f"[{host}]" if ":" in str(host) else host
    print(
        f"Serving {ckpt_path} at http://{url_host}:{bound} (POST /predict, GET /health); "
        f"Ctrl-C stops it.",
        flush=True,
    )
    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, timeout_graceful_shutdown=5))
    server.run(sockets=[sock])
