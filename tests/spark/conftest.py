"""Fixtures of the Spark tests: the one shared SparkSession (see ``support/spark.py``) and a scratch folder."""

from __future__ import annotations

import pytest
from support.spark import spark_or_skip


@pytest.fixture(scope="session")
def spark():
    return spark_or_skip()


@pytest.fixture
def workdir(tmp_path):
    """A folder for the Spark engine's files of its own (snapshots, results), apart from the store's."""
    folder = tmp_path / "spark-work"
    folder.mkdir()
    return folder
