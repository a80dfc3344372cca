"""How each source asks to be cited, by collector name.

The dataset card cites the sources a dataset was built from, so the citations stand below
both the collectors and the dataset build.
"""

MOVIELENS = """@article{harper2015movielens,
  title   = {The MovieLens Datasets: History and Context},
  author  = {Harper, F. Maxwell and Konstan, Joseph A.},
  journal = {ACM Transactions on Interactive Intelligent Systems},
  volume  = {5}, number = {4}, pages = {19:1--19:19}, year = {2015},
  doi     = {10.1145/2827872}
}"""

CITATIONS = {"movielens": MOVIELENS}
