"""Both fusion modes: the paper's per-modality self-attention and the query from z_t.

Each is causal (a change at step t never reaches outputs at earlier steps), its α sums to 1
over the modalities a step has seen, and a modality not seen yet gets α = 0 exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from support.contract import drifting_histories, genre_embeddings, write_contract

from timgen_model.batches import SplitTensors, training_windows
from timgen_model.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from timgen_model.config import ModelConfig, load_run_config
from timgen_model.contract import read_contract
from timgen_model.encoding import encode_dataset
from timgen_model.modality_weights import alpha_by_user, alpha_variation
from timgen_model.model import DataSpec
from timgen_model.plots import plot_modality_weight_variation
from timgen_model.training import build_network

SMALL = ["model.embedding_size=16", "model.feedforward_size=32", "model.latent_size=8", "model.max_len=20",
         "model.dropout=0.0"]
MODES = ["paper", "query"]


@pytest.fixture(scope="module")
def multimodal(tmp_path_factory):
    histories, genres = drifting_histories(users=20, steps=25, seed=1)
    # Half the steps have text written: the review modality comes and goes within a history.
    rng = np.random.default_rng(4)
    histories.texts = [["" if rng.random() < 0.5 else f"seen {item} liked it" for item in items]
                       for items in histories.items]
    embeddings = {"text": genre_embeddings(genres, dim=6, share=0.5, seed=2),
                  "image": genre_embeddings(genres, dim=5, share=1.0, seed=3)}
    folder = write_contract(tmp_path_factory.mktemp("fusion") / "ds", histories, genres, embeddings)
    return encode_dataset(read_contract(folder))


def model_and_batch(data, mode: str, count: int = 6):
    config = load_run_config(None, SMALL + [f"model.fusion={mode}"])
    torch.manual_seed(0)
    model = build_network(config, data).eval()
    split = data.splits["train"]
    windows = training_windows(split, config.model.max_len)
    batch = SplitTensors(split, data.score_mean, data.score_std).batch(windows.take(np.arange(count)))
    return model, batch


@pytest.mark.parametrize("mode", MODES)
def test_fusion_is_causal(multimodal, mode):
    model, batch = model_and_batch(multimodal, mode)
    assert model.fused_modalities == ("item", "text", "image", "review")
    before = model(batch)
    step = 7
    batch.items = batch.items.clone()
    batch.items[:, step] = batch.items[:, step] % 40 + 3
    batch.text_tokens = batch.text_tokens.clone()
    batch.text_tokens[:, step, 0] = 12345  # something else written at step 7
    after = model(batch)
    assert torch.equal(before.latent[:, :step], after.latent[:, :step])
    assert torch.equal(before.alpha[:, :step], after.alpha[:, :step])
    assert not torch.allclose(before.alpha[:, step:], after.alpha[:, step:])


@pytest.mark.parametrize("mode", MODES)
def test_alpha_sums_to_one_and_an_unseen_modality_weighs_nothing(multimodal, mode):
    model, batch = model_and_batch(multimodal, mode, count=8)
    alpha = model(batch).alpha  # [B, L, M]: item, text, image, review
    real = batch.mask
    assert torch.allclose(alpha[real].sum(-1), torch.ones(int(real.sum())), atol=1e-5)
    for column, has in ((1, model.present_text[batch.items]), (3, (batch.text_tokens != 0).any(-1))):
        seen = torch.cumsum((has & real).long(), dim=1) > 0
        assert (~seen & real).any() and seen.any()  # the fixture exercises both cases
        assert torch.all(alpha[..., column][~seen] == 0.0)
        assert torch.all(alpha[..., column][seen & real] > 0.0)


def test_paper_alpha_varies_with_the_step_content(multimodal):
    """The paper's h_m is queried by the step's own vector, so α follows the content; the
    same history with every step's content alike gives one α for all steps."""
    model, batch = model_and_batch(multimodal, "paper")
    alpha = model(batch).alpha
    real = batch.mask & (torch.cumsum(batch.mask.long(), 1) > 3)
    assert float(alpha[..., 0][real].std()) > 1e-3


def test_paper_fusion_queries_with_the_modality_not_z(multimodal):
    """Changing z_t's other inputs (the gaps) leaves h_m and α of the paper's fusion alone,
    but moves those of the query mode."""
    moved = {}
    for mode in MODES:
        model, batch = model_and_batch(multimodal, mode)
        before = model(batch).alpha
        batch.gaps = batch.gaps + 5_000.0
        moved[mode] = not torch.equal(before, model(batch).alpha)
    assert moved == {"paper": False, "query": True}


@pytest.mark.parametrize(("written", "expected"), [(True, "query"), (False, "none"), ("paper", "paper")])
def test_older_boolean_fusion_keeps_its_meaning(written, expected):
    assert ModelConfig(fusion=written).fusion == expected
    assert load_run_config(None, [f"model.fusion={str(written).lower()}"]).model.fusion == expected


def test_checkpoint_from_before_the_review_modality_loads_with_its_behaviour(multimodal, tmp_path):
    """A checkpoint written before ``fusion`` took names and before the review modality: its
    config says fusion=true and has no review keys, its spec no text_buckets."""
    model, batch = model_and_batch(multimodal, "query")
    run_config = load_run_config(None, SMALL + ["model.fusion=query", "model.review_text=false"])
    expected = type(model)(run_config.model, DataSpec(**{**model.spec.to_json(), "text_buckets": 0}))
    path = save_checkpoint(Checkpoint(run_config, expected.spec, multimodal.vocabularies, [], "x", "f",
                                      expected.state_dict()), tmp_path / "old.pt")
    payload = torch.load(path, weights_only=True)
    payload["spec"].pop("text_buckets")
    for key in ("review_text", "text_buckets"):
        payload["config"]["model"].pop(key)
    payload["config"]["model"]["fusion"] = True
    torch.save(payload, path)
    older = load_checkpoint(path).build_model().eval()
    assert older.config.fusion == "query" and older.fused_modalities == ("item", "text", "image")
    assert torch.equal(older(batch).latent, expected.eval()(batch).latent)


def test_run_reports_measure_how_alpha_varies(multimodal, tmp_path):
    model, _ = model_and_batch(multimodal, "paper")
    alphas, names = alpha_by_user(model, multimodal, "test")
    split = multimodal.splits["test"]
    assert names == ("item", "text", "image", "review") and len(alphas) == split.num_rows
    assert [len(a) for a in alphas] == np.minimum(np.diff(split.offsets), model.config.max_len).tolist()
    stats = alpha_variation(alphas, names)
    # Worked out here from the arrays: the mean over users of each user's std over steps.
    expected = float(np.mean([a[:, 0].std() for a in alphas if len(a) >= 2]))
    assert stats["item"]["std_within_user"] == pytest.approx(expected, abs=1e-4)
    assert stats["item"]["std_within_user"] > 0
    path = plot_modality_weight_variation(alphas, names, tmp_path / "v.png", user_labels=list(split.user_ids))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="each α must be"):
        plot_modality_weight_variation([np.ones((3, 2))], names, tmp_path / "bad.png")
