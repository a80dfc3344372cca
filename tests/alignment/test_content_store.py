"""ContentStore: digest-named paths, sanitized extensions, dedupe, atomic moves, staging cleanup."""

from __future__ import annotations

import errno
import hashlib
import os
import time

import pytest

from timgen_data.alignment import content_store
from timgen_data.alignment.content_store import ContentStore, safe_extension
from timgen_data.errors import AssetError

SHA = hashlib.sha256(b"abc").hexdigest()


def staged(store: ContentStore, data: bytes):
    path = store.staging_path()
    path.write_bytes(data)
    return path


def blob_files(store: ContentStore) -> list[str]:
    return sorted(
        p.relative_to(store.root).as_posix()
        for p in store.root.rglob("*")
        if p.is_file() and ".staging" not in p.parts
    )


def test_path_for_fans_out_by_digest(tmp_path):
    store = ContentStore(tmp_path)
    assert store.path_for(SHA, "png") == tmp_path / SHA[:2] / SHA[2:4] / f"{SHA}.png"


@pytest.mark.parametrize(
    ("given", "used"),
    [("png", "png"), (".JPG", "jpg"), ("../../etc", "bin"), ("a/b", "bin"), ("", "bin"), (None, "bin"),
     ("tar.gz", "bin"), ("x" * 40, "bin"), ("mp4\x00", "bin")],
)
def test_extensions_are_sanitized(given, used):
    assert safe_extension(given) == used


@pytest.mark.parametrize("bad", ["../" + SHA[3:], SHA.upper(), SHA[:-1], "x" * 64])
def test_path_for_refuses_anything_but_a_hex_digest(tmp_path, bad):
    with pytest.raises(ValueError):
        ContentStore(tmp_path).path_for(bad, "png")


def test_put_file_moves_and_dedupes(tmp_path):
    store = ContentStore(tmp_path / "store")
    first_source = staged(store, b"abc")
    first = store.put_file(first_source, mime="text/plain", extension="txt")

    assert (first.sha256, first.bytes, first.mime, first.reused) == (SHA, 3, "text/plain", False)
    assert first.path == store.path_for(SHA, "txt") and first.path.read_bytes() == b"abc"
    assert not first_source.exists()

    second_source = staged(store, b"abc")
    second = store.put_file(second_source, mime="text/plain", extension="bin")  # other extension, same bytes
    assert second.reused and second.path == first.path
    assert not second_source.exists()  # the duplicate is deleted, not left behind
    assert blob_files(store) == [f"{SHA[:2]}/{SHA[2:4]}/{SHA}.txt"]
    assert store.open(SHA) == first.path


def test_put_file_accepts_sources_outside_the_store(tmp_path):
    store = ContentStore(tmp_path / "store")
    source = tmp_path / "elsewhere.bin"
    source.write_bytes(b"abc")
    blob = store.put_file(source, mime=None, extension="weird/ext")
    assert blob.path.name == f"{SHA}.bin" and not source.exists()


def test_put_file_copies_across_filesystems(tmp_path, monkeypatch):
    store = ContentStore(tmp_path / "store")
    source = staged(store, b"abc")
    real_replace = os.replace
    calls = []

    def replace(src, dst):
        calls.append(src)
        if len(calls) == 1:  # the direct move: pretend the source is on another device
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_replace(src, dst)

    monkeypatch.setattr(content_store.os, "replace", replace)
    blob = store.put_file(source, mime=None, extension="txt")
    assert blob.path.read_bytes() == b"abc" and not source.exists()
    assert len(calls) == 2
    assert list(store.staging.iterdir()) == []  # the copy's temp file became the blob


def test_put_file_replaces_a_damaged_blob(tmp_path):
    store = ContentStore(tmp_path)
    damaged = store.path_for(SHA, "txt")
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(b"ab")  # truncated: cannot be the real content of that digest
    blob = store.put_file(staged(store, b"abc"), mime=None, extension="txt")
    assert not blob.reused and blob.path.read_bytes() == b"abc"


def test_open_missing_or_malformed_is_an_asset_error(tmp_path):
    store = ContentStore(tmp_path)
    with pytest.raises(AssetError, match="not in the content store"):
        store.open(SHA)
    with pytest.raises(AssetError):
        store.open("../../etc/passwd")


def test_staging_paths_are_fresh_and_inside_the_store(tmp_path):
    store = ContentStore(tmp_path)
    a, b = store.staging_path(), store.staging_path(suffix="/../evil")
    assert a != b and a.parent == b.parent == tmp_path / ".staging"
    assert a.exists() and b.exists()
    assert b.name.endswith("..evil")  # separators dropped: the suffix cannot leave .staging
    folder = store.staging_dir()
    assert folder.is_dir() and folder.parent == tmp_path / ".staging"


def test_clean_staging_removes_only_stale_entries(tmp_path):
    store = ContentStore(tmp_path)
    assert store.clean_staging() == 0  # no staging folder yet
    stale_file, fresh_file = store.staging_path(), store.staging_path()
    stale_dir = store.staging_dir()
    (stale_dir / "clip.mp4.part").write_bytes(b"x")
    old = time.time() - 7200
    for path in (stale_file, stale_dir):
        os.utime(path, (old, old))

    assert store.clean_staging(older_than=3600) == 2
    assert sorted(store.staging.iterdir()) == [fresh_file]
    assert store.clean_staging(older_than=0) == 1 and list(store.staging.iterdir()) == []
