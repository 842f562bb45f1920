"""Fixtures of the DLRM tests."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    """The models here are tiny: one thread is faster than two, and immune to a busy CI box."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
