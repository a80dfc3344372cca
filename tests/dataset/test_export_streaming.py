"""Export streams the dataset a few users at a time and writes byte for byte what the simple in-memory export wrote.

``reference_export`` below is that simple export, kept here as the specification: the whole
dataset read into Python rows, every interaction flattened, the files written at the end.
Its fields are formatted value by value with the export's own field rules (``tsv.clean``,
``tsv.number``), so what is compared is the streaming, batching and Arrow assembly.
Each test compares the streaming export with it file by file, on datasets built from a
generated MovieLens store (leave-last-out and a time split whose users end in different
splits), on hand-written datasets whose users are not in export order (re-ordered through
spill files), and with batches, row groups and spill ranges forced tiny.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from tests.support.contract import drifting_histories, genre_embeddings, write_contract
from timgen_data.collectors.movielens import collect_movielens
from timgen_data.dataset import BuildOptions, build_dataset
from timgen_data.dataset.export import export_dataset, items, recbole, user_order
from timgen_data.dataset.export.tsv import clean as _clean
from timgen_data.dataset.export.tsv import number as _number
from timgen_data.dataset.export.dataset_files import open_dataset
from timgen_data.dataset.export.recbole_names import RESERVED as RECBOLE_RESERVED
from timgen_data.demo.corpus import CorpusSpec, generate_corpus
from timgen_data.errors import NothingToDoError
from timgen_data.labeling import label_store
from timgen_common.output_folder import MARKER
from timgen_data.store import Store

SPLITS = ("train", "validation", "test")


# -- the specification: the in-memory export ---------------------------------------------------


def _key(value: str) -> tuple[int, int | str]:
    return (0, int(value)) if value.isdigit() else (1, value)


def _float(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def _read(folder: Path, config: str, pattern: str) -> pa.Table:
    return pa.concat_tables(pq.read_table(p) for p in sorted((folder / config).glob(pattern)))


def _flatten(folder: Path) -> tuple[list[tuple], int]:
    rows: dict[str, dict[str, dict]] = {}
    for split in SPLITS:
        for row in _read(folder, "interactions", f"{split}-*.parquet").to_pylist():
            rows.setdefault(row["user_id"], {})[split] = row
    out, untargeted = [], 0
    for user in sorted(rows, key=_key):
        by_split = rows[user]
        full = max(by_split.values(), key=lambda r: len(r["item_ids"]))
        for p in range(len(full["item_ids"])):
            split = next((s for s in SPLITS if s in by_split and p < len(by_split[s]["is_target"])
                          and by_split[s]["is_target"][p]), None)
            if split is None:
                untargeted, split = untargeted + 1, "train"
            out.append((user, full["item_ids"][p], int(full["timestamps"][p]), full["actions"][p],
                        _float(full["values"][p]), split, _float(full["scores"][p])))
    return out, untargeted


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def reference_export(dataset: Path, out: Path, fmt: str) -> dict:
    """The simple export of ``dataset`` into the new folder ``out``; returns its report figures."""
    out.mkdir(parents=True)
    name = out.name
    inter, untargeted = _flatten(dataset)
    items_table = _read(dataset, "items", "*.parquet")
    users_in_order = sorted({r[0] for r in inter}, key=_key)
    figures = {"users": len(users_in_order), "interactions": len(inter), "untargeted": untargeted,
               "splits": {s: sum(r[5] == s for r in inter) for s in SPLITS}}
    if fmt == "recbole":
        with_action = any(r[3] != "rate" for r in inter)
        head = ["user_id:token", "item_id:token", "rating:float", "timestamp:float"]
        head += ["action:token", "score:float"] if with_action else []

        def lines(rows):
            return ["\t".join(head)] + ["\t".join([_clean(r[0]), _clean(r[1]), _number(r[4]), str(r[2])]
                                                  + ([_clean(r[3]), _number(r[6])] if with_action else []))
                                        for r in rows]

        _write(out / f"{name}.inter", lines(inter))
        for split, suffix in zip(SPLITS, ("train", "valid", "test")):
            _write(out / f"{name}.{suffix}.inter", lines([r for r in inter if r[5] == split]))
        # Sequential benchmark files: each target after a user's first interaction, with the last 50 items before it.
        histories: dict[str, list[tuple]] = {}
        for r in inter:
            histories.setdefault(r[0], []).append(r)
        for split, suffix in zip(SPLITS, ("train", "valid", "test")):
            seq = ["user_id:token\titem_id_list:token_seq\titem_id:token"]
            for user in users_in_order:
                rows = histories[user]
                seq += [f"{_clean(user)}\t{' '.join(_clean(x[1]) for x in rows[max(0, p - 50):p])}\t{_clean(r[1])}"
                        for p, r in enumerate(rows) if p > 0 and r[5] == split]
            _write(out / f"{name}.{suffix}_seq.inter", seq)
        by_id = {r["item_id"]: r for r in items_table.select(["item_id", "title", "year", "classes"]).to_pylist()}
        item_lines = ["item_id:token\tmovie_title:token_seq\trelease_year:token\tgenre:token_seq"]
        for item_id in sorted(by_id, key=_key):
            r = by_id[item_id]
            genres = " ".join(_clean(g).replace(" ", "_") for g in r["classes"] or [] if _clean(g))
            item_lines.append("\t".join([_clean(item_id), _clean(r["title"] or ""),
                                         "" if r["year"] is None else str(r["year"]), genres]))
        _write(out / f"{name}.item", item_lines)
        figures["items"] = len(by_id)
        users: dict[str, dict] = {}
        for path in sorted((dataset / "users").glob("*.parquet")) if (dataset / "users").is_dir() else []:
            for r in pq.read_table(path, columns=["user_id", "attributes"]).to_pylist():
                users[r["user_id"]] = json.loads(r["attributes"] or "{}")
        if users:
            keys = sorted({k for u in users_in_order for k in users.get(u, {})})
            lists = {k for u in users_in_order for k, v in users.get(u, {}).items() if isinstance(v, list)}
            renamed = {"zip": "zip_code"}
            user_lines = ["\t".join(["user_id:token", *(f"{renamed.get(k, k)}:{'token_seq' if k in lists else 'token'}"
                                                        for k in keys)])]
            for u in users_in_order:
                values = [users.get(u, {}).get(k) for k in keys]
                values = [{"male": "M", "female": "F"}.get(v, v) if k == "gender" else v for k, v in zip(keys, values)]
                user_lines.append("\t".join([_clean(u)] + [" ".join(_clean(x).replace(" ", "_") for x in v if _clean(x))
                                                           if isinstance(v, list) else _clean(v) for v in values]))
            _write(out / f"{name}.user", user_lines)
        return figures
    user_index = {u: i for i, u in enumerate(users_in_order)}
    item_index = {v: i for i, v in enumerate(sorted({r[1] for r in inter}, key=_key))}
    _write(out / f"{name}.inter", ["userID\titemID\trating\ttimestamp\tx_label"] + [
        f"{user_index[r[0]]}\t{item_index[r[1]]}\t{_number(r[4])}\t{r[2]}\t{SPLITS.index(r[5])}" for r in inter])
    _write(out / "u_id_mapping.csv", ["user_id\tuserID"] + [f"{_clean(k)}\t{v}" for k, v in user_index.items()])
    _write(out / "i_id_mapping.csv", ["item_id\titemID"] + [f"{_clean(k)}\t{v}" for k, v in item_index.items()])
    figures["items"], figures["missing_features"] = len(item_index), {}
    for modality in ("image", "text"):
        column = f"{modality}_emb"
        if column not in items_table.column_names or items_table[column].null_count == items_table.num_rows:
            continue
        vectors = dict(zip(items_table["item_id"].to_pylist(), items_table[column].to_pylist()))
        dim = len(next(v for v in vectors.values() if v is not None))
        matrix = np.zeros((len(item_index), dim), dtype=np.float32)
        for item_id, row in item_index.items():
            if vectors.get(item_id) is not None:
                matrix[row] = np.asarray(vectors[item_id], dtype=np.float32)
        figures["missing_features"][modality] = sum(vectors.get(i) is None for i in item_index)
        np.save(out / f"{modality}_feat.npy", matrix)
    return figures


# -- comparing ----------------------------------------------------------------------------------


def assert_same_export(dataset: Path, tmp_path: Path, fmt: str, label: str = "") -> dict:
    """Export ``dataset`` both ways and assert equal files and figures; returns the figures."""
    # A name RecBole reserves (its bundled ml-100k, …) is exported with a suffix.
    name = dataset.name + ("-timgen" if fmt == "recbole" and dataset.name in RECBOLE_RESERVED else "")
    expected = reference_export(dataset, tmp_path / f"expected{label}-{fmt}" / name, fmt)
    report = export_dataset(dataset, tmp_path / f"streamed{label}-{fmt}", fmt)
    want = sorted(p.name for p in (tmp_path / f"expected{label}-{fmt}" / name).iterdir())
    got = sorted(p.name for p in report.path.iterdir() if p.name != MARKER)
    assert got == want == sorted(p.name for p in report.files)
    for file in want:
        left = (tmp_path / f"expected{label}-{fmt}" / name / file).read_bytes()
        assert (report.path / file).read_bytes() == left, file
    figures = {"users": report.users, "interactions": report.interactions, "untargeted": report.untargeted,
               "splits": report.splits, "items": report.items}
    if fmt == "mmrec":
        figures["missing_features"] = report.missing_features
    assert figures == expected
    return figures


@pytest.fixture()
def tiny(monkeypatch):
    """Batches of 7 user rows, 3 item rows, 2 users' attributes, spill ranges of 5 positions."""
    monkeypatch.setattr(user_order, "BATCH_ROWS", 7)
    monkeypatch.setattr(items, "BATCH_ROWS", 3)
    monkeypatch.setattr(recbole, "USER_BATCH", 2)
    monkeypatch.setattr(user_order, "BUCKET_POSITIONS", 5)


