"""The distributed trainer (``python -m sw_driver.dlrm.distributed`` under torchrun, gloo on
CPU): exact mode on 2 workers equals the single-process baseline; a killed worker or a hung
collective ends the run with one clear error within the timeout; a resumed run equals an
uninterrupted one bit for bit.

Each launch is a real ``torchrun`` (subprocess, free port, hard timeout): a tiny model, 100
steps of 32 samples.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from dlrm_helpers import SMALL_TABLES, small_config

from sw_driver.data import SyntheticCriteo
from sw_driver.dlrm import BaselineTrainer
from sw_driver.dlrm.distributed import CheckpointError, Fault, load_checkpoint, save_checkpoint
from sw_driver.dlrm.distributed.comm import payload_bytes

ROOT = Path(__file__).resolve().parents[2]
STEPS, BATCH = 100, 32
HARD_TIMEOUT = 120        # s, per launch: a hang in the code under test fails, never blocks


def model_args(seed: int) -> list[str]:
    return ["--small", "--tables", ",".join(map(str, SMALL_TABLES)), "--dim", "4",
            "--hidden", "16", "--set-bits", "7", "--learn-fraction", "0.1",
            "--train", str(STEPS * BATCH), "--batch-size", str(BATCH), "--seed", str(seed)]


def launch(args: list[str], nproc: int = 2) -> tuple[subprocess.CompletedProcess, float]:
    """torchrun ``nproc`` workers of the distributed trainer; (process, seconds)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node", str(nproc), "-m", "sw_driver.dlrm.distributed", *args]
    start = time.monotonic()
    # a session of its own, so that a hang kills torchrun and every worker it started
    child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = child.communicate(timeout=HARD_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        stdout, stderr = child.communicate()
        pytest.fail(f"torchrun did not end within {HARD_TIMEOUT} s:\n{stdout}\n{stderr}")
    proc = subprocess.CompletedProcess(command, child.returncode, stdout, stderr)
    return proc, time.monotonic() - start


def load_params(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def run_ok(args: list[str], nproc: int = 2) -> subprocess.CompletedProcess:
    proc, _ = launch(args, nproc)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.mark.parametrize("backend", ["models", "device"])
def test_two_workers_exact_mode_equals_single_process_baseline(backend, seed, tmp_path):
    """Exact (SPLIT) mode on 2 gloo workers, 100 steps: every parameter within 1e-5 of
    :class:`BaselineTrainer` on the same global mini-batches (measured: ~2e-7). Rank 0's
    accelerator: the golden models, or the golden-model device through the host driver."""
    params, out = tmp_path / "params.npz", tmp_path / "out.json"
    run_ok(model_args(seed) + ["--mode", "split", "--backend", backend,
                               "--save-params", str(params), "--out", str(out)])
    result = json.loads(out.read_text())
    figures = result["distributed"]
    assert figures["world"] == 2 and figures["steps"] == STEPS and figures["backend"] == "gloo"
    steps = result["result"]["steps"]
    assert len(steps) == STEPS and {s["phase"] for s in steps} == {"learn", "run"}
    assert sum(s["popular"] for s in steps) > 0          # hot rows served and reduced

    baseline = BaselineTrainer(small_config(), batch_size=BATCH, seed=seed, device="cpu")
    base = baseline.train(SyntheticCriteo(STEPS * BATCH, table_sizes=SMALL_TABLES,
                                          seed=seed % (2**31)))
    got = load_params(params)
    mlp = max(float(np.abs(got[f"mlp/{k}"] - v).max()) for k, v in baseline.mlp_state().items())
    emb = max(float(np.abs(got[f"table/{t}"] - v).max())
              for t, v in enumerate(baseline.embedding_tables()))
    print(f"2 workers vs baseline after {STEPS} steps: mlp {mlp:.3g}, embeddings {emb:.3g}; "
          f"per step and worker: {figures}")
    assert max(mlp, emb) < 1e-5
    np.testing.assert_allclose([s["loss"] for s in steps], base.losses, rtol=0, atol=1e-5)
    # the counted traffic: every step all-reduces at least the MLP gradients and the loss
    mlp_bytes = (sum(v.size for v in baseline.mlp_state().values()) + 1) * 4
    assert figures["all_reduced_per_step"] >= mlp_bytes
    assert figures["scattered_per_step"] > 0 and figures["gathered_per_step"] > 0


def test_killed_worker_stops_the_run_and_resume_equals_uninterrupted(seed, tmp_path):
    """Re-formed mode (working sets of 4 after a 10-batch learning phase). Worker 1 is
    SIGKILLed at step 60: the run ends (non-zero, one ``error:`` line from rank 0) without
    waiting out the collective timeout. Checkpoints are due every 7 mini-batches and written
    at the next working-set boundary, so the last is at mini-batch 58. Resumed from it, the
    run ends with the parameters of an uninterrupted run, bit for bit."""
    common = model_args(seed) + ["--mode", "reformed", "--timeout", "30",
                                 "--checkpoint-every", "7"]
    whole = tmp_path / "whole.npz"
    proc, whole_seconds = launch(common + ["--checkpoint", str(tmp_path / "whole.pt"),
                                           "--save-params", str(whole)])
    assert proc.returncode == 0, proc.stdout + proc.stderr

    checkpoint = tmp_path / "killed.pt"
    proc, seconds = launch(common + ["--checkpoint", str(checkpoint), "--fault", "1:60:kill"])
    print(f"killed run: exit {proc.returncode} after {seconds:.1f} s "
          f"(uninterrupted: {whole_seconds:.1f} s)")
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, proc.stderr
    assert "rank 0 of 2" in errors[0] and "at step 60" in errors[0]
    # it stops half-way: it must not outlast the whole run by the collective timeout
    assert seconds < whole_seconds + 30, (seconds, whole_seconds)
    state = load_checkpoint(checkpoint, _settings_of(checkpoint))
    assert state["batches"] == 58 and not state["learning"]

    resumed, out = tmp_path / "resumed.npz", tmp_path / "resumed.json"
    run_ok(common + ["--resume", str(checkpoint), "--save-params", str(resumed),
                     "--out", str(out)])
    figures = json.loads(out.read_text())["distributed"]
    assert figures["steps_this_run"] == figures["steps"] - state["step"] > 0
    a, b = load_params(whole), load_params(resumed)
    assert a.keys() == b.keys()
    for key in a:
        assert np.array_equal(a[key], b[key]), key


def test_hung_worker_times_out_on_every_rank(seed, tmp_path):
    """A worker that stops answering (hangs at step 30) makes rank 0's collective time out
    (``--timeout 5``; the start has its own, longer, timeout): one clear
    error, the run ends."""
    proc, seconds = launch(model_args(seed) + ["--mode", "reformed", "--timeout", "5",
                                               "--fault", "1:30:hang"])
    print(f"hung run: exit {proc.returncode} after {seconds:.1f} s")
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "timed out" in errors[0].lower() and "at step 30" in errors[0]
    assert seconds < 60


def _settings_of(path: Path) -> dict:
    return torch.load(path, weights_only=False)["settings"]


def test_checkpoint_of_other_settings_is_refused(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"settings": {"lr": 0.1, "batch_size": 32}, "batches": 3})
    assert load_checkpoint(path, {"lr": 0.1, "batch_size": 32})["batches"] == 3
    with pytest.raises(CheckpointError, match="other settings.*lr"):
        load_checkpoint(path, {"lr": 0.2, "batch_size": 32})
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt", {})
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="unreadable"):
        load_checkpoint(tmp_path / "bad.pt", {})


def test_fault_spec_and_payload_count():
    assert Fault("1:5:kill").kind == "kill" and Fault(None).rank is None
    for bad in ("1:5", "x:5:kill", "1:5:explode"):
        with pytest.raises(ValueError, match="--fault"):
            Fault(bad)
    payload = {"a": np.zeros((3, 4), np.float32), "b": [torch.zeros(5, dtype=torch.float64)],
               "c": 1}
    assert payload_bytes(payload) == 48 + 40 + 8
