"""Shared test setup: every test starts from the same torch seed, on one thread."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _private_cache_dir(tmp_path_factory: pytest.TempPathFactory):
    """Tests never read or write the user's cache (workbench.groups.cache)."""
    patch = pytest.MonkeyPatch()
    patch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    yield
    patch.undo()


@pytest.fixture(autouse=True)
def _reproducible_torch():
    """Seed torch's global RNG (e3nn initialises weights and samples rotations from it), so a
    failure reproduces; one thread, as the small ops here are faster that way."""
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
