"""``make bench`` part ``distributed``: DLRM on 1 and 2 torchrun workers, baseline vs Hotline.

Each (mode, N) is one ``torchrun --standalone --nproc-per-node N -m sw_driver.dlrm.distributed``
launch on the same data and model (gloo on CPU; nccl and one GPU per worker when CUDA is
present). Figures, prefix ``distributed.``:

* ``<mode>.N<n>.{all_reduced,scattered,gathered}_bytes_per_step_per_worker``: counted payload
  bytes (:mod:`sw_driver.dlrm.distributed.comm`) per optimizer step and worker;
* ``<mode>.N2_over_N1_step_time``: training seconds per step with 2 workers over 1, same run
  (on this shared 2-core machine the workers compete for the cores: a ratio, not a speed-up
  claim);
* ``split.N2_vs_baseline.N1.max_parameter_difference``: exact mode on 2 workers against the
  baseline's parameters after the run;
* ``reformed_minus_baseline.N2.{auc,logloss}``: held-out metrics, goal within 0.002.

``mode`` is ``baseline`` (the hybrid baseline: every row in host memory, gathered and
scattered), ``split`` (exact) or ``reformed`` (the paper's schedule).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def launch(args: list[str], nproc: int, timeout: float) -> dict:
    """One torchrun launch; returns its results JSON (raises with its output on failure)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   "--nproc-per-node", str(nproc), "-m", "sw_driver.dlrm.distributed",
                   *args, "--out", str(out)]
        proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, "PYTHONPATH": str(REPO)})
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{proc.stdout}\n{proc.stderr}")
        result = json.loads(out.read_text())
        params = Path(tmp) / "params.npz"
        if "--save-params" in args:
            params = Path(args[args.index("--save-params") + 1])
        if params.exists():
            with np.load(params) as z:
                result["params"] = {k: z[k] for k in z.files}
        return result


def bench_distributed(*, samples: int = 65536, eval_samples: int = 16384,
                      batch_size: int = 1024, scale: float = 0.01, dim: int = 16,
                      hidden: int = 64, seed: int = 0, worlds=(1, 2),
                      modes=("baseline", "split", "reformed"),
                      timeout: float = 900) -> tuple[dict, dict, dict]:
    common = ["--small", "--dim", str(dim), "--hidden", str(hidden), "--scale", str(scale),
              "--batch-size", str(batch_size), "--train", str(samples),
              "--eval", str(eval_samples), "--seed", str(seed)]
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in modes:
            for n in worlds:
                params = str(Path(tmp) / f"{mode}{n}.npz")
                runs[mode, n] = launch(common + ["--mode", mode, "--save-params", params],
                                       n, timeout)
    figures, stats = {}, {}
    for (mode, n), run in runs.items():
        d = run["distributed"]
        key = f"distributed.{mode}.N{n}."
        for kind in ("all_reduced", "scattered", "gathered"):
            figures[key + f"{kind}_bytes_per_step_per_worker"] = round(d[f"{kind}_per_step"], 1)
        figures[key + "step_seconds"] = round(d["step_seconds"], 5)
        stats[f"{mode}.N{n}"] = {"steps": d["steps"], "backend": d["backend"],
                                 "final": run["result"]["final"],
                                 "popular_fraction": run["result"]["stats"].get(
                                     "popular_fraction")}
    for mode in modes:
        if (mode, 1) in runs and (mode, 2) in runs:
            figures[f"distributed.{mode}.N2_over_N1_step_time"] = round(
                runs[mode, 2]["distributed"]["step_seconds"]
                / runs[mode, 1]["distributed"]["step_seconds"], 4)
    if ("split", 2) in runs and ("baseline", 1) in runs:
        a, b = runs["split", 2]["params"], runs["baseline", 1]["params"]
        figures["distributed.split.N2_vs_baseline.N1.max_parameter_difference"] = float(
            max(np.abs(a[k] - b[k]).max() for k in a))
    if ("reformed", 2) in runs and ("baseline", 2) in runs and eval_samples:
        r, b = runs["reformed", 2]["result"]["final"], runs["baseline", 2]["result"]["final"]
        for metric in ("auc", "logloss"):
            figures[f"distributed.reformed_minus_baseline.N2.{metric}"] = round(
                r[metric] - b[metric], 5)
    goals = {
        "distributed.split.N2_vs_baseline.N1.max_parameter_difference":
            "< 1e-5 (float32): exact mode on 2 workers takes the baseline's steps",
        "distributed.reformed_minus_baseline.N2.auc": "within +-0.002 (issue 18)",
        "distributed.reformed_minus_baseline.N2.logloss": "within +-0.002 (issue 18)",
    }
    for mode in modes:
        goals[f"distributed.{mode}.N2_over_N1_step_time"] = (
            "wall clock of this machine, same run; CPU workers share 2 cores")
    config = {"distributed": {
        "launch": "torchrun --standalone --nproc-per-node N -m sw_driver.dlrm.distributed",
        "model": f"DLRMConfig.small (Kaggle tables scaled by {scale}, dim {dim}, MLPs "
                 f"{hidden} wide), SGD 0.1, B={batch_size} global, W=4, {samples} samples "
                 f"(learning phase 5%), held-out {eval_samples}, seed {seed}, float32, "
                 "1 torch thread per worker",
        "bytes": "payload bytes counted by sw_driver.dlrm.distributed.comm per optimizer step "
                 "and worker (rank 0's own share is not sent; N=1 sends nothing)",
        "runs": stats}}
    return figures, goals, config


if __name__ == "__main__":
    figures, _, config = bench_distributed(
        **({"samples": int(sys.argv[1])} if len(sys.argv) > 1 else {}))
    print(json.dumps({"figures": figures, "config": config}, indent=1))
