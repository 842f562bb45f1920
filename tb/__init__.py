"""cocotb regression: one testbench per block, run from pytest through :mod:`tb.runner`."""
