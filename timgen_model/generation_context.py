"""The context of the step being generated: when it happens, on which device and platform,
and where.

The network predicts what follows step t from the inputs up to t, and step t's input carries
its own context (time, device, platform, geo): nothing else in it reads the context of a
step to come. So the current context enters as the context of the newest input step: that
step is read as happening at ``at`` on ``device``/``platform``/``geo`` (its item, action and
score stay). In the data consecutive interactions mostly share their device, platform and
place, which is what the model learned to read there. Options left out keep the newest
interaction's own values, so a context with nothing set generates exactly what the history
alone gives.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from timgen_model.encoding import EncodedSplit, Vocabularies
from timgen_model.errors import ModelUsageError
from timgen_model.vocab import PAD, UNK, Vocabulary


@dataclass(frozen=True)
class GenerationContext:
    """Context of the generated step; None keeps the newest interaction's value."""

    at: int | None = None  # UTC epoch seconds
    device: str | None = None
    platform: str | None = None
    geo: str | None = None


@dataclass(frozen=True)
class ResolvedContext:
    """The context the step was generated in, every value filled ("" where unknown)."""

    at: int
    device: str
    platform: str
    geo: str


# Context option → (split array, vocabulary) it sets.
_CODED = {"device": ("devices", "devices"), "platform": ("platforms", "platforms"), "geo": ("geos", "geos")}


def _code(vocabulary: Vocabulary, name: str, value: str) -> int:
    if value == "":
        return PAD  # unknown context, as in the data
    code = int(vocabulary.encode([value])[0])
    if code == UNK:
        known = [t for t in vocabulary.tokens[len(vocabulary.reserved):]]
        shown = ", ".join(known[:10]) + (", …" if len(known) > 10 else "") if known else "none: the data has no " + name
        raise ModelUsageError(f"--{name} {value!r} never occurs in the training data, so the model cannot read it "
                              f"(known: {shown})")
    return code


def row_in_context(split: EncodedSplit, row: int, context: GenerationContext,
                   vocabularies: Vocabularies) -> tuple[EncodedSplit, ResolvedContext]:
    """A one-row split holding ``row``'s history with its newest step read in ``context``.

    Every per-interaction array is copied for the row (the split itself is left as it is), so
    features derived from the timestamps when a batch is made follow ``at``.
    """
    start, end = int(split.offsets[row]), int(split.offsets[row + 1])
    if end == start:
        raise ModelUsageError(f"user {split.user_ids[row]!r} has no interaction to generate after")
    positions = len(split.items)
    values = {}
    for f in fields(split):
        value = getattr(split, f.name)
        if f.name == "user_ids":
            values[f.name] = [split.user_ids[row]]
        elif f.name == "offsets":
            values[f.name] = np.array([0, end - start], dtype=np.int64)
        elif isinstance(value, np.ndarray) and value.ndim >= 1 and len(value) == positions:
            values[f.name] = np.array(value[start:end])  # a copy: the newest step is changed below
        else:
            values[f.name] = value
    one = EncodedSplit(**values)
    last = end - start - 1
    if context.at is not None:
        newest = int(one.timestamps[last])
        if context.at < newest:
            raise ModelUsageError(f"--at {context.at} is before the user's newest interaction ({newest}); "
                                  "give a time at or after it")
        one.timestamps[last] = context.at
    for name, (array, vocabulary) in _CODED.items():
        value = getattr(context, name)
        if value is not None:
            getattr(one, array)[last] = _code(getattr(vocabularies, vocabulary), name, value)
    resolved = ResolvedContext(
        at=int(one.timestamps[last]),
        **{name: getattr(vocabularies, vocabulary).tokens[int(getattr(one, array)[last])] if
           int(getattr(one, array)[last]) != PAD else "" for name, (array, vocabulary) in _CODED.items()},
    )
    return one, resolved
