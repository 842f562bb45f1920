"""Formal properties of the gateware (``make formal``): bounded proofs with SymbiYosys.

``rules``    the stream rules as properties, channel discovery, counters;
``harness``  a block under the rules (inputs free, assumed; outputs asserted), broken copies;
``sby``      one proof run with yowasp-sby + Yices, its verdict and the failed properties;
``proofs``   the registry: per block its small parameters, depth, extra invariants and the
             broken copies each proof must fail on.
"""
