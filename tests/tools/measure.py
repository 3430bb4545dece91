"""Peak memory of a process, read from the kernel's high-water mark (no sampling gaps).

Linux keeps VmHWM per address space (reset by exec, unlike getrusage's ru_maxrss, which a child
inherits from the process that forked it); elsewhere getrusage is the fallback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]

_WRAPPER = """
import resource, runpy, sys
sys.argv = ["ocr", *sys.argv[1:]]
code = 0
try:
    runpy.run_module("ocr", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else 1
try:
    hwm = [ln for ln in open("/proc/self/status") if ln.startswith("VmHWM:")][0].split()[1]
except OSError:
    hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
sys.stderr.write(f"\\nPEAK_RSS_KB {hwm}\\n")
sys.exit(code)
"""


@dataclass
class Run:
    """A finished CLI run: exit status, output, peak resident memory in MB (10^6 bytes)."""

    code: int
    stdout: str
    stderr: str
    peak_mb: float


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120.0) -> Run:
    """`python -m ocr ARGS` in a child; its peak RSS as reported by the child's own getrusage."""
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    proc = subprocess.run([sys.executable, "-c", _WRAPPER, *args], capture_output=True, text=True,
                          cwd=ROOT, env=full_env, timeout=timeout)
    err, _, tail = proc.stderr.rpartition("PEAK_RSS_KB ")
    return Run(proc.returncode, proc.stdout, err.rstrip(), int(tail.split()[0]) * 1024 / 1e6)


def rss_mb(pid: int) -> float:
    """Resident memory of a process now, in MB."""
    return psutil.Process(pid).memory_info().rss / 1e6


def peak_mb(pid: int) -> float | None:
    """The high-water mark of a process's resident memory in MB (Linux VmHWM), or None elsewhere."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        return None
    return None


def reset_peak(pid: int) -> bool:
    """Reset a process's high-water mark to its current RSS (Linux: write 5 to clear_refs)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True
