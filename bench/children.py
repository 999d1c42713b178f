"""What the benches share: timing a child process, and the goals' verdict.

Kept free of numpy and of our package, so that a bench importing it stays small: a child's
peak RSS as ``os.wait4`` reports it can include its parent's size at the time it started.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Child:
    """One finished child process: wall and CPU (user + sys) seconds, peak RSS, its output."""

    wall_s: float
    cpu_s: float
    peak_mb: float
    stdout: str
    stderr: str


def run_child(cmd: list[str]) -> Child:
    """Run ``cmd`` to the end and measure it (``os.wait4``: this child's own resource usage,
    including its children that it waited for).

    Output goes to temporary files (ffmpeg's ebur128 writes a line per frame to stderr, which
    would fill a pipe).

    Raises
    ------
    RuntimeError
        If the child exits with a non-zero status; the message ends with its stderr's tail.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall_s = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    returncode = os.waitstatus_to_exitcode(status)
    if returncode != 0:
        raise RuntimeError(f"{cmd[0]} ... failed ({returncode}):\n{stderr[-2000:]}")
    cpu_s = usage.ru_utime + usage.ru_stime
    return Child(wall_s, cpu_s, usage.ru_maxrss / 1024.0, stdout, stderr)  # ru_maxrss: KB


def goals_verdict(goals: Mapping[str, bool]) -> int:
    """Print which goals were missed (or that all were met); the bench's exit status."""
    missed = [name for name, met in goals.items() if not met]
    if missed:
        print(f"GOAL MISSED: {', '.join(missed)}", file=sys.stderr)
        return 1
    print("all goals met")
    return 0
