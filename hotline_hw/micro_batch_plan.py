"""The scheduler emitter's choice of its next micro-batch, as combinational logic."""

from amaranth.hdl import Module, Mux, Signal

from .micro_batch_stream import MicroBatchKind

__all__ = ["plan_micro_batch"]


def plan_micro_batch(m: Module, tag: str, *, full, close, pop, non, skip, phase, total, flags,
                     total_nz, skip_nz, batch_size, split, size_bits: int) -> dict:
    """The next micro-batch of a job (combinational, added to ``m``; signals named
    ``plan_<tag>_*``).

    Inputs: ``full`` (a full popular micro-batch is due), ``close`` (the job closes its working
    set), the job's popular / non-popular / skipped samples left (``pop``, ``non``, ``skip``),
    ``total`` (pop + non), ``phase`` (SPLIT: 0 popular, 1 non-popular, 2 skipped), ``flags``
    (``total``, ``pop`` and ``skip`` compared with ``batch_size``, ``pop == total``),
    ``total_nz`` / ``skip_nz`` (``total != 0``, ``skip != 0``: registers, so that no
    comparison of ``total`` or ``skip`` is on the planning path), ``split``
    (SPLIT mode, else REFORMED). Returns the inputs as signals, ``chunk`` = min(total, B),
    ``chunk_pop`` = min(pop, B), ``skip_chunk`` = min(skip, B), and the micro-batch: ``start``
    (there is one), ``kind`` (:class:`MicroBatchKind`), ``size``, ``from_pop`` (samples taken
    from the popular queue), ``new_skip`` (a SKIPPED one). The scheduler builds this twice, for
    the job waiting in its stage J and for the current job's remainders, and picks one late.
    """
    def named(name, shape=1):
        return Signal(shape, name=f"plan_{tag}_{name}")

    p = {"full": named("full"), "close": named("close"), "pop": named("pop", len(pop)),
         "non": named("non", len(non)), "skip": named("skip", len(skip)),
         "phase": named("phase", 2), "total": named("total", len(total)),
         "chunk": named("chunk", size_bits), "chunk_pop": named("chunk_pop", size_bits),
         "skip_chunk": named("skip_chunk", size_bits), "start": named("start"),
         "kind": named("kind", 2), "size": named("size", size_bits),
         "from_pop": named("from_pop", size_bits), "new_skip": named("new_skip")}
    m.d.comb += [
        p["full"].eq(full), p["close"].eq(close), p["pop"].eq(pop), p["non"].eq(non),
        p["skip"].eq(skip), p["phase"].eq(phase), p["total"].eq(total),
        p["skip_chunk"].eq(Mux(flags.skip_ge_b, batch_size, skip)),
        # min(total, B) and min(pop, B) (pop <= total)
        p["chunk"].eq(Mux(flags.total_ge_b, batch_size, total)),
        p["chunk_pop"].eq(Mux(flags.pop_ge_b, batch_size, pop)),
    ]
    with m.If(full):
        m.d.comb += [p["start"].eq(1), p["kind"].eq(MicroBatchKind.POPULAR),
                     p["size"].eq(batch_size), p["from_pop"].eq(batch_size)]
    with m.Elif(close & split & (phase == 0)):
        m.d.comb += [p["start"].eq(1), p["kind"].eq(MicroBatchKind.POPULAR),
                     p["size"].eq(pop), p["from_pop"].eq(pop)]
    with m.Elif(close & split & (phase == 1)):
        m.d.comb += [p["start"].eq(1), p["kind"].eq(MicroBatchKind.NON_POPULAR),
                     p["size"].eq(non)]
    with m.Elif(close & split & (phase == 2) & skip_nz):
        m.d.comb += [p["start"].eq(1), p["kind"].eq(MicroBatchKind.SKIPPED),
                     p["size"].eq(p["skip_chunk"]), p["new_skip"].eq(1)]
    with m.Elif(close & ~split & total_nz):
        # chunk_pop == chunk: both are B, or (under B) every sample left is popular.
        all_pop = Mux(flags.total_ge_b, flags.pop_ge_b, flags.pop_eq_total)
        m.d.comb += [p["start"].eq(1), p["size"].eq(p["chunk"]),
                     p["from_pop"].eq(p["chunk_pop"]),
                     p["kind"].eq(Mux(all_pop, MicroBatchKind.POPULAR,
                                      Mux(pop == 0, MicroBatchKind.NON_POPULAR,
                                          MicroBatchKind.MIXED)))]
    with m.Elif(close & ~split & skip_nz):
        # The skipped samples leave last, in micro-batches of up to B.
        m.d.comb += [p["start"].eq(1), p["kind"].eq(MicroBatchKind.SKIPPED),
                     p["size"].eq(p["skip_chunk"]), p["new_skip"].eq(1)]
    return p
