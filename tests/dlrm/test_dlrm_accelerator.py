"""DLRM trained on the accelerator's own micro-batches and rows (AcceleratorTrainer over the
golden-model device, whose streams equal the RTL's: tb/test_hotline_top.py), and what an AXI
error during training does: nothing is lost."""

import numpy as np
import pytest

from dlrm_helpers import SMALL_GEOMETRY, small_config, small_data
from hotline_hw.model.oracle import OracleProfiler
from sw_driver.dlrm import HotlineTrainer, ScheduleMode, compare_parameters
from sw_driver.dlrm.accelerator import (AcceleratorTrainer, AcceleratorTrainingError,
                                        device_config_for, model_device_driver)
from sw_driver.dlrm.trainer import ScheduleError

B = 64


def _pair(mode, data, seed, **options):
    """An AcceleratorTrainer and a HotlineTrainer (golden models) trained alike on ``data``."""
    common = dict(mode=mode, batch_size=B, geometry=SMALL_GEOMETRY, seed=seed, device="cpu",
                  **options)
    device = AcceleratorTrainer(small_config(), **common)
    model = HotlineTrainer(small_config(), **common)
    return device, device.train(data), model, model.train(data)


@pytest.mark.parametrize("mode", [ScheduleMode.SPLIT, ScheduleMode.REFORMED])
def test_training_on_the_device_equals_training_on_the_models(mode, seed):
    """Learning phase on the device, its hot set read back, then its micro-batches and gathered
    rows: every step and every parameter equal (bit for bit) training on the golden models."""
    data = small_data(4096, seed).generate(4096)
    device, result, model, expected = _pair(mode, data, seed, learn_fraction=0.1)
    assert [s["loss"] for s in result.steps] == [s["loss"] for s in expected.steps]
    assert result.working_sets == expected.working_sets
    assert compare_parameters(device, model)["max"] == 0.0
    stats = result.stats
    assert stats["samples"] == 4096 and stats["working_set_retries"] == 0
    assert 0.1 < stats["popular_fraction"] < 0.6, stats["popular_fraction"]
    counters = stats["device_counters"]
    assert counters["samples_in"] == 4096
    # every row a step used came from the device; the host read only the hot rows at the freeze
    assert stats["device_rows_gathered"] == counters["rows_gathered"] > stats["cold_rows_gathered"]
    assert stats["host_rows_read"] == stats["hot_rows"] > 0
    assert counters["rows_written"] == stats["device_rows_written"] \
        == stats["cold_rows_written_back"] + stats["hot_rows"]          # + the freeze's NaNs


def _oracle_hot_set(data):
    profiler = OracleProfiler(SMALL_GEOMETRY.key_layout)
    profiler.update(data.sparse)
    return profiler.top_fitting(SMALL_GEOMETRY)


def test_loaded_hot_set_is_placed_as_the_model_places_it(seed):
    data = small_data(2048, seed).generate(2048)
    hot = _oracle_hot_set(data)
    device, result, model, _ = _pair(ScheduleMode.REFORMED, data, seed, hot_set=hot)
    assert {s["phase"] for s in result.steps} == {"run"}
    assert sorted(device.driver.read_hot_set()) == sorted(hot)
    assert compare_parameters(device, model)["max"] == 0.0


class _Tampering:
    """A driver whose submit results are altered by ``edit`` (a misbehaving device)."""

    def __init__(self, inner, edit):
        self.inner, self.edit = inner, edit

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def submit(self, samples, **options):
        result = self.inner.submit(samples, **options)
        if not options.get("learn"):
            self.edit(result)
        return result


@pytest.mark.parametrize("edit, message", [
    (lambda r: r.micro_batches.pop(), "did not return samples|rows are not"),
    (lambda r: r.rows.pop(), "rows are not its micro-batches' cold lookups"),
    (lambda r: r.micro_batches.append(r.micro_batches[0]), "twice"),
])
def test_a_device_that_loses_or_duplicates_work_is_caught(edit, message, seed):
    data = small_data(1024, seed).generate(1024)

    def driver(memory):
        build = device_config_for(small_config(), SMALL_GEOMETRY, batch_size=B, working_set=4)
        return _Tampering(model_device_driver(memory, build), edit)

    trainer = AcceleratorTrainer(small_config(), batch_size=B, geometry=SMALL_GEOMETRY,
                                 hot_set=_oracle_hot_set(data), driver=driver, device="cpu")
    with pytest.raises(ScheduleError, match=message):
        trainer.train(data)


# -- AXI errors during training ------------------------------------------------------------------

