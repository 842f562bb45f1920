"""amaranth.sim helpers: the gather engine's per-table registers written through a
``table_word_write_signature`` port (as the register file writes them)."""

from hotline_hw import register_map as rmap


async def write_word(ctx, port, word: int, value: int, strobe: int = 0xF) -> None:
    """One word write, waiting for ``ready`` (the clearing after reset)."""
    ctx.set(port.en, 1)
    ctx.set(port.word, word)
    ctx.set(port.data, value)
    ctx.set(port.strobe, strobe)
    while True:
        _, _, ready = await ctx.tick().sample(port.ready)
        if ready:
            break
    ctx.set(port.en, 0)


async def write_tables(ctx, port, layouts) -> None:
    """Every word of tables ``0 .. len(layouts) - 1``: ``layouts[t] = (base, stride, rows)``."""
    for t, layout in enumerate(layouts):
        for r, value in enumerate(rmap.table_register_values(*layout).values()):
            await write_word(ctx, port, 4 * t + r, value)
