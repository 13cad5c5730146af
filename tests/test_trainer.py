"""The reference trainer: batched environment conformance (numpy only), export round trip and a
smoke run (torch: skipped where it is not installed; .ci/run installs the CPU build)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from arena_bench.agents.policy import ACCEPT, MAX_ISSUES, PROPOSE, WALK, load_policy
from arena_bench.core.analysis import analyse
from arena_bench.core.metrics import game_metrics
from arena_bench.core.protocol import Action, Turn, initial_state, step
from arena_bench.scenarios.tasks import open_task_set
from reference_trainer.reference_env import BatchedEnv

ROOT = Path(__file__).resolve().parent.parent


def random_actions(env: BatchedEnv, rng) -> tuple[np.ndarray, np.ndarray]:
    kind = np.where(rng.random(env.n) < 0.15, ACCEPT, PROPOSE)
    kind = np.where(rng.random(env.n) < 0.03, WALK, kind)
    kind = np.where((kind == ACCEPT) & ~env.can_accept(np.arange(env.n)), PROPOSE, kind)
    offers = np.full((env.n, MAX_ISSUES), -1)
    for k, s in enumerate(env.scenarios):
        offers[k, : len(s.issues)] = [rng.integers(n) for n in s.shape]
    return kind, offers


def test_batched_env_matches_the_protocol_game_by_game():
    scenarios = open_task_set("negotiation-v1").load("dev")[:60]
    rng = np.random.default_rng(0)
    env = BatchedEnv(scenarios, rng.integers(2, size=len(scenarios)))
    actions: list[list[Action]] = [[] for _ in scenarios]
    while not env.done.all():
        live = np.flatnonzero(~env.done)
        kind, offers = random_actions(env, rng)
        for k in live:
            if kind[k] == PROPOSE:
                actions[k].append(Action.propose(offers[k, : len(scenarios[k].issues)]))
            else:
                actions[k].append(Action.accept() if kind[k] == ACCEPT else Action.walk_away())
        env.step(live, kind[live], offers[live])
    u = env.utilities()
    shares = env.shares()
    welfare = env.welfare()
    for k, s in enumerate(scenarios):
        state = initial_state(s.shape, int(env.first[k]))
        for a in actions[k]:
            state = step(state, Turn("", a))
        assert state.over and state.turn == env.turn[k]
        assert (state.agreement is not None) == bool(env.deal[k])
        m = game_metrics(s, analyse(s), state)
        assert u[k] == pytest.approx([side.u for side in m.sides], abs=1e-9)
        assert shares[k] == pytest.approx([side.value for side in m.sides], abs=1e-9)
        assert welfare[k] == pytest.approx(m.welfare, abs=1e-9)
        assert [t.action for t in env.history[k]] == [t.action for t in state.history]


def test_batched_env_features_equal_what_the_exported_policy_sees_in_arena_bench():
    """Training and evaluation must feed the policy the same numbers at every turn."""
    from arena_bench.agents.policy import observation_features, pad_brief

    scenarios = open_task_set("negotiation-v1").load("dev")[:40]
    rng = np.random.default_rng(3)
    env = BatchedEnv(scenarios, rng.integers(2, size=len(scenarios)))
    checked = 0
    while not env.done.all():
        live = np.flatnonzero(~env.done)
        tokens, glob, can = env.observe(live)
        for j, k in enumerate(live):
            obs = env.observation(int(k))
            brief = scenarios[k].roles[obs.role_index]
            pad = pad_brief(brief.weights, brief.values, scenarios[k].shape)
            t1, g1, c1 = observation_features(obs, *pad)
            assert np.allclose(t1[0], tokens[j]) and np.allclose(g1[0], glob[j]) and c1[0] == can[j], (
                k,
                env.turn[k],
            )
            checked += 1
        kind, offers = random_actions(env, rng)
        kind = np.where(kind == WALK, PROPOSE, kind)  # long games: every turn's features get compared
        env.step(live, kind[live], offers[live])
    assert checked > 200


def test_a_policy_file_of_another_features_version_is_refused_with_the_reason(tmp_path):
    from arena_bench.errors import PolicyError
    from arena_bench.playing.players import make_player

    path = tmp_path / "old.npz"
    np.savez(path, __meta__=np.array(json.dumps({"features_version": 1})), **{"tok1.w": np.zeros((62, 8))})
    with pytest.raises(PolicyError, match="features version 1"):
        make_player(f"policy/{path}")


def test_batched_env_rejects_an_illegal_accept():
    scenarios = open_task_set("negotiation-v1").load("lite")[:2]
    env = BatchedEnv(scenarios, np.array([0, 1]))
    with pytest.raises(ValueError, match="no standing offer"):
        env.step(np.array([0, 1]), np.array([ACCEPT, PROPOSE]), np.zeros((2, MAX_ISSUES), dtype=int))


def test_export_round_trip_matches_torch(tmp_path):
    torch = pytest.importorskip("torch")
    from arena_bench.agents.policy import forward
    from reference_trainer.policy import ActorCritic, export

    torch.manual_seed(0)
    model = ActorCritic(32)
    scenarios = open_task_set("negotiation-v1").load("lite")[:16]
    env = BatchedEnv(scenarios, np.zeros(16, dtype=int))
    idx = np.arange(16)
    env.step(idx, np.full(16, PROPOSE), random_actions(env, np.random.default_rng(1))[1])
    tokens, glob, can = env.observe(idx)
    with torch.no_grad():
        tl, ol = model.actor(
            torch.tensor(tokens, dtype=torch.float32),
            torch.tensor(glob, dtype=torch.float32),
            torch.tensor(env.s.issue_mask, dtype=torch.float32),
            torch.tensor(env.s.opt_mask, dtype=torch.float32),
            torch.tensor(can),
        )
    path = export(model, tmp_path / "p.npz", {"decoding": "sample"})
    ntl, nol = forward(load_policy(str(path)).params, tokens, glob, env.s.issue_mask, env.s.opt_mask, can)
    assert np.allclose(tl.numpy(), ntl, atol=1e-4) and np.allclose(ol.numpy(), nol, atol=1e-4)


def test_smoke_training_run_exports_a_policy_that_arena_bench_plays(tmp_path):
    pytest.importorskip("torch")
    from click.testing import CliRunner

    from arena_bench.cli import main
    from reference_trainer.train import TrainConfig, train

    cfg = TrainConfig(
        out=str(tmp_path / "run"),
        n_scenarios=40,
        bc_games=40,
        bc_epochs=1,
        iterations=2,
        games_per_iteration=32,
        eval_every=2,
        eval_limit=1,
        snapshot_every=1,
    )
    summary = train(cfg, log=lambda *_: None)
    assert summary["games"] == 64 and (tmp_path / "run" / "learning_curve.csv").is_file()
    rows = (tmp_path / "run" / "learning_curve.csv").read_text().splitlines()
    assert len(rows) == 3 and rows[-1].split(",")[8] != ""  # an evaluation at the last iteration
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["iterations"] == 2 and saved["reward"] == "nash"
    r = CliRunner().invoke(
        main,
        [
            "run",
            "--model",
            f"policy/{summary['policy']}",
            "--limit",
            "1",
            "--output-path",
            str(tmp_path / "eval"),
            "--no-progress",
            "--bootstrap",
            "100",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "policy/" in r.output


def test_a_guarded_run_on_the_array_engine_exports_the_guard_and_its_population(tmp_path):
    """batna_guard and scripted_opponents (MiCRO and HardHeaded among them): the exported file carries
    the guard, so arena_bench plays it guarded, and no side it plays ends below its BATNA."""
    pytest.importorskip("torch")
    from arena_bench.scoring.results import load_run
    from reference_trainer.train import TrainConfig, train

    cfg = TrainConfig(
        out=str(tmp_path / "run"),
        n_scenarios=40,
        bc_games=20,
        bc_epochs=1,
        iterations=2,
        games_per_iteration=64,
        eval_every=0,
        select_decoding=False,
        engine="array",
        batna_guard=True,
        scripted_opponents=("micro", "hardheaded", "pushover"),
        opponent_mix=(0.0, 0.0, 1.0),
    )
    summary = train(cfg, log=lambda *_: None)
    meta = load_policy(summary["policy"]).meta
    assert meta["guard"] == "batna" and meta["config"]["scripted_opponents"] == [
        "micro",
        "hardheaded",
        "pushover",
    ]
    from click.testing import CliRunner

    from arena_bench.cli import main

    r = CliRunner().invoke(
        main,
        [
            "run",
            "--model",
            f"policy/{summary['policy']}",
            "--limit",
            "6",
            "--panel",
            "panel-v1",
            "--output-path",
            str(tmp_path / "eval"),
            "--no-progress",
            "--bootstrap",
            "100",
        ],
    )
    assert r.exit_code == 0, r.output
    (run_dir,) = [p.parent for p in (tmp_path / "eval").rglob("games.jsonl")]
    sides = [
        s for g in load_run(run_dir).games for s in g.to_dict()["sides"] if s["player"].startswith("policy/")
    ]
    assert len(sides) > 6 * 16 and all(s["rational"] for s in sides)
    with pytest.raises(ValueError, match="no strategy"):
        train(
            TrainConfig(out=str(tmp_path / "bad"), scripted_opponents=("nobody",), bc_games=2),
            log=lambda *_: None,
        )


def test_keep_best_exports_an_evaluated_checkpoint_even_without_intervals(tmp_path):
    """One dev scenario gives no interval: the paired curve must still be written, and keep_best
    must export one of the evaluated iterations."""
    pytest.importorskip("torch")
    from reference_trainer.train import TrainConfig, train

    cfg = TrainConfig(
        out=str(tmp_path / "run"),
        n_scenarios=40,
        bc_games=20,
        bc_epochs=1,
        iterations=2,
        games_per_iteration=16,
        eval_every=1,
        eval_limit=1,
        snapshot_every=1,
        keep_best=True,
    )
    summary = train(cfg, log=lambda *_: None)
    assert summary["iteration"] in (1, 2) and summary["decoding"] in ("sample", "greedy")
    assert load_policy(summary["policy"]).meta["iteration"] == summary["iteration"]


def test_exploit_trains_a_best_response_and_pairs_it_with_the_panel_against_the_target(tmp_path):
    """``arena-bench exploit`` on a tiny budget: the table names every challenger, the gain is the
    best response minus the best panel member on the same cells, and exploit.json holds it."""
    pytest.importorskip("torch")
    from click.testing import CliRunner

    from arena_bench.cli import main

    out = tmp_path / "exploit"
    result = CliRunner().invoke(
        main,
        ["exploit", "--target", "policy/ppo-nash-v1", "--limit", "3", "--out", str(out),
         "--set", "iterations=2", "--set", "bc_games=40", "--set", "bc_epochs=2", "--set", "games_per_iteration=64"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads((out / "exploit.json").read_text())
    scores = data["arena_score_vs_target"]
    assert "policy/ppo-nash-v1" not in scores and len(scores) == 9  # eight scripted members and the response
    best = data["best_panel_member"]
    assert scores[best] == max(v for k, v in scores.items() if k.startswith("scripted/"))
    gain = data["gain_over_best_member"]
    assert gain["cells"] == 3 * 2 * 2 and gain["lo"] <= gain["mean"] <= gain["hi"]
    response = "policy/" + data["best_response"]
    assert abs(gain["mean"] - (scores[response] - scores[best])) < 1e-9  # every cell is shared
    assert "gain over the best panel member" in result.output
    bad = CliRunner().invoke(main, ["exploit", "--target", "openai/gpt-4o", "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "scripted/NAME or policy/NAME" in bad.output


def _loop_advantages(batch, cfg):
    """GAE written game by game, the plain definition the trainer's vectorized version must equal."""
    steps, out = batch["steps"], {"adv": [], "ret": [], "game": []}
    per_game: dict[int, list] = {}
    for si, st in enumerate(steps):
        for j, k in enumerate(st["idx"]):
            per_game.setdefault(int(k), []).append((si, j))
    for k, seq in per_game.items():
        values = np.array([steps[si]["value"][j] for si, j in seq])
        phi = np.array([steps[si]["potential"][j] for si, j in seq]) if cfg.shaping else np.zeros(len(seq))
        rewards = np.zeros(len(seq))
        rewards[-1] = batch["reward"][k]
        rewards = rewards + cfg.gamma * np.append(phi[1:], 0.0) - phi
        last = 0.0
        adv = np.zeros(len(seq))
        for t in reversed(range(len(seq))):
            next_v = values[t + 1] if t + 1 < len(seq) else 0.0
            last = rewards[t] + cfg.gamma * next_v - values[t] + cfg.gamma * cfg.gae_lambda * last
            adv[t] = last
        out["adv"] += list(adv)
        out["ret"] += list(adv + values)
        out["game"] += [k] * len(seq)
    return {key: np.array(v) for key, v in out.items()}


