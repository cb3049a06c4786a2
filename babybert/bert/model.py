"""A from-scratch BERT for pretraining (masked LM + next-sentence prediction), top to bottom.

Post-LayerNorm encoder with GELU and learned positions, as in the BERT paper. Parameter names are
short and our own; `checkpoint.py` maps them one-to-one onto `transformers.BertForPreTraining`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from babybert.config import ModelConfig


class Embeddings(nn.Module):
    """token + position + segment embeddings, then LayerNorm and dropout."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        H = config.hidden_size
        self.word = nn.Embedding(config.vocab_size, H, padding_idx=config.pad_token_id)
        self.position = nn.Embedding(config.max_position_embeddings, H)
        self.token_type = nn.Embedding(config.type_vocab_size, H)
        self.norm = nn.LayerNorm(H, eps=config.layer_norm_eps)
        self.dropout_p = config.hidden_dropout_prob

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        T = input_ids.size(1)
        x = self.word(input_ids) + self.position.weight[:T] + self.token_type(token_type_ids)  # (B, T, H)
        return F.dropout(self.norm(x), self.dropout_p, self.training)


class SelfAttention(nn.Module):
    """Multi-head self-attention; padding keys are masked out."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        H = config.hidden_size
        self.n_head = config.num_attention_heads
        self.query = nn.Linear(H, H)
        self.key = nn.Linear(H, H)
        self.value = nn.Linear(H, H)
        self.out = nn.Linear(H, H)
        self.dropout_p = config.attention_probs_dropout_prob

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor, need_weights: bool = False,
                queries: torch.Tensor | None = None):
        """`queries` (B, K, H): attend from these vectors only (default: from every position of x)."""
        B, T, H = x.shape
        split = lambda t: t.view(B, t.size(1), -1, self.n_head, H // self.n_head).permute(2, 0, 3, 1, 4)
        if queries is None:
            # q, k and v in one product (the checkpoint keeps three matrices, as BERT's): fewer, larger kernels
            w = torch.cat([self.query.weight, self.key.weight, self.value.weight])  # (3H, H)
            b = torch.cat([self.query.bias, self.key.bias, self.value.bias])
            q, k, v = split(F.linear(x, w, b))  # each (B, nh, T, hs)
        else:
            w = torch.cat([self.key.weight, self.value.weight])  # (2H, H)
            b = torch.cat([self.key.bias, self.value.bias])
            k, v = split(F.linear(x, w, b))  # each (B, nh, T, hs)
            q = split(self.query(queries))[0]  # (B, nh, K, hs)
        p = self.dropout_p if self.training else 0.0
        if need_weights:  # explicit softmax, so the weights can be shown
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.size(-1))  # (B, nh, T, T)
            weights = scores.masked_fill(~key_mask, float("-inf")).softmax(dim=-1)
            y = F.dropout(weights, p, self.training) @ v
        else:
            weights = None
            y = attend(q, k, v, key_mask, p)
        y = y.transpose(1, 2).reshape(B, q.size(2), H)
        return self.out(y), weights


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_mask: torch.Tensor, p: float) -> torch.Tensor:
    """Scaled dot-product attention. Under the CPU's bf16 autocast a step that needs gradients runs
    it in float32: the CPU's bf16 attention backward is 2-4x slower than float32's at these sizes
    (docs/training.md, "Precision"). Without gradients bf16 is the faster one (1.4-3x)."""
    if q.device.type == "cpu" and torch.is_autocast_enabled("cpu") and q.requires_grad:
        with torch.autocast("cpu", enabled=False):
            return F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=key_mask, dropout_p=p)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask, dropout_p=p)


class Layer(nn.Module):
    """One encoder layer: attention and feed-forward, each followed by residual + LayerNorm."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        H, eps = config.hidden_size, config.layer_norm_eps
        self.attn = SelfAttention(config)
        self.attn_norm = nn.LayerNorm(H, eps=eps)
        self.ffn_in = nn.Linear(H, config.intermediate_size)
        self.ffn_out = nn.Linear(config.intermediate_size, H)
        self.ffn_norm = nn.LayerNorm(H, eps=eps)
        self.dropout_p = config.hidden_dropout_prob

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor, need_weights: bool = False,
                at: torch.Tensor | None = None):
        """`at` (B, K) positions: compute the output there only, (B, K, H); every position still
        serves as a key and a value. The same numbers as the full output at those positions."""
        queries = None if at is None else x.gather(1, at[..., None].expand(-1, -1, x.size(-1)))
        a, weights = self.attn(x, key_mask, need_weights, queries)
        x = self.attn_norm((x if at is None else queries) + F.dropout(a, self.dropout_p, self.training))
        x = self.ffn_norm(x + F.dropout(self.ffn_out(F.gelu(self.ffn_in(x))), self.dropout_p, self.training))
        return x, weights


