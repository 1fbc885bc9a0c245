"""Shared fixtures: every test starts from the same global seed and default dtype."""

import pytest

import dagrad as dg


@pytest.fixture(autouse=True)
def _seed_and_dtype():
    dg.manual_seed(0)
    dtype = dg.get_default_dtype()
    yield
    dg.set_default_dtype(dtype)
