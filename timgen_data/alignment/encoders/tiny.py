"""Tiny random models of the paper's encoder families (BERT, ViT, TimeSformer, wav2vec 2.0),
saved with their tokenizer / processor the way a Hub download is laid out.

For trying the ``hf:`` path without a download (``hf:<folder>`` loads them exactly like a
Hub id), for tests, and for the feature benchmark. Their vectors carry no meaning.
"""

from __future__ import annotations

from pathlib import Path

WORDS = ["the", "a", "an", "movie", "film", "great", "bad", "good", "story", "love", "war", "space", "ship",
         "about", "of", "and", "is"]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def tiny_sizes(dim: int) -> dict[str, int]:
    return {"hidden_size": dim, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 2 * dim}


def wav2vec2_sizes(dim: int) -> dict:
    # A two-layer conv front end (stride 20, not 320) keeps the model tiny.
    return {**tiny_sizes(dim), "conv_dim": (16, 16), "conv_stride": (5, 4), "conv_kernel": (10, 4),
            "num_feat_extract_layers": 2, "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 2}


def save_tiny_models(root: Path, *, dim: int = 32, seed: int = 0) -> dict[str, Path]:
    """One saved model folder per modality under ``root``: {"text": …, "image": …, "video": …, "audio": …}."""
    import torch
    import transformers

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    vocab = root / "vocab.txt"
    vocab.write_text("\n".join([*SPECIAL, *WORDS]) + "\n", encoding="utf-8")
    sizes = tiny_sizes(dim)
    models = {
        "text": (transformers.BertModel(transformers.BertConfig(vocab_size=len(SPECIAL) + len(WORDS),
                                                                **{**sizes, "num_hidden_layers": 2})),
                 transformers.BertTokenizer(str(vocab))),
        "image": (transformers.ViTModel(transformers.ViTConfig(image_size=32, patch_size=8, **sizes)),
                  transformers.ViTImageProcessorPil(size={"height": 32, "width": 32})),
        "video": (transformers.TimesformerModel(transformers.TimesformerConfig(image_size=32, patch_size=8,
                                                                               num_frames=4, **sizes)),
                  transformers.VideoMAEImageProcessorPil(size={"shortest_edge": 32},
                                                         crop_size={"height": 32, "width": 32})),
        # Group norm and no attention mask, like facebook/wav2vec2-base.
        "audio": (transformers.Wav2Vec2Model(transformers.Wav2Vec2Config(**wav2vec2_sizes(dim))),
                  transformers.Wav2Vec2FeatureExtractor(sampling_rate=16_000)),
    }
    folders = {}
    for modality, (model, processor) in models.items():
        folder = root / modality
        model.save_pretrained(folder)
        processor.save_pretrained(folder)
        folders[modality] = folder
    return folders
