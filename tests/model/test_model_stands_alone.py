"""The model stands on ``timgen_common`` alone: importing any of its modules loads no ``timgen_data``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

IMPORT_EVERY_MODEL_MODULE = """
import importlib, pkgutil, sys
import timgen_model
for info in pkgutil.walk_packages(timgen_model.__path__, "timgen_model."):
    importlib.import_module(info.name)
print(sorted(name for name in sys.modules if name.split(".")[0] == "timgen_data"))
"""


def test_importing_the_model_loads_nothing_of_the_data_toolkit():
    # A fresh interpreter: this test process has imported timgen_data long before.
    result = subprocess.run([sys.executable, "-c", IMPORT_EVERY_MODEL_MODULE], cwd=REPO, capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip() == "[]"
