"""Oracle profiler: exact counts, FAE top-N, the best hot set a geometry can hold."""

import numpy as np
import pytest

from hotline_hw.model import (KeyLayout, Mode, OracleProfiler, PopularityTable, TableGeometry,
                              hit_fraction, popular_fraction)


def test_counts_and_top():
    o = OracleProfiler(KeyLayout(2, 6))
    o.update([[1, 2], [1, 3], [1, 2]])
    o.update_keys([0, 0], [1, 4])
    keys, counts = o.counts()
    assert dict(zip(keys.tolist(), counts.tolist())) == {1: 4, (1 << 6) | 2: 2, (1 << 6) | 3: 1,
                                                        4: 1}
    assert o.accesses == 8 and o.distinct == 4
    assert o.top(2) == [(0, 1), (1, 2)]
    assert o.top(4) == [(0, 1), (1, 2), (0, 4), (1, 3)]        # ties by key
    with pytest.raises(ValueError):
        o.top(-1)


def test_fractions():
    sparse = [[1, 2], [1, 3], [0, 2], [1, 2]]
    hot = [(0, 1), (1, 2)]
    assert hit_fraction(hot, sparse) == 6 / 8
    assert popular_fraction(hot, sparse) == 2 / 4


def test_top_fitting_is_optimal_for_a_set_associative_table(rng):
    g = TableGeometry(table_bits=1, row_bits=10, set_bits=3, ways=2)     # 16 entries
    sparse = np.minimum(rng.zipf(1.2, size=(5000, 2)), 1024) - 1
    o = OracleProfiler(g.key_layout)
    o.update(sparse)
    fitting = o.top_fitting(g)
    assert len(fitting) <= g.entries
    table = PopularityTable(g)
    table.load_hot_set(fitting)                                 # fits: no overflow
    table.mode = Mode.RUN
    table_hits = table.lookup_many(np.tile([0, 1], 5000), sparse.ravel())[0].mean()
    assert table_hits == pytest.approx(hit_fraction(fitting, sparse))
    # No table of this geometry can hit more on this data than the fitting oracle: in
    # particular not the SRRIP-learned one, and the unconstrained top-N bounds it from above.
    learned = PopularityTable(g)
    learned.classify(sparse)
    assert hit_fraction(learned.hot_set(), sparse) <= hit_fraction(fitting, sparse)
    assert hit_fraction(fitting, sparse) <= hit_fraction(o.top(g.entries), sparse)
