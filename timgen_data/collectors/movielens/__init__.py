"""MovieLens (GroupLens): ratings, movies, genres, users and links for every release."""

from timgen_data.collectors.movielens.collector import collect_movielens, obtain_release
from timgen_data.collectors.movielens.titles import split_title
from timgen_data.collectors.movielens.variants import CITATION, LICENSE, VARIANTS, Variant, get_variant

__all__ = ["CITATION", "LICENSE", "VARIANTS", "Variant", "collect_movielens", "get_variant", "obtain_release", "split_title"]
