"""Σ_t table_t[indices_t] over several embedding tables in one pass.

x_t adds a row of up to nine small tables (action, class, device, platform, geo, time gap,
season, holiday, position). One lookup and one add per table makes and reads a [B, L, d]
tensor per table; ``embedding_bag`` over the tables side by side writes the sum once.
Its own backward sorts all B·L·tables indices, which on CPU costs more than the
lookups saved, so the gradient is taken per table as ``nn.Embedding`` takes it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class _BagSum(torch.autograd.Function):
    @staticmethod
    def forward(ctx, bags: torch.Tensor, weight: torch.Tensor, padding: int | None):
        ctx.save_for_backward(bags)
        ctx.rows, ctx.padding = weight.shape[0], padding
        return F.embedding_bag(bags, weight, mode="sum", padding_idx=padding)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (bags,) = ctx.saved_tensors
        padding = -1 if ctx.padding is None else ctx.padding
        weight_grad = None
        for column in bags.unbind(1):  # one table per column
            part = torch.ops.aten.embedding_dense_backward(grad, column.contiguous(), ctx.rows, padding, False)
            weight_grad = part if weight_grad is None else weight_grad.add_(part)
        return None, weight_grad, None


def summed_lookups(tables: list[tuple[nn.Embedding, torch.Tensor]]) -> torch.Tensor:
    """Σ table(indices) over ``tables`` ([B, L] indices each), shaped [B, L, d].

    A table's padding row (zero, never trained) is left out of the sum and of the gradient,
    as ``nn.Embedding`` leaves it out of the gradient.

    >>> a, b = nn.Embedding(3, 2, padding_idx=0), nn.Embedding(4, 2)
    >>> i = torch.tensor([[1, 0]])
    >>> torch.allclose(summed_lookups([(a, i), (b, i)]), a(i) + b(i))
    True
    """
    weight = torch.cat([table.weight for table, _ in tables])  # [Σ rows, d]
    columns, offset, padding = [], 0, None
    for table, indices in tables:
        shifted = indices + offset
        if table.padding_idx is not None:
            if padding is None:
                padding = offset + table.padding_idx  # every table's padding row reads as this one
            shifted = torch.where(indices == table.padding_idx, padding, shifted)
        columns.append(shifted)
        offset += table.num_embeddings
    shape = (*tables[0][1].shape, weight.shape[1])
    bags = torch.stack(columns, dim=-1).reshape(-1, len(tables))  # [B·L, tables]
    return _BagSum.apply(bags, weight, padding).reshape(shape)
