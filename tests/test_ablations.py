"""The ablation sweep end to end on a tiny budget: trains, evaluates paired on the same cells,
writes the table and the plot, and resumes without retraining (torch: skipped where absent)."""

from __future__ import annotations

import json

import pytest


def test_tiny_ablation_sweep_pairs_variants_and_resumes(tmp_path):
    pytest.importorskip("torch")
    from reference_trainer.ablations import BASELINE, sweep

    base = {
        "n_scenarios": 40,
        "bc_games": 20,
        "bc_epochs": 1,
        "iterations": 2,
        "games_per_iteration": 16,
        "snapshot_every": 1,
        "eval_every": 0,
        "select_decoding": False,
    }
    out = tmp_path / "abl"
    result = sweep(base, [1, 2], out, "lite", 2, 1, [BASELINE, "selfish", "close"], crossplay_limit=1)
    names = [v["variant"] for v in result["variants"]]
    assert names == [BASELINE, "selfish", "close"]
    selfish = result["variants"][1]
    assert len(selfish["seed_means"]) == 2 and "vs_default" in selfish
    assert selfish["vs_default"]["lo"] <= selfish["vs_default"]["diff"] <= selfish["vs_default"]["hi"]
    saved = json.loads((out / "selfish" / "seed2" / "config.json").read_text())
    assert saved["reward"] == "selfish" and saved["seed"] == 2
    table = (out / "ablations.md").read_text()
    assert "| selfish |" in table and (out / "ablations.png").stat().st_size > 1000
    # cross-play: 6 policies, 12 pairs across variants, 4 cells each on 1 scenario
    cross = result["crossplay"]
    assert cross["games"] == 12 * 4
    assert set(cross["matrix"]) == set(names) and cross["matrix"]["selfish"]["selfish"] is None
    assert all(0 <= cross["matrix"][a][b] <= 1 for a in names for b in names if a != b)
    # selfish and the base config both met close's two policies on the same cells: paired
    assert cross["vs_base"]["selfish"]["cells"] == 2 * 2 * 4  # seed pairs x close seeds x cells
    assert "Cross-play" in (out / "ablations.md").read_text()
    policy = out / "base-config" / "seed1" / "policy.npz"
    stamp = policy.stat().st_mtime_ns
    sweep(base, [1, 2], out, "lite", 2, 1, [BASELINE, "selfish", "close"])
    assert policy.stat().st_mtime_ns == stamp  # resumed: nothing retrained
