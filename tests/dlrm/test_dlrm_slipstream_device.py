"""Slipstream on the accelerator (sw_driver/dlrm/slipstream_accelerator.py): the stale keys
marked in the device's popularity table, the device's SKIPPED micro-batches, and the training
equal to SlipstreamTrainer on the golden models, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from hotline_hw.model.scheduler import ScheduleMode
from sw_driver.dlrm.slipstream import SlipstreamTrainer
from sw_driver.dlrm.slipstream_accelerator import SlipstreamAcceleratorTrainer
from tests.dlrm.dlrm_helpers import SMALL_GEOMETRY, small_config, small_data

COMMON = dict(batch_size=32, lr=0.1, geometry=SMALL_GEOMETRY, learn_batches=10, drop=0.3,
              alpha=8)


# window 20: the calibration falls between working sets (W = 4); 19: inside one, whose stale
# inputs are then dropped in software until it is submitted (the module docstring).
@pytest.mark.parametrize("mode, window", [(ScheduleMode.REFORMED, 20), (ScheduleMode.SPLIT, 20),
                                          (ScheduleMode.REFORMED, 19)])
def test_slipstream_on_the_device_equals_slipstream_on_the_models(seed, mode, window):
    n = 4000
    data = small_data(n, seed).generate(n)
    device = SlipstreamAcceleratorTrainer(small_config(), mode=mode, seed=seed,
                                          window_batches=window, **COMMON)
    model = SlipstreamTrainer(small_config(), mode=mode, seed=seed, window_batches=window,
                              **COMMON)
    got, want = device.train(data), model.train(data)
    stats = got.stats
    print(seed, mode, {k: stats[k] for k in ("skipped_samples", "device_skipped",
                                             "software_skipped", "trained_samples")})
    assert [s["loss"] for s in got.steps] == [s["loss"] for s in want.steps]
    assert got.working_sets == want.working_sets
    np.testing.assert_array_equal(device.skipped_ids(0), model.skipped_ids(0))
    for a, b in zip(device.embedding_tables(), model.embedding_tables()):
        np.testing.assert_array_equal(a, b)
    for name, value in device.mlp_state().items():
        np.testing.assert_array_equal(value, model.mlp_state()[name])
    # every input trained or skipped exactly once; most skipped ones by the device
    assert stats["trained_samples"] + stats["skipped_samples"] == n
    assert stats["trained_samples"] == sum(s["samples"] for s in got.steps)
    assert stats["skipped_samples"] == stats["device_skipped"] + stats["software_skipped"]
    assert stats["device_skipped"] > stats["software_skipped"] and stats["stale_marked"]
    assert stats["device_counters"]["skipped"] == stats["device_skipped"]
    assert stats["device_counters"]["samples_in"] == n - stats["software_skipped"]
    if window == 19:
        assert stats["software_skipped"] > 0
