"""Training scenarios for the trainers (the array policy's and the language model's), free of torch."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from arena_bench.scenarios.families import FAMILIES
from arena_bench.scenarios.generator import STRATA, GeneratorConfig, draw_params, generate_scenario


def generated_scenarios(seed: int, n: int, name: Callable[[int], str]) -> list:
    """N training scenarios from their own seed space (never the task set's), cycling through the
    families and strata; scenario k is named ``name(k)``."""
    gen = GeneratorConfig(seed=seed)
    families = gen.families  # the generator version's literal list: a new family must not move the pool
    out = []
    for k in range(n):
        rng = np.random.default_rng([seed, k])
        family = families[k % len(families)]
        stratum = STRATA[(k // len(families)) % len(STRATA)]
        if stratum == "compatible" and not FAMILIES[family].supports_compatible:
            family = "software_renewal"
        out.append(generate_scenario(name(k), draw_params(family, stratum, rng, gen), rng))
    return out
