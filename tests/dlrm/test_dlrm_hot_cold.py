"""The Hotline split of the embeddings: hot rows on the device, cold rows behind the port."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from dlrm_helpers import SMALL_GEOMETRY, RecordingPort, small_config, small_data

from hotline_hw.model.popularity_table import Mode
from sw_driver.dlrm import (HostEmbeddingMemory, HotlineTrainer, ScheduleMode, StaleRowError,
                            initial_table)
from sw_driver.dlrm.embeddings import pack_keys


@pytest.fixture(scope="module")
def trained():
    """A re-formed run of 4000 samples through a recording port (module-wide: it is read-only)."""
    config = small_config()
    trainer = HotlineTrainer(config, mode=ScheduleMode.REFORMED, batch_size=32, seed=11,
                             geometry=SMALL_GEOMETRY, learn_fraction=0.1,
                             memory_options=dict(stride=20, align=4), port_factory=RecordingPort,
                             device="cpu")
    torch.set_num_threads(1)
    result = trainer.train(small_data(4000, 11))
    return trainer, result


def test_every_row_lives_in_exactly_one_place(trained):
    trainer, _ = trained
    store, config = trainer.store, trainer.config
    assert store.frozen and trainer.table.mode is Mode.RUN
    hot = store.hot.detach().numpy()
    assert len(store.hot_slots) > 0
    valid = np.zeros(len(hot), dtype=bool)
    valid[store.hot_slots] = True
    assert np.isfinite(hot[valid]).all() and np.isnan(hot[~valid]).all()
    for t in range(config.n_tables):
        host = trainer.memory.table_view(t)
        is_hot = np.zeros(config.table_sizes[t], dtype=bool)
        is_hot[store.hot_rows[store.hot_tables == t]] = True
        assert np.isnan(host[is_hot]).all()               # the stale copy is gone
        assert np.isfinite(host[~is_hot]).all()
    # The table's hot set is the device's: each valid slot holds the key the table names.
    for slot, t, r in zip(store.hot_slots[:50], store.hot_tables[:50], store.hot_rows[:50]):
        assert trainer.table.key_of_slot(int(slot)) == (t, r)
    tables = trainer.embedding_tables()
    assert all(np.isfinite(x).all() for x in tables)
    for slot, t, r in zip(store.hot_slots, store.hot_tables, store.hot_rows):
        assert np.array_equal(tables[t][r], hot[slot])


def test_host_memory_changes_only_through_the_port(trained):
    trainer, _ = trained
    config, port = trainer.config, trainer.port
    replay = HostEmbeddingMemory(config.table_sizes, config.dim, stride=20, align=4)
    replay.load_tables([initial_table(config, t, 11) for t in range(config.n_tables)])
    for table, rows, values in port.writes:
        replay.table_view(table)[rows] = values
    assert replay.memory.tobytes() == trainer.memory.memory.tobytes()


def test_every_gathered_row_is_written_back(trained):
    trainer, result = trained
    port, store = trainer.port, trainer.store
    # Each gather (a step's distinct cold rows, or the freeze moving the hot set) is followed by
    # write-backs of exactly its rows, one call per table, before the next gather.
    groups = []
    for event in port.events:
        if event[0] == "gather":
            groups.append((event[1], []))
        else:
            assert groups, "a write-back before any gather"
            groups[-1][1].append(event[1:])
    for requests, writes in groups:
        gathered = np.sort(pack_keys(requests[:, 0], requests[:, 1]))
        written = np.sort(np.concatenate([pack_keys(np.full(len(rows), t), rows)
                                          for t, rows, _ in writes]))
        assert np.array_equal(gathered, written)
        assert len({t for t, _, _ in writes}) == len(writes)
    hot_moved = len(store.hot_slots)
    assert port.rows_written == store.rows_written_back + hot_moved
    assert store.rows_written_back == store.rows_gathered == result.stats["cold_rows_gathered"]
    # Popular micro-batches need nothing from host memory: one gather per other step, one for
    # the freeze.
    kinds = [s["kind"] for s in result.steps]
    assert "popular" in kinds and "non_popular" in kinds
    assert len(port.gathers) == 1 + sum(k != "popular" for k in kinds)


def test_hot_rows_are_read_on_the_device(trained):
    trainer, _ = trained
    store = trainer.store
    t, r = int(store.hot_tables[0]), int(store.hot_rows[0])
    assert store.is_hot(t, r)
    with pytest.raises(StaleRowError, match=f"table {t} row {r} .* lives on the device"):
        store.gather_cold(pack_keys(np.array([t]), np.array([r])))
    # Predictions never touch the stale copies: hot lookups come from the hot table.
    block = small_data(500, 3).generate(500, start=10_000)
    events = len(trainer.port.events)
    logits = trainer.predict_logits(block)
    assert np.isfinite(logits).all()
    assert all(e[0] == "gather" for e in trainer.port.events[events:])   # reads only


def test_learning_phase_serves_everything_from_host_memory(seed):
    config = small_config()
    trainer = HotlineTrainer(config, mode=ScheduleMode.SPLIT, batch_size=16, seed=seed,
                             geometry=SMALL_GEOMETRY, learn_batches=5, port_factory=RecordingPort,
                             device="cpu")
    result = trainer.train(small_data(16 * 5, seed))        # the whole run is learning
    assert {s["phase"] for s in result.steps} == {"learn"}
    assert all(s["popular"] == 0 for s in result.steps)
    # Every lookup of every step was gathered (the table only watched) ...
    block = small_data(80, seed).generate(80)
    for step, requests in enumerate(trainer.port.gathers[:5]):
        sparse = block.sparse[16 * step:16 * step + 16]
        expected = np.unique(pack_keys(np.broadcast_to(np.arange(8), sparse.shape), sparse))
        assert np.array_equal(pack_keys(requests[:, 0], requests[:, 1]), expected)
    # ... and the hot set was frozen at the end of the epoch, moved by a sixth gather.
    assert trainer.store.frozen and len(trainer.port.gathers) == 6
