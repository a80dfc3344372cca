"""``align assets`` and ``align features`` against a loopback server: good and bad media side by
side, a YouTube link fetched with yt-dlp, re-runs that do nothing, an interrupted run, and
the vectors reaching the built dataset."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import wave

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from PIL import Image
from support.http_server import LoopbackServer
from support.media import write_mp4

from timgen_data.alignment import assets as assets_module
from timgen_data.alignment.assets import FetchOptions, collect_assets
from timgen_data.alignment.content_store import ContentStore
from timgen_data.alignment.encoders import MODALITIES, get_encoder
from timgen_data.alignment.features import compute_features
from timgen_data.cli import cli
from timgen_data.dataset import BuildOptions, build_dataset
from timgen_data.labeling import label_store
from timgen_data.store import Store, fetch_rows, upsert_rows

NAMESPACE = "shop"


def png(colour) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def wav(seconds: float = 0.5, rate: int = 16_000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.4 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(samples.tobytes())
    return buffer.getvalue()


def with_sound(tmp_path, video: bytes) -> bytes:
    """The clip with a tone as its AAC audio track (ffmpeg), or silent where ffmpeg is missing."""
    ffmpeg = shutil.which("ffmpeg")
    if not ffmpeg:
        return video
    (tmp_path / "silent.mp4").write_bytes(video)
    (tmp_path / "tone.wav").write_bytes(wav())
    subprocess.run([ffmpeg, "-loglevel", "error", "-y", "-i", str(tmp_path / "silent.mp4"), "-i",
                    str(tmp_path / "tone.wav"), "-c:v", "copy", "-c:a", "aac", "-shortest",
                    str(tmp_path / "sound.mp4")], check=True, timeout=60)
    return (tmp_path / "sound.mp4").read_bytes()


def seed_store(store: Store, items: int = 6) -> None:
    """Users, items and rate interactions enough to build a dataset."""
    with store.begin() as conn:
        upsert_rows(conn, "users", ["source", "external_id", "attributes"],
                    [(NAMESPACE, f"u{u}", "{}") for u in range(4)], conflict=["source", "external_id"])
        upsert_rows(conn, "items", ["source", "external_id", "title", "text", "year", "category", "categories",
                                    "attributes"],
                    [(NAMESPACE, f"i{i}", f"Item {i}", f"a description of item {i}", 2000, "Drama", '["Drama"]', "{}")
                     for i in range(items)], conflict=["source", "external_id"])
        users = dict(fetch_rows(conn, "SELECT external_id, id FROM users"))
        item_ids = dict(fetch_rows(conn, "SELECT external_id, id FROM items"))
        rows = [(users[f"u{u}"], item_ids[f"i{i}"], 1_000_000 + 100 * (u * items + i), "rate", float(1 + (u + i) % 5),
                 None, "", "", "", None) for u in range(4) for i in range(items)]
        upsert_rows(conn, "interactions", ["user_id", "item_id", "ts", "action", "value", "duration", "device",
                                           "platform", "geo", "source_id"], rows,
                    conflict=["user_id", "item_id", "ts", "action"])


@pytest.fixture
def media_server(tmp_path):
    with LoopbackServer() as server:
        video = write_mp4(tmp_path / "clip.mp4")
        server.add_file("/red.png", png((220, 20, 20)), content_type="image/png")
        server.add_file("/same-red.jpg", png((220, 20, 20)), content_type="image/jpeg")  # PNG bytes, .jpg name
        server.add_file("/corrupt.png", png((0, 0, 255))[:60], content_type="image/png")  # cut short
        server.add_file("/noise.png", bytes(range(256)) * 8, content_type="image/png")  # not an image at all
        server.add_file("/clip.mp4", video, content_type="video/mp4")
        server.add_file("/cut.mp4", video[: len(video) // 3], content_type="video/mp4")  # truncated video
        server.add_file("/big.mp4", video * 40, content_type="video/mp4")  # over the size limit below
        server.add_file("/tone.wav", wav(), content_type="audio/wav")
        server.add_file("/tone-as.png", wav(), content_type="image/png")  # audio bytes behind an image name
        server.add_file("/watch", with_sound(tmp_path, video), content_type="video/mp4")  # youtube:<id> here
        yield server


def manifest(server) -> list[dict[str, str]]:
    rows = [("i0", "image", "red.png"), ("i1", "image", "same-red.jpg"), ("i2", "image", "corrupt.png"),
            ("i3", "image", "noise.png"), ("i4", "image", "tone-as.png"), ("i0", "video", "clip.mp4"),
            ("i1", "video", "cut.mp4"), ("i2", "video", "big.mp4"), ("i0", "audio", "tone.wav")]
    return [{"source": NAMESPACE, "item_id": i, "modality": m, "uri": f"{server.url}/{p}"} for i, m, p in rows]


def options(server, **kwargs) -> FetchOptions:
    settings = {"max_bytes": len(server._server.files["/clip.mp4"]) * 20, "workers": 2,
                "youtube_base_url": server.url, "rate_limit": None}
    return FetchOptions(**{**settings, **kwargs})


def statuses(store) -> dict[tuple[str, str], tuple[str, str | None]]:
    """(item, file name) → (status, error); a YouTube link appears as (item, "youtube:<id>/<modality>")."""
    with store.begin() as conn:
        rows = fetch_rows(conn, "SELECT it.external_id, a.modality, a.uri, a.status, a.error FROM assets a "
                                "JOIN items it ON it.id = a.item_id")
    return {(item, uri.rsplit("/", 1)[-1] + (f"/{modality}" if uri.startswith("youtube:") else "")): (status, error)
            for item, modality, uri, status, error in rows}


def test_good_and_bad_media_side_by_side_then_features_and_build(store, media_server, tmp_path):
    seed_store(store)
    with store.begin() as conn:
        item5 = fetch_rows(conn, "SELECT id FROM items WHERE external_id = 'i5'")[0][0]
        upsert_rows(conn, "item_links", ["item_id", "target_source", "target_external_id", "method", "confidence"],
                    [(item5, "youtube", "dQw4w9WgXcQ", "test", 1.0)],
                    conflict=["item_id", "target_source", "target_external_id"])
    content = ContentStore(tmp_path / "assets")
    report = collect_assets(store, content, MODALITIES, manifest=manifest(media_server),
                            options=options(media_server))
    state = statuses(store)
    assert state[("i0", "red.png")][0] == "ok"
    assert state[("i1", "same-red.jpg")][0] == "ok"  # the name says JPEG, the bytes say PNG: fine
    assert state[("i3", "noise.png")] [0] == "failed"
    assert "image" in state[("i4", "tone-as.png")][1]  # audio bytes where an image was expected
    assert state[("i2", "big.mp4")][0] == "failed" and "limit" in state[("i2", "big.mp4")][1]
    assert state[("i5", "youtube:dQw4w9WgXcQ/video")][0] == "ok"  # through yt-dlp
    if shutil.which("ffmpeg"):  # the audio track extracted by yt-dlp's ffmpeg post-processor
        assert state[("i5", "youtube:dQw4w9WgXcQ/audio")][0] == "ok"
    assert state[("i0", "tone.wav")][0] == "ok"
    assert state[("i0", "item:text")][0] == "ok"
    assert report.reused >= 1  # red.png and same-red.jpg are one file in the store
    with store.begin() as conn:
        red = fetch_rows(conn, "SELECT DISTINCT local_path FROM assets WHERE uri LIKE :red", {"red": "%red%"})
    assert len(red) == 1

    encoders = {m: get_encoder("classic", m) for m in MODALITIES}
    first = compute_features(store, content, encoders)
    state = statuses(store)
    assert state[("i2", "corrupt.png")][0] == "failed" and "decode" in state[("i2", "corrupt.png")][1]
    assert state[("i1", "cut.mp4")][0] == "failed" or first.modalities["video"].computed >= 1
    assert first.modalities["image"].computed == 1 and first.modalities["image"].copied + first.modalities[
        "image"].computed >= 1
    assert first.modalities["text"].computed == 6
    assert first.modalities["audio"].computed >= 1

    again = compute_features(store, content, encoders)
    assert all(f.computed == 0 and f.copied == 0 for f in again.modalities.values())

    label_store(store, "movie")
    built = build_dataset(store, tmp_path / "ds", BuildOptions())
    items = pq.read_table(next((built.path / "items").glob("*.parquet"))).to_pylist()
    by_id = {row["item_id"]: row for row in items}
    assert by_id["i0"]["image_emb"] is not None and len(by_id["i0"]["image_emb"]) == encoders["image"].dim
    assert by_id["i1"]["image_emb"] == by_id["i0"]["image_emb"]  # same bytes, same vector
    assert by_id["i3"]["image_emb"] is None
    assert all(row["text_emb"] is not None for row in items)
    card = (built.path / "README.md").read_text()
    assert "classic:image" in card


def test_rerun_fetches_nothing_and_an_interrupted_run_resumes(sqlite_store, media_server, tmp_path, monkeypatch):
    seed_store(sqlite_store)
    content = ContentStore(tmp_path / "assets")
    real = assets_module._fetch_one
    calls = {"n": 0}

    def crash_after_three(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 3:
            raise KeyboardInterrupt  # what Ctrl-C does mid-run
        return real(*args, **kwargs)

    monkeypatch.setattr(assets_module, "_fetch_one", crash_after_three)
    with pytest.raises(KeyboardInterrupt):
        collect_assets(sqlite_store, content, ["image", "text"], manifest=manifest(media_server),
                       options=options(media_server, workers=1))
    monkeypatch.setattr(assets_module, "_fetch_one", real)
    resumed = collect_assets(sqlite_store, content, ["image", "text"], manifest=manifest(media_server),
                             options=options(media_server))
    interrupted_state = statuses(sqlite_store)
    assert resumed.planned == 0 and resumed.skipped >= 1
    assert not list((tmp_path / "assets" / ".staging").glob("*"))

    clean_store = Store.open(f"sqlite:///{tmp_path / 'clean.sqlite'}")
    seed_store(clean_store)
    collect_assets(clean_store, ContentStore(tmp_path / "clean-assets"), ["image", "text"],
                   manifest=manifest(media_server), options=options(media_server))
    assert statuses(clean_store) == interrupted_state

    third = collect_assets(sqlite_store, content, ["image", "text"], options=options(media_server))
    assert third.fetched == 0 and third.failed == 0 and third.planned == 0
    clean_store.dispose()


def test_missing_file_in_the_store_is_fetched_again(sqlite_store, media_server, tmp_path):
    seed_store(sqlite_store, items=1)
    content = ContentStore(tmp_path / "assets")
    rows = [{"source": NAMESPACE, "item_id": "i0", "modality": "image", "uri": f"{media_server.url}/red.png"}]
    collect_assets(sqlite_store, content, ["image"], manifest=rows, options=options(media_server))
    shutil.rmtree(tmp_path / "assets")
    again = collect_assets(sqlite_store, content, ["image"], options=options(media_server))
    assert again.fetched == 1 and statuses(sqlite_store)[("i0", "red.png")][0] == "ok"


def test_cli_assets_and_features(tmp_path, media_server):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    store = Store.open(f"sqlite:///{data_dir / 'store.sqlite'}")
    seed_store(store)
    store.dispose()
    manifest_file = tmp_path / "manifest.csv"
    lines = ["source,item_id,modality,uri"] + [",".join(r.values()) for r in manifest(media_server)]
    manifest_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(cli, ["--data-dir", str(data_dir), "align", "assets", "--modality", "image,text",
                                 "--manifest", str(manifest_file), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["by_modality"]["image"]["ok"] >= 2 and report["by_modality"]["image"]["failed"] >= 2
    result = runner.invoke(cli, ["--data-dir", str(data_dir), "align", "features", "--encoder", "video=none",
                                 "--encoder", "audio=none", "--json"])
    assert result.exit_code == 0, result.output
    features = json.loads(result.stdout)
    assert features["text"]["computed"] == 6
    bad = runner.invoke(cli, ["--data-dir", str(data_dir), "align", "features", "--encoder", "image=bogus"])
    assert bad.exit_code == 2 and "bogus" in bad.output
    bad = runner.invoke(cli, ["--data-dir", str(data_dir), "align", "features", "--encoder", "image"])
    assert bad.exit_code == 2 and "MODALITY=SPEC" in bad.output
    # The paper's kind of encoder through the hf: path (a tiny BERT saved like a Hub download), named
    # with the per-modality flags of earlier releases: they still work, hidden from --help.
    from timgen_data.alignment.encoders.tiny import save_tiny_models

    bert = save_tiny_models(tmp_path / "models")["text"]
    result = runner.invoke(cli, ["--data-dir", str(data_dir), "align", "features", "--text", f"hf:{bert}",
                                 "--image", "none", "--video", "none", "--audio", "none", "--json"])
    assert result.exit_code == 0, result.output
    hf = json.loads(result.stdout)["text"]
    assert hf["computed"] == 6 and hf["encoder"].startswith(f"hf:{bert.resolve()}#cls@") and hf["dim"] == 32


def test_bytes_encoded_in_an_earlier_run_are_not_encoded_again(sqlite_store, media_server, tmp_path):
    seed_store(sqlite_store, items=2)
    content = ContentStore(tmp_path / "assets")
    first = [{"source": NAMESPACE, "item_id": "i0", "modality": "image", "uri": f"{media_server.url}/red.png"}]
    collect_assets(sqlite_store, content, ["image"], manifest=first, options=options(media_server))
    encoders = {"image": get_encoder("classic", "image")}
    assert compute_features(sqlite_store, content, encoders).modalities["image"].computed == 1
    # The same bytes under another item and URL, planned after the first run.
    second = [{"source": NAMESPACE, "item_id": "i1", "modality": "image", "uri": f"{media_server.url}/same-red.jpg"}]
    collect_assets(sqlite_store, content, ["image"], manifest=second, options=options(media_server))
    again = compute_features(sqlite_store, content, encoders).modalities["image"]
    assert (again.computed, again.copied, again.already) == (0, 1, 1)
    with sqlite_store.begin() as conn:
        vectors = {bytes(v) for (v,) in fetch_rows(conn, "SELECT vector FROM features")}
    assert len(vectors) == 1
