"""Overlapping the Hotline host path with training, with results identical to the serial path.

Hotline gathers the next working set while the current one trains. Here:

* :class:`Pipeline` runs the *planner* (classification, scheduling, the working-set buffer, the
  cold keys of every step and their gather) on a background thread, one epoch at a time, and
  hands the training thread the steps in order through a bounded queue. Every side effect the
  training thread owns (freeze's device side, optimizer steps, results) is a queued callable,
  executed in order, so the order of everything observable is the serial path's.
* :class:`WriteBackQueue` drains write-backs on a worker thread (in order) and keeps a log of
  the rows written by recent steps. A cold row gathered *ahead* of the steps before it may miss
  their write-backs (or read a row half-written): :meth:`WriteBackQueue.patch` replaces every
  such row with the value written (the log's), in write order. That is exactly what a gather
  after those write-backs reads (float32 bytes in, the same bytes out), so the parameters are
  bit for bit the serial path's (tested in ``tests/dlrm/test_dlrm_overlap.py``).

Errors: an exception on the planner thread or in a write-back is raised on the training thread
at its next step (or at the end of the epoch); the planner is stopped and joined either way.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

__all__ = ["Pipeline", "WriteBackQueue"]


class WriteBackQueue:
    """Write-backs on one worker thread, in order, with a log of recent ones for patching.

    ``write(requests, values)`` is ``port``-like: it is given ``(table, row)`` requests
    (``[n, 2]``, packed keys ``keys`` sorted) and their values. ``issued`` counts write-backs
    handed to the queue; a gather that starts after ``done`` of them completed sees those, and
    :meth:`patch` supplies the rest from the log.
    """

    def __init__(self, write: Callable[[np.ndarray, np.ndarray], None], *, keep: int = 64):
        self._write = write
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hotline-writeback")
        self._log: deque[tuple[int, np.ndarray, np.ndarray]] = deque()
        self._pending: deque[Future] = deque()
        self._lock = threading.Lock()
        self.keep = keep
        self.issued = 0
        self.done = 0

    def submit(self, keys: np.ndarray, requests: np.ndarray, values: np.ndarray) -> None:
        """Queue one step's write-back (``keys`` sorted packed keys of ``requests``)."""
        self.raise_failure()
        with self._lock:
            seq = self.issued
            self.issued += 1
            self._log.append((seq, keys, values))
            while len(self._log) > self.keep:
                self._log.popleft()
        self._pending.append(self._pool.submit(self._run, requests, values))

    def _run(self, requests, values) -> None:
        self._write(requests, values)
        with self._lock:
            self.done += 1

    def mark(self) -> int:
        """Call before reading rows: the write-backs certainly visible to that read."""
        with self._lock:
            return self.done

    def patch(self, keys: np.ndarray, values: np.ndarray, since: int) -> None:
        """Overwrite, in ``values`` (rows of the sorted ``keys``), every row written by a
        write-back numbered ``since`` or later, with the value written (in write order)."""
        with self._lock:
            if since < self.issued and (not self._log or self._log[0][0] > since):
                raise RuntimeError(f"write-back {since} left the log: raise keep={self.keep}")
            entries = [e for e in self._log if e[0] >= since]
        for _, written_keys, written in entries:
            common, mine, theirs = np.intersect1d(keys, written_keys, assume_unique=True,
                                                  return_indices=True)
            if len(common):
                values[mine] = written[theirs]

    def raise_failure(self) -> None:
        """Raise the first failed write-back's exception (finished ones are dropped)."""
        while self._pending and self._pending[0].done():
            self._pending.popleft().result()

    def drain(self) -> None:
        """Wait for every queued write-back; raises the first failure."""
        while self._pending:
            self._pending.popleft().result()

    def close(self) -> None:
        try:
            self.drain()
        finally:
            self._pool.shutdown(wait=True)


_DONE = object()


class Pipeline:
    """Runs ``produce(sink)`` on a planner thread; :meth:`run` executes what it sinks, in order,
    on the calling thread. ``depth`` bounds how many callables wait (how far ahead the planner
    may run)."""

    def __init__(self, depth: int = 8):
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()

    def _sink(self, item) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        raise _Stopped()

    def run(self, produce: Callable[[Callable], object]):
        """Plan on a thread, execute here; returns ``produce``'s result."""
        box: dict = {}

        def planner():
            try:
                box["result"] = produce(self._sink)
                self._sink(_DONE)
            except _Stopped:
                pass
            except BaseException as error:        # handed to the training thread
                box["error"] = error
                try:
                    self._sink(_DONE)
                except _Stopped:
                    pass

        thread = threading.Thread(target=planner, name="hotline-planner", daemon=True)
        thread.start()
        try:
            while True:
                item = self._queue.get()
                if item is _DONE:
                    break
                item()
        finally:
            self._stop.set()
            thread.join()
        if "error" in box:
            raise box["error"]
        return box.get("result")


class _Stopped(Exception):
    """The training thread stopped the pipeline (it raised)."""
