"""A MovieLens movie's primary class is its rarest genre in the release, on the real ML-100K."""

from __future__ import annotations

from collections import Counter

from timgen_data.store import fetch_rows


def test_ml100k_primary_class_is_the_rarest_genre_of_each_movie(ml100k_labelled, shared_data):
    folder = shared_data / "ml-100k"
    names = [line.rsplit("|", 1)[0] for line in (folder / "u.genre").read_text(encoding="latin-1").splitlines()
             if line.strip()]
    genres = {}
    for line in (folder / "u.item").read_text(encoding="latin-1").splitlines():
        if line.strip():
            fields = line.split("|")
            genres[fields[0]] = [n for n, flag in zip(names, fields[5:]) if flag == "1"]
    counts = Counter(g for listed in genres.values() for g in listed)
    expected = {movie: min(listed, key=lambda g: (counts[g], listed.index(g))) for movie, listed in genres.items()}
    with ml100k_labelled.begin() as conn:
        stored = dict(fetch_rows(conn, "SELECT external_id, category FROM items"))
        labelled = dict(fetch_rows(conn, "SELECT i.external_id, l.class FROM labels l JOIN interactions x "
                                         "ON x.id = l.interaction_id JOIN items i ON i.id = x.item_id"))
    assert stored == expected
    assert labelled == {movie: expected[movie] for movie in labelled}
    # For hundreds of movies it is not the alphabetically first genre.
    assert sum(e != genres[m][0] for m, e in expected.items()) > 300
