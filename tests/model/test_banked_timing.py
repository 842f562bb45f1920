"""The banked table's cycle model on hand-computed cases (its agreement with the RTL is checked
in ``tests/hw/test_banked_popularity_table_sim.py`` and ``tb/test_banked_popularity_table.py``)."""

import pytest

from hotline_hw.model.banked_timing import BankedTiming


def test_no_conflicts_one_beat_per_cycle_after_a_latency_of_3():
    timing = BankedTiming(lanes=4, banks=8, depth=3)
    beats = [[(4 * k % 8 + i, 0) for i in range(4)] for k in range(10)]   # 4 banks per beat
    run = timing.run(beats, learn=False)
    assert run.leave_cycles == list(range(3, 13))
    assert run.lookups == 40 and run.groups == 40
    # Two beats of window cannot cover the 3-cycle latency: one beat per 2 cycles... almost.
    assert BankedTiming(lanes=4, banks=8, depth=2).run(beats, learn=False).cycles > run.cycles


def test_one_bank_serialises_different_sets_but_groups_one_key():
    timing = BankedTiming(lanes=4, banks=4, depth=4)
    one_bank = [[(4 * i, k) for i in range(4)] for k in range(5)]   # sets 0-12 of bank 0
    assert timing.run(one_bank, learn=True).leave_cycles == [6, 10, 14, 18, 22]
    one_key = [[(4, 7)] * 4] * 5
    run = timing.run(one_key, learn=True)
    assert run.leave_cycles == [3, 4, 5, 6, 7] and run.groups == 5
    assert timing.run([[None] * 4] * 3, learn=True).leave_cycles == [1, 2, 3]


def test_learn_does_not_group_past_another_key_of_the_set():
    timing = BankedTiming(lanes=4, banks=1, depth=4)
    beat = [[(1, 5), (1, 6), (1, 5), (1, 5)]]
    assert timing.run(beat, learn=False).groups == 2           # RUN: {5, 5, 5}, {6}
    learn = timing.run(beat, learn=True)
    assert learn.groups == 3                                   # LEARN: {5}, {6}, {5, 5}
    assert learn.leave_cycles == [5]


def test_parameters():
    with pytest.raises(ValueError, match="banks must be a power of two, not 6"):
        BankedTiming(lanes=4, banks=6, depth=2)
    with pytest.raises(ValueError, match="lanes must be from 1 to 64, not 0"):
        BankedTiming(lanes=0, banks=1, depth=2)
    with pytest.raises(TypeError, match="depth must be an int, not '2'"):
        BankedTiming(lanes=1, banks=1, depth="2")
    with pytest.raises(ValueError, match="beat 0 has 2 lanes for 1"):
        BankedTiming(lanes=1, banks=1, depth=1).run([[(0, 0), (0, 1)]], learn=False)