def _victim(trainer, data, after: int):
    """A cold key (table, row) first looked up by sample ``after`` or later: (its sample, key)."""
    hot = set(zip(trainer.store.hot_tables.tolist(), trainer.store.hot_rows.tolist()))
    seen = {(t, r) for row in data.sparse[:after].tolist() for t, r in enumerate(row)}
    for i in range(after, len(data)):
        for t, r in enumerate(data.sparse[i].tolist()):
            if (t, r) not in hot and (t, r) not in seen:
                return i, (t, r)
    raise AssertionError("no fresh cold key")


def _device_trainer(data, seed, mode=ScheduleMode.SPLIT, **options):
    return AcceleratorTrainer(small_config(), mode=mode, batch_size=B, geometry=SMALL_GEOMETRY,
                              hot_set=_oracle_hot_set(data), seed=seed, device="cpu", **options)


@pytest.mark.parametrize("mode", [ScheduleMode.SPLIT, ScheduleMode.REFORMED])
@pytest.mark.parametrize("kind", ["read", "write"])
def test_transient_axi_error_is_retried_and_loses_nothing(mode, kind, seed):
    """One AXI error response on a row read (or write) in the middle of training: the working
    set is resubmitted (the row rewritten) and training ends exactly as without the error."""
    data = small_data(2048, seed).generate(2048)
    clean = _device_trainer(data, seed, mode)
    clean.train(data)
    faulty = _device_trainer(data, seed, mode)
    _, (table, row) = _victim(faulty, data, after=1000)
    faulty.driver.transport.inject_error(faulty.memory.address(table, row), 4,
                                         read=kind == "read", write=kind == "write", times=1)
    result = faulty.train(data)
    assert compare_parameters(clean, faulty)["max"] == 0.0
    assert result.stats["samples"] == 2048
    retries = result.stats["working_set_retries" if kind == "read" else "write_retries"]
    assert retries == 1
    assert not faulty.driver.status()["errors"]


def test_persistent_read_error_stops_with_every_earlier_update_kept(seed):
    """A row that always answers SLVERR: training stops before the working set that needs it,
    naming it; every step before it is complete (parameters equal a run that stops there)."""
    data = small_data(2048, seed).generate(2048)
    trainer = _device_trainer(data, seed)
    sample, (table, row) = _victim(trainer, data, after=700)
    trainer.driver.transport.inject_error(trainer.memory.address(table, row), 4, write=False)
    with pytest.raises(AcceleratorTrainingError, match="gather_bus") as caught:
        trainer.train(data)
    first = sample // B * B                          # SPLIT: the failed mini-batch
    assert caught.value.untrained == list(range(first, first + B))
    assert caught.value.details["gather"]["row"] == row
    assert len(trainer.result.steps) == first // B
    reference = _device_trainer(data, seed)
    reference.train(data[:first])
    assert compare_parameters(trainer, reference)["max"] == 0.0


def test_persistent_write_error_keeps_the_unwritten_rows(seed):
    """A row whose write-back always fails: the step completes, every other row of it is
    written, the failed one is kept by the trainer, and training stops after that step."""
    data = small_data(2048, seed).generate(2048)
    trainer = _device_trainer(data, seed)
    sample, (table, row) = _victim(trainer, data, after=700)
    trainer.driver.transport.inject_error(trainer.memory.address(table, row), 4, read=False)
    with pytest.raises(AcceleratorTrainingError, match="write_bus") as caught:
        trainer.train(data)
    unwritten = caught.value.unwritten
    # the rows of the failed write-back call are kept; all but the victim did reach memory
    assert (table, row) in unwritten and {t for t, _ in unwritten} == {table}
    for (t, r), value in unwritten.items():
        written = np.array_equal(trainer.memory.table_view(t)[r], value)
        assert written == ((t, r) != (table, row)), (t, r)
    steps = sample // B + 1                          # the failing step completed
    assert len(trainer.result.steps) == steps
    reference = _device_trainer(data, seed)
    reference.train(data[:steps * B])
    assert compare_parameters(trainer, reference)["max"] == 0.0   # unwritten rows included


def test_read_error_in_the_learning_phase_is_not_retried(seed):
    data = small_data(2048, seed).generate(2048)
    trainer = AcceleratorTrainer(small_config(), batch_size=B, geometry=SMALL_GEOMETRY,
                                 learn_fraction=0.25, seed=seed, device="cpu")
    table, row = 0, int(data.sparse[10, 0])
    trainer.driver.transport.inject_error(trainer.memory.address(table, row), 4, times=1)
    with pytest.raises(AcceleratorTrainingError, match="learning phase") as caught:
        trainer.train(data)
    assert caught.value.untrained == list(range(4 * B))           # the first working set
    assert trainer.result.steps == []
