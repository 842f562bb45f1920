"""DLRM in PyTorch, trained as DLRM does (baseline) or on the Hotline schedule.

* :mod:`~sw_driver.dlrm.model`: the DLRM model (Kaggle configuration by default).
* :mod:`~sw_driver.dlrm.cold_rows`: the host memory image of the tables in the gather engine's
  layout, and the :class:`ColdRowPort` that gathers and writes back cold rows
  (:class:`GatherModelPort`: over the gather engine's golden model).
* :mod:`~sw_driver.dlrm.embeddings`: hot rows on the device, cold rows behind the port.
* :mod:`~sw_driver.dlrm.trainer`: :class:`BaselineTrainer` and :class:`HotlineTrainer` (learning
  phase, then exact ``SPLIT`` or the paper's ``REFORMED`` schedule), results, plots.
* :mod:`~sw_driver.dlrm.accelerator`: :class:`AcceleratorTrainer`, the same training on the
  accelerator's own micro-batches and gathered rows through the host driver (the golden-model
  device by default; the RTL in a cocotb simulation: ``tb/test_dlrm_on_rtl.py``).
* :mod:`~sw_driver.dlrm.fae_profile`, :mod:`~sw_driver.dlrm.fae_trainer`: FAE (offline hot set,
  hot / cold mini-batches, hot-row syncs at swaps), :class:`FAETrainer`;
  :mod:`~sw_driver.dlrm.fae_experiment`: FAE vs baseline, hybrid and Hotline (``make fae``).
* :mod:`~sw_driver.dlrm.slipstream`: :class:`SlipstreamTrainer`, Hotline that skips popular
  inputs on stale hot rows; :mod:`~sw_driver.dlrm.slipstream_experiment`: Slipstream vs Hotline
  and the baseline (``make slipstream``); :mod:`~sw_driver.dlrm.slipstream_accelerator`:
  :class:`SlipstreamAcceleratorTrainer`, the same on the accelerator (stale bits marked in its
  popularity table, its SKIPPED micro-batches).
* :mod:`~sw_driver.dlrm.traffic`: host <-> device bytes counted at the port.
* :mod:`~sw_driver.dlrm.experiment`: the longer baseline / exact / re-formed / FAE comparison.
* :mod:`sw_driver.dlrm.distributed` (imported on its own): the same training on N
  ``torch.distributed`` workers, ``torchrun -m sw_driver.dlrm.distributed``.

::

    from sw_driver.data import SyntheticCriteo
    from sw_driver.dlrm import DLRMConfig, HotlineTrainer, ScheduleMode

    data = SyntheticCriteo(200_000, scale=1e-3, seed=0)
    held_out = data.generate(50_000, start=200_000)      # the samples after the training set
    trainer = HotlineTrainer(DLRMConfig.kaggle(data.table_sizes), mode=ScheduleMode.REFORMED)
    result = trainer.train(data, eval_source=held_out)
    print(result.final, result.stats["popular_fraction"])
    result.save("hotline.json")

``python -m sw_driver.dlrm`` compares the baseline with both schedules (see ``--help``).
"""

from hotline_hw.model.popularity_table import HotSetOverflowError, TableGeometry
from hotline_hw.model.scheduler import ScheduleMode

from .accelerator import AcceleratorTrainer, AcceleratorTrainingError
from .cold_rows import ColdRowError, ColdRowPort, GatherModelPort, HostEmbeddingMemory
from .embeddings import ColdRows, HotlineEmbeddings, StaleRowError
from .fae_trainer import FAETrainer, SwapRateSchedule
from .metrics import binary_metrics, roc_auc
from .model import (DLRM, DLRMConfig, EmbeddingIndexError, check_indices, default_device,
                    initial_table, preprocess_dense)
from .slipstream import SlipstreamTrainer
from .slipstream_accelerator import SlipstreamAcceleratorTrainer
from .trainer import (BaselineTrainer, HotlineTrainer, LRSchedule, ScheduleError, TrainResult,
                      compare_parameters, default_geometry, plot_results)

__all__ = [
    "DLRM", "DLRMConfig", "EmbeddingIndexError", "check_indices", "default_device",
    "initial_table", "preprocess_dense",
    "ColdRowError", "ColdRowPort", "GatherModelPort", "HostEmbeddingMemory",
    "ColdRows", "HotlineEmbeddings", "StaleRowError",
    "binary_metrics", "roc_auc",
    "BaselineTrainer", "HotlineTrainer", "LRSchedule", "ScheduleError", "TrainResult",
    "compare_parameters", "AcceleratorTrainer", "AcceleratorTrainingError",
    "default_geometry", "plot_results", "FAETrainer", "SwapRateSchedule", "SlipstreamTrainer",
    "SlipstreamAcceleratorTrainer",
    "HotSetOverflowError", "ScheduleMode", "TableGeometry",
]
