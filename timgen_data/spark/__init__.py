"""The Spark engine's ground floor: a SparkSession, and the store's tables as Spark DataFrames.

PySpark is an optional extra (``pip install 'timgen-data[spark]'``): nothing here imports it
at module level, so the default install never needs it. Each stage keeps its own Spark
engine beside its local one and reuses that stage's formulas; this package knows only the
store.
"""

from timgen_data.spark.session import SparkUnavailableError, find_jdbc_jar, spark_session
from timgen_data.spark.store_tables import frame_batches, spark_schema, store_frames, write_store_rows

__all__ = [
    "SparkUnavailableError",
    "find_jdbc_jar",
    "frame_batches",
    "spark_schema",
    "spark_session",
    "store_frames",
    "write_store_rows",
]
