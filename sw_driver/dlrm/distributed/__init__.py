"""DLRM on N workers with ``torch.distributed`` (``torchrun``): Hotline's micro-batches split
over the workers, rank 0 owning the accelerator and the cold rows.

* :mod:`.coordinator`: rank 0 (:class:`DistributedHotlineTrainer`,
  :class:`DistributedAcceleratorTrainer`): schedule, cold-row gather / write-back, scatter,
  checkpoints and resume.
* :mod:`.worker`: every rank's replica (MLPs + hot table) and its share of a step; the loop of
  ranks 1..N-1.
* :mod:`.comm`: the process group (gloo on CPU, nccl on CUDA), counted collectives, and
  :class:`DistributedTrainingError` (a dead worker or a timed-out collective).
* :mod:`.checkpoint`: atomic checkpoint files.
* ``python -m sw_driver.dlrm.distributed`` (:mod:`.__main__`): the launcher entry.

What is where: rank 0 holds the popularity table / device, the host memory image (every cold
row) and its replica; every rank holds a replica of the MLPs and of the hot table (the rows the
popularity table marks hot, at their slots). Per step, MLP and hot-row gradients are
all-reduced; cold rows go from rank 0 to the workers that look them up and their gradients
come back to rank 0, which updates and writes them back once.
"""

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .comm import Comm, DistributedTrainingError, backend_for, init_from_env
from .coordinator import DistributedAcceleratorTrainer, DistributedHotlineTrainer
from .worker import Fault, Replica, serve

__all__ = ["CheckpointError", "Comm", "DistributedAcceleratorTrainer",
           "DistributedHotlineTrainer", "DistributedTrainingError", "Fault", "Replica",
           "backend_for", "init_from_env", "load_checkpoint", "save_checkpoint", "serve"]
