"""Draws of the latent interest ℓ ~ N(μ, (τσ)²): the VAE's way to diverse results.

Temperature τ scales σ: τ = 0 gives ℓ = μ for every draw (the deterministic ranking), τ = 1
the distribution the model learned. The draws come from their own seeded generator, so the
same seed gives the same draws on every machine, whatever else used the global RNG.
"""

from __future__ import annotations

import torch

from timgen_model.errors import ModelUsageError


def check_sampling(samples: int, temperature: float) -> None:
    if samples < 1:
        raise ModelUsageError("--samples must be at least 1")
    if not temperature >= 0:  # also refuses NaN
        raise ModelUsageError("--temperature must be 0 or more (0: ℓ = μ, 1: the learned σ)")


def sample_latents(mu: torch.Tensor, sigma: torch.Tensor | None, samples: int, temperature: float,
                   seed: int) -> torch.Tensor:
    """``samples`` draws of ℓ per row of ``mu``: [S, T, k] from mu, sigma [T, k].

    >>> mu = torch.zeros(1, 2)
    >>> sample_latents(mu, torch.ones(1, 2), 3, 0.0, seed=0).abs().sum().item()
    0.0
    """
    check_sampling(samples, temperature)
    draws = mu.unsqueeze(0).expand(samples, *mu.shape)
    if sigma is None or temperature == 0:
        return draws.clone()
    generator = torch.Generator(device="cpu").manual_seed(int(seed))
    noise = torch.randn((samples, *mu.shape), generator=generator, dtype=torch.float32).to(mu.device, mu.dtype)
    return draws + temperature * sigma.unsqueeze(0) * noise
