"""The TIMGen network: input encoding → causal temporal layer → multimodal attention fusion
→ VAE latent ℓ → generator G(ℓ, x*) predicting score, class and the next item.

Shapes: B windows, L steps, d = embedding_size, k = latent_size, N items, M modalities.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from timgen_model.batches import Batch
from timgen_model.class_sets import class_set_loss, class_set_targets
from timgen_model.config import LossConfig, ModelConfig
from timgen_model.encoding import HOLIDAY_UNKNOWN, ITEM_RESERVED
from timgen_model.summed_lookups import summed_lookups
from timgen_model.vocab import PAD

NUM_RESERVED_ITEMS = len(ITEM_RESERVED)
IGNORE = -100


@dataclass
class DataSpec:
    """What the network needs to know about the data; saved in every checkpoint."""

    num_items: int
    num_actions: int
    num_devices: int
    num_platforms: int
    num_geos: int
    num_classes: int
    modality_dims: dict[str, int] = field(default_factory=dict)
    score_mean: float = 0.0
    score_std: float = 1.0
    score_min: float = float("-inf")
    score_max: float = float("inf")
    # Hash buckets of what users wrote (the 'review' modality); 0: the data has no texts, or
    # the checkpoint is older than the review modality.
    text_buckets: int = 0
    # Width of the review vectors of a pretrained text encoder (model.review_encoder), and that
    # encoder's name@version; 0 and "": the review text is hashed (or absent).
    review_dim: int = 0
    review_encoder: str = ""

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Encoded:
    latent: torch.Tensor  # [B, L, k] ℓ (μ in eval mode)
    mu: torch.Tensor  # [B, L, k]
    sigma: torch.Tensor | None  # [B, L, k]
    alpha: torch.Tensor | None  # [B, L, M] modality weights, 0 for absent modalities
    modalities: tuple[str, ...]


@dataclass
class Predictions:
    item_logits: torch.Tensor | None  # [T, N] reserved indices at -inf; None when not asked for
    scores: torch.Tensor | None  # [T] standardized
    class_logits: torch.Tensor | None  # [T, C]
    query: torch.Tensor | None = None  # [T, d] decoder output that ranks items
    target: torch.Tensor | None = None  # [T, d] x* of the target items


def time_sinusoid(days: torch.Tensor, size: int) -> torch.Tensor:
    """Sinusoidal code of absolute time (days since the epoch), periods from 2π days to ~170 years."""
    half = size // 2
    freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, device=days.device, dtype=torch.float32) / half)
    angles = days.unsqueeze(-1).float() * freqs  # [B, L, half]
    code = torch.cat([angles.sin(), angles.cos()], dim=-1)
    return F.pad(code, (0, size - 2 * half))


def gap_bucket(gaps: torch.Tensor, buckets: int) -> torch.Tensor:
    """Bucket of log(1 + Δt seconds): half-units of the log, so a bucket spans a factor e^0.5."""
    return torch.clamp((torch.log1p(gaps.clamp(min=0)) * 2).long(), 0, buckets - 1)


def causal_mask(length: int, device) -> torch.Tensor:
    """True above the diagonal: step t may not attend to later steps."""
    return torch.ones(length, length, dtype=torch.bool, device=device).triu(1)


def selector(select: torch.Tensor):
    """``t -> t[select]`` for tensors shaped like the bool ``select`` (plus trailing dims); a
    flattening view where everything is selected (training windows count every slot), which
    spares the copy forward and the scatter of its gradient backward."""
    if bool(select.all()):
        return lambda t: t.flatten(0, select.dim() - 1)
    return lambda t: t[select]


def kl_standard_normal(mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, σ²) ‖ N(0, I)) summed over the last dimension."""
    return 0.5 * (mu.pow(2) + sigma.pow(2) - 1.0 - 2.0 * torch.log(sigma)).sum(-1)


