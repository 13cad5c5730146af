"""The actor-critic in torch. The actor mirrors ``arena_bench.agents.policy.forward`` layer for
layer so it exports to numpy; the critic also sees the other side's private numbers (it is
used only in training and never acts)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from arena_bench.agents.policy import FEATURES_VERSION, GLOBAL_DIM, MAX_OPTIONS, TOKEN_DIM


class ActorCritic(nn.Module):
    def __init__(self, hidden: int = 64):
        super().__init__()
        self.tok1 = nn.Linear(TOKEN_DIM, hidden)
        self.tok2 = nn.Linear(hidden, hidden)
        self.ctx = nn.Linear(hidden + GLOBAL_DIM, hidden)
        self.kind = nn.Linear(hidden, 3)
        self.opt1 = nn.Linear(2 * hidden, hidden)
        self.opt2 = nn.Linear(hidden, MAX_OPTIONS)
        # critic: own token + the other side's points per option; globals + the other side's BATNA
        self.c_tok = nn.Linear(TOKEN_DIM + MAX_OPTIONS, hidden)
        self.c_ctx = nn.Linear(hidden + GLOBAL_DIM + 1, hidden)
        self.c_out = nn.Linear(hidden, 1)

    def actor(self, tokens, glob, issue_mask, opt_mask, can_accept):
        h = torch.relu(self.tok2(torch.relu(self.tok1(tokens))))
        m = issue_mask.unsqueeze(-1)
        pooled = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
        ctx = torch.relu(self.ctx(torch.cat([pooled, glob], dim=1)))
        type_logits = self.kind(ctx)
        legal = torch.stack([torch.ones_like(can_accept), can_accept, torch.ones_like(can_accept)], dim=1)
        type_logits = type_logits.masked_fill(~legal, -1e9)
        joint = torch.cat([h, ctx.unsqueeze(1).expand_as(h)], dim=2)
        opt_logits = self.opt2(torch.relu(self.opt1(joint))).masked_fill(opt_mask <= 0, -1e9)
        return type_logits, opt_logits

    def value(self, tokens, glob, issue_mask, other_points, other_batna):
        h = torch.relu(self.c_tok(torch.cat([tokens, other_points * 4.0], dim=2)))
        m = issue_mask.unsqueeze(-1)
        pooled = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
        return self.c_out(
            torch.relu(self.c_ctx(torch.cat([pooled, glob, other_batna[:, None]], dim=1)))
        ).squeeze(1)

    def log_prob_entropy(self, type_logits, opt_logits, kind, options, issue_mask):
        t_dist = torch.distributions.Categorical(logits=type_logits)
        o_dist = torch.distributions.Categorical(logits=opt_logits)
        propose = (kind == 0).float()
        o_lp = (o_dist.log_prob(options.clamp(min=0)) * issue_mask).sum(1)
        o_ent = (o_dist.entropy() * issue_mask).sum(1) / issue_mask.sum(1).clamp(min=1)
        return t_dist.log_prob(kind) + propose * o_lp, t_dist.entropy() + propose * o_ent

    def actor_params(self) -> dict[str, np.ndarray]:
        """Weights in the layout of arena_bench's numpy forward (x @ W + b)."""
        out = {}
        for name in ("tok1", "tok2", "ctx", "kind", "opt1", "opt2"):
            layer = getattr(self, name)
            out[f"{name}.w"] = layer.weight.detach().cpu().numpy().T.astype(np.float32)
            if layer.bias is not None:
                out[f"{name}.b"] = layer.bias.detach().cpu().numpy().astype(np.float32)
        return out


def load_actor(model: ActorCritic, params: dict[str, np.ndarray]) -> ActorCritic:
    """Set the actor's weights from an exported policy (the inverse of ``actor_params``)."""
    with torch.no_grad():
        for name in ("tok1", "tok2", "ctx", "kind", "opt1", "opt2"):
            layer = getattr(model, name)
            layer.weight.copy_(torch.as_tensor(params[f"{name}.w"].T))
            layer.bias.copy_(torch.as_tensor(params[f"{name}.b"]))
    return model


def export(model: ActorCritic, path: Path, meta: dict) -> Path:
    """An .npz that arena_bench loads as policy/<path> (numpy only)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    meta = {"features_version": FEATURES_VERSION, **meta}
    np.savez(tmp, __meta__=np.array(json.dumps(meta, default=str)), **model.actor_params())
    tmp.replace(path)
    return path
