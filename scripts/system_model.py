#!/usr/bin/env python3
"""``make model``: a system MODEL of DLRM training on four systems. Not a measurement.

What it answers: on the paper's testbed (a Xeon socket, PCIe Gen3 x16, V100 GPUs with NVLink,
the accelerator at 350 MHz), with the embedding skew of this repo's data generator and the
accelerator's cycle figures measured on its RTL, how long does one training iteration take on

* ``hybrid``: Intel-optimized CPU-GPU DLRM. Tables in CPU DRAM, looked up and updated by the
  CPU; embedding outputs go to the GPU(s) and their gradients come back over PCIe; MLPs on the
  GPU(s), data-parallel, MLP gradients all-reduced over NVLink.
* ``gpu_only``: tables in HBM. One GPU if they fit; on N GPUs the tables are sharded
  model-parallel and embedding outputs / gradients exchanged all-to-all over NVLink, as
  HugeCTR does. Where the tables do not fit N GPUs' HBM the system is marked infeasible.
* ``fae``: FAE's hot/cold batches. Popular inputs (classified offline) form hot mini-batches
  that train on the GPU(s) against hot rows replicated in HBM; the rest form cold mini-batches
  on the hybrid path. At each hot->cold switch the hot rows the hot batches updated are copied
  to the CPU, and after the cold batches the hot rows they updated are copied back.
* ``hotline``: the accelerator classifies each working set, popular micro-batches train on the
  GPU(s) at once while the accelerator gathers the non-popular micro-batch's cold rows from CPU
  DRAM over PCIe; that micro-batch trains on the GPU(s) with the gathered rows, and the updated
  rows are written back through the accelerator.

on 1, 2 and 4 GPUs, for Criteo Kaggle, Criteo Terabyte and Avazu shapes.

The model
---------
An iteration is one **working set of W = 4 mini-batches of B = 1024 samples** for every system
(the same 4096 samples). Each system's iteration is a DAG of tasks (CPU embedding work, PCIe
transfers, GPU steps, NVLink collectives, accelerator work); a task holds one or more resources
(CPU, PCIe H2D / D2H per GPU, each GPU, NVLink, the accelerator's classify / gather /
write-back units) for a duration computed from the constants below. Tasks take their resources
in program order, as CUDA streams and the accelerator's queues do: a task starts when its
dependencies have ended and every resource it needs has finished its previous task
(:class:`TaskGraph`). Three working sets run back to back; the iteration time is the steady-state
period, ``(end of the last - end of the first) / 2``, so overlap across iterations (Hotline's
write-back and next classification under GPU work) counts.

Popular fractions and cold-row counts are **measured**: the repo's :class:`SyntheticCriteo`
(Zipf 1.15, a fixed permutation per table) generates each data set's shape at ``--scale``
(default 1/32 of every table; 2**20 samples), the golden-model :class:`PopularityTable` learns
its hot set on the first 5% (Avazu 15%) of the mini-batches and classifies the rest (Hotline),
and the :class:`OracleProfiler` picks the top-N rows by exact counts (FAE). The hot-set capacity
is the paper's 2M-entry table scaled by the same factor. Avazu and Terabyte have no generator of
their own: ``SyntheticCriteo`` is given their per-table row counts. Accelerator times come from
``bench/results.json`` (block figures at the paper's 350 MHz; a whole-accelerator
``hotline_top.<data set>.W4_B1024.cycles_per_working_set`` figure replaces them when present).

What it is not: a simulator of caches, threads, GPU occupancy or PCIe packets, or of any one
machine. Constants marked *assumed* have no source in the paper's text; the README shows which of
them drive each gap with the paper, and ``results.json`` holds sweeps over the main ones. The
constants are the testbed's sourced values and were not tuned to reproduce the paper's speedups.

Outputs (``--out``, default ``docs/system_model``): ``results.json`` (inputs, measured skew,
accelerator figures and their keys, per data set / GPU count / system the time per working set,
samples per second and speedup vs hybrid; the same at the paper's popular fractions and with
weak scaling; the paper's figures beside the model's; sweeps of the popular fraction, the CPU
embedding cost and the GPU kernel overhead), ``timeline_kaggle_1gpu.png`` (Gantt chart of the
four systems), ``speedups.png`` and ``sensitivity_kaggle.png``. Seeds are fixed: a rerun writes
the same JSON but for ``date`` and ``commit``.

Usage::

    python scripts/system_model.py [--out docs/system_model] [--scale 0.03125] [--samples N]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hotline_hw.model import Mode, OracleProfiler, PopularityTable, TableGeometry  # noqa: E402
from scripts.provenance import commit, write_json_if_changed  # noqa: E402
from sw_driver.data import KAGGLE_N_SAMPLES, KAGGLE_TABLE_SIZES, SyntheticCriteo  # noqa: E402
from sw_driver.data.synthetic import scaled_table_sizes  # noqa: E402

# ---------------------------------------------------------------------------------------------
# Inputs. Each constant states its source; "assumed" marks those the paper's text does not fix.
# ---------------------------------------------------------------------------------------------

#: Samples per mini-batch. hotline.md gives no batch size; B = 1024 is the configuration the
#: driver and the whole-accelerator bench use (``W4_B1024``).
MINI_BATCH = 1024
#: Mini-batches per working set (hotline.md: "a working set of 4 mini-batches is enough").
WORKING_SET = 4
#: GPU counts modelled (hotline.md: the paper's runs used up to 4x V100).
GPU_COUNTS = (1, 2, 4)

#: Accelerator clock (hotline.md: RTL synthesized at 45 nm, 350 MHz).
ACCEL_CLOCK_HZ = 350e6
#: Popularity-table lookup lanes of the ``rtl/`` build (README, ``make bench`` P = 4).
ACCEL_LANES = 4
#: Gather-engine data bus (bytes) and reads in flight of the ``rtl/`` build (README: 128-bit
#: AXI4, 64 reads in flight).
ACCEL_BUS_BYTES = 16
ACCEL_READS_IN_FLIGHT = 64
#: Host-memory read latency seen by a PCIe device, ~1 us for a Gen3 round trip to DRAM (assumed,
#: order of magnitude of published PCIe DMA read latencies on Xeon hosts). 350 cycles at
#: 350 MHz: the gather engine's utilisation is read at the next measured latency, 400 cycles.
HOST_READ_LATENCY_S = 1.0e-6
#: Entries of the paper's popularity table (hotline.md: 4 MB = 2M entries). Also FAE's hot-set
#: capacity here, so both hold the same rows.
HOT_SET_ENTRIES = 2 * 1024 * 1024

#: PCIe Gen3 x16 effective bandwidth per direction: 8 GT/s x 16 lanes with 128b/130b coding is
#: 15.75 GB/s raw; pinned-memory cudaMemcpy reaches ~12-13 GB/s (NVIDIA bandwidthTest).
PCIE_BYTES_PER_S = 12.0e9
#: Fixed cost of one host<->device copy (API call, DMA setup, completion): assumed, 10 us.
PCIE_TRANSFER_OVERHEAD_S = 10e-6

#: DDR4 bandwidth of the CPU socket that holds the tables: 6 channels of DDR4-2666
#: (21.3 GB/s each), a Xeon Scalable socket. hotline.md does not name the testbed's CPU: assumed.
CPU_DRAM_BYTES_PER_S = 128e9
#: Share of that bandwidth scattered 64-256 B row accesses reach (assumed).
CPU_RANDOM_ROW_EFFICIENCY = 0.3
#: CPU embedding throughput, per table and operator: fixed cost of one embedding operator on
#: one table (framework dispatch, OpenMP fork/join, sparse-gradient allocation), assumed 20 us.
CPU_EMBEDDING_OP_OVERHEAD_S = 20e-6
#: Operators per table: forward (EmbeddingBag) and backward + update (sparse gradient, SGD).
CPU_EMBEDDING_FWD_OPS = 1
CPU_EMBEDDING_UPDATE_OPS = 2
#: Per-lookup cost of the backward + sparse SGD update beyond its DRAM traffic (building and
#: coalescing the sparse gradient: sort, unique, index_add). Order of magnitude measured once
#: with stock PyTorch 2.x on this project's 2-core container (EmbeddingBag(sparse=True) + SGD,
#: 26 tables, B = 1024, dim 16: ~16 us per table forward, ~220 us per table forward + backward
#: + update, +-2x run to run on a shared machine). The testbed's CPU is not named: assumed.
CPU_EMBEDDING_UPDATE_S_PER_LOOKUP = 150e-9

#: V100 SXM2 FP32 peak (NVIDIA V100 datasheet: 15.7 TFLOPS).
GPU_FP32_FLOPS = 15.7e12
#: Achieved share of that peak by DLRM's MLP GEMMs (small, skinny: K = 13 in the first layer):
#: assumed 0.35 (Lin et al., arXiv 2201.07821, find DLRM's GPU utilisation low).
GPU_MLP_EFFICIENCY = 0.35
#: V100 HBM2 bandwidth (NVIDIA V100 datasheet: 900 GB/s).
GPU_HBM_BYTES_PER_S = 900e9
#: Share of HBM bandwidth scattered embedding rows reach (assumed).
GPU_RANDOM_ROW_EFFICIENCY = 0.3
#: HBM per GPU: V100-SXM2-32GB. hotline.md does not give the capacity; with 16 GB the
#: Terabyte tables (68 GB) would not fit even 4 GPUs, and the paper compares with GPU-only
#: HugeCTR at 4 GPUs. Assumed.
GPU_HBM_BYTES = 32 * 2**30
#: Share of HBM available to embedding tables (CUDA context, activations, workspace): assumed.
GPU_HBM_USABLE_FRACTION = 0.85
#: Cost of one GPU kernel in an eager PyTorch step: launch and dispatch, ~5 us (CUDA launch
#: overhead; DLRM's small kernels are launch-bound, Lin et al., arXiv 2201.07821). Assumed.
GPU_KERNEL_OVERHEAD_S = 5e-6
#: Kernels per MLP layer per training step: forward GEMM + activation, backward two GEMMs +
#: bias gradient + activation gradient, SGD on weight and bias (a count of PyTorch's ops).
MLP_KERNELS_PER_LAYER = 8
#: Kernels of the dot interaction (forward and backward), loss and its gradient (op count).
INTERACTION_AND_LOSS_KERNELS = 14
#: Kernels per embedding table per training step in eager PyTorch (EmbeddingBag sparse):
#: ~800 kernels per DLRM step with 26 tables and 8 linear layers (A. Agrawal, PyProf profile of
#: NVIDIA's DLRM, adityaagrawal.net/blog/dnn/dlrm, 2020), less the MLP's ~80, over 26 tables =
#: ~27: 2 forward, 25 backward + update.
EMBEDDING_FWD_KERNELS_PER_TABLE = 2
EMBEDDING_UPDATE_KERNELS_PER_TABLE = 25
#: Extra kernels per table for Hotline's non-popular micro-batch: merge the gathered rows into
#: the lookups (forward) and split their gradients out (backward). Assumed.
GATHERED_ROW_KERNELS_PER_TABLE = 2
#: HBM traffic per embedding lookup in row sizes: forward read, gradient write, update
#: read-modify-write.
EMBEDDING_ROW_TRAFFIC = 4

#: NVLink bandwidth per GPU per direction for collectives: NVLink 2.0 is 25 GB/s per link per
#: direction (V100 datasheet: 6 links, 300 GB/s total); two links between ring neighbours in a
#: DGX-1-style hybrid cube-mesh.
NVLINK_BYTES_PER_S = 50e9
#: Fixed cost of one NCCL collective (launch, ring set-up, small-message latency): assumed 20 us.
NCCL_COLLECTIVE_LATENCY_S = 20e-6

#: Scale of the skew measurement: tables and hot-set capacity both scaled, so it runs in well
#: under a minute. The popular fraction falls as the scale falls (a Zipf tail holds more of
#: the mass when fewer rows fit the hot set); the README compares with full-scale figures.
MEASURE_SCALE = 1 / 32
MEASURE_SAMPLES = 1 << 20
#: Samples at the end of the stream the figures are taken on (after the learning window).
MEASURE_EVAL_SAMPLES = 1 << 18
MEASURE_SEED = 0

#: Working sets simulated back to back; the iteration time is the steady-state period.
SIMULATED_WORKING_SETS = 3

#: FAE's hot-row synchronisation is MEASURED by the FAE trainer (``make fae``): in the run of
#: the paper's shuffle scheduler on the synthetic Kaggle-shaped data, the hot-set copies made
#: per epoch in each direction (rows counted at the port / hot rows; the released code copies
#: the whole hot set at every swap). The swap rate R is per epoch, so the model spreads those
#: copies over a full epoch's working sets (``Dataset.epoch_samples``).
FAE_MEASUREMENT = REPO / "docs" / "fae" / "results.json"

INPUT_NAMES = (
    "MINI_BATCH", "WORKING_SET", "GPU_COUNTS", "ACCEL_CLOCK_HZ", "ACCEL_LANES", "ACCEL_BUS_BYTES",
    "ACCEL_READS_IN_FLIGHT", "HOST_READ_LATENCY_S", "HOT_SET_ENTRIES", "PCIE_BYTES_PER_S",
    "PCIE_TRANSFER_OVERHEAD_S", "CPU_DRAM_BYTES_PER_S", "CPU_RANDOM_ROW_EFFICIENCY",
    "CPU_EMBEDDING_OP_OVERHEAD_S", "CPU_EMBEDDING_FWD_OPS", "CPU_EMBEDDING_UPDATE_OPS",
    "CPU_EMBEDDING_UPDATE_S_PER_LOOKUP", "GPU_FP32_FLOPS", "GPU_MLP_EFFICIENCY",
    "GPU_HBM_BYTES_PER_S", "GPU_RANDOM_ROW_EFFICIENCY", "GPU_HBM_BYTES", "GPU_HBM_USABLE_FRACTION",
    "GPU_KERNEL_OVERHEAD_S", "MLP_KERNELS_PER_LAYER", "INTERACTION_AND_LOSS_KERNELS",
    "EMBEDDING_FWD_KERNELS_PER_TABLE", "EMBEDDING_UPDATE_KERNELS_PER_TABLE",
    "GATHERED_ROW_KERNELS_PER_TABLE", "EMBEDDING_ROW_TRAFFIC", "NVLINK_BYTES_PER_S",
    "NCCL_COLLECTIVE_LATENCY_S", "MEASURE_SCALE", "MEASURE_SAMPLES", "MEASURE_EVAL_SAMPLES",
    "MEASURE_SEED",
    "SIMULATED_WORKING_SETS",
)

SYSTEMS = ("hybrid", "gpu_only", "fae", "hotline")
SYSTEM_LABELS = {"hybrid": "hybrid CPU-GPU (Intel DLRM)", "gpu_only": "GPU-only (HBM)",
                 "fae": "FAE hot/cold batches", "hotline": "Hotline"}

#: The paper's figures (hotline.md) the results are compared with.
PAPER = {
    "speedup_vs_hybrid_average": 2.2,            # ISCA abstract, vs Intel-optimized DLRM
    "speedup_vs_hybrid_4gpu": 3.0,               # arXiv v1
    "speedup_vs_gpu_only_4gpu": 1.8,             # arXiv v1, vs HugeCTR
    "speedup_vs_fae": (2.3, 3.4),                # arXiv v1
    "epochs_per_hour_hotline": 35.7,             # arXiv v1
    "epochs_per_hour_baseline": 5.3,
    "transfer_minutes_10_epochs_1gpu": {"kaggle": (17.04, 3.16), "terabyte": (62.47, 12.44)},
}


@dataclass(frozen=True)
class Testbed:
    """The constants above as one value, so that sweeps and tests can vary them."""

    mini_batch: int = MINI_BATCH
    working_set: int = WORKING_SET
    accel_clock_hz: float = ACCEL_CLOCK_HZ
    accel_lanes: int = ACCEL_LANES
    accel_bus_bytes: int = ACCEL_BUS_BYTES
    accel_reads_in_flight: int = ACCEL_READS_IN_FLIGHT
    host_read_latency_s: float = HOST_READ_LATENCY_S
    hot_set_entries: int = HOT_SET_ENTRIES
    pcie_bytes_per_s: float = PCIE_BYTES_PER_S
    pcie_transfer_overhead_s: float = PCIE_TRANSFER_OVERHEAD_S
    cpu_dram_bytes_per_s: float = CPU_DRAM_BYTES_PER_S
    cpu_random_row_efficiency: float = CPU_RANDOM_ROW_EFFICIENCY
    cpu_embedding_op_overhead_s: float = CPU_EMBEDDING_OP_OVERHEAD_S
    cpu_embedding_fwd_ops: int = CPU_EMBEDDING_FWD_OPS
    cpu_embedding_update_ops: int = CPU_EMBEDDING_UPDATE_OPS
    cpu_embedding_update_s_per_lookup: float = CPU_EMBEDDING_UPDATE_S_PER_LOOKUP
    gpu_fp32_flops: float = GPU_FP32_FLOPS
    gpu_mlp_efficiency: float = GPU_MLP_EFFICIENCY
    gpu_hbm_bytes_per_s: float = GPU_HBM_BYTES_PER_S
    gpu_random_row_efficiency: float = GPU_RANDOM_ROW_EFFICIENCY
    gpu_hbm_bytes: float = GPU_HBM_BYTES
    gpu_hbm_usable_fraction: float = GPU_HBM_USABLE_FRACTION
    gpu_kernel_overhead_s: float = GPU_KERNEL_OVERHEAD_S
    nvlink_bytes_per_s: float = NVLINK_BYTES_PER_S
    nccl_collective_latency_s: float = NCCL_COLLECTIVE_LATENCY_S

    def scaled_cpu_embedding(self, factor: float) -> Testbed:
        """This testbed with every CPU embedding cost multiplied by ``factor`` (a sweep)."""
        return dataclasses.replace(
            self, cpu_embedding_op_overhead_s=self.cpu_embedding_op_overhead_s * factor,
            cpu_embedding_update_s_per_lookup=self.cpu_embedding_update_s_per_lookup * factor,
            cpu_dram_bytes_per_s=self.cpu_dram_bytes_per_s / factor)


# ---------------------------------------------------------------------------------------------
# Data sets and models (hotline.md, data.md)
# ---------------------------------------------------------------------------------------------

#: Criteo Terabyte rows per table at DLRM's ``max_ind_range=10000000`` (data.md).
TERABYTE_TABLE_SIZES = (
    9980333, 36084, 17217, 7378, 20134, 3, 7112, 1442, 61, 9758201, 1333352, 313829, 10, 2208,
    11156, 122, 4, 970, 14, 9994222, 7267859, 9946608, 415421, 12420, 101, 36,
)
#: Avazu rows per categorical column (C1, banner_pos, site_*, app_*, device_*, C14-C21): the
#: distinct counts of Avazu's train set, as listed by public Avazu loaders
#: (``NUM_EMBEDDINGS_PER_FEATURE``); 9.45M rows against the paper's 9.3M.
AVAZU_TABLE_SIZES = (
    7, 7, 4737, 7745, 26, 8552, 559, 36, 2686408, 6729486, 8251, 5, 4, 2626, 8, 9, 435, 4, 68,
    172, 60,
)


@dataclass(frozen=True)
class Dataset:
    """A data set's shape and its DLRM (hotline.md's workload table).

    ``table_sizes`` shape the generator; ``rows`` (the paper's total) sets the tables' footprint,
    which decides where GPU-only fits. The two differ for Terabyte: the published per-table
    counts (data.md, 10M-capped) sum to 49M rows, the paper's Terabyte model has 266M.
    """

    key: str
    name: str
    table_sizes: tuple[int, ...]
    rows: float
    dim: int
    dense: int
    bottom_mlp: tuple[int, ...]
    top_mlp: tuple[int, ...]
    learn_fraction: float
    paper_popular_fraction: float
    #: Training samples per epoch: Kaggle's train.txt; Terabyte days 0-22 of about 4.4 billion
    #: lines in 24 days (data.md); Avazu's train file, 40.4M.
    epoch_samples: float

    @property
    def tables(self) -> int:
        return len(self.table_sizes)

    @property
    def row_bytes(self) -> int:
        return 4 * self.dim

    @property
    def footprint_bytes(self) -> float:
        return self.rows * self.row_bytes

    @property
    def mlp_layers(self) -> list[tuple[int, int]]:
        """(inputs, outputs) of every linear layer, the top MLP's input being the dot
        interaction's pairs of the T embeddings and the bottom output, plus that output."""
        interaction = self.tables * (self.tables + 1) // 2 + self.bottom_mlp[-1]
        top = (interaction,) + self.top_mlp
        return (list(zip(self.bottom_mlp[:-1], self.bottom_mlp[1:]))
                + list(zip(top[:-1], top[1:])))

    @property
    def mlp_macs_per_sample(self) -> int:
        """Forward multiply-adds per sample: the linear layers and the interaction's batched
        matrix product of T + 1 vectors."""
        return (sum(i * o for i, o in self.mlp_layers)
                + (self.tables + 1) ** 2 * self.bottom_mlp[-1])

    @property
    def mlp_parameters(self) -> int:
        return sum(i * o + o for i, o in self.mlp_layers)

    @property
    def mlp_kernels(self) -> int:
        return MLP_KERNELS_PER_LAYER * len(self.mlp_layers) + INTERACTION_AND_LOSS_KERNELS


DATASETS = (
    Dataset("kaggle", "Criteo Kaggle", tuple(KAGGLE_TABLE_SIZES), 33.8e6, 16, 13,
            (13, 512, 256, 64, 16), (512, 256, 1), 0.05, 0.758, KAGGLE_N_SAMPLES),
    Dataset("terabyte", "Criteo Terabyte", TERABYTE_TABLE_SIZES, 266e6, 64, 13,
            (13, 512, 256, 64), (512, 512, 256, 1), 0.05, 0.816, 4.4e9 * 23 / 24),
    Dataset("avazu", "Avazu", AVAZU_TABLE_SIZES, 9.3e6, 16, 1,
            (1, 512, 256, 64, 16), (512, 256, 1), 0.15, 0.746, 40.4e6),
)


# ---------------------------------------------------------------------------------------------
# Measured skew: the generator through the golden-model popularity table and the oracle
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Skew:
    """What the timeline needs from the data, per data set.

    ``popular_fraction`` and ``cold_lookups_per_nonpopular_sample`` come from the learned
    popularity table (Hotline); ``oracle_popular_fraction`` and
    ``oracle_hot_lookups_per_cold_sample`` from the oracle top-N (FAE);
    ``fae_hot_set_copies_to_host`` / ``_to_device`` per working set from the FAE trainer's
    counted syncs (:func:`fae_sync_per_working_set`).
    """

    popular_fraction: float
    cold_lookups_per_nonpopular_sample: float
    oracle_popular_fraction: float
    oracle_hot_lookups_per_cold_sample: float
    fae_hot_set_copies_to_host: float
    fae_hot_set_copies_to_device: float

    def with_popular_fraction(self, fraction: float) -> Skew:
        """The same data with another popular fraction for both hot sets (a sweep)."""
        return dataclasses.replace(self, popular_fraction=fraction,
                                   oracle_popular_fraction=fraction)


def measure_skew(dataset: Dataset, *, scale: float, samples: int, eval_samples: int,
                 seed: int, mini_batch: int = MINI_BATCH) -> dict:
    """Run the generator at ``scale`` through the golden-model table (learn, then run) and
    the oracle; return the figures and the :class:`Skew` fields.

    The table has ``HOT_SET_ENTRIES * scale`` entries (4 ways); ``scale`` must make that a power
    of two number of sets. It learns on the data set's learning fraction of the ``samples``'
    mini-batches; the oracle counts all ``samples``; every figure is taken on the last
    ``eval_samples`` (after the learning window).
    """
    entries = round(HOT_SET_ENTRIES * scale)
    sets = entries // 4
    if sets < 1 or sets & (sets - 1) or sets * 4 != entries:
        raise ValueError(f"scale {scale} gives {entries} entries: not 4 ways x 2**k sets")
    sizes = scaled_table_sizes(scale, dataset.table_sizes)
    generator = SyntheticCriteo(samples, table_sizes=sizes, seed=seed)
    sparse = generator.generate_sparse(samples)
    n_learn = max(1, round(samples / mini_batch * dataset.learn_fraction)) * mini_batch
    learn, run = sparse[:n_learn], sparse[max(n_learn, samples - eval_samples):]
    tables = np.broadcast_to(np.arange(dataset.tables), run.shape)

    geometry = TableGeometry(table_bits=5, row_bits=24, set_bits=sets.bit_length() - 1, ways=4)
    table = PopularityTable(geometry, Mode.LEARN)
    table.classify(learn)
    table.mode = Mode.RUN
    hits, _, _ = table.lookup_many(tables, run)
    hits = hits.reshape(run.shape)
    popular = hits.all(axis=1)

    oracle = OracleProfiler(geometry.key_layout)
    oracle.update(sparse)
    keys, counts = oracle.counts()
    hot_keys = keys[np.argsort(-counts, kind="stable")[:entries]]
    oracle_hits = np.isin(geometry.key_layout.pack_array(tables, run), hot_keys)
    oracle_popular = oracle_hits.all(axis=1)

    nonpopular = max(1, int((~popular).sum()))
    oracle_cold = max(1, int((~oracle_popular).sum()))
    return {
        "scale": scale,
        "rows": int(sum(sizes)),
        "samples": samples,
        "learn_samples": int(n_learn),
        "eval_samples": len(run),
        "table_entries": entries,
        "learned_keys": len(table.hot_set()),
        "hit_fraction": float(hits.mean()),
        "popular_fraction": float(popular.mean()),
        "cold_lookups_per_nonpopular_sample": float((~hits).sum() / nonpopular),
        "oracle_hit_fraction": float(oracle_hits.mean()),
        "oracle_popular_fraction": float(oracle_popular.mean()),
        "oracle_hot_lookups_per_cold_sample": float(oracle_hits[~oracle_popular].sum()
                                                    / oracle_cold),
        "hot_set_bytes_full_scale": HOT_SET_ENTRIES * dataset.row_bytes,
        "paper_popular_fraction": dataset.paper_popular_fraction,
    }


def fae_sync_per_working_set(measurement: dict, dataset: Dataset,
                             mini_batch: int = MINI_BATCH) -> dict:
    """FAE's hot-set copies per working set in each direction, from the FAE trainer's run of the
    paper's scheduler (``make fae``: ``datasets.synthetic.runs.fae``): copies per epoch =
    rows synced / hot rows, spread over ``dataset.epoch_samples / (W * B)`` working sets."""
    run = measurement["datasets"]["synthetic"]["runs"]["fae"]
    rows, hot = run["traffic"]["rows"], run["hot_rows"]
    if not hot:
        raise ValueError(f"{FAE_MEASUREMENT}: the FAE run has no hot rows")
    working_sets = dataset.epoch_samples / (WORKING_SET * mini_batch)
    return {"fae_swaps_per_epoch": run["swaps"],
            "fae_hot_set_copies_to_host": rows["sync_to_host"] / hot / working_sets,
            "fae_hot_set_copies_to_device": rows["sync_to_device"] / hot / working_sets}


def load_fae_measurement(path: Path = FAE_MEASUREMENT) -> dict:
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `make fae` (FAE's measured syncs)")
    return json.loads(path.read_text())


def skew_of(figures: dict) -> Skew:
    return Skew(*(figures[f.name] for f in dataclasses.fields(Skew)))


# ---------------------------------------------------------------------------------------------
# The accelerator's speed, from the RTL figures
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AcceleratorSpeed:
    """Per-data-set accelerator rates at the testbed clock, and where each comes from."""

    lookups_per_cycle: float
    samples_per_cycle: float
    read_bus_utilisation: float
    working_set_seconds: float | None
    sources: dict

    def classify_seconds(self, samples: int, tables: int, testbed: Testbed) -> float:
        """Popularity lookups and scheduling of ``samples`` (a pipeline: the slower one), or
        the sample indices' PCIe transfer to the card if that is slower."""
        cycles = max(samples * tables / self.lookups_per_cycle,
                     samples / self.samples_per_cycle)
        return max(cycles / testbed.accel_clock_hz,
                   samples * tables * 4 / testbed.pcie_bytes_per_s)

    def gather_seconds(self, rows: float, row_bytes: int, testbed: Testbed) -> float:
        """Reading ``rows`` cold rows: R beats at the measured utilisation after one memory
        latency, or the PCIe link if that is slower."""
        beats = rows * math.ceil(row_bytes / testbed.accel_bus_bytes)
        cycles = beats / self.read_bus_utilisation
        return (max(cycles / testbed.accel_clock_hz, rows * row_bytes / testbed.pcie_bytes_per_s)
                + testbed.host_read_latency_s)

    @staticmethod
    def write_back_seconds(rows: float, row_bytes: int, testbed: Testbed) -> float:
        """Writing ``rows`` updated rows: posted writes, one W beat per cycle, or the link."""
        beats = rows * math.ceil(row_bytes / testbed.accel_bus_bytes)
        return max(beats / testbed.accel_clock_hz, rows * row_bytes / testbed.pcie_bytes_per_s)


def accelerator_speed(bench: dict, dataset: Dataset, testbed: Testbed) -> AcceleratorSpeed:
    """The accelerator's rates for ``dataset`` from ``bench/results.json`` figures.

    Lookups and samples per cycle: the figures at the data set's lookups per sample when
    measured (26), else the framing bound the README states (a sample of F lookups takes
    ``ceil(F / P)`` beats) times the measured figure's share of that bound at F = 26.
    Gather: R-bus utilisation at the rtl/ build's bus, reads in flight and row size, at the
    smallest measured latency not below the host's. A whole-accelerator figure
    ``hotline_top.<key>.W<W>_B<B>.cycles_per_working_set``, if present, gives the working
    set's time instead.
    """
    figures = bench["figures"]
    lanes, tables = testbed.accel_lanes, dataset.tables
    sources = {}

    def beats_per_sample(lookups: int) -> int:
        return math.ceil(lookups / lanes)

    # The bench measures samples of 26 lookups; other sizes keep its share of the bound.
    lookups_key = f"popularity_table.P{lanes}.RUN.zipf.sample.lookups_per_cycle"
    lookups_per_cycle = figures[lookups_key]
    sources["lookups_per_cycle"] = lookups_key
    if tables != 26:
        lookups_per_cycle *= beats_per_sample(26) / 26 * tables / beats_per_sample(tables)
        sources["lookups_per_cycle"] += f" x framing bound at F = {tables}"

    scheduler_key = f"micro_batch_scheduler.P{lanes}.F{tables}.samples_per_cycle"
    if scheduler_key in figures:
        samples_per_cycle = figures[scheduler_key]
        sources["samples_per_cycle"] = scheduler_key
    else:
        key_26 = f"micro_batch_scheduler.P{lanes}.F26.samples_per_cycle"
        samples_per_cycle = figures[key_26] * beats_per_sample(26) / beats_per_sample(tables)
        sources["samples_per_cycle"] = f"{key_26} x framing bound at F = {tables}"

    latency_cycles = testbed.host_read_latency_s * testbed.accel_clock_hz
    prefix = (f"gather_engine.B{8 * testbed.accel_bus_bytes}.R{testbed.accel_reads_in_flight}"
              f".D{dataset.dim}_L")
    measured = sorted(int(k[len(prefix):].split(".")[0]) for k in figures
                      if k.startswith(prefix) and k.endswith("_utilisation")
                      and k[len(prefix):].split(".")[0].isdigit())
    latency = next((lat for lat in measured if lat >= latency_cycles), measured[-1])
    gather_key = f"{prefix}{latency}.read_bus_utilisation"
    sources["read_bus_utilisation"] = gather_key

    top_key = (f"hotline_top.{dataset.key}.W{testbed.working_set}_B{testbed.mini_batch}"
               ".cycles_per_working_set")
    working_set_seconds = None
    if top_key in figures:
        working_set_seconds = figures[top_key] / testbed.accel_clock_hz
        sources["working_set"] = top_key
    else:
        sources["working_set"] = f"derived from the block figures ({top_key} not in the bench)"
    return AcceleratorSpeed(lookups_per_cycle, samples_per_cycle, figures[gather_key],
                            working_set_seconds, sources)


# ---------------------------------------------------------------------------------------------
# The event engine: a resource-reservation scheduler over a DAG of tasks
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Task:
    """A piece of work holding ``resources`` for ``duration`` seconds once ``deps`` ended."""

    name: str
    kind: str
    resources: tuple[str, ...]
    duration: float
    deps: tuple[int, ...]
    iteration: int


@dataclass(frozen=True)
class Timeline:
    """Scheduled tasks: ``starts[i]``, ``ends[i]`` of ``tasks[i]``."""

    tasks: tuple[Task, ...]
    starts: tuple[float, ...]
    ends: tuple[float, ...]

    @property
    def makespan(self) -> float:
        return max(self.ends, default=0.0)

    def busy(self, resource: str, iteration: int | None = None) -> float:
        """Seconds ``resource`` is held (in one iteration, or in all)."""
        return sum(t.duration for t in self.tasks if resource in t.resources
                   and (iteration is None or t.iteration == iteration))

    def resources(self) -> list[str]:
        """Every resource, in order of first use."""
        return list(dict.fromkeys(r for t in self.tasks for r in t.resources))

    def iteration_end(self, iteration: int) -> float:
        return max(e for t, e in zip(self.tasks, self.ends) if t.iteration == iteration)

    def period(self) -> float:
        """Steady-state time per iteration: between the ends of the first and last ones."""
        last = max(t.iteration for t in self.tasks)
        if last == 0:
            return self.iteration_end(0)
        return (self.iteration_end(last) - self.iteration_end(0)) / last


class TaskGraph:
    """Tasks added in program order; :meth:`schedule` places each as early as its dependencies
    and its resources allow, every resource serving its tasks in the order they were added."""

    def __init__(self) -> None:
        self.tasks: list[Task] = []
        self.iteration = 0

    def add(self, name: str, kind: str, resources, duration: float, deps=()) -> int:
        deps, resources = tuple(d for d in deps if d is not None), tuple(resources)
        if any(not 0 <= d < len(self.tasks) for d in deps):
            raise ValueError(f"task {name!r}: dependencies {deps} must be earlier tasks")
        if duration < 0 or not resources:
            raise ValueError(f"task {name!r}: needs resources and a duration >= 0")
        self.tasks.append(Task(name, kind, resources, float(duration), deps,
                               self.iteration))
        return len(self.tasks) - 1

    def schedule(self) -> Timeline:
        free_at: dict[str, float] = {}
        starts, ends = [], []
        for task in self.tasks:
            start = max([ends[d] for d in task.deps]
                        + [free_at.get(r, 0.0) for r in task.resources], default=0.0)
            end = start + task.duration
            for r in task.resources:
                free_at[r] = end
            starts.append(start)
            ends.append(end)
        return Timeline(tuple(self.tasks), tuple(starts), tuple(ends))


# ---------------------------------------------------------------------------------------------
# Task durations
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Costs:
    """Durations of the work items of ``dataset`` on ``testbed``."""

    dataset: Dataset
    testbed: Testbed

    def pcie(self, nbytes: float, transfers: int) -> float:
        tb = self.testbed
        return transfers * tb.pcie_transfer_overhead_s + nbytes / tb.pcie_bytes_per_s

    def cpu_embedding_fwd(self, samples: float) -> float:
        tb, ds = self.testbed, self.dataset
        lookups = samples * ds.tables
        return (ds.tables * tb.cpu_embedding_fwd_ops * tb.cpu_embedding_op_overhead_s
                + lookups * ds.row_bytes
                / (tb.cpu_dram_bytes_per_s * tb.cpu_random_row_efficiency))

    def cpu_embedding_update(self, samples: float) -> float:
        tb, ds = self.testbed, self.dataset
        lookups = samples * ds.tables
        # Gradient read, row read, row write.
        return (ds.tables * tb.cpu_embedding_update_ops * tb.cpu_embedding_op_overhead_s
                + lookups * tb.cpu_embedding_update_s_per_lookup
                + 3 * lookups * ds.row_bytes
                / (tb.cpu_dram_bytes_per_s * tb.cpu_random_row_efficiency))

    def gpu_mlp(self, samples: float) -> float:
        """Forward, backward (twice the forward's FLOPs) and SGD of the MLPs and interaction."""
        tb, ds = self.testbed, self.dataset
        flops = 6 * ds.mlp_macs_per_sample * samples
        return (ds.mlp_kernels * tb.gpu_kernel_overhead_s
                + flops / (tb.gpu_fp32_flops * tb.gpu_mlp_efficiency))

    def _gpu_embedding(self, samples: float, tables: int, kernels_per_table: int,
                       traffic: int) -> float:
        tb, ds = self.testbed, self.dataset
        return (tables * kernels_per_table * tb.gpu_kernel_overhead_s
                + samples * tables * ds.row_bytes * traffic
                / (tb.gpu_hbm_bytes_per_s * tb.gpu_random_row_efficiency))

    def gpu_embedding_fwd(self, samples: float, tables: int) -> float:
        return self._gpu_embedding(samples, tables, EMBEDDING_FWD_KERNELS_PER_TABLE, 1)

    def gpu_embedding_update(self, samples: float, tables: int) -> float:
        return self._gpu_embedding(samples, tables, EMBEDDING_UPDATE_KERNELS_PER_TABLE,
                                   EMBEDDING_ROW_TRAFFIC - 1)

    def gpu_step(self, samples: float, *, gathered_rows: bool = False) -> float:
        """A whole training step on one GPU holding every table (or its hot rows)."""
        tables = self.dataset.tables
        extra = (tables * GATHERED_ROW_KERNELS_PER_TABLE * self.testbed.gpu_kernel_overhead_s
                 if gathered_rows else 0.0)
        return (self.gpu_embedding_fwd(samples, tables) + self.gpu_mlp(samples)
                + self.gpu_embedding_update(samples, tables) + extra)

    def allreduce(self, nbytes: float, gpus: int) -> float:
        tb = self.testbed
        return tb.nccl_collective_latency_s + 2 * (gpus - 1) / gpus * nbytes / tb.nvlink_bytes_per_s

    def all_to_all(self, nbytes: float, gpus: int) -> float:
        """Each GPU sends ``(gpus - 1) / gpus`` of its ``nbytes / gpus``."""
        tb = self.testbed
        return tb.nccl_collective_latency_s + (gpus - 1) / gpus**2 * nbytes / tb.nvlink_bytes_per_s

    def input_bytes(self, samples: float, *, with_indices: bool) -> float:
        ds = self.dataset
        return samples * (ds.dense + (ds.tables if with_indices else 0)) * 4

    def embedding_bytes(self, samples: float) -> float:
        return samples * self.dataset.tables * self.dataset.row_bytes

    def gradient_bytes(self, samples: float) -> float:
        """MLP gradients plus the embedding rows a step touched (no de-duplication)."""
        return 4 * self.dataset.mlp_parameters + self.embedding_bytes(samples)


# ---------------------------------------------------------------------------------------------
# The four systems: one working set of W mini-batches as tasks
# ---------------------------------------------------------------------------------------------

CPU = "CPU"
NVLINK = "NVLink"
ACCEL_CLASSIFY = "accel classify"
ACCEL_GATHER = "accel gather"
ACCEL_WRITE = "accel write-back"


def gpu(g: int) -> str:
    return f"GPU {g}"


def h2d(g: int) -> str:
    return f"PCIe H2D {g}"


def d2h(g: int) -> str:
    return f"PCIe D2H {g}"


@dataclass
class Scenario:
    """One system on one data set and GPU count: adds each working set's tasks to ``graph``.

    ``carry`` holds the tasks a working set's successor depends on beyond resource order.
    """

    system: str
    costs: Costs
    skew: Skew
    gpus: int
    accel: AcceleratorSpeed | None = None

    def __post_init__(self) -> None:
        self.graph = TaskGraph()
        self.carry: dict[str, list[int]] = {}

    @property
    def feasible(self) -> bool:
        tb = self.costs.testbed
        if self.system != "gpu_only":
            return True
        capacity = self.gpus * tb.gpu_hbm_bytes * tb.gpu_hbm_usable_fraction
        return self.costs.dataset.footprint_bytes <= capacity

    def run(self, working_sets: int = SIMULATED_WORKING_SETS) -> Timeline:
        if not self.feasible:
            raise ValueError(f"{self.system} does not fit {self.gpus} GPU(s)")
        build = getattr(self, f"_{self.system}")
        for i in range(working_sets):
            self.graph.iteration = i
            build()
        return self.graph.schedule()

    # -- shared pieces --

    def _all_gpus(self) -> list[str]:
        return [gpu(g) for g in range(self.gpus)]

    def _sync_gradients(self, name: str, samples: float, deps) -> int | None:
        """All-reduce of a data-parallel step's gradients (nothing on one GPU)."""
        if self.gpus == 1:
            return None
        c = self.costs
        return self.graph.add(name, "NVLink", [NVLINK, *self._all_gpus()],
                              c.allreduce(c.gradient_bytes(samples), self.gpus), deps)

    def _hybrid_mini_batch(self, label: str, deps=()) -> int:
        """CPU lookup, outputs to the GPUs, MLPs, gradients back, CPU update: returns the
        update. Every GPU takes ``B / gpus`` samples."""
        g_, c, b = self.graph, self.costs, self.costs.testbed.mini_batch
        tables, share = c.dataset.tables, b / self.gpus
        fwd = g_.add(f"{label} emb lookup", "CPU embedding", [CPU], c.cpu_embedding_fwd(b), deps)
        steps = []
        for g in range(self.gpus):
            nbytes = c.embedding_bytes(share) + c.input_bytes(share, with_indices=False)
            up = g_.add(f"{label} emb out", "PCIe", [h2d(g)], c.pcie(nbytes, tables + 1), [fwd])
            steps.append(g_.add(f"{label} MLP", "GPU", [gpu(g)], c.gpu_mlp(share), [up]))
        self._sync_gradients(f"{label} MLP allreduce", 0, steps)
        downs = [g_.add(f"{label} emb grad", "PCIe", [d2h(g)],
                        c.pcie(c.embedding_bytes(share), tables), [steps[g]])
                 for g in range(self.gpus)]
        return g_.add(f"{label} emb update", "CPU embedding", [CPU],
                      c.cpu_embedding_update(b), downs)

    def _gpu_mini_batch(self, label: str, deps=(), *, gathered: int | None = None) -> list[int]:
        """Input to the GPUs, a data-parallel step against rows in HBM (plus gathered rows),
        gradient sync: returns the tasks a successor waits for."""
        g_, c, b = self.graph, self.costs, self.costs.testbed.mini_batch
        share = b / self.gpus
        steps = []
        for g in range(self.gpus):
            up = g_.add(f"{label} input", "PCIe", [h2d(g)],
                        c.pcie(c.input_bytes(share, with_indices=True), 2), deps)
            steps.append(g_.add(f"{label} step", "GPU", [gpu(g)],
                                c.gpu_step(share, gathered_rows=gathered is not None),
                                [up, gathered]))
        sync = self._sync_gradients(f"{label} allreduce", b, steps)
        return [sync] if sync is not None else steps

    # -- the systems --

    def _hybrid(self) -> None:
        for m in range(self.costs.testbed.working_set):
            self._hybrid_mini_batch(f"mb{m}")

    def _gpu_only(self) -> None:
        g_, c, b = self.graph, self.costs, self.costs.testbed.mini_batch
        if self.gpus == 1:
            for m in range(c.testbed.working_set):
                self._gpu_mini_batch(f"mb{m}")
            return
        # Model parallel: each GPU owns a share of the tables for the whole mini-batch and
        # exchanges their outputs / gradients all-to-all; the MLPs are data parallel.
        tables_per_gpu = math.ceil(c.dataset.tables / self.gpus)
        share, gpus = b / self.gpus, self._all_gpus()
        for m in range(c.testbed.working_set):
            fwd = []
            for g in range(self.gpus):
                up = g_.add(f"mb{m} input", "PCIe", [h2d(g)],
                            c.pcie(c.input_bytes(share, with_indices=True), 2))
                fwd.append(g_.add(f"mb{m} emb fwd", "GPU", [gpu(g)],
                                  c.gpu_embedding_fwd(b, tables_per_gpu), [up]))
            out = g_.add(f"mb{m} all-to-all", "NVLink", [NVLINK, *gpus],
                         c.all_to_all(c.embedding_bytes(b), self.gpus), fwd)
            mlp = [g_.add(f"mb{m} MLP", "GPU", [gpu(g)], c.gpu_mlp(share), [out])
                   for g in range(self.gpus)]
            back = g_.add(f"mb{m} all-to-all grad", "NVLink", [NVLINK, *gpus],
                          c.all_to_all(c.embedding_bytes(b), self.gpus), mlp)
            g_.add(f"mb{m} MLP allreduce", "NVLink", [NVLINK, *gpus],
                   c.allreduce(4 * c.dataset.mlp_parameters, self.gpus), mlp)
            for g in range(self.gpus):
                g_.add(f"mb{m} emb update", "GPU", [gpu(g)],
                       c.gpu_embedding_update(b, tables_per_gpu), [back])

    def _fae(self) -> None:
        g_, c, tb = self.graph, self.costs, self.costs.testbed
        w, row_bytes = tb.working_set, c.dataset.row_bytes
        hot_batches = math.floor(self.skew.oracle_popular_fraction * w)
        cold_batches = w - hot_batches
        if hot_batches == 0:
            # No hot batches, no replicas to keep in step: the hybrid path alone.
            for m in range(cold_batches):
                self._hybrid_mini_batch(f"cold{m}")
            return
        after = self.carry.get("synced", [])
        for m in range(hot_batches):
            after = self._gpu_mini_batch(f"hot{m}", after)
        if cold_batches == 0:
            return
        # The hot set goes to the CPU before cold batches read it, and back to every GPU's
        # replica after them: whole-set copies (one per table), at the measured number of
        # copies per working set (FAE's swaps are per epoch, so a fraction of one here).
        copy = c.pcie(tb.hot_set_entries * row_bytes, c.dataset.tables)
        last = g_.add("hot rows to CPU", "sync", [d2h(0)],
                      self.skew.fae_hot_set_copies_to_host * copy, after)
        for m in range(cold_batches):
            last = self._hybrid_mini_batch(f"cold{m}", [last])
        self.carry["synced"] = [g_.add("hot rows to GPU", "sync", [h2d(g)],
                                       self.skew.fae_hot_set_copies_to_device * copy, [last])
                                for g in range(self.gpus)]

    def _hotline(self) -> None:
        g_, c, tb = self.graph, self.costs, self.costs.testbed
        b, w, ds = tb.mini_batch, tb.working_set, c.dataset
        p = self.skew.popular_fraction
        popular_batches = math.floor(p * w)
        nonpopular_batches = w - popular_batches
        cold_rows = (1 - p) * w * b * self.skew.cold_lookups_per_nonpopular_sample
        rows_per_batch = cold_rows / max(1, nonpopular_batches)
        classify_s = self.accel.classify_seconds(b, ds.tables, tb)
        gather_s = self.accel.gather_seconds(rows_per_batch, ds.row_bytes, tb)
        if self.accel.working_set_seconds is not None:
            # The whole accelerator's measured working-set time replaces the blocks' sum.
            derived = w * classify_s + nonpopular_batches * gather_s
            stretch = self.accel.working_set_seconds / derived
            classify_s, gather_s = classify_s * stretch, gather_s * stretch

        # The scheduler's input buffer holds one working set ahead of the GPUs.
        classified = [g_.add(f"classify mb{m}", "accelerator", [ACCEL_CLASSIFY], classify_s,
                             self.carry.get("first_step", [])) for m in range(w)]
        first_step = None
        for k in range(popular_batches):
            # Popular micro-batch k is complete once (k + 1) B popular samples are in.
            ready = classified[min(w - 1, math.ceil((k + 1) / p) - 1)]
            done = self._gpu_mini_batch(f"popular{k}", [ready])
            first_step = first_step if first_step is not None else done[-1]
        write_back = self.carry.get("write_back", [])
        for j in range(nonpopular_batches):
            # Gathered rows stream from the card to the GPUs; a row is read again only after
            # its write-back is acknowledged.
            gathered = g_.add(f"gather np{j}", "accelerator",
                              [ACCEL_GATHER, *(h2d(g) for g in range(self.gpus))], gather_s,
                              [*classified, *write_back])
            done = self._gpu_mini_batch(f"nonpopular{j}", [classified[-1]], gathered=gathered)
            first_step = first_step if first_step is not None else done[-1]
            write_back = [g_.add(f"write-back np{j}", "accelerator",
                                 [ACCEL_WRITE, *(d2h(g) for g in range(self.gpus))],
                                 c.pcie(0, 1) + self.accel.write_back_seconds(
                                     rows_per_batch, ds.row_bytes, tb), done)]
        self.carry.update(first_step=[first_step], write_back=write_back)


# ---------------------------------------------------------------------------------------------
# Runs, sweeps, outputs
# ---------------------------------------------------------------------------------------------

def iteration_seconds(system: str, dataset: Dataset, skew: Skew, gpus: int, testbed: Testbed,
                      accel: AcceleratorSpeed) -> float | None:
    """Steady-state seconds per working set, or None where the system does not fit."""
    scenario = Scenario(system, Costs(dataset, testbed), skew, gpus, accel)
    return scenario.run().period() if scenario.feasible else None


def evaluate(skews: dict, bench: dict, testbed: Testbed, *, weak_scaling: bool = False) -> dict:
    """Iteration time, throughput and speedup vs hybrid of every system, data set, GPU count.

    The mini-batch is ``testbed.mini_batch`` samples in all (split over the GPUs), or with
    ``weak_scaling`` that many per GPU.
    """
    results = {}
    for ds in DATASETS:
        for gpus in GPU_COUNTS:
            tb = (dataclasses.replace(testbed, mini_batch=testbed.mini_batch * gpus)
                  if weak_scaling else testbed)
            accel = accelerator_speed(bench, ds, tb)
            times = {s: iteration_seconds(s, ds, skews[ds.key], gpus, tb, accel)
                     for s in SYSTEMS}
            samples = tb.working_set * tb.mini_batch
            results[f"{ds.key}.{gpus}gpu"] = {
                s: None if t is None else {
                    "iteration_ms": round(1e3 * t, 4),
                    "samples_per_s": round(samples / t),
                    "speedup_vs_hybrid": round(times["hybrid"] / t, 3),
                } for s, t in times.items()}
    return results


def sweeps(skews: dict, bench: dict, testbed: Testbed) -> dict:
    """Hotline's and FAE's speedup vs hybrid on Kaggle as one input varies at a time."""
    kaggle = DATASETS[0]
    accel = accelerator_speed(bench, kaggle, testbed)

    def speedups(skew: Skew, tb: Testbed, gpus: int) -> dict:
        hybrid = iteration_seconds("hybrid", kaggle, skew, gpus, tb, accel)
        return {s: round(hybrid / iteration_seconds(s, kaggle, skew, gpus, tb, accel), 3)
                for s in ("fae", "hotline")}

    base = skews[kaggle.key]
    fractions = [round(x, 3) for x in np.linspace(0.0, 1.0, 21)]
    factors = [0.25, 0.5, 1.0, 2.0, 4.0]
    return {
        "popular_fraction": {
            "values": fractions,
            **{f"{g}gpu": [speedups(base.with_popular_fraction(p), testbed, g) for p in fractions]
               for g in (1, 4)}},
        "cpu_embedding_cost_factor": {
            "values": factors,
            **{f"{g}gpu": [speedups(base, testbed.scaled_cpu_embedding(f), g) for f in factors]
               for g in (1, 4)}},
        "gpu_kernel_overhead_factor": {
            "values": factors,
            **{f"{g}gpu": [speedups(base, dataclasses.replace(
                testbed, gpu_kernel_overhead_s=testbed.gpu_kernel_overhead_s * f), g)
                for f in factors] for g in (1, 4)}},
    }


def pcie_seconds_per_working_set(system: str, dataset: Dataset, skew: Skew, testbed: Testbed,
                                 accel: AcceleratorSpeed) -> float:
    """Embedding traffic time between CPU memory and one GPU per working set: hybrid's
    outputs and gradients, Hotline's gathered and written-back rows."""
    timeline = Scenario(system, Costs(dataset, testbed), skew, 1, accel).run(1)
    kinds = {"hybrid": ("emb out", "emb grad"), "hotline": ("gather", "write-back")}[system]
    return sum(t.duration for t in timeline.tasks if any(k in t.name for k in kinds))


def paper_comparison(results: dict, skews: dict, bench: dict, testbed: Testbed) -> dict:
    """The model's counterparts of the paper's headline figures."""
    def speedup(system: str, key: str, over: str = "hybrid") -> float | None:
        row = results[key]
        if row[system] is None or row[over] is None:
            return None
        return round(row[over]["iteration_ms"] / row[system]["iteration_ms"], 3)

    all_keys = [f"{ds.key}.{g}gpu" for ds in DATASETS for g in GPU_COUNTS]
    kaggle = DATASETS[0]
    per_epoch = KAGGLE_N_SAMPLES / (testbed.working_set * testbed.mini_batch)
    epochs_per_hour = {s: round(3600 / (per_epoch * results["kaggle.4gpu"][s]["iteration_ms"]
                                        / 1e3), 2) for s in ("hybrid", "hotline")}
    accel = accelerator_speed(bench, kaggle, testbed)
    transfer = {s: pcie_seconds_per_working_set(s, kaggle, skews["kaggle"], testbed, accel)
                for s in ("hybrid", "hotline")}
    ratios = {}
    for ds in DATASETS[:2]:
        a = accelerator_speed(bench, ds, testbed)
        t = {s: pcie_seconds_per_working_set(s, ds, skews[ds.key], testbed, a)
             for s in ("hybrid", "hotline")}
        ratios[ds.key] = round(t["hybrid"] / t["hotline"], 2)
    return {
        "hotline_vs_hybrid_mean_all": round(float(np.mean(
            [speedup("hotline", k) for k in all_keys])), 3),
        "hotline_vs_hybrid_mean_1gpu": round(float(np.mean(
            [speedup("hotline", f"{ds.key}.1gpu") for ds in DATASETS])), 3),
        "hotline_vs_hybrid_4gpu": {ds.key: speedup("hotline", f"{ds.key}.4gpu")
                                   for ds in DATASETS},
        "hotline_vs_gpu_only_4gpu": {ds.key: speedup("hotline", f"{ds.key}.4gpu", "gpu_only")
                                     for ds in DATASETS},
        "hotline_vs_fae": {k: speedup("hotline", k, "fae") for k in all_keys},
        "kaggle_4gpu_epochs_per_hour": epochs_per_hour,
        "kaggle_1gpu_transfer_minutes_10_epochs": {
            s: round(10 * per_epoch * t / 60, 2) for s, t in transfer.items()},
        "transfer_ratio_hybrid_over_hotline_1gpu": ratios,
    }


def inputs_record() -> dict:
    return {name: globals()[name] for name in INPUT_NAMES}


# -- plots --

#: Shortest bar drawn in a Gantt chart, as a share of its time axis.
MIN_BAR = 0.003
KIND_COLOURS = {"CPU embedding": "#d62728", "PCIe": "#1f77b4", "GPU": "#2ca02c",
                "NVLink": "#9467bd", "accelerator": "#ff7f0e", "sync": "#8c564b"}


def plot_timelines(timelines: dict, title: str, path: Path) -> None:
    """Gantt charts of the systems' timelines, one panel each, on one time axis."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    horizon = 1e3 * max(t.makespan for t in timelines.values())
    fig, axes = plt.subplots(len(timelines), 1, figsize=(12, 2.2 * len(timelines) + 1),
                             squeeze=False)
    for ax, (system, timeline) in zip(axes[:, 0], timelines.items()):
        rows = timeline.resources()
        for task, start, end in zip(timeline.tasks, timeline.starts, timeline.ends):
            for r in task.resources:
                ax.barh(rows.index(r), max(1e3 * (end - start), MIN_BAR * horizon),
                        left=1e3 * start, height=0.7,
                        color=KIND_COLOURS[task.kind], alpha=0.55 + 0.15 * (task.iteration % 3),
                        edgecolor="black", linewidth=0.3)
        for i in range(max(t.iteration for t in timeline.tasks) + 1):
            ax.axvline(1e3 * timeline.iteration_end(i), color="grey", linestyle=":", lw=1)
        ax.set_yticks(range(len(rows)), rows, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlim(0, horizon * 1.01)
        ax.set_title(f"{SYSTEM_LABELS[system]}: {1e3 * timeline.period():.2f} ms per working set",
                     fontsize=9, loc="left")
    axes[-1, 0].set_xlabel(f"time (ms); dotted lines: end of each working set; bars shorter "
                           f"than {MIN_BAR:.1%} of the axis drawn at that width")
    fig.legend(handles=[Patch(color=c, label=k) for k, c in KIND_COLOURS.items()],
               loc="lower center", ncol=6, fontsize=8)
    fig.suptitle(title, fontsize=10, x=0.01, ha="left")
    fig.tight_layout(rect=(0, 0.04, 1, 0.98))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_speedups(results: dict, path: Path) -> None:
    """Speedup over hybrid per data set x GPU count; infeasible GPU-only runs marked."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [f"{ds.key}.{g}gpu" for ds in DATASETS for g in GPU_COUNTS]
    systems = [s for s in SYSTEMS if s != "hybrid"]
    width = 0.8 / len(systems)
    fig, ax = plt.subplots(figsize=(11, 4))
    for i, system in enumerate(systems):
        for j, key in enumerate(keys):
            x = j + (i - (len(systems) - 1) / 2) * width
            row = results[key][system]
            if row is None:
                ax.text(x, 0.05, "does not fit", rotation=90, ha="center", va="bottom",
                        fontsize=7)
                continue
            ax.bar(x, row["speedup_vs_hybrid"], width, color=f"C{i}",
                   label=SYSTEM_LABELS[system] if j == 0 else None)
            ax.text(x, row["speedup_vs_hybrid"], f"{row['speedup_vs_hybrid']:.1f}",
                    ha="center", va="bottom", fontsize=6)
    ax.axhline(1.0, color="black", lw=0.8)
    ax.set_xticks(range(len(keys)), [k.replace(".", "\n") for k in keys], fontsize=8)
    ax.set_ylabel("speedup vs hybrid CPU-GPU (model)")
    ax.legend(fontsize=8)
    ax.set_title("System model: time per working set, relative to hybrid CPU-GPU DLRM",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_sensitivity(sweep: dict, skew_figures: dict, path: Path) -> None:
    """Kaggle speedups of Hotline and FAE against the inputs that drive them."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    titles = {"popular_fraction": "popular fraction (both hot sets)",
              "cpu_embedding_cost_factor": "CPU embedding cost (x the model's)",
              "gpu_kernel_overhead_factor": "GPU kernel overhead (x the model's)"}
    panel_titles = {"popular_fraction": "vs the popular fraction",
                    "cpu_embedding_cost_factor": "vs the CPU embedding cost",
                    "gpu_kernel_overhead_factor": "vs the GPU kernel overhead"}
    for ax, (name, data) in zip(axes, sweep.items()):
        for gpus, style in (("1gpu", "-"), ("4gpu", "--")):
            for system, colour in (("hotline", "C2"), ("fae", "C1")):
                ax.plot(data["values"], [row[system] for row in data[gpus]], style,
                        color=colour, label=f"{system}, {gpus}")
        ax.axhline(1.0, color="black", lw=0.8)
        ax.set_xlabel(titles[name])
        ax.set_ylabel("speedup vs hybrid (x)")
        ax.set_title(panel_titles[name], fontsize=10)
        if name == "popular_fraction":
            ax.axvline(skew_figures["kaggle"]["popular_fraction"], color="grey", ls=":",
                       label="measured (learned)")
            ax.axvline(DATASETS[0].paper_popular_fraction, color="black", ls=":",
                       label="paper (oracle)")
        else:
            ax.set_xscale("log", base=2)
        ax.legend(fontsize=7)
    fig.suptitle(f"System model (not a measurement), {DATASETS[0].name}: Hotline and FAE "
                 f"speedups over the hybrid CPU-GPU baseline, one iteration of {WORKING_SET} x "
                 f"{MINI_BATCH} samples", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- report --

def format_table(results: dict, skews: dict, comparison: dict) -> str:
    lines = ["time per working set (W = 4 x B = 1024 samples), ms; speedup vs hybrid in ()",
             f"  {'data set':<10}{'GPUs':>5}" + "".join(f"{s:>18}" for s in SYSTEMS)]
    for ds in DATASETS:
        for g in GPU_COUNTS:
            row = results[f"{ds.key}.{g}gpu"]
            cells = [f"{'does not fit':>18}" if row[s] is None else
                     f"{row[s]['iteration_ms']:>9.2f} ({row[s]['speedup_vs_hybrid']:>4.2f}x)"
                     for s in SYSTEMS]
            lines.append(f"  {ds.key:<10}{g:>5}" + "".join(cells))
    lines.append("measured skew (scale, hot set = table entries), popular fraction: learned "
                 "table / oracle / paper")
    for ds in DATASETS:
        s = skews[ds.key]
        lines.append(f"  {ds.key:<10} scale {s['scale']:g}, {s['rows']:,} rows, "
                     f"{s['table_entries']:,} entries: {s['popular_fraction']:.3f} / "
                     f"{s['oracle_popular_fraction']:.3f} / {s['paper_popular_fraction']:.3f}; "
                     "cold lookups per non-popular sample "
                     f"{s['cold_lookups_per_nonpopular_sample']:.2f}")
    c = comparison
    lines += [
        "against the paper",
        f"  Hotline vs hybrid, mean of all runs {c['hotline_vs_hybrid_mean_all']:.2f}x, of 1 GPU "
        f"{c['hotline_vs_hybrid_mean_1gpu']:.2f}x (paper: 2.2x average)",
        f"  Hotline vs hybrid at 4 GPUs {c['hotline_vs_hybrid_4gpu']} (paper: 3x)",
        f"  Hotline vs GPU-only at 4 GPUs {c['hotline_vs_gpu_only_4gpu']} (paper: 1.8x vs HugeCTR)",
        f"  Kaggle 4 GPUs epochs per hour {c['kaggle_4gpu_epochs_per_hour']} "
        "(paper: Hotline 35.7, baseline 5.3)",
        f"  Kaggle 1 GPU PCIe embedding transfer, 10 epochs, minutes "
        f"{c['kaggle_1gpu_transfer_minutes_10_epochs']} (paper: 17.04 -> 3.16)",
        f"  transfer ratio hybrid / Hotline {c['transfer_ratio_hybrid_over_hotline_1gpu']} "
        "(paper: Kaggle 5.4, Terabyte 5.0)",
    ]
    return "\n".join(lines)


def run(out: Path, *, scale: float, samples: int, eval_samples: int, bench_path: Path) -> dict:
    """Measure the skew, model every system, write ``results.json`` and the plots to ``out``."""
    start = time.perf_counter()
    tree = commit()                 # before the plots, tracked files themselves, are rewritten
    bench = json.loads(bench_path.read_text())
    testbed = Testbed()
    fae = load_fae_measurement()
    skew_figures = {ds.key: {**measure_skew(ds, scale=scale, samples=samples,
                                            eval_samples=eval_samples, seed=MEASURE_SEED),
                             **fae_sync_per_working_set(fae, ds)}
                    for ds in DATASETS}
    skews = {k: skew_of(v) for k, v in skew_figures.items()}
    results = evaluate(skews, bench, testbed)
    comparison = paper_comparison(results, skews, bench, testbed)
    sweep = sweeps(skews, bench, testbed)
    at_paper_fraction = evaluate(
        {ds.key: skews[ds.key].with_popular_fraction(ds.paper_popular_fraction)
         for ds in DATASETS}, bench, testbed)
    weak_scaling = evaluate(skews, bench, testbed, weak_scaling=True)

    out.mkdir(parents=True, exist_ok=True)
    kaggle = DATASETS[0]
    accel = accelerator_speed(bench, kaggle, testbed)
    timelines = {s: Scenario(s, Costs(kaggle, testbed), skews["kaggle"], 1, accel).run()
                 for s in SYSTEMS}
    plot_timelines(timelines, f"System model, {kaggle.name}, 1 GPU: "
                   f"{SIMULATED_WORKING_SETS} working sets of {WORKING_SET} x {MINI_BATCH} "
                   "samples (a model, not a measurement)", out / "timeline_kaggle_1gpu.png")
    plot_speedups(results, out / "speedups.png")
    plot_sensitivity(sweep, skew_figures, out / "sensitivity_kaggle.png")

    report = {
        "schema": 1,
        "what": "system MODEL of one training iteration (a working set of W mini-batches); "
                "not a measurement",
        "commit": tree,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "inputs": inputs_record(),
        "datasets": {ds.key: {"name": ds.name, "tables": ds.tables, "rows": ds.rows,
                              "generator_rows": sum(ds.table_sizes), "dim": ds.dim,
                              "bottom_mlp": ds.bottom_mlp, "top_mlp": ds.top_mlp,
                              "mlp_parameters": ds.mlp_parameters,
                              "mlp_macs_per_sample": ds.mlp_macs_per_sample,
                              "footprint_gb": round(ds.footprint_bytes / 1e9, 2)}
                     for ds in DATASETS},
        "measured_skew": skew_figures,
        "accelerator": {ds.key: dataclasses.asdict(accelerator_speed(bench, ds, testbed))
                        for ds in DATASETS},
        "bench_commit": bench.get("commit"),
        "results": results,
        "kaggle_1gpu_busy_ms_per_working_set": {
            s: {r: round(1e3 * t.busy(r, 1), 3) for r in t.resources()}
            for s, t in timelines.items()},
        "results_at_paper_popular_fraction": at_paper_fraction,
        "results_weak_scaling": weak_scaling,
        "paper": PAPER,
        "comparison": comparison,
        "sweeps": sweep,
    }
    changed = write_json_if_changed(out / "results.json", report)
    print(format_table(results, skew_figures, comparison))
    for title, variant in (("at the paper's popular fractions", at_paper_fraction),
                           (f"weak scaling ({MINI_BATCH} samples per GPU)", weak_scaling)):
        print(f"Hotline speedup vs hybrid {title}: " + ", ".join(
            f"{key} {row['hotline']['speedup_vs_hybrid']:.2f}x" for key, row in variant.items()))
    print(f"accelerator working set: {accel.sources['working_set']}")
    print(f"{'wrote' if changed else 'figures unchanged, kept'} {out}/results.json; plots in "
          f"{out} ({time.perf_counter() - start:.0f} s)")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "system_model")
    parser.add_argument("--scale", type=float, default=MEASURE_SCALE,
                        help="table and hot-set scale of the skew measurement (1/2**k)")
    parser.add_argument("--samples", type=int, default=MEASURE_SAMPLES,
                        help="generated samples per data set")
    parser.add_argument("--eval-samples", type=int, default=MEASURE_EVAL_SAMPLES,
                        help="samples at the end the figures are taken on")
    parser.add_argument("--bench", type=Path, default=REPO / "bench" / "results.json")
    args = parser.parse_args(argv)
    run(args.out, scale=args.scale, samples=args.samples, eval_samples=args.eval_samples,
        bench_path=args.bench)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