def rewrite_row_groups(dataset: Path, rows: int) -> None:
    for path in [*(dataset / "interactions").glob("*.parquet"), *(dataset / "items").glob("*.parquet")]:
        table = pq.read_table(path)
        pq.write_table(table, path, row_group_size=rows)


# -- datasets built from a generated store ------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    """Datasets built from a generated ML-1M-layout release (it has user attributes): leave-last-out, time split."""
    folder = tmp_path_factory.mktemp("export-streaming")
    corpus = generate_corpus(folder / "corpus", CorpusSpec(users=40, items=60, ratings=1_500, seed=3, layout="1m"))
    store = Store.open(f"sqlite:///{folder / 'store.sqlite'}")
    try:
        collect_movielens(store, "1m", data_dir=folder, from_file=corpus.folder)
        label_store(store, "movie")
        out = {"leave-last-out": build_dataset(store, folder / "lastout", BuildOptions()).path}
        stamps = np.sort(np.concatenate(_read(out["leave-last-out"], "interactions", "test-*.parquet")
                                        .column("timestamps").to_numpy()))
        valid_start, test_start = int(np.quantile(stamps, 0.55)), int(np.quantile(stamps, 0.8))
        out["time"] = build_dataset(store, folder / "timesplit", BuildOptions(
            split="time", valid_start=valid_start, test_start=test_start)).path
    finally:
        store.dispose()
    return out


