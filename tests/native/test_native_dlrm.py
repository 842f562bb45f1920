"""DLRM trained on the RTL through the native backend (:mod:`tb.dlrm_native`, ``make sim``'s
DLRM-on-RTL stage) on the tests' build: identical to the golden-model device, cleanly and when
a cold row answers SLVERR for good."""

import pytest

from sw_driver.data import SyntheticCriteo
from tb import driver_scenarios as sc
from tb import dlrm_native

TABLES = (50, 200, 30, 500, 80, 1000, 20, 300)


@pytest.mark.parametrize("mode, fault", [("REFORMED", False), ("SPLIT", True)])
def test_dlrm_on_the_native_backend(native_build, seed, mode, fault):
    data = SyntheticCriteo(768, table_sizes=TABLES, seed=seed % 1000).generate(768)
    report = dlrm_native.run(table_sizes=TABLES, data=data, batch_size=16, working_set=4,
                             learn_batches=8, dim=4, hidden=16,
                             geometry=sc.SMALL_CONFIG.geometry, mode=mode, fault=fault,
                             seed=seed, build=sc.SMALL_CONFIG)
    assert report["passed"], report
    if fault:
        assert "gather_bus" in report["error"]["errors"] and report["error"]["untrained"]
    else:
        assert report["error"] is None and report["samples"] == 768
        assert report["rows_gathered"] > 0 and report["rows_written"] > 0
