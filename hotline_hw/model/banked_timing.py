"""Cycle model of the banked popularity table's lookup engine (timing only, no contents).

:class:`BankedTiming` replays the cycle-by-cycle behaviour of
:class:`hotline_hw.banked_popularity_table.BankedPopularityTable` (its
:class:`~hotline_hw.lookup_crossbar.LookupCrossbar`: request window, one group per bank per
cycle, in-order return) with every input beat offered back to back and no output backpressure.
It predicts the cycle in which each response beat leaves, exactly (checked against the RTL in
``tests/hw/test_banked_popularity_table_sim.py``), so that throughput at 16-64 lanes and
thousands of beats can be measured without simulating or even converting the large RTL.

Which lookups a bank takes depends only on each lookup's (set, tag) and on the mode, never on the
table's contents: hit or miss costs the same.

Per cycle (state at the start of the cycle):

1. the oldest beat leaves if every lane of it is answered;
2. the next input beat enters if the window has a free beat (or one leaves now);
3. each bank ``b`` takes its oldest pending lookup (set ``s``, tag ``t``, ``s mod banks == b``)
   and every pending lookup of the same ``(s, t)`` -- in LEARN only those before the first
   pending lookup of ``s`` with another tag;
4. the lookups taken in the previous cycle are answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = ["BankedTiming", "BankedRun", "hashed_beats", "hashed_beats_from_arrays"]

_PENDING, _INFLIGHT, _DONE = 0, 1, 2


def hashed_beats(model, beats) -> list[list[tuple[int, int] | None]]:
    """Beats of keys (``(table, row)`` or ``None`` per lane) -> beats of ``(set, tag)`` per
    usable lane (``None``: invalid or out of range), using ``model.set_and_tag``."""
    out = []
    for beat in beats:
        lanes = []
        for key in beat:
            if key is None or not model.layout.in_range(*key):
                lanes.append(None)
            else:
                lanes.append(model.set_and_tag(*key))
        out.append(lanes)
    return out


def hashed_beats_from_arrays(sets: np.ndarray, tags: np.ndarray, usable: np.ndarray
                             ) -> list[list[tuple[int, int] | None]]:
    """``(beats, lanes)`` arrays of set, tag and usable flags -> beats for :meth:`run`."""
    return [[(s, t) if u else None for s, t, u in zip(srow, trow, urow)]
            for srow, trow, urow in zip(sets.tolist(), tags.tolist(), usable.tolist())]


@dataclass(frozen=True)
class BankedRun:
    """Timing of one run: ``leave_cycles[k]`` is the cycle in which response beat ``k`` leaves
    (cycle 0: the first beat is offered); ``lookups`` the usable lookups; ``groups`` the bank
    accesses (a group of same-key lookups is one access)."""
    leave_cycles: list
    lookups: int
    groups: int

    @property
    def cycles(self) -> int:
        """Cycles from the first beat offered to the last response beat, inclusive."""
        return self.leave_cycles[-1] + 1 if self.leave_cycles else 0

    @property
    def lookups_per_cycle(self) -> float:
        return self.lookups / self.cycles if self.cycles else 0.0


class BankedTiming:
    """Cycle model of the banked lookup engine.

    Parameters
    ----------
    lanes, banks, depth : int
        As :class:`~hotline_hw.banked_popularity_table.BankedPopularityTable` (depth in beats;
        the queue holds ``depth * lanes`` lookups).
    """

    def __init__(self, *, lanes: int, banks: int, depth: int):
        for name, value in (("lanes", lanes), ("banks", banks), ("depth", depth)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{name} must be an int, not {value!r}")
        if not 1 <= lanes <= 64:
            raise ValueError(f"lanes must be from 1 to 64, not {lanes}")
        if banks < 1 or banks & (banks - 1):
            raise ValueError(f"banks must be a power of two, not {banks}")
        if depth < 1:
            raise ValueError(f"depth must be at least 1, not {depth}")
        self.lanes, self.banks, self.depth = lanes, banks, depth

    def run(self, beats: Sequence[Sequence[tuple[int, int] | None]], *, learn: bool
            ) -> BankedRun:
        """Offer ``beats`` (per lane ``(set, tag)`` or ``None``) back to back; see the module
        docstring. Returns their :class:`BankedRun`."""
        mask = self.banks - 1
        depth = self.depth
        window = []          # beats in age order: [state list, keys list]
        pending = []         # usable lookups not yet issued, in age order: [beat, lane, s, t]
        inflight = []
        leave = []
        lookups = groups = 0
        next_beat = 0
        cycle = 0
        total = len(beats)
        limit = 16 * total * max(1, self.lanes) + 64        # a stuck model is a bug
        while len(leave) < total:
            if cycle > limit:
                raise AssertionError(f"cycle model stuck at cycle {cycle}")
            # 1. the oldest beat leaves once answered
            retire = bool(window) and all(state == _DONE for state in window[0][0])
            # 2. the next beat enters
            alloc = next_beat < total and (len(window) < depth or retire)
            # 3. issue: one group per bank
            chosen = {}             # bank -> (set, tag, blocked)
            issued = []
            kept = []
            for item in pending:
                s, t = item[2], item[3]
                bank = s & mask
                group = chosen.get(bank)
                if group is None:
                    chosen[bank] = [s, t, False]
                    issued.append(item)
                    groups += 1
                elif group[0] == s and group[1] == t and not group[2]:
                    issued.append(item)
                else:
                    if learn and group[0] == s and group[1] != t:
                        group[2] = True
                    kept.append(item)
            # 4. answers of the previous cycle's groups
            for beat, lane, _, _ in inflight:
                beat[0][lane] = _DONE
            for item in issued:
                item[0][0][item[1]] = _INFLIGHT
            inflight = issued
            pending = kept
            if retire:
                window.pop(0)
                leave.append(cycle)
            if alloc:
                keys = beats[next_beat]
                if len(keys) > self.lanes:
                    raise ValueError(f"beat {next_beat} has {len(keys)} lanes for "
                                     f"{self.lanes}")
                states = [_DONE if key is None else _PENDING for key in keys]
                entry = [states, keys]
                window.append(entry)
                for lane, key in enumerate(keys):
                    if key is not None:
                        pending.append([entry, lane, key[0], key[1]])
                        lookups += 1
                next_beat += 1
            cycle += 1
        return BankedRun(leave, lookups, groups)