@pytest.mark.parametrize("fmt", ["recbole", "mmrec"])
def test_leave_last_out_build_equals_reference(built, tmp_path, fmt):
    figures = assert_same_export(built["leave-last-out"], tmp_path, fmt)
    assert figures["splits"]["validation"] == figures["splits"]["test"] == figures["users"] == 40
    assert (fmt == "mmrec") or (tmp_path / f"streamed-{fmt}" / "lastout" / "lastout.user").exists()


@pytest.mark.parametrize("fmt", ["recbole", "mmrec"])
def test_time_split_with_users_ending_in_each_split_equals_reference(built, tmp_path, fmt):
    dataset = built["time"]
    ends = {}  # the last split each user has a row in
    for split in SPLITS:
        for user in _read(dataset, "interactions", f"{split}-*.parquet").column("user_id").to_pylist():
            ends[user] = split
    assert set(ends.values()) == set(SPLITS), "the time split should leave users ending in every split"
    figures = assert_same_export(dataset, tmp_path, fmt)
    assert all(figures["splits"][s] > 0 for s in SPLITS)


@pytest.mark.parametrize("fmt", ["recbole", "mmrec"])
def test_tiny_batches_and_row_groups_give_the_same_files(built, tmp_path, tiny, fmt):
    for kind, dataset in built.items():
        copy = tmp_path / kind / dataset.name
        copy.parent.mkdir()
        shutil.copytree(dataset, copy)
        rewrite_row_groups(copy, 3)
        assert pq.ParquetFile(next((copy / "interactions").glob("train-*.parquet"))).num_row_groups > 5
        assert_same_export(copy, tmp_path / kind, fmt)


# -- datasets written another way ---------------------------------------------------------------