class ModalityAttention(nn.Module):
    """h_m at each step: attention from a query sequence over this modality's vectors up to t,
    restricted to steps where the modality exists. ``present`` says whether step t had any such
    vector. The query sequence is the modality's own (``fusion="paper"``: causal self-attention,
    Q_m = x^m W_Q^m) or z_t (``fusion="query"``)."""

    def __init__(self, size: int):
        super().__init__()
        self.query = nn.Linear(size, size)
        self.key = nn.Linear(size, size)
        self.value = nn.Linear(size, size)

    def forward(self, z: torch.Tensor, vectors: torch.Tensor, has: torch.Tensor, *, always: bool = False):
        # z, vectors: [B, L, d]; has: [B, L] bool. ``always``: every real step has this modality,
        # so plain causal attention applies (the fused kernel, no mask tensor).
        q, k, v = self.query(z), self.key(vectors), self.value(vectors)
        if always:
            return F.scaled_dot_product_attention(q, k, v, is_causal=True), has
        allowed = ~causal_mask(z.shape[1], z.device) & has.unsqueeze(1)  # [B, L, L]
        present = allowed.any(-1)  # [B, L]: step t has seen this modality at least once
        # A query with no allowed key would give NaN: let it see everything, then zero its output.
        allowed = allowed | ~present.unsqueeze(-1)
        h = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
        return h * present.unsqueeze(-1), present


def review_enabled(config: ModelConfig, spec: DataSpec) -> bool:
    """Whether the network reads what users wrote: the data has texts and the config wants them."""
    return (bool(spec.text_buckets or spec.review_dim) and config.review_text
            and "review" not in config.masked_modalities)


def bucket_tokens(tokens: torch.Tensor, buckets: int) -> torch.Tensor:
    """Hashed n-gram ids (0 = none) folded into ``buckets`` embedding rows, row 0 kept for none."""
    return torch.where(tokens > 0, 1 + tokens.remainder(buckets - 1), torch.zeros_like(tokens))


class MeanPooling(nn.Module):
    """The static ablation: z_t is the running mean of inputs up to t (order ignored), then an MLP."""

    def __init__(self, size: int, hidden: int, dropout: float):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(size, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, size))
        self.norm = nn.LayerNorm(size)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        weights = mask.unsqueeze(-1).float()
        running = (x * weights).cumsum(1) / weights.cumsum(1).clamp(min=1.0)
        return self.norm(running + self.mlp(running))


