"""Hotline accelerator hardware: Amaranth components and their golden model.

``hotline_hw.model`` is the pure-Python/numpy specification (it never imports Amaranth);
the other modules are Amaranth components checked against it.
"""
