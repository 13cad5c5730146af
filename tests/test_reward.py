"""One reward module and one potential for both trainers (issue 28), checked by hand; the torch-free
part, so it runs in the default suite."""

from __future__ import annotations

import numpy as np
import pytest

from reference_trainer.reward import REWARDS, nash_potential, terminal_reward


def test_each_reward_by_hand():
    own, other = np.array([0.64, 0.0, -0.2, 0.5]), np.array([0.25, 0.0, 0.9, 0.1])
    deal, welfare = np.array([True, False, True, True]), np.array([0.4, 1.0, 0.0, 0.3])
    r = {k: terminal_reward(k, own, other, deal, welfare, 0.5) for k in REWARDS}
    np.testing.assert_allclose(r["nash"], [0.4, 0.0, 0.0 - 0.2 - 0.5, np.sqrt(0.05)])
    np.testing.assert_allclose(r["selfish"], [0.64, 0.0, -0.2 - 0.2 - 0.5, 0.5])
    np.testing.assert_allclose(r["close"], [1.0, 0.0, 1.0 - 0.2 - 0.5, 1.0])
    np.testing.assert_allclose(r["arena"], [(0.64 + 0.4) / 2, 0.5, (-0.2 + 0.0) / 2 - 0.2 - 0.5, 0.4])
    with pytest.raises(ValueError, match="greedy"):
        terminal_reward("greedy", own, other, deal, welfare, 0.5)


def test_the_potential_is_the_nash_product_of_the_table():
    u = np.array([[0.7, 0.6], [0.2, 0.9]])
    batna, best = np.array([[0.3, 0.2], [0.3, 0.2]]), np.array([[1.1, 1.0], [1.1, 1.0]])
    np.testing.assert_allclose(nash_potential(u, batna, best), [np.sqrt(0.5 * 0.5), 0.0])
