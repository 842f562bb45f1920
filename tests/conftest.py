"""Shared fixtures of the software and amaranth.sim tests."""

import random

import numpy as np
import pytest

from tb.seeding import seed_for


@pytest.fixture
def seed(request) -> int:
    """Seed of this test (from its id, or ``$HOTLINE_SEED``); printed so a failure reproduces."""
    value = seed_for(request.node.nodeid)
    print(f"[hotline] {request.node.nodeid}: seed={value} (reproduce with HOTLINE_SEED={value})")
    return value


@pytest.fixture
def rng(seed) -> np.random.Generator:
    return np.random.default_rng(seed)


@pytest.fixture
def pyrng(seed) -> random.Random:
    return random.Random(seed)
