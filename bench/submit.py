"""Run murano-engine-submit from the controller and read its figures."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


class SubmitError(Exception):
    """murano-engine-submit could not run or wrote no figures."""


def submit(url, count, workload, timeout, concurrency=None, **options):
    """Cast ``count`` deploy tasks and return the client's summary dict.

    ``options`` are --seconds (wait workload) and --steps (cpu workload).
    """
    program = shutil.which("murano-engine-submit")
    if program is None:
        raise SubmitError(
            "murano-engine-submit not found on PATH: activate the controller "
            "venv, where `pip install -e engine` installs it"
        )
    arguments = [
        program,
        "--count",
        str(count),
        "--workload",
        workload,
        "--timeout",
        str(timeout),
    ]
    if concurrency:
        arguments += ["--concurrency", str(concurrency)]
    for name, value in options.items():
        arguments += [f"--{name}", str(value)]

    with tempfile.TemporaryDirectory() as scratch:
        figures = Path(scratch) / "figures.json"
        completed = subprocess.run(
            [*arguments, "--json", str(figures)],
            env=dict(os.environ, MURANO_TRANSPORT_URL=url),
            capture_output=True,
            text=True,
            timeout=timeout + 120,
            check=False,
        )
        if not figures.exists():
            raise SubmitError(
                f"murano-engine-submit exited with {completed.returncode} and "
                f"wrote no figures: {completed.stderr.strip()[-2000:]}"
            )
        return json.loads(figures.read_text())["summary"]


class TimedTasks:
    """Cast tasks in a child process that reports each task's result time.

    The child (``python -m bench.timed_tasks``) uses the client's library,
    because the client's command reports no per-task times, and runs apart
    because oslo.messaging's eventlet backend must stay out of this process.
    Result times are wall-clock seconds from time.time(), the clock the probe
    on the test host uses too.
    """

    def __init__(self, url, count, workload, timeout, **options):
        arguments = [
            sys.executable,
            "-m",
            "bench.timed_tasks",
            "--count",
            str(count),
            "--workload",
            workload,
            "--timeout",
            str(timeout),
        ]
        for name, value in options.items():
            arguments += [f"--{name}", str(value)]
        self._arguments = arguments
        self._url = url
        self._timeout = timeout
        self._process = None

    def start(self):
        self._process = subprocess.Popen(
            self._arguments,
            env=dict(os.environ, MURANO_TRANSPORT_URL=self._url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[1],
        )

    def join(self):
        """Wait for the child; return its list of {"id", "cast_at", "results"}."""
        stdout, stderr = self._process.communicate(timeout=self._timeout + 120)
        if self._process.returncode != 0:
            raise SubmitError(
                f"casting tasks failed with exit code {self._process.returncode}: "
                f"{stderr.strip()[-2000:]}"
            )
        return json.loads(stdout)
