"""`python main.py ...` of a rendered project without paying `import lightning` each time.

A Python process (one per test process) imports torch, Lightning, Hydra, pandas,
matplotlib and MLflow once, then forks a child for each command: the child changes to the
project's folder, takes the command's environment and arguments, and runs the script as
`__main__`, as `python <script> ...` would. Its exit code, stdout and stderr are the
command's. Only the imports are shared; the project's own modules are imported by each
child, so edits to a project between commands are seen.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ZYGOTE = r"""
import json, os, runpy, sys, traceback
for name in sys.argv[1:]:
    __import__(name)
print("ready", flush=True)
for line in sys.stdin:
    job = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            null = os.open(os.devnull, os.O_RDONLY)
            out = os.open(job["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            err = os.open(job["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(null, 0), os.dup2(out, 1), os.dup2(err, 2)
            os.chdir(job["cwd"])
            os.environ.clear()
            os.environ.update(job["env"])
            sys.argv = job["argv"]
            sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))
            runpy.run_path(sys.argv[0], run_name="__main__")
        except SystemExit as exit:
            code = exit.code
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.exit(code)
    print(pid, flush=True)
    _, status = os.waitpid(pid, 0)
    print(os.waitstatus_to_exitcode(status), flush=True)
"""
PRELOAD = ("torch", "lightning.pytorch", "torchmetrics", "hydra", "omegaconf", "pandas",
           "rich", "matplotlib.pyplot", "mlflow")  # fmt: skip


def clean_env() -> dict[str, str]:
    """This process's environment without settings that would redirect a run's logs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "WANDB_"))}
    env.update(PYTHONUNBUFFERED="1", COLUMNS="120", WANDB_SILENT="true")
    return env


class Preloaded:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-c", ZYGOTE, *PRELOAD],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=clean_env(),
        )  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()
        assert self.lines.get(timeout=300) == "ready", "the preloaded interpreter did not start"

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.strip())
        self.lines.put("")

    def run(
        self, cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess:
        """`python *args` in cwd (args[0] is the script), with env or a clean environment."""
        with self.lock, tempfile.TemporaryDirectory() as tmp:
            out, err = Path(tmp, "out"), Path(tmp, "err")
            job = {"argv": list(args), "cwd": str(cwd), "env": env or clean_env()}
            job.update(out=str(out), err=str(err))
            self.process.stdin.write(json.dumps(job) + "\n")
            self.process.stdin.flush()
            pid = int(self.lines.get(timeout=60))
            try:
                code = int(self.lines.get(timeout=timeout))
            except queue.Empty:
                os.kill(pid, signal.SIGKILL)
                code = int(self.lines.get(timeout=60))
            return subprocess.CompletedProcess(args, code, out.read_text(), err.read_text())

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=60)


@functools.cache
def preloaded_python() -> Preloaded:
    """The test process's preloaded interpreter, started on first use."""
    zygote = Preloaded()
    atexit.register(zygote.close)
    return zygote


def run_ok(project: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Like conftest.run_ok, in the preloaded interpreter."""
    result = preloaded_python().run(project, *args, timeout=timeout)
    assert result.returncode == 0, (
        f"{' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    )
    return result
