"""Test configuration: one thread for torch (a busy neighbour slowed torch 10-200x
with two threads on these machines) and a fixed seed for every test."""

import numpy as np
import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    np.random.seed(0)
    torch.manual_seed(0)
    yield
