"""Rating baselines TIMGen is compared with: global mean, damped biases, tuned biased MF."""

from timgen_model.baselines.classic import (
    BiasConfig,
    BiasedMF,
    Biases,
    GlobalMean,
    MFConfig,
    RatingData,
    default_mf_grid,
    rmse,
    tune_biased_mf,
)

__all__ = [
    "BiasConfig",
    "BiasedMF",
    "Biases",
    "GlobalMean",
    "MFConfig",
    "RatingData",
    "default_mf_grid",
    "rmse",
    "tune_biased_mf",
]
