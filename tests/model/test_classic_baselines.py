"""The rating baselines: input checks, closed forms by hand, and MF on a known low-rank matrix."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest
import torch

from timgen_model.baselines import (
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

NUM_USERS, NUM_ITEMS, RANK = 200, 150, 3


def subset(data: RatingData, mask: np.ndarray) -> RatingData:
    return RatingData(data.users[mask], data.items[mask], data.scores[mask], data.num_users, data.num_items)


@pytest.fixture(scope="module")
def low_rank() -> dict[str, RatingData]:
    """A rank-3 matrix plus user/item biases plus noise, 60% observed, split 80/10/10.

    The interaction term carries most of the variance (sd ~0.85 against noise 0.25), so
    a model that only learns biases is far from the noise floor and MF is not.
    """
    rng = np.random.default_rng(7)
    user_factors = rng.normal(0, 0.7, (NUM_USERS, RANK))
    item_factors = rng.normal(0, 0.7, (NUM_ITEMS, RANK))
    user_bias = rng.normal(0, 0.3, NUM_USERS)
    item_bias = rng.normal(0, 0.3, NUM_ITEMS)
    full = 3.0 + user_bias[:, None] + item_bias[None, :] + user_factors @ item_factors.T
    full += rng.normal(0, 0.25, full.shape)
    users, items = np.nonzero(rng.random(full.shape) < 0.6)
    data = RatingData(users, items, full[users, items], NUM_USERS, NUM_ITEMS)
    part = rng.random(len(data))
    return {
        "train": subset(data, part < 0.8),
        "validation": subset(data, (part >= 0.8) & (part < 0.9)),
        "test": subset(data, part >= 0.9),
    }


SMALL = MFConfig(embedding_size=8, batch_size=1024, learning_rate=0.02, regularization=0.02, epochs=60, seed=3)


@pytest.fixture(scope="module")
def fitted_mf(low_rank) -> BiasedMF:
    return BiasedMF(SMALL).fit(low_rank["train"], low_rank["validation"])


# RatingData ---------------------------------------------------------------------------


def test_rating_data_coerces_dtypes():
    data = RatingData([0, 1], np.array([2.0, 0.0]), [4, 5], np.int32(2), 3)
    assert data.users.dtype == np.int64 and data.items.dtype == np.int64
    assert data.scores.dtype == np.float32
    assert (data.num_users, data.num_items, len(data)) == (2, 3, 2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"users": [0, 1, 0]}, "equal lengths"),
        ({"scores": [1.0]}, "equal lengths"),
        ({"users": [0, 2]}, r"users must lie in \[0, 2\), found 2"),
        ({"items": [-1, 0]}, r"items must lie in \[0, 3\), found -1"),
        ({"items": [0.5, 1.0]}, "integer indices"),
        ({"users": [[0, 1]]}, "one-dimensional"),
        ({"scores": [1.0, np.nan]}, "finite; 1 are not"),
        ({"scores": [np.inf, 1.0]}, "finite"),
        ({"scores": ["a", "b"]}, "real numbers"),
        ({"num_users": 0}, "num_users must be a positive integer"),
        ({"num_items": 2.5}, "num_items must be a positive integer"),
        ({"num_items": True}, "num_items must be a positive integer"),
    ],
)
def test_rating_data_rejects_bad_input(kwargs, message):
    fields = {"users": [0, 1], "items": [2, 0], "scores": [4.0, 3.0], "num_users": 2, "num_items": 3}
    fields.update(kwargs)
    with pytest.raises(ValueError, match=message):
        RatingData(**fields)


def test_rating_data_is_frozen():
    data = RatingData([0], [0], [1.0], 1, 1)
    with pytest.raises(AttributeError):
        data.num_users = 5


# GlobalMean and Biases ----------------------------------------------------------------

TINY = RatingData([0, 0, 1, 1, 2], [0, 1, 0, 2, 1], [5, 3, 4, 1, 2], num_users=4, num_items=4)


def test_global_mean_predicts_the_training_mean():
    model = GlobalMean().fit(TINY)
    assert model.mean == 3.0
    predicted = model.predict(np.array([0, 3, 2]), np.array([3, 0, 1]))
    assert predicted.dtype == np.float32
    np.testing.assert_array_equal(predicted, [3.0, 3.0, 3.0])
    assert model.item_scores(np.array([0, 1])) is None


def test_models_refuse_to_predict_before_fit_or_out_of_range():
    for model in (GlobalMean(), Biases(), BiasedMF()):
        with pytest.raises(RuntimeError, match="not fitted"):
            model.predict(np.array([0]), np.array([0]))
    model = Biases().fit(TINY)
    with pytest.raises(ValueError, match=r"items must lie in \[0, 4\)"):
        model.predict(np.array([0]), np.array([4]))
    with pytest.raises(ValueError, match="equal lengths"):
        model.predict(np.array([0, 1]), np.array([0]))


def test_biases_match_a_hand_computed_damped_example():
    # mu = 3. Items first, damping 1:   b_i0 = (2 + 1) / (2 + 1) = 1,
    #   b_i1 = (0 - 1) / (2 + 1) = -1/3,  b_i2 = -2 / (1 + 1) = -1,  b_i3 = 0 (unrated).
    # Users on the residuals r - mu - b_i, damping 2:
    #   b_u0 = (1 + 1/3) / (2 + 2) = 1/3,  b_u1 = (0 - 1) / (2 + 2) = -1/4,
    #   b_u2 = (-2/3) / (1 + 2) = -2/9,    b_u3 = 0 (unrated).
    model = Biases(BiasConfig(item_damping=1, user_damping=2)).fit(TINY)
    assert model.mean == 3.0
    np.testing.assert_allclose(model.item_bias, [1, -1 / 3, -1, 0])
    np.testing.assert_allclose(model.user_bias, [1 / 3, -1 / 4, -2 / 9, 0])
    predicted = model.predict(np.array([2, 0, 3, 3, 1]), np.array([0, 2, 3, 0, 1]))
    assert predicted.dtype == np.float32
    np.testing.assert_allclose(predicted, [3 - 2 / 9 + 1, 3 + 1 / 3 - 1, 3, 4, 3 - 1 / 4 - 1 / 3], rtol=1e-6)
    scores = model.item_scores(np.array([0, 3, 1]))
    assert scores.shape == (3, 4) and scores.dtype == np.float32
    np.testing.assert_allclose(scores, np.tile([4, 8 / 3, 2, 3], (3, 1)), rtol=1e-6)


def test_biases_without_damping_are_plain_means_and_unrated_is_zero():
    model = Biases(BiasConfig(item_damping=0, user_damping=0)).fit(TINY)
    np.testing.assert_allclose(model.item_bias, [1.5, -0.5, -2, 0])
    # User 2 rated only item 1: residual 2 - 3 + 0.5 = -0.5.
    assert model.user_bias[2] == pytest.approx(-0.5)
    assert model.user_bias[3] == 0.0


def test_configs_forbid_unknown_and_invalid_fields():
    with pytest.raises(pydantic.ValidationError):
        BiasConfig(damping=3)
    with pytest.raises(pydantic.ValidationError):
        BiasConfig(item_damping=-1)
    with pytest.raises(pydantic.ValidationError):
        MFConfig(hidden=8)
    with pytest.raises(pydantic.ValidationError):
        MFConfig(embedding_size=0)


# BiasedMF -----------------------------------------------------------------------------


def test_mf_recovers_a_low_rank_matrix_far_better_than_biases(low_rank, fitted_mf):
    test = low_rank["test"]
    biases = Biases().fit(low_rank["train"])
    bias_rmse = rmse(biases.predict(test.users, test.items), test.scores)
    mf_rmse = rmse(fitted_mf.predict(test.users, test.items), test.scores)
    assert mf_rmse < 0.8 * bias_rmse, (mf_rmse, bias_rmse)
    # The noise sd is 0.25; a recovered rank-3 structure gets within reach of it.
    assert mf_rmse < 0.4, mf_rmse


def test_mf_is_deterministic_for_a_seed(low_rank, fitted_mf):
    test = low_rank["test"]
    again = BiasedMF(SMALL).fit(low_rank["train"], low_rank["validation"])
    np.testing.assert_array_equal(again.predict(test.users, test.items), fitted_mf.predict(test.users, test.items))
    assert again.history == fitted_mf.history
    other = BiasedMF(SMALL.model_copy(update={"seed": 4})).fit(low_rank["train"], low_rank["validation"])
    assert not np.array_equal(other.predict(test.users, test.items), fitted_mf.predict(test.users, test.items))


def test_mf_early_stopping_keeps_the_best_validation_weights(low_rank):
    validation = low_rank["validation"]
    # Unregularized and wide, the model overfits, so validation RMSE turns back up.
    config = MFConfig(embedding_size=32, regularization=0.0, learning_rate=0.05, batch_size=1024, patience=3, seed=1)
    model = BiasedMF(config).fit(low_rank["train"], validation)
    curve = [row["validation_rmse"] for row in model.history]
    assert len(curve) < config.epochs, "expected early stopping"
    assert curve[-1] > min(curve), "the last epoch should be worse than the best one"
    assert len(curve) == model.best_epoch + config.patience
    assert model.best_validation_rmse == min(curve)
    assert rmse(model.predict(validation.users, validation.items), validation.scores) == pytest.approx(
        min(curve), abs=1e-12
    )
    assert all(set(row) == {"epoch", "train_rmse", "validation_rmse"} for row in model.history)
    assert [row["epoch"] for row in model.history] == list(range(1, len(curve) + 1))


def test_mf_without_validation_stops_on_a_training_plateau(low_rank):
    config = SMALL.model_copy(update={"epochs": 200, "regularization": 0.1, "patience": 3})
    model = BiasedMF(config).fit(low_rank["train"])
    assert all(row["validation_rmse"] is None for row in model.history)
    assert model.best_validation_rmse is None
    assert len(model.history) < 200
    train_curve = [row["train_rmse"] for row in model.history]
    assert train_curve[-1] < train_curve[0]


def test_item_scores_are_full_rows_of_predict(low_rank, fitted_mf):
    users = np.array([5, 0, 199, 5])
    scores = fitted_mf.item_scores(users)
    assert scores.shape == (4, NUM_ITEMS) and scores.dtype == np.float32
    pairs_users = np.repeat(users, NUM_ITEMS)
    pairs_items = np.tile(np.arange(NUM_ITEMS), len(users))
    predicted = fitted_mf.predict(pairs_users, pairs_items).reshape(len(users), NUM_ITEMS)
    assert predicted.dtype == np.float32
    np.testing.assert_allclose(scores, predicted, atol=1e-5)
    np.testing.assert_array_equal(scores[0], scores[3])
    train = low_rank["train"]
    assert scores.min() >= train.scores.min() and scores.max() <= train.scores.max()


def test_unseen_users_and_items_fall_back_to_biases():
    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 40, 3000), rng.integers(0, 30, 3000)
    keep = (users != 39) & (items != 29)
    # Index 39 / 29 exist in the universe but have no training ratings.
    train = RatingData(users[keep], items[keep], rng.integers(1, 6, keep.sum()), 40, 30)
    model = BiasedMF(MFConfig(embedding_size=4, epochs=5, batch_size=256)).fit(train)
    assert model.user_bias[39] == 0 and not model.user_factors[39].any()
    assert model.item_bias[29] == 0 and not model.item_factors[29].any()
    expected = np.float32(model.mean) + model.item_bias[:29]
    np.testing.assert_allclose(model.item_scores(np.array([39]))[0, :29], expected, rtol=1e-6)
    assert model.predict(np.array([39]), np.array([29]))[0] == pytest.approx(model.mean, rel=1e-6)
    biases = Biases().fit(train)
    assert biases.predict(np.array([39]), np.array([29]))[0] == pytest.approx(biases.mean, rel=1e-6)


def test_mf_rejects_mismatched_splits_and_restores_torch_threads(low_rank):
    wrong = RatingData([0], [0], [3.0], NUM_USERS + 1, NUM_ITEMS)
    with pytest.raises(ValueError, match="share one index space"):
        BiasedMF(SMALL).fit(low_rank["train"], wrong)
    with pytest.raises(ValueError, match="empty"):
        BiasedMF(SMALL).fit(RatingData([], [], [], 2, 2))
    before = torch.get_num_threads()
    BiasedMF(MFConfig(embedding_size=2, epochs=1)).fit(TINY)
    assert torch.get_num_threads() == before


def test_tune_picks_the_config_with_the_best_validation_rmse(low_rank):
    grid = [
        MFConfig(embedding_size=1, batch_size=1024, learning_rate=0.02, regularization=0.02, epochs=15, seed=3),
        SMALL.model_copy(update={"epochs": 15}),
    ]
    model, table = tune_biased_mf(low_rank["train"], low_rank["validation"], grid)
    assert [row["config"] for row in table] == [config.model_dump() for config in grid]
    scores = [row["validation_rmse"] for row in table]
    # Rank 1 cannot hold a rank-3 matrix.
    assert scores[1] < scores[0]
    assert model.config == grid[1]
    assert model.best_validation_rmse == min(scores)
    with pytest.raises(ValueError, match="validation"):
        tune_biased_mf(low_rank["train"], subset(low_rank["validation"], np.zeros(len(low_rank["validation"]), bool)))


def test_default_grid_spans_regularization_and_size():
    grid = default_mf_grid()
    assert len(grid) == 6
    assert {config.regularization for config in grid} == {0.05, 0.1, 0.15}
    assert {config.embedding_size for config in grid} == {32, 64}
    assert MFConfig().regularization in {config.regularization for config in grid}