class TIMGen(nn.Module):
    def __init__(self, config: ModelConfig, spec: DataSpec, catalogue_vectors: dict[str, torch.Tensor] | None = None,
                 catalogue_present: dict[str, torch.Tensor] | None = None):
        super().__init__()
        self.config, self.spec = config, spec
        d, k = config.embedding_size, config.latent_size
        self.content_modalities = tuple(m for m in spec.modality_dims if m not in config.masked_modalities)
        # What users wrote is interaction-level: a step's own text, not its item's.
        self.review_modality = ("review",) if review_enabled(config, spec) else ()

        # Input encoding.
        self.item_embedding = nn.Embedding(spec.num_items, d, padding_idx=PAD)
        self.modality_projection = nn.ModuleDict({m: nn.Linear(spec.modality_dims[m], d) for m in self.content_modalities})
        if self.review_modality and spec.review_dim:
            # The pretrained encoder's vector of the text, standardized per dimension with the
            # train split's statistics, then projected to d like an item's content. Sentence
            # vectors share a large common direction (cosine 0.9 between unrelated texts of a
            # small BERT); unstandardized, the projection barely learns what sets texts apart.
            self.review_projection = nn.Linear(spec.review_dim, d)
            self.register_buffer("review_mean", torch.zeros(spec.review_dim))
            self.register_buffer("review_std", torch.ones(spec.review_dim))
        elif self.review_modality:
            # Mean of the hashed 1-2-grams' embeddings: a learned projection of the bag of n-grams.
            self.review_embedding = nn.EmbeddingBag(spec.text_buckets, d, mode="mean", padding_idx=0)
        for m in spec.modality_dims:
            # Buffers, not parameters: the catalogue's vectors travel with the checkpoint.
            vectors = catalogue_vectors[m] if catalogue_vectors else torch.zeros(spec.num_items, spec.modality_dims[m])
            present = catalogue_present[m] if catalogue_present else torch.zeros(spec.num_items, dtype=torch.bool)
            self.register_buffer(f"vectors_{m}", vectors.float())
            self.register_buffer(f"present_{m}", present.bool())
        if config.interaction_features:
            self.action_embedding = nn.Embedding(spec.num_actions, d, padding_idx=PAD)
            self.device_embedding = nn.Embedding(spec.num_devices, d, padding_idx=PAD)
            self.platform_embedding = nn.Embedding(spec.num_platforms, d, padding_idx=PAD)
            self.geo_embedding = nn.Embedding(spec.num_geos, d, padding_idx=PAD)
            self.class_embedding = nn.Embedding(spec.num_classes, d, padding_idx=PAD)
            self.score_projection = nn.Linear(1, d)
        if config.time_features:
            self.time_projection = nn.Linear(d, d)
            self.gap_embedding = nn.Embedding(config.gap_buckets, d)
            self.weekday_projection = nn.Linear(2, d)
            if config.calendar_features:
                self.clock_projection = nn.Linear(4, d)  # hour of day and day of year, as sin/cos pairs
                self.season_embedding = nn.Embedding(4, d)
                self.holiday_embedding = nn.Embedding(3, d, padding_idx=HOLIDAY_UNKNOWN)  # unknown adds nothing
        if config.position_embedding:
            self.position_embedding = nn.Embedding(config.max_len, d)
        self.input_norm = nn.LayerNorm(d)
        self.dropout = nn.Dropout(config.dropout)

        # Temporal layer.
        if config.temporal == "transformer":
            layer = nn.TransformerEncoderLayer(
                d, config.num_heads, config.feedforward_size, config.dropout,
                activation="gelu", batch_first=True, norm_first=config.norm_first,
            )
            # Dropout on attention weights costs a Bernoulli draw per (head, query, key), the slowest op
            # on CPU: only where model.attention_dropout asks for it.
            layer.self_attn.dropout = config.attention_dropout
            layer.dropout = nn.Identity()  # likewise inside the 4×-wide feed-forward; residual dropout stays
            self.temporal = nn.TransformerEncoder(layer, config.num_layers, enable_nested_tensor=False)
            # Post-norm layers already end normalized; the final norm belongs to pre-norm stacks.
            self.temporal_norm = nn.LayerNorm(d) if config.norm_first else nn.Identity()
        else:
            self.temporal = MeanPooling(d, config.feedforward_size, config.dropout)

        # Multimodal fusion.
        self.fused_modalities = ()
        if config.fusion != "none":
            self.fused_modalities = tuple(m for m in ("item", *self.content_modalities, *self.review_modality)
                                          if m not in config.masked_modalities)
            self.modality_attention = nn.ModuleDict({m: ModalityAttention(d) for m in self.fused_modalities})
            self.modality_scorer = nn.ModuleDict({m: nn.Linear(d, 1, bias=False) for m in self.fused_modalities})
            self.fuse = nn.Linear(2 * d, d)

        # VAE.
        self.mu = nn.Linear(d, k)
        if config.vae:
            self.sigma = nn.Linear(d, k)

        # Generator G(ℓ, x*).
        if config.decoder == "mlp":
            self.decoder = nn.Sequential(nn.Linear(k, d), nn.GELU(), nn.Linear(d, d))
        else:
            self.decoder = nn.Linear(k, d)
        # Without the option the bias stays zero (no gradient), so the logits and checkpoints keep their shape.
        self.item_bias = nn.Parameter(torch.zeros(spec.num_items), requires_grad=config.item_bias)
        self.score_head = nn.Sequential(nn.Linear(k + 2 * d, d), nn.GELU(), nn.Linear(d, 1))
        self.score_item_bias = nn.Embedding(spec.num_items, 1)
        nn.init.zeros_(self.score_item_bias.weight)
        self.class_head = nn.Linear(k, spec.num_classes)
        # The items' class sets (CSR), targets of a 'set' class head; not saved: they come from the dataset.
        self.register_buffer("class_set_offsets", torch.zeros(0, dtype=torch.long), persistent=False)
        self.register_buffer("class_set_members", torch.zeros(0, dtype=torch.long), persistent=False)
        self.apply(lambda module: self._init_weights(module, config.init_std))
        if config.vae:
            # σ starts small (softplus(-4) ≈ 0.018) so early training is not drowned in sampling noise.
            nn.init.constant_(self.sigma.bias, -4.0)

    def set_review_statistics(self, mean, std) -> None:
        """The train split's per-dimension mean and standard deviation of the review vectors."""
        with torch.no_grad():
            self.review_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
            self.review_std.copy_(torch.as_tensor(std, dtype=torch.float32).clamp(min=1e-6))

    def attach_class_sets(self, offsets, members) -> None:
        """Give the network each item's class set (the catalogue's CSR arrays), the 'set' head's targets."""
        device = self.class_set_offsets.device
        self.class_set_offsets = torch.as_tensor(offsets, dtype=torch.long, device=device)
        self.class_set_members = torch.as_tensor(members, dtype=torch.long, device=device)

    def class_sets_of(self, items: torch.Tensor) -> torch.Tensor:
        """[T, C] class-set targets of ``items``; from the whole catalogue's sets where it has
        fewer items than there are targets (a training batch), which is the cheaper gather."""
        offsets, members, classes = self.class_set_offsets, self.class_set_members, self.spec.num_classes
        if len(items) > self.spec.num_items:
            catalogue = torch.arange(self.spec.num_items, device=items.device)
            return class_set_targets(offsets, members, catalogue, classes)[items]
        return class_set_targets(offsets, members, items, classes)

    @staticmethod
    def _init_weights(module: nn.Module, std: float) -> None:
        if isinstance(module, nn.Embedding) and module.embedding_dim > 1:
            nn.init.normal_(module.weight, std=std)
            if module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()

    # -- input encoding ---------------------------------------------------------------
    def modality_vectors(self, items: torch.Tensor, m: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Projected vectors [..., d] of modality m for ``items`` and whether each exists."""
        present = getattr(self, f"present_{m}")[items]
        projected = self.modality_projection[m](getattr(self, f"vectors_{m}")[items])
        return projected * present.unsqueeze(-1), present

    def item_representation(self, items: torch.Tensor) -> torch.Tensor:
        """x*: the id embedding plus every present content modality, projected to d."""
        x = self.item_embedding(items)
        for m in self.content_modalities:
            x = x + self.modality_vectors(items, m)[0]
        return x

    def review_vectors(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Projected vectors [B, L, d] of what the user wrote at each input step, and whether
        the step has any text."""
        B, L = batch.items.shape
        none = batch.items.new_zeros(B, L, self.config.embedding_size, dtype=torch.float), torch.zeros_like(batch.mask)
        if self.spec.review_dim:
            if batch.review_vectors is None:
                return none
            has = batch.review_present & batch.mask
            standardized = (batch.review_vectors - self.review_mean) / self.review_std
            return self.review_projection(standardized) * has.unsqueeze(-1), has
        if batch.text_tokens is None or batch.text_tokens.shape[-1] == 0:
            return none
        tokens = bucket_tokens(batch.text_tokens, self.spec.text_buckets)  # [B, L, K]
        K = tokens.shape[-1]
        vectors = self.review_embedding(tokens.reshape(B * L, K)).reshape(B, L, -1)
        return vectors, (tokens != 0).any(-1) & batch.mask

    def encode_inputs(self, batch: Batch) -> torch.Tensor:
        """x_t: the item, what the user wrote, and the step's context features, summed.

        Every table lookup of the context is one ``embedding_bag`` over the tables side by side,
        and every linear code (score, time, weekday, clock) one matmul over the codes side by
        side: the same sum as one lookup and one projection each (up to float rounding; see
        tests/model/test_fused_inputs.py), without a pass over [B, L, d] per feature."""
        x = self.item_representation(batch.items)  # [B, L, d]
        if self.review_modality:
            x = x + self.review_vectors(batch)[0]
        tables = self.context_lookups(batch)
        if tables:
            x = x + summed_lookups(tables)
        codes = self.context_codes(batch)
        if codes:
            features = torch.cat([f for f, _, _ in codes], dim=-1)  # [B, L, F]
            weight = torch.cat([w for _, w, _ in codes], dim=1)  # [d, F]
            biases = [b for _, _, b in codes if b is not None]
            x = x + F.linear(features, weight, torch.stack(biases).sum(0) if biases else None)
        return self.dropout(self.input_norm(x)) * batch.mask.unsqueeze(-1)

    def context_lookups(self, batch: Batch) -> list[tuple[nn.Embedding, torch.Tensor]]:
        """The embedding tables x_t adds a row of, each with its [B, L] indices."""
        tables = []
        if self.config.interaction_features:
            tables += [(self.action_embedding, batch.actions), (self.class_embedding, batch.classes),
                       (self.device_embedding, batch.devices), (self.platform_embedding, batch.platforms),
                       (self.geo_embedding, batch.geos)]
        if self.config.time_features:
            tables.append((self.gap_embedding, gap_bucket(batch.gaps, self.config.gap_buckets)))
            if self.config.calendar_features and batch.day_phases is not None:
                tables += [(self.season_embedding, batch.seasons), (self.holiday_embedding, batch.holidays)]
        if self.config.position_embedding:
            L = batch.items.shape[1]
            tables.append((self.position_embedding, torch.arange(L, device=batch.items.device).expand_as(batch.items)))
        return tables

    def context_codes(self, batch: Batch) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]:
        """The linear codes x_t adds: (features [B, L, f], weight [d, f], bias [d] or None) each."""
        codes = []
        if self.config.interaction_features:
            # (W s + b) · known, written as a projection of (s · known, known).
            known = batch.score_known.unsqueeze(-1).float()
            projection = self.score_projection
            codes.append((torch.cat([batch.scores.unsqueeze(-1) * known, known], dim=-1),
                          torch.cat([projection.weight, projection.bias.unsqueeze(-1)], dim=1), None))
        if self.config.time_features:
            codes.append((time_sinusoid(batch.days, self.config.embedding_size), self.time_projection.weight,
                          self.time_projection.bias))
            calendar = self.config.calendar_features and batch.local_weekdays is not None
            weekdays = batch.local_weekdays if calendar else batch.weekdays
            angle = weekdays.float() * (2 * math.pi / 7)
            codes.append((torch.stack([angle.sin(), angle.cos()], dim=-1), self.weekday_projection.weight,
                          self.weekday_projection.bias))
            if self.config.calendar_features and batch.day_phases is not None:
                codes.append((self.calendar_cycles(batch), self.clock_projection.weight, self.clock_projection.bias))
        return codes

    def calendar_cycles(self, batch: Batch) -> torch.Tensor:
        """The paper's "date/hour encoded using sine and cosine": [B, L, 4] on the local clock."""
        day = batch.day_phases * (2 * math.pi)
        year = batch.year_phases * (2 * math.pi)
        return torch.stack([day.sin(), day.cos(), year.sin(), year.cos()], dim=-1)

    # -- temporal layer and fusion ------------------------------------------------------
    def temporal_states(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.config.temporal == "transformer":
            causal = causal_mask(x.shape[1], x.device)
            return self.temporal_norm(self.temporal(x, mask=causal, is_causal=True))
        return self.temporal(x, mask)

    def fusion(self, z: torch.Tensor, batch: Batch) -> tuple[torch.Tensor, torch.Tensor | None]:
        if not self.fused_modalities:
            return z, None
        hs, logits = [], []
        paper = self.config.fusion == "paper"
        for m in self.fused_modalities:
            if m == "item":
                vectors = self.item_embedding(batch.items)
                h, present = self.modality_attention[m](vectors if paper else z, vectors, batch.mask, always=True)
            else:
                if m == "review":
                    vectors, has = self.review_vectors(batch)
                else:
                    vectors, has = self.modality_vectors(batch.items, m)
                # [B, L, d], [B, L]; paper: the modality's own sequence queries itself, in parallel with z_t
                h, present = self.modality_attention[m](vectors if paper else z, vectors, has & batch.mask)
            if paper and self.config.fusion_residual:
                # Attention alone learns to average the history (q·k stays near 0), which makes
                # h_m and α all but constant; the step's own vector keeps them moving with it.
                h = h + vectors * present.unsqueeze(-1)
            hs.append(h)
            if len(self.fused_modalities) == 1:
                # α over one modality is 1 where it is present and 0 where not, whatever its score.
                alpha = present.unsqueeze(-1).to(h.dtype)  # [B, L, 1]
                return self.fuse(torch.cat([z, h * alpha], dim=-1)), alpha
            logits.append(self.modality_scorer[m](h).squeeze(-1).masked_fill(~present, float("-inf")))
        logits = torch.stack(logits, dim=-1)  # [B, L, M]
        alpha = torch.softmax(logits, dim=-1)
        alpha = torch.where(torch.isfinite(logits), alpha, torch.zeros_like(alpha))  # absent: exactly 0
        z_multi = (torch.stack(hs, dim=-2) * alpha.unsqueeze(-1)).sum(-2)  # [B, L, d]
        return self.fuse(torch.cat([z, z_multi], dim=-1)), alpha

    def forward(self, batch: Batch) -> Encoded:
        x = self.encode_inputs(batch)
        z = self.temporal_states(x, batch.mask)  # [B, L, d]; z_t depends on steps ≤ t only
        z_final, alpha = self.fusion(z, batch)
        mu = self.mu(z_final)  # [B, L, k]
        if not self.config.vae:
            return Encoded(mu, mu, None, alpha, self.fused_modalities)
        sigma = F.softplus(self.sigma(z_final)) + 1e-4
        latent = mu + sigma * torch.randn_like(sigma) if self.training else mu
        return Encoded(latent, mu, sigma, alpha, self.fused_modalities)

    # -- generator ----------------------------------------------------------------------
    def all_item_vectors(self) -> torch.Tensor:
        return self.item_representation(torch.arange(self.spec.num_items, device=self.item_bias.device))

    def ranking_bias(self) -> torch.Tensor:
        """Per-item ranking bias with the reserved ids (pad, unknown, start) at -inf."""
        reserved = torch.full((NUM_RESERVED_ITEMS,), float("-inf"), device=self.item_bias.device)
        return torch.cat([reserved, self.item_bias[NUM_RESERVED_ITEMS:]])

    def generate(self, latent: torch.Tensor, target_items: torch.Tensor | None = None, *, want_scores: bool = True,
                 want_classes: bool = True, want_ranking: bool = True) -> Predictions:
        """G(ℓ, x*): ranking logits over all items, the score of ``target_items``, the next class.

        latent: [T, k]; target_items: [T] or None (then no score is predicted).
        ``want_ranking=False`` skips the [T, N] logits (training with sampled negatives).
        """
        query = self.decoder(latent)  # [T, d]
        logits = target = None
        if want_ranking:
            catalogue = self.all_item_vectors()  # [N, d]
            logits = torch.addmm(self.ranking_bias(), query, catalogue.T)  # [T, N]; one fused kernel
            if target_items is not None:
                target = catalogue[target_items]
        elif target_items is not None:
            target = self.item_representation(target_items)
        scores = None
        if want_scores and target is not None:
            raw = self.score_head(torch.cat([latent, target, query * target], dim=-1)).squeeze(-1)
            scores = raw + self.score_item_bias(target_items).squeeze(-1)
        class_logits = self.class_head(latent) if want_classes else None
        return Predictions(logits, scores, class_logits, query, target)

    def sampled_reconstruction(self, predictions: Predictions, targets: torch.Tensor, negatives: int) -> torch.Tensor:
        """Sampled softmax: each target against ``negatives`` items drawn uniformly per batch and
        shared by all targets. Uniform proposals need no log-Q correction (it is the same constant
        for every candidate); a negative that equals the target is masked out."""
        query, positive = predictions.query, predictions.target
        valid = targets >= NUM_RESERVED_ITEMS
        sampled = torch.randint(NUM_RESERVED_ITEMS, self.spec.num_items, (negatives,), device=query.device)
        positive_logit = (query * positive).sum(-1) + self.item_bias[targets]  # [T]
        negative_logits = torch.addmm(self.item_bias[sampled], query, self.item_representation(sampled).T)  # [T, K]
        negative_logits = negative_logits.masked_fill(sampled.unsqueeze(0) == targets.unsqueeze(1), float("-inf"))
        logits = torch.cat([positive_logit.unsqueeze(1), negative_logits], dim=1)
        labels = torch.where(valid, torch.zeros_like(targets), torch.full_like(targets, IGNORE))
        return F.cross_entropy(logits, labels, ignore_index=IGNORE)

    def denormalize_scores(self, scores: torch.Tensor) -> torch.Tensor:
        raw = scores * self.spec.score_std + self.spec.score_mean
        return raw.clamp(self.spec.score_min, self.spec.score_max)

    def loss(self, batch: Batch, weights: LossConfig, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        """Reconstruction (next-item CE over all items) + β·KL + λ1·MSE(score) + λ2·CE(class)."""
        total, report, _, _ = self.loss_terms(batch, weights, step)
        return total, report

    def loss_terms(self, batch: Batch, weights: LossConfig, step: int):
        """The loss, its parts, and the encoded batch and predictions it came from (so evaluation
        does not run the network twice)."""
        encoded = self(batch)
        select = batch.evaluate & batch.mask
        pick = selector(select)
        latent = pick(encoded.latent)  # [T, k]
        targets = pick(batch.target_items)
        # Sampled negatives only while training: validation and test always rank the whole catalogue.
        sampled = self.training and 0 < weights.negatives < self.spec.num_items - NUM_RESERVED_ITEMS
        predictions = self.generate(
            latent, targets, want_scores=weights.score > 0, want_classes=weights.classification > 0,
            want_ranking=not sampled,
        )
        if sampled:
            reconstruction = self.sampled_reconstruction(predictions, targets, weights.negatives)
        else:
            item_targets = torch.where(targets >= NUM_RESERVED_ITEMS, targets, torch.full_like(targets, IGNORE))
            reconstruction = F.cross_entropy(predictions.item_logits, item_targets, ignore_index=IGNORE)
        parts = {"reconstruction": reconstruction}
        total = weights.reconstruction * parts["reconstruction"]
        beta = weights.beta_at(step)
        if encoded.sigma is not None:
            parts["kl"] = kl_standard_normal(pick(encoded.mu), pick(encoded.sigma)).mean()
            total = total + beta * parts["kl"]
        if predictions.scores is not None:
            known = pick(batch.target_score_known)
            if known.any():
                keep = selector(known)
                parts["score_mse"] = F.mse_loss(keep(predictions.scores), keep(pick(batch.target_scores)))
                total = total + weights.score * parts["score_mse"]
        if predictions.class_logits is not None and self.config.class_target == "set":
            if len(self.class_set_offsets):
                sets = self.class_sets_of(targets)
                set_loss = class_set_loss(predictions.class_logits, sets)
                if set_loss is not None:
                    parts["class_bce"] = set_loss
                    total = total + weights.classification * parts["class_bce"]
        elif predictions.class_logits is not None:
            classes = pick(batch.target_classes)
            classes = torch.where(classes != PAD, classes, torch.full_like(classes, IGNORE))
            if (classes != IGNORE).any():
                parts["class_ce"] = F.cross_entropy(predictions.class_logits, classes, ignore_index=IGNORE)
                total = total + weights.classification * parts["class_ce"]
        report = {name: float(value.detach()) for name, value in parts.items()}
        report["loss"] = float(total.detach())
        report["beta"] = beta
        return total, report, encoded, predictions
