"""`batch --ray` on a local Ray runtime and on a two-node cluster on loopback (started and stopped here),
with a node killed mid-run. Skipped when Ray is not installed (requirements-ray.txt)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from PIL import Image

from ocr.batch.records import read_results
from ocr.cli import main
from tests.render import render

pytest.importorskip("ray.data", reason="Ray is optional: pip install -r requirements-ray.txt")
psutil = pytest.importorskip("psutil")

TEXTS = ["今天天气很好", "银行", "二〇二四年三月", "发票号码12345678", "上海", "北京市海淀区"]
RAY = Path(sys.executable).with_name("ray")


def _texts(path: Path) -> dict[str, str]:
    return {str(r["path"]): str(r["text"]) for r in read_results(path)}


@pytest.fixture(scope="module")
def engine_name() -> str:
    from ocr.engines.registry import available

    ok, why = available("ppocr-v4")
    if not ok:
        pytest.skip(f"ppocr-v4 unavailable: {why}")
    return "ppocr-v4"


@pytest.fixture(scope="module")
def lines(tmp_path_factory) -> Path:
    """36 rendered lines (6 texts x 3 sizes x 2 copies) and one corrupt file."""
    root = tmp_path_factory.mktemp("raylines")
    for i, text in enumerate(TEXTS):
        for j, size in enumerate((26, 30, 36)):
            image = Image.fromarray(render(text, size=size))
            for copy in range(2):
                image.save(root / f"{i}_{j}_{copy}.png")
    (root / "broken.png").write_bytes(b"not an image")
    return root


@pytest.fixture(scope="module")
def local_run(lines, engine_name, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local") / "r.jsonl"
    assert main(["batch", str(lines), "--out", str(out), "--engine", engine_name, "--quiet"]) == 0
    return out


def test_local_ray_runtime_gives_the_local_texts(lines, engine_name, local_run, tmp_path, capsys):
    capsys.readouterr()
    out = tmp_path / "r.jsonl"
    argv = ["batch", str(lines), "--out", str(out), "--engine", engine_name, "--quiet",
            "--ray", "--workers", "1", "--chunk-size", "8"]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["runner"] == "ray" and summary["workers"] == 1 and summary["missing"] == 0
    assert _texts(out) == _texts(local_run)
    assert os.environ.get("RAY_USAGE_STATS_ENABLED") == "0"


# ------------------------------------------------------------------------------- two nodes on loopback
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(temp_dir: str) -> None:
    """End the Ray processes of the node whose temp dir is `temp_dir` (and their children), by pid."""
    me = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    procs: dict[int, psutil.Process] = {}
    for p in psutil.process_iter(["cmdline"]):
        try:
            if p.pid not in me and any(temp_dir in a for a in p.info["cmdline"] or []):
                procs[p.pid] = p
                procs.update({c.pid: c for c in p.children(recursive=True)})
        except psutil.Error:
            continue
    for p in procs.values():
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(list(procs.values()), timeout=15)


@pytest.fixture
def cluster():
    """A head (1 CPU) and a second node (2 CPUs) on 127.0.0.1, each with its own temp dir, token auth
    with a throwaway token; yields (address, env, worker node's temp dir); stopped afterwards."""
    port = _free_port()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token",
           "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    head_dir = tempfile.mkdtemp(prefix="ocr-rh-", dir="/tmp")  # short: Ray's socket paths must fit
    node_dir = tempfile.mkdtemp(prefix="ocr-rn-", dir="/tmp")
    common = ["--node-ip-address=127.0.0.1", "--disable-usage-stats"]
    try:
        subprocess.run([str(RAY), "start", "--head", f"--port={port}", "--num-cpus=1",
                        "--include-dashboard=false", f"--temp-dir={head_dir}", *common],
                       env=env, check=True, capture_output=True, timeout=120)
        subprocess.run([str(RAY), "start", f"--address=127.0.0.1:{port}", "--num-cpus=2",
                        f"--temp-dir={node_dir}", *common],
                       env=env, check=True, capture_output=True, timeout=120)
        yield f"127.0.0.1:{port}", env, node_dir
    finally:
        _stop(node_dir)
        _stop(head_dir)
        shutil.rmtree(head_dir, ignore_errors=True)
        shutil.rmtree(node_dir, ignore_errors=True)


def test_two_node_cluster_loses_no_record_when_a_node_dies(lines, engine_name, local_run, cluster, tmp_path):
    address, env, node_dir = cluster
    out = tmp_path / "r.jsonl"
    cmd = [sys.executable, "-m", "ocr", "batch", str(lines), "--out", str(out), "--engine", engine_name,
           "--ray", address, "--chunk-size", "1", "--quiet"]
    total = len(list(lines.glob("*.png")))
    driver = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and driver.poll() is None:
            if out.exists() and out.stat().st_size > 0:
                break
            time.sleep(0.05)
        written_at_kill = len(read_results(out)) if out.exists() else 0
        assert driver.poll() is None, driver.communicate()[1][-2000:]
        assert 0 < written_at_kill < total, "the node must die mid-run"
        _stop(node_dir)  # the second node dies with its actor and the chunks it held
        try:
            driver.communicate(timeout=90)  # Ray Data retries lost chunks on the head's actor...
        except subprocess.TimeoutExpired:
            driver.kill()  # ...or the run is cut short here; the rerun below must complete it
            driver.communicate()
    finally:
        if driver.poll() is None:
            driver.kill()
    records = read_results(out)
    assert len({r["path"] for r in records}) == len(records)  # nothing written twice
    rerun = subprocess.run([*cmd[:-3], "--workers", "1", "--quiet"], env=env, capture_output=True,
                           text=True, timeout=180)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    summary = json.loads(rerun.stdout.strip().splitlines()[-1])
    assert summary["skipped"] == len(records) and summary["missing"] == 0
    final = read_results(out)
    assert len(final) == total and len({r["path"] for r in final}) == total
    assert _texts(out) == _texts(local_run)
