"""Collectors: one module per source, each fetch (I/O) + parse (pure) + save (store).

Sources are registered in ``timgen_data.sources``, below every stage: the ``collect``
commands and the dataset card are made from it without importing a collector.
"""

from timgen_data.collectors.movielens import collect_movielens
from timgen_data.collectors.report import CollectReport, Rejection

__all__ = ["CollectReport", "Rejection", "collect_movielens"]
