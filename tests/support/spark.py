"""The one SparkSession every Spark test shares (starting one takes about ten seconds).

``local[2]`` (the CI machine's cores), no UI, few shuffle partitions: the tests' tables are
small, and Spark's 200 default partitions would make each query schedule hundreds of empty
tasks. The PostgreSQL JDBC driver goes on the class path when a jar is found (``find_jdbc_jar``).
Started on first use and left running until the test process ends: fixtures in several
folders (tests/spark, tests/cli) hand out this same session.
"""

from __future__ import annotations

import functools

TEST_CONF = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "2",
    "spark.driver.memory": "1g",
}


@functools.cache
def shared_spark():
    """The session, or the one-line reason there is none (PySpark or Java missing) as a string."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "the Spark tests need PySpark: pip install -e '.[dev]'"
    from timgen_data.spark import SparkUnavailableError, spark_session

    try:
        return spark_session("local[2]", conf=TEST_CONF)
    except SparkUnavailableError as error:
        return str(error)


def spark_or_skip():
    """The shared session for a fixture; without one the test is skipped, or fails where
    ``TIMGEN_REQUIRE_SPARK`` is set (CI), so a Spark that cannot start is never silently skipped."""
    import os

    import pytest

    session = shared_spark()
    if isinstance(session, str):
        if os.environ.get("TIMGEN_REQUIRE_SPARK"):
            pytest.fail(session)
        pytest.skip(session)
    return session