@pytest.mark.parametrize("shaping", [True, False])
def test_bucketed_rollouts_play_exactly_as_one_batch_and_gae_matches_the_per_game_loop(monkeypatch, shaping):
    """The array environment splits a batch by outcome-space size (less padding): the games, the
    learner's samples and the rewards are exactly those of one unsplit batch. The vectorized GAE
    equals the per-game definition."""
    pytest.importorskip("torch")
    import torch

    from arena_bench.agents.policy import load_policy
    from reference_trainer import array_env
    from reference_trainer.policy import ActorCritic, load_actor
    from reference_trainer.train import TrainConfig, advantages, mix_opponents, rollout, scenario_pool

    cfg = dataclasses.replace(
        TrainConfig.from_file(ROOT / "reference_trainer/configs/default.json"),
        games_per_iteration=160,
        shaping=shaping,
    )
    scenarios = scenario_pool(cfg)[:300]
    batches = []
    # one bucket, then many (the pool's constants built once, in tables per bucket), then many with
    # the constants built from the batch's own scenarios
    for ratio, pooled in ((10**9, True), (2, True), (2, False)):
        monkeypatch.setattr(array_env, "BUCKET_RATIO", ratio)
        if not pooled:
            monkeypatch.setattr(array_env, "array_pool", lambda scenarios: None)
        rng = np.random.default_rng(3)
        torch.manual_seed(0)
        model = load_actor(ActorCritic(cfg.hidden), load_policy("ppo-nash-v2").params)
        opponents = mix_opponents(cfg, [model.actor_params()], [0.0], rng)
        batches.append(rollout(model, scenarios, cfg, rng, opponents))
        if pooled:  # the next rollout on the same pool reuses its tables
            tables = [e.games.scenario_table for e in batches[-1]["env"].envs]
            again = rollout(model, scenarios, cfg, rng, opponents)
            assert set(map(id, tables)) >= {id(e.games.scenario_table) for e in again["env"].envs}
    one, many, unpooled = batches
    assert len(one["env"].envs) == 1 and len(many["env"].envs) >= 3
    for other in (many, unpooled):
        assert np.array_equal(one["reward"], other["reward"])
        assert len(one["steps"]) == len(other["steps"])
        for a, b in zip(one["steps"], other["steps"]):
            for key in a:
                assert np.array_equal(a[key], b[key]), key
    got, want = advantages(many, cfg), _loop_advantages(many, cfg)
    assert np.array_equal(got["game"], want["game"])
    np.testing.assert_allclose(got["adv"], want["adv"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(got["ret"], want["ret"], rtol=0, atol=1e-12)
    assert np.abs(got["adv"]).max() > 0.01  # real advantages, not all zero


def test_the_sweep_configs_are_the_default_run_at_a_smaller_budget():
    """The ablation and exploit configs differ from ppo-nash-v2's only in budget and bookkeeping, so
    their tables measure the shipped recipe."""
    pytest.importorskip("torch")
    from reference_trainer.train import TrainConfig

    folder = ROOT / "reference_trainer/configs"
    default = dataclasses.asdict(TrainConfig.from_file(folder / "default.json"))
    allowed = {"iterations", "eval_every", "select_decoding", "threads", "out"}
    for name in ("ablation-v2.json", "exploit-v2.json"):
        cfg = dataclasses.asdict(TrainConfig.from_file(folder / name))
        changed = {k for k in cfg if cfg[k] != default[k]}
        assert changed <= allowed and "iterations" in changed, (name, changed)


def test_best_responses_to_different_targets_get_their_own_folders_even_from_one_config():
    pytest.importorskip("torch")
    from reference_trainer.exploit import config_for

    config = ROOT / "reference_trainer/configs/exploit-v2.json"
    a = config_for("policy/ppo-nash-v2", config, {})
    b = config_for("scripted/boulware", config, {})
    c = config_for("policy//abs/dir/policy.npz", config, {})
    assert len({a.out, b.out, c.out}) == 3 and a.out == "runs/exploit-policy_ppo-nash-v2"
    assert a.iterations == 150 and a.reward == "arena"  # the config's settings are kept
    assert config_for("scripted/boulware", config, {"out": "x"}).out == "x"


def test_a_minibatch_with_a_non_finite_gradient_is_left_out_and_counted():
    """An overflowing probability ratio makes the loss infinite and every gradient NaN; the update
    skips that minibatch (the weights stay finite and unchanged) and counts it. Finite data updates."""
    pytest.importorskip("torch")
    import torch

    from arena_bench.agents.policy import load_policy
    from reference_trainer.policy import ActorCritic, load_actor
    from reference_trainer.train import (
        TrainConfig,
        advantages,
        mix_opponents,
        ppo_update,
        rollout,
        scenario_pool,
    )

    cfg = dataclasses.replace(
        TrainConfig.from_file(ROOT / "reference_trainer/configs/default.json"),
        games_per_iteration=48,
        minibatch=64,
        ppo_epochs=1,
        threads=1,
    )
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    model = load_actor(ActorCritic(cfg.hidden), load_policy("ppo-nash-v2").params)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    data = advantages(
        rollout(
            model, scenario_pool(cfg)[:60], cfg, rng, mix_opponents(cfg, [model.actor_params()], [0.0], rng)
        ),
        cfg,
    )
    n_minibatches = -(-len(data["adv"]) // cfg.minibatch)
    before = [p.detach().clone() for p in model.parameters()]
    broken = {**data, "logp": np.full_like(data["logp"], -1e4)}  # exp(lp + 1e4) overflows
    stats = ppo_update(model, opt, broken, cfg, rng)
    assert stats["skipped_minibatches"] == n_minibatches > 1
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    stats = ppo_update(model, opt, data, cfg, rng)
    assert stats["skipped_minibatches"] == 0 and np.isfinite(stats["policy_loss"])
    after = list(model.parameters())
    assert all(torch.isfinite(p).all() for p in after)
    assert any(not torch.equal(a, b) for a, b in zip(before, after))


def test_the_gpu_sweep_script_runs_its_three_parts_on_cpu(tmp_path):
    """benchmarks/gpu_sweep.py is run on a lent GPU machine in one short call: it must not find its
    first bug there. A tiny CPU run of all three parts writes every figure to gpu_sweep.json."""
    pytest.importorskip("torch")
    import subprocess
    import sys

    cmd = [sys.executable, str(ROOT / "benchmarks/gpu_sweep.py"), "--device", "cpu", "--threads", "1"]
    cmd += [
        "--batches",
        "64",
        "--minibatch",
        "256",
        "--warmup-batch",
        "32",
        "--learn",
        "cpu:64:128,cpu:128:128",
    ]
    cmd += ["--learn-games", "128", "--bc-games", "40", "--out", str(tmp_path)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((tmp_path / "gpu_sweep.json").read_text())
    assert [r["batch"] for r in report["play"]] == [64] and report["play"][0]["games_per_s"] > 0
    assert report["train"][0]["skipped_minibatches"] == 0 and report["train"][0]["update_s"] > 0
    assert [r["setting"] for r in report["learning"]] == ["cpu:64:128", "cpu:128:128"]
    assert all(0 <= r["lo"] <= r["arena_score"] <= r["hi"] <= 1 for r in report["learning"])
    assert "overlaps cpu:64:128" in done.stdout or "does not overlap cpu:64:128" in done.stdout


def test_set_changes_one_setting_of_a_table_and_keeps_the_others(tmp_path):
    """``--set rl.iterations=4`` (the README's way to end a long run early) leaves the rest of ``rl``
    as the file has it; an unknown setting is refused before anything runs."""
    pytest.importorskip("torch")  # the trainer's command imports it
    from reference_trainer.__main__ import main as trainer_main
    from reference_trainer.__main__ import nest, parse_overrides

    raw = {"kind": "lm", "rl": {"iterations": 12, "groups": 2}}
    changes = parse_overrides(["rl.iterations=4", "out=runs/x", "rl.lr=1e-4"])
    assert nest(changes, raw) == {"out": "runs/x", "rl": {"iterations": 4, "groups": 2, "lr": 1e-4}}
    assert raw["rl"] == {"iterations": 12, "groups": 2}  # the file's settings are not changed in place
    with pytest.raises(SystemExit, match="'out' is not a table"):
        nest({"out.x": 1}, {"out": "runs"})
    config = tmp_path / "lm.json"
    config.write_text(json.dumps(raw))
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['iteration'\]"):
        trainer_main(["--config", str(config), "--set", "iteration=3"])
