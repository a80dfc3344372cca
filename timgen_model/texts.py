"""What users wrote (the interactions' ``texts``: reviews, comments, posts) as hashed n-grams.

Each text becomes the ids of its first :data:`MAX_WORDS` words and of their adjacent pairs
(word 1-2-grams, lower-cased), hashed into ``[1, HASH_SPACE)``; 0 means "no token". The
model folds the ids into its own number of embedding buckets (``model.text_buckets``), so
the encoded arrays do not depend on the model's config. The split keeps them as one flat
``text_tokens`` array with ``text_offsets`` marking each interaction's run, like a row's
interactions: an interaction without text costs one offset, not a vector.

Hashing, not a vocabulary: reviews bring new words at every step, and a hashed bag needs
no pass over the corpus, so a batch is encoded on its own. Tokens go through Arrow kernels;
only a batch's distinct words are hashed in Python (CRC-32, stable across runs and machines).
"""

from __future__ import annotations

import zlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HASH_SPACE = 1 << 20
MAX_WORDS = 32
# At most this many ids per text: its words and their adjacent pairs.
MAX_TOKENS = 2 * MAX_WORDS - 1
_PAIR_SALT = np.uint64(0x9E3779B1)


def _word_hashes(words: pa.Array) -> np.ndarray:
    """CRC-32 of each word (uint64), hashing each distinct word once."""
    encoded = pc.dictionary_encode(words).combine_chunks() if isinstance(words, pa.ChunkedArray) \
        else pc.dictionary_encode(words)
    table = np.array([zlib.crc32(w.encode()) for w in encoded.dictionary.to_pylist()], dtype=np.uint64)
    return table[encoded.indices.to_numpy(zero_copy_only=False)] if len(table) else np.zeros(0, np.uint64)


def text_token_arrays(texts: pa.Array, first_offset: int) -> dict[str, np.ndarray]:
    """``text_offsets`` (continuing from ``first_offset``, without the leading one) and
    ``text_tokens`` for a flat array of texts, one per interaction (null = no text).

    >>> arrays = text_token_arrays(pa.array(["Loved it", None]), 0)
    >>> arrays["text_offsets"].tolist(), len(arrays["text_tokens"])
    ([3, 3], 3)
    """
    n = len(texts)
    words = pc.split_pattern_regex(pc.utf8_lower(pc.fill_null(texts.cast(pa.string()), "")), r"[^\w']+")
    flat = pc.list_flatten(words)
    owner = pc.list_parent_indices(words).to_numpy(zero_copy_only=False)
    # Splitting leaves empty strings at the edges of a text: drop them, then keep the first words.
    keep = pc.greater(pc.utf8_length(flat), 0).to_numpy(zero_copy_only=False)
    flat, owner = flat.filter(pa.array(keep)), owner[keep]
    if len(flat) == 0:
        return {"text_offsets": np.full(n, first_offset, dtype=np.int64), "text_tokens": np.zeros(0, np.int32)}
    first = np.r_[0, np.flatnonzero(np.diff(owner)) + 1]
    position = np.arange(len(owner)) - np.repeat(first, np.diff(np.r_[first, len(owner)]))
    kept = position < MAX_WORDS
    owner, position = owner[kept], position[kept]
    hashes = _word_hashes(flat.filter(pa.array(kept)))
    pair = np.r_[owner[1:] == owner[:-1], False]  # word j and j+1 belong to one text
    pair_hashes = (hashes[:-1][pair[:-1]] * _PAIR_SALT + hashes[1:][pair[:-1]] + np.uint64(1)) & np.uint64(0xFFFFFFFF)
    ids = np.r_[hashes, pair_hashes]
    owners = np.r_[owner, owner[:-1][pair[:-1]]]
    order = np.lexsort((np.r_[position, position[:-1][pair[:-1]] + MAX_WORDS], owners))  # words, then pairs
    tokens = (1 + ids[order] % np.uint64(HASH_SPACE - 1)).astype(np.int32)
    counts = np.bincount(owners, minlength=n)
    return {"text_offsets": first_offset + np.cumsum(counts, dtype=np.int64), "text_tokens": tokens}


def gather_tokens(offsets: np.ndarray, tokens: np.ndarray, positions: np.ndarray, real: np.ndarray) -> np.ndarray:
    """[..., K] token ids of the interactions at flat ``positions`` (where ``real``), 0-padded
    to the longest; K = 0 when none has text."""
    shape = positions.shape
    if len(tokens) == 0 or len(offsets) < 2:
        return np.zeros((*shape, 0), dtype=np.int64)
    where = np.where(real, positions, 0)
    starts = np.asarray(offsets[where]).astype(np.int64)
    counts = np.where(real, np.asarray(offsets[where + 1]).astype(np.int64) - starts, 0)
    width = int(counts.max()) if counts.size else 0
    if width == 0:
        return np.zeros((*shape, 0), dtype=np.int64)
    slots = np.arange(width)
    valid = slots < counts[..., None]
    gathered = np.asarray(tokens[np.where(valid, starts[..., None] + slots, 0)]).astype(np.int64)
    return np.where(valid, gathered, 0)