def read_positions(mlm_mask: torch.Tensor, multiple: int = 8) -> torch.Tensor:
    """(B, K): each row's [CLS] and masked positions, in order, padded with unread positions to
    the same K (a power of two up to `multiple`, then a multiple of it: few shapes, so few kernels
    to compile). The last layer runs only there: in training ~20-35% of the positions, in a PLL
    pass two per row; its output elsewhere is never read."""
    B, T = mlm_mask.shape
    read = mlm_mask.clone()
    read[:, 0] = True
    K = int(read.sum(1).max())
    K = min(T, 1 << (K - 1).bit_length() if K <= multiple else K + -K % multiple)
    ranks = torch.arange(T, device=read.device) + T * (~read)  # read positions first, each part in order
    return ranks.argsort(dim=1)[:, :K]


@dataclass
class BertOutput:
    mlm_logits: torch.Tensor  # (B, T, V), or (M, V) for the M masked positions only
    nsp_logits: torch.Tensor  # (B, 2): 0 = IsNext, 1 = NotNext
    attentions: list[torch.Tensor] | None = None  # per layer (B, n_head, T, T)


class BabyBert(nn.Module):
    """BERT encoder + MLM head (decoder tied to the word embeddings) + NSP head on [CLS]."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        config.validate()
        self.config = config
        H = config.hidden_size
        self.embeddings = Embeddings(config)
        self.layers = nn.ModuleList(Layer(config) for _ in range(config.num_hidden_layers))
        self.pooler = nn.Linear(H, H)  # [CLS] vector -> tanh -> sentence vector
        self.mlm_transform = nn.Linear(H, H)
        self.mlm_norm = nn.LayerNorm(H, eps=config.layer_norm_eps)
        self.mlm_bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.nsp = nn.Linear(H, 2)
        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.initializer_range
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=std)
        if isinstance(module, nn.Linear):
            nn.init.zeros_(module.bias)
        if isinstance(module, nn.Embedding) and module.padding_idx is not None:
            module.weight.data[module.padding_idx].zero_()

    def forward(
        self,
        input_ids: torch.Tensor,  # (B, T)
        token_type_ids: torch.Tensor | None = None,  # (B, T), 0 for segment A, 1 for B
        attention_mask: torch.Tensor | None = None,  # (B, T), 1 for real tokens, 0 for padding
        mlm_mask: torch.Tensor | None = None,  # (B, T) bool: score only these positions
        output_attentions: bool = False,
        rows_multiple: int = 1,  # pad the M masked rows to a multiple of this (training/setup.py, Run.buckets)
    ) -> BertOutput:
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        # embeddings would broadcast a (1, T) segment row over the batch without a word
        assert token_type_ids.shape == attention_mask.shape == input_ids.shape, (token_type_ids.shape, attention_mask.shape)
        assert mlm_mask is None or mlm_mask.shape == input_ids.shape, mlm_mask.shape
        key_mask = attention_mask.bool()[:, None, None, :]  # (B, 1, 1, T), True = may attend
        x = self.embeddings(input_ids, token_type_ids)
        attentions = [] if output_attentions else None
        # the heads read [CLS] and the masked positions only: the last layer computes just those
        at = read_positions(mlm_mask) if mlm_mask is not None and not output_attentions else None
        for i, layer in enumerate(self.layers):
            x, weights = layer(x, key_mask, output_attentions, at if i == len(self.layers) - 1 else None)
            if output_attentions:
                attentions.append(weights)
        if at is not None:  # x is (B, K, H) at positions `at`, [CLS] first
            mlm_mask = mlm_mask.gather(1, at)
        pooled = torch.tanh(self.pooler(x[:, 0]))  # (B, H)
        nsp_logits = self.nsp(pooled)  # (B, 2)
        h = x[mlm_mask] if mlm_mask is not None else x  # gather first: (M, H) instead of (B, T, H)
        M = h.size(0)
        if mlm_mask is not None and rows_multiple > 1:  # zero rows that are dropped again below
            h = F.pad(h, (0, 0, 0, -M % rows_multiple))
        h = self.mlm_norm(F.gelu(self.mlm_transform(h)))
        mlm_logits = F.linear(h, self.embeddings.word.weight, self.mlm_bias)[:M]  # tied decoder
        return BertOutput(mlm_logits, nsp_logits, attentions)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def parameter_counts(self) -> dict[str, int]:
        """Parameters per part, for explaining where the size goes."""
        count = lambda m: sum(p.numel() for p in m.parameters())
        heads = count(self.mlm_transform) + count(self.mlm_norm) + self.mlm_bias.numel()
        return {
            "embeddings": count(self.embeddings),
            **{f"layer {i}": count(layer) for i, layer in enumerate(self.layers)},
            "pooler": count(self.pooler),
            "mlm head (decoder tied to embeddings)": heads,
            "nsp head": count(self.nsp),
        }