def shuffled_contract(folder: Path, seed: int = 4, embeddings: bool = False) -> Path:
    """A hand-written dataset: users u0…u11 (not in natural order in the files), each split
    shuffled differently, one user only in train, one user's train row missing, one user listed twice,
    one user's positions marked by two splits."""
    histories, item_genre = drifting_histories(users=12, steps=5, genres=2, items_per_genre=4, seed=seed)
    vectors = {}
    if embeddings:
        vectors = {"image": genre_embeddings(item_genre, dim=4, share=0.5, seed=1),
                   "text": genre_embeddings(item_genre, dim=3, share=1.0, seed=2)}
    write_contract(folder, histories, item_genre, vectors)
    rng = np.random.default_rng(seed)
    for split in SPLITS:
        path = folder / "interactions" / f"{split}-00000-of-00001.parquet"
        table = pq.read_table(path)
        if split != "train":
            table = table.filter(pc.not_equal(table["user_id"], "u3"))  # u3: only in train
            # u7's validation row marks every position: train's targets stay train, the rest become validation
            marks = [[True] * len(t) if u == "u7" else t
                     for u, t in zip(table["user_id"].to_pylist(), table["is_target"].to_pylist())]
            table = table.set_column(table.column_names.index("is_target"), "is_target",
                                     pa.array(marks, table.schema.field("is_target").type))
        else:
            table = table.filter(pc.not_equal(table["user_id"], "u5"))  # u5: first positions untargeted
            # u0 twice, the second row cut short: whichever comes last in the file counts
            row = table.filter(pc.equal(table["user_id"], "u0")).to_pylist()[0]
            short = {k: (v[:2] if isinstance(v, list) else v) for k, v in row.items()}
            table = pa.concat_tables([table, pa.Table.from_pylist([short], schema=table.schema)])
        table = table.take(pa.array(rng.permutation(table.num_rows)))
        pq.write_table(table, path)
    return folder


@pytest.mark.parametrize("fmt", ["recbole", "mmrec"])
def test_users_out_of_export_order_are_reordered(tmp_path, fmt):
    dataset = shuffled_contract(tmp_path / "shuffled", embeddings=True)
    assert not user_order.in_natural_order(open_dataset(dataset))
    figures = assert_same_export(dataset, tmp_path, fmt)
    assert figures["untargeted"] >= 3 and figures["users"] == 12


@pytest.mark.parametrize("fmt", ["recbole", "mmrec"])
def test_reordering_through_many_spill_files_gives_the_same_files(tmp_path, tiny, monkeypatch, fmt):
    dataset = shuffled_contract(tmp_path / "spilled", embeddings=True)
    rewrite_row_groups(dataset, 2)
    spilled = []
    original = user_order.SpilledOrder.__init__

    def spy(self, *args, **kwargs):
        original(self, *args, **kwargs)
        spilled.append(self.buckets)

    monkeypatch.setattr(user_order.SpilledOrder, "__init__", spy)
    assert_same_export(dataset, tmp_path, fmt)
    assert spilled and spilled[0] > 5


def test_actions_besides_rate_start_the_files_over_with_action_columns(tmp_path, tiny):
    dataset = shuffled_contract(tmp_path / "actions")
    path = dataset / "interactions" / "test-00000-of-00001.parquet"
    table = pq.read_table(path)
    actions = [a[:-1] + ["view"] if i == table.num_rows - 1 else a for i, a in enumerate(table["actions"].to_pylist())]
    table = table.set_column(table.column_names.index("actions"), "actions",
                             pa.array(actions, table.schema.field("actions").type))
    pq.write_table(table, path)
    assert_same_export(dataset, tmp_path, "recbole")
    header = (tmp_path / "streamed-recbole" / "actions" / "actions.inter").read_text().splitlines()[0]
    assert header.endswith("action:token\tscore:float")


def test_streaming_and_reference_agree_on_ids_mixing_numbers_and_text(tmp_path):
    """Numeric ids first in numeric order, then the rest: "9" < "10" < "a1"."""
    histories, item_genre = drifting_histories(users=4, steps=4, genres=2, items_per_genre=3)
    histories.users[:] = ["10", "9", "a1", "007"]
    dataset = write_contract(tmp_path / "mixed", histories, item_genre)
    for fmt in ("recbole", "mmrec"):
        assert_same_export(dataset, tmp_path, fmt)
    lines = (tmp_path / "streamed-mmrec" / "mixed" / "u_id_mapping.csv").read_text().splitlines()
    assert [line.split("\t")[0] for line in lines[1:]] == ["007", "9", "10", "a1"]


def test_an_unreadable_shard_is_one_typed_error_and_writes_nothing(tmp_path):
    histories, item_genre = drifting_histories(users=2, steps=3, genres=2, items_per_genre=2)
    dataset = write_contract(tmp_path / "broken", histories, item_genre)
    (dataset / "interactions" / "test-00000-of-00001.parquet").write_bytes(b"not parquet")
    with pytest.raises(NothingToDoError, match="not a readable Parquet file"):
        export_dataset(dataset, tmp_path / "out", "recbole")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
