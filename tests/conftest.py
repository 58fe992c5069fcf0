"""Session-wide test settings."""

import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """One intra-op thread for the whole session: the numbers the tests pin (exact
    equalities across chunk sizes, resumed runs) do not depend on the thread count,
    and a setting made by the window (or any test) cannot leak into the tests after it."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(autouse=True)
def _keep_one_torch_thread():
    """Put back one thread after any test that changed it (e.g. a window's worker)."""
    yield
    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)
