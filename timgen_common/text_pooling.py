"""How a text model's token vectors become one vector: the way each model prescribes.

A sentence-transformers model says it in its folder: ``modules.json`` lists the pipeline
(Transformer, then Pooling, then optionally Normalize), the Pooling module's
``config.json`` names the mode (all-MiniLM-L6-v2: mean over the real tokens, then L2
normalisation), and ``sentence_bert_config.json`` the token limit and lower-casing. A
model without ``modules.json`` (BERT as published) gets the [CLS] token, as the BERT
paper and the TIMGen paper use it.

The result's :attr:`TextPooling.label` ("cls", "mean+normalize", …) goes into the encoder's
name, so the features table and the dataset card say how every text vector was made. On the
ground floor: the aligning stage and the model pool the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from timgen_common.errors import EncoderError

__all__ = ["CLS_POOLING", "TextPooling", "read_text_pooling"]

# sentence-transformers' legacy boolean keys, in the order it concatenates the modes.
_LEGACY_MODE_KEYS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
SUPPORTED_MODES = ("cls", "max", "mean", "mean_sqrt_len_tokens")
# The modules.json steps this encoder runs; any other (Dense, LayerNorm, …) would change the vector.
_KNOWN_MODULES = {"Transformer", "Pooling", "Normalize"}


@dataclass(frozen=True)
class TextPooling:
    modes: tuple[str, ...] = ("cls",)  # concatenated in this order, as sentence-transformers does
    normalize: bool = False  # L2-normalise the pooled vector
    max_tokens: int | None = None  # the model's own limit (sentence_bert_config.json), if it sets one
    lower_case: bool = False  # sentence_bert_config.json's do_lower_case

    @property
    def label(self) -> str:
        return "+".join(self.modes) + ("+normalize" if self.normalize else "")

    def pool(self, states: Any, attention_mask: Any) -> Any:
        """[batch, dim * len(modes)] from the last hidden states [batch, tokens, dim] and the mask [batch, tokens]."""
        import torch

        mask = attention_mask.to(states.dtype).unsqueeze(-1)  # [batch, tokens, 1]
        parts = []
        for mode in self.modes:
            if mode == "cls":
                parts.append(states[:, 0])
            elif mode == "max":
                parts.append(states.masked_fill(mask == 0, float("-inf")).max(dim=1).values)
            else:  # mean, mean_sqrt_len_tokens: sums in float32 even under bfloat16 autocast
                total = (states * mask).sum(dim=1, dtype=torch.float32)
                count = mask.sum(dim=1, dtype=torch.float32).clamp(min=1e-9)
                parts.append(total / (count if mode == "mean" else count.sqrt()))
        pooled = torch.cat([p.float() for p in parts], dim=-1)
        return torch.nn.functional.normalize(pooled, p=2, dim=1) if self.normalize else pooled


CLS_POOLING = TextPooling()


def read_text_pooling(source: str, ref: str, **kwargs: Any) -> TextPooling:
    """The pooling the model at ``source`` (a folder or a Hub id) prescribes; [CLS] when it says nothing.

    ``kwargs`` are the loading arguments (revision, local_files_only); ``ref`` is how the user
    named the model, for messages.
    """
    modules = _read_json(source, "modules.json", kwargs)
    if modules is None:
        return CLS_POOLING
    if not isinstance(modules, list):
        raise EncoderError(f"model {ref!r}: modules.json is not a list of modules")
    steps = [(str(m.get("type", "")).rsplit(".", 1)[-1], str(m.get("path", ""))) for m in modules
             if isinstance(m, dict)]
    unknown = sorted({kind for kind, _ in steps} - _KNOWN_MODULES)
    if unknown:
        raise EncoderError(f"model {ref!r} has sentence-transformers modules this encoder does not run "
                           f"({', '.join(unknown)}); only Transformer, Pooling and Normalize are supported")
    if any(kind == "Transformer" and path not in ("", ".") for kind, path in steps):
        raise EncoderError(f"model {ref!r} keeps its Transformer in a subfolder; pass that subfolder instead")
    pooling_paths = [path for kind, path in steps if kind == "Pooling"]
    # A pipeline without a Pooling module gives token vectors only: [CLS] stands for them, as for BERT.
    modes = _modes(_read_json(source, f"{pooling_paths[0]}/config.json", kwargs), ref) if pooling_paths else ("cls",)
    sbert = _read_json(source, "sentence_bert_config.json", kwargs) or {}
    limit = sbert.get("max_seq_length")
    return TextPooling(modes=modes, normalize=any(kind == "Normalize" for kind, _ in steps),
                       max_tokens=limit if isinstance(limit, int) and limit > 0 else None,
                       lower_case=bool(sbert.get("do_lower_case", False)))


def _modes(config: Any, ref: str) -> tuple[str, ...]:
    if config is None:  # a Pooling module without a config: sentence-transformers' default
        return ("mean",)
    if not isinstance(config, dict):
        raise EncoderError(f"model {ref!r}: its Pooling config is not a JSON object")
    if "pooling_mode" in config:  # sentence-transformers 5+: one name or a list
        given = config["pooling_mode"]
        modes = (given,) if isinstance(given, str) else tuple(given)
    else:
        modes = tuple(mode for key, mode in _LEGACY_MODE_KEYS.items() if config.get(key))
    if not modes:
        raise EncoderError(f"model {ref!r}: its Pooling config names no pooling mode")
    unsupported = [m for m in modes if m not in SUPPORTED_MODES]
    if unsupported:
        raise EncoderError(f"model {ref!r} pools with {', '.join(map(str, unsupported))}; this encoder supports "
                           f"{', '.join(SUPPORTED_MODES)}")
    return modes


def _read_json(source: str, name: str, kwargs: dict[str, Any]) -> Any:
    """A JSON file of the model, from its folder or the Hub cache; None where the model has none."""
    from transformers.utils import cached_file

    try:
        path = cached_file(source, name, _raise_exceptions_for_missing_entries=False,
                           _raise_exceptions_for_connection_errors=False, **kwargs)
    except (OSError, ValueError):
        return None
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError) as exc:
        raise EncoderError(f"model {source}: {name} cannot be read ({' '.join(str(exc).split())})") from None
