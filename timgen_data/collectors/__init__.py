"""Collectors: one module per source, each fetch (I/O) + parse (pure) + save (store).

``COLLECTORS`` is where a source is registered: its name maps to its collect function.
"""

from timgen_data.collectors.movielens import collect_movielens
from timgen_data.collectors.report import CollectReport, Rejection

COLLECTORS = {"movielens": collect_movielens}

__all__ = ["COLLECTORS", "CollectReport", "Rejection", "collect_movielens"]
