"""HFEncoder on tiny random models saved to folders and loaded the way a user loads a Hub id.

No network: every model is built from a config with random weights, saved with
``save_pretrained`` (with its tokenizer / processor), and loaded back through
``load_hf_encoder(folder, modality)``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

from timgen_data.alignment.encoders.base import Encoder
from timgen_data.alignment.encoders.hf import HFEncoder, load_hf_encoder
from timgen_data.alignment.encoders.tiny import save_tiny_models, tiny_sizes, wav2vec2_sizes
from timgen_data.errors import EncoderError

DIM = 32


def _save(model, processor, folder: Path) -> Path:
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def _vit(seed: int):
    torch.manual_seed(seed)
    return transformers.ViTModel(transformers.ViTConfig(image_size=32, patch_size=8, **tiny_sizes(DIM)))


def _vit_processor():
    return transformers.ViTImageProcessorPil(size={"height": 32, "width": 32})


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """One saved tiny model per modality, plus a masked (layer-norm) audio model."""
    root = tmp_path_factory.mktemp("hf_models")
    saved = save_tiny_models(root, dim=DIM)
    # Layer norm with an attention mask, like facebook/wav2vec2-large-lv60.
    wav2vec2_ln = transformers.Wav2Vec2Model(
        transformers.Wav2Vec2Config(**wav2vec2_sizes(DIM), feat_extract_norm="layer", do_stable_layer_norm=True)
    )
    saved["audio_masked"] = _save(
        wav2vec2_ln, transformers.Wav2Vec2FeatureExtractor(sampling_rate=16_000, return_attention_mask=True),
        root / "audio_masked",
    )
    return saved


@pytest.fixture(scope="module")
def encoders(folders) -> dict[str, HFEncoder]:
    # batch_size=2 so that five inputs make three batches, and order restoration is exercised.
    loaded = {m: load_hf_encoder(str(folders[m]), m, batch_size=2) for m in ("text", "image", "video", "audio")}
    loaded["audio_masked"] = load_hf_encoder(str(folders["audio_masked"]), "audio", batch_size=2)
    return loaded


def _inputs(kind: str) -> list:
    rng = np.random.default_rng(7)
    if kind == "text":
        return ["great movie", "a bad film about the war of space and love", "", "the story", "good good good ship"]
    if kind == "image":
        sizes = [(32, 32), (40, 60), (20, 24), (64, 48), (33, 33)]
        return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in sizes]
    if kind == "video":
        return [rng.integers(0, 256, (f, 36, 40, 3), dtype=np.uint8) for f in (4, 7, 1, 16, 4)]
    # Audio clips of different lengths, one shorter than the front end's receptive field.
    return [rng.standard_normal(n).astype(np.float32) for n in (1600, 3200, 2401, 10, 1600)]


KINDS = ["text", "image", "video", "audio", "audio_masked"]


@pytest.mark.parametrize("kind", KINDS)
def test_shapes_dtype_finite_and_identity(encoders, folders, kind):
    encoder = encoders[kind]
    assert isinstance(encoder, Encoder)
    assert encoder.modality == kind.split("_")[0]
    assert encoder.dim == DIM
    # A BERT without sentence-transformers modules pools [CLS], and a text encoder's name says so.
    assert encoder.name == "hf:" + str(folders[kind].resolve()) + ("#cls" if kind == "text" else "")
    assert len(encoder.version) == 16
    vectors = encoder.encode(_inputs(kind))
    assert vectors.shape == (5, DIM) and vectors.dtype == np.float32
    assert np.isfinite(vectors).all()
    assert np.abs(vectors).sum(axis=1).min() > 0
    assert encoder.encode([]).shape == (0, DIM)


@pytest.mark.parametrize("kind", KINDS)
def test_deterministic_and_batch_invariant(encoders, kind):
    encoder, inputs = encoders[kind], _inputs(kind)
    batched = encoder.encode(inputs)
    np.testing.assert_array_equal(batched, encoder.encode(inputs))
    alone = np.stack([encoder.encode([x])[0] for x in inputs])
    # Padding (text, masked audio) and unpadded grouping (audio) must not leak across rows.
    np.testing.assert_allclose(batched, alone, atol=1e-5, rtol=0)
    assert not np.allclose(batched[0], batched[1])  # different inputs, different vectors


def test_video_frames_resampled_uniformly(encoders):
    clip = _inputs("video")[0]  # 4 frames, the model's num_frames
    doubled = np.repeat(clip, 2, axis=0)  # 8 frames; uniform selection picks frames 0, 2, 5, 7
    np.testing.assert_allclose(encoders["video"].encode([doubled]), encoders["video"].encode([clip]), atol=1e-6)


def test_audio_resampled_to_the_models_rate(tmp_path):
    torch.manual_seed(0)
    model = transformers.Wav2Vec2Model(transformers.Wav2Vec2Config(**wav2vec2_sizes(DIM)))
    folder = _save(model, transformers.Wav2Vec2FeatureExtractor(sampling_rate=8_000), tmp_path / "audio8k")
    encoder = load_hf_encoder(str(folder), "audio")
    assert encoder._resample_to == 8_000
    vectors = encoder.encode(_inputs("audio")[:2])
    assert vectors.shape == (2, DIM) and np.isfinite(vectors).all()


def test_version_follows_the_saved_weights(tmp_path):
    folder = _save(_vit(1), _vit_processor(), tmp_path / "vit")
    first = load_hf_encoder(str(folder), "image").version
    # The same bytes elsewhere: same version (vectors would be the same), different name.
    copy = Path(shutil.copytree(folder, tmp_path / "copy"))
    copied = load_hf_encoder(str(copy), "image")
    assert copied.version == first and copied.name == f"hf:{copy.resolve()}"
    # New weights of the very same architecture (so the very same file size): new version.
    _save(_vit(2), _vit_processor(), folder)
    assert load_hf_encoder(str(folder), "image").version != first


def test_loading_prints_nothing(folders, capfd):
    load_hf_encoder(str(folders["image"]), "image")
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""


@pytest.mark.parametrize(
    ("kind", "modality"), [("text", "image"), ("image", "video"), ("video", "image"), ("audio", "text")]
)
def test_wrong_modality_is_an_encoder_error(folders, kind, modality):
    model_type = {"text": "bert", "image": "vit", "video": "timesformer", "audio": "wav2vec2"}[kind]
    with pytest.raises(EncoderError, match=rf"{model_type}.*{modality}"):
        load_hf_encoder(str(folders[kind]), modality)


def test_unknown_modality_is_an_encoder_error(folders):
    with pytest.raises(EncoderError, match="smell"):
        load_hf_encoder(str(folders["text"]), "smell")


def test_missing_folder_is_an_encoder_error(tmp_path):
    with pytest.raises(EncoderError, match="does not exist"):
        load_hf_encoder(str(tmp_path / "no-such-model"), "text")


def test_folder_without_a_model_is_an_encoder_error(tmp_path):
    with pytest.raises(EncoderError, match="could not load"):
        load_hf_encoder(str(tmp_path), "text")


def test_unreachable_hub_id_is_an_encoder_error(monkeypatch, tmp_path):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # huggingface_hub reads the variable once, at import; set the flag it actually consults.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(EncoderError, match=r"(?s)could not load.*network.*download timgen-tests/no-such-model"):
        load_hf_encoder("timgen-tests/no-such-model", "text")
