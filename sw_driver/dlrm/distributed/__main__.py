"""``python -m sw_driver.dlrm.distributed``: DLRM on N workers (run it under ``torchrun``).

One machine, 2 workers (CPU: gloo; GPUs: nccl, one per process)::

    torchrun --standalone --nproc-per-node 2 -m sw_driver.dlrm.distributed --mode split

Two machines (run on each; MASTER is the first machine's address)::

    torchrun --nnodes 2 --nproc-per-node 4 --rdzv-backend c10d --rdzv-endpoint MASTER:29500 \\
        --rdzv-id dlrm1 -m sw_driver.dlrm.distributed --mode reformed

Rank 0 owns the accelerator (``--backend models``: the golden models; ``device``: the
golden-model device through the host driver) and the host memory image. ``--mode baseline`` is
the hybrid baseline on the same launcher (every row in host memory, gathered and scattered).
Without torchrun it runs alone (one worker). Exit status 1 and one ``error:`` line when a worker
dies or a collective times out (``--timeout``); ``--checkpoint F --checkpoint-every K`` writes
a checkpoint every K mini-batches, ``--resume F`` continues from it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time

import numpy as np
import torch


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sw_driver.dlrm.distributed", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=("baseline", "split", "reformed"), default="split")
    p.add_argument("--backend", choices=("models", "device"), default="models",
                   help="rank 0's accelerator: golden models, or the golden-model device "
                        "through the host driver (no resume)")
    p.add_argument("--train", type=int, default=20_000, help="training samples")
    p.add_argument("--eval", type=int, default=0, help="held-out samples (0: no evaluation)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--tables", default=None,
                   help="comma-separated table sizes (default: Kaggle's scaled by --scale)")
    p.add_argument("--scale", type=float, default=1e-3, help="Kaggle table-size scale")
    p.add_argument("--small", action="store_true", help="a narrow model (--dim, --hidden)")
    p.add_argument("--dim", type=int, default=8)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=128, help="global mini-batch")
    p.add_argument("--working-set", type=int, default=4)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--learn-fraction", type=float, default=0.05)
    p.add_argument("--set-bits", type=int, default=None, help="popularity table sets = 2**BITS")
    p.add_argument("--ways", type=int, default=4)
    p.add_argument("--seed", type=int, default=0, help="data and model seed")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads per worker")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="collective timeout in seconds during training (a hung worker ends "
                        "the run after it)")
    p.add_argument("--start-timeout", type=float, default=600.0,
                   help="timeout of joining and of the workers' wait for rank 0's start")
    p.add_argument("--checkpoint", default=None, help="checkpoint file (rank 0 writes it)")
    p.add_argument("--checkpoint-every", type=int, default=0, help="mini-batches between them")
    p.add_argument("--resume", default=None, help="continue from this checkpoint")
    p.add_argument("--save-params", default=None,
                   help="write the final parameters (MLPs, every table assembled) to this .npz")
    p.add_argument("--out", default=None, help="write the results JSON here")
    p.add_argument("--fault", default=None,
                   help="fault injection for tests: RANK:STEP:kill|hang")
    return p


def _config(args):
    from sw_driver.data import scaled_table_sizes
    from sw_driver.dlrm.model import DLRMConfig
    sizes = (tuple(int(x) for x in args.tables.split(",")) if args.tables
             else scaled_table_sizes(args.scale))
    if args.small:
        return DLRMConfig.small(sizes, dim=args.dim, hidden=args.hidden)
    return DLRMConfig.kaggle(sizes)


def make_trainer(args, config, device):
    """Rank 0's trainer for ``args`` (the same settings as the single-process trainers)."""
    from hotline_hw.model.scheduler import ScheduleMode
    from sw_driver.dlrm.trainer import default_geometry
    from .coordinator import DistributedAcceleratorTrainer, DistributedHotlineTrainer
    dtype = getattr(torch, args.dtype)
    geometry = default_geometry(config, **({} if args.set_bits is None else
                                           {"set_bits": args.set_bits}), ways=args.ways)
    options = dict(batch_size=args.batch_size, lr=args.lr, seed=args.seed, device=device,
                   dtype=dtype, working_set=args.working_set, geometry=geometry,
                   learn_fraction=args.learn_fraction)
    if args.mode == "baseline":
        options.update(mode=ScheduleMode.SPLIT, hot_set=[])
    else:
        options.update(mode=ScheduleMode[args.mode.upper()])
    cls = DistributedAcceleratorTrainer if args.backend == "device" else DistributedHotlineTrainer
    trainer = cls(config, **options)
    if args.mode == "baseline":
        trainer.name = "distributed-baseline"
    return trainer


def run_root(args, comm, fault) -> dict:
    from sw_driver.data import SyntheticCriteo
    config = _config(args)
    data = SyntheticCriteo(args.train, table_sizes=config.table_sizes, seed=args.seed)
    trainer = make_trainer(args, config, comm.device)
    trainer.attach(comm, fault=fault, checkpoint=args.checkpoint,
                   checkpoint_every=args.checkpoint_every, resume=args.resume)
    start = time.perf_counter()
    result = trainer.train(data, epochs=args.epochs)
    seconds = time.perf_counter() - start
    figures = trainer.finish()
    figures.update(seconds=seconds, backend=str(comm.backend),
                   checkpoints_written=trainer.checkpoints_written)
    if args.eval:
        held_out = data.generate(args.eval, start=args.train)
        result.final = trainer.evaluate(held_out)
    out = {"result": result.to_dict(), "distributed": figures}
    if args.save_params:
        tables = trainer.embedding_tables()
        np.savez(args.save_params, **{f"mlp/{k}": v for k, v in trainer.mlp_state().items()},
                 **{f"table/{t}": v for t, v in enumerate(tables)})
    return out


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from sw_driver.dlrm.model import default_device
    from .comm import Comm, DistributedTrainingError, init_from_env
    from .checkpoint import CheckpointError
    from .worker import Fault, serve
    import torch.distributed as dist
    torch.set_num_threads(args.threads)
    fault = Fault(args.fault)
    device = torch.device(args.device) if args.device else default_device()
    rank, world, device = init_from_env(device, max(args.start_timeout, args.timeout))
    comm = Comm(rank, world, device, timeout_s=args.timeout)
    comm.backend = dist.get_backend()
    reported = []

    def report(message: str) -> None:
        """Rank 0's one ``error:`` line, then exit 1 without the group's teardown (which may
        wait for the dead peer); the other ranks exit 1 silently."""
        if rank == 0 and not reported:
            reported.append(message)
            print(f"error: {message}", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(1)

    if world > 1:
        # torchrun stops the others with SIGTERM when a worker dies, which may come before
        # this rank's collective has failed: the same one error line then.
        signal.signal(signal.SIGTERM, lambda signum, frame: report(
            f"rank {rank} of {world}: stopped by the launcher at step {comm.step} "
            "(a worker died)"))
    try:
        if rank == 0:
            out = run_root(args, comm, fault)
            summary = {"name": out["result"]["name"], "final": out["result"]["final"],
                       "last_loss": (out["result"]["steps"] or [{}])[-1].get("loss"),
                       **out["distributed"]}
            print(json.dumps(summary, indent=1))
            if args.out:
                with open(args.out, "w", encoding="utf-8") as handle:
                    json.dump(out, handle, indent=1)
                    handle.write("\n")
        else:
            serve(comm, fault)
    except (DistributedTrainingError, CheckpointError) as error:
        report(str(error))
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
