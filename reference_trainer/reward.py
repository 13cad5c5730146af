"""The training reward and the shaping potential, once, for both trainers (pure numpy, no I/O).

The array trainer calls these on whole batches; the language-model trainer on one game at a time
(arrays of length 1). Both read Value and Welfare as arena_bench defines them (``core.metrics``):
a side's Value is its normalised surplus ``(u - b) / (best - b)``, clipped at -1, 0 without a deal.
"""

from __future__ import annotations

import numpy as np

REWARDS = ("nash", "selfish", "close", "arena")


def terminal_reward(
    kind: str,
    own: np.ndarray,
    other: np.ndarray,
    deal: np.ndarray,
    welfare: np.ndarray,
    below_batna_penalty: float,
) -> np.ndarray:
    """The reward of a finished game to the learner, from its own and the other side's Value.

    - ``nash``: the geometric mean of both Values (clipped at 0) on a deal, 0 without one;
    - ``selfish``: its own Value; ``close``: 1 for a deal; ``arena``: the benchmark's own per-game
      score, (own Value + Welfare) / 2.

    A deal below one's own BATNA costs a fixed amount plus the shortfall. Proportional alone was too
    weak: with the Nash reward a bad deal and no deal both earn about 0, and the policy made
    irrational deals in a quarter of no-ZOPA games, where the benchmark scores no deal at 0.5.
    """
    own, other = np.asarray(own, dtype=float), np.asarray(other, dtype=float)
    deal = np.asarray(deal, dtype=bool)
    if kind == "selfish":
        r = np.where(deal, own, 0.0)
    elif kind == "close":
        r = deal.astype(float)
    elif kind == "nash":
        r = np.where(deal, np.sqrt(np.clip(own, 0, None) * np.clip(other, 0, None)), 0.0)
    elif kind == "arena":
        r = (np.maximum(own, -1.0) + np.asarray(welfare, dtype=float)) / 2
    else:
        raise ValueError(f"reward {kind!r}: use one of {', '.join(REWARDS)}")
    below = deal & (own < -1e-9)
    return r + below * (own - below_batna_penalty)


def nash_potential(u: np.ndarray, batna: np.ndarray, best: np.ndarray) -> np.ndarray:
    """phi: the Nash product (geometric mean of both sides' surpluses, normalised and clipped at 0)
    of the offer on the table. ``u``, ``batna``, ``best``: (..., 2) by role. The caller sets phi to 0
    where no offer stands or the game is over."""
    s = np.clip((u - batna) / (best - batna), 0.0, None)
    return np.sqrt(s[..., 0] * s[..., 1])
