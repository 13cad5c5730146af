"""The array engine writes the reference loop's records, byte for byte (issue 14's conformance)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from arena_bench.errors import RunError
from arena_bench.planning import plan_cells
from arena_bench.playing.players import make_player, panel
from arena_bench.playing.runner import GameStore, choose_engine, run_cells
from arena_bench.scenarios.tasks import open_task_set

TS = open_task_set("negotiation-v1")


def _play(tmp: Path, name: str, scenarios, specs, engine: str, max_turns: int = 20, pairs=None):
    pairs = pairs or [(x, y) for i, x in enumerate(specs) for y in specs[i:]]
    cells = plan_cells(scenarios, pairs)
    store = GameStore(tmp / f"{name}.jsonl")
    stats = asyncio.run(
        run_cells(
            cells,
            {s.id: s for s in scenarios},
            {s: make_player(s) for s in specs},
            store,
            task_set=TS.full_name,
            task_hash=TS.hash,
            split=scenarios[0].id.split("-")[0],
            max_turns=max_turns,
            progress=False,
            engine=engine,
        )
    )
    store.close()
    lines = (tmp / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    return stats, {json.loads(line)["game_id"]: line for line in lines}, store.records


def _same(tmp: Path, scenarios, specs, **kw) -> int:
    a_stats, array, records = _play(tmp, "array", scenarios, specs, "array", **kw)
    r_stats, reference, _ = _play(tmp, "reference", scenarios, specs, "reference", **kw)
    assert a_stats.engine == "array" and r_stats.engine == "reference"
    assert len(array) == len(reference) == r_stats.planned
    differ = [g for g in reference if array.get(g) != reference[g]]
    assert not differ, f"{len(differ)} of {len(reference)} records differ, e.g. game {differ[0]}"
    # what the store holds in memory is what it wrote
    for r in records:
        assert json.dumps(r.to_dict(), ensure_ascii=False, separators=(",", ":")) == array[r.game_id]
    return len(reference)


def test_panel_v2_round_robin_on_dev_is_the_reference_record_for_record(tmp_path):
    """Every dev scenario, every pair of panel-v2 (policy included), both roles and move orders."""
    n = _same(tmp_path, TS.load("dev"), list(panel("panel-v2")))
    assert n == 105 * 162


@pytest.mark.slow
def test_panel_v2_round_robin_on_test_is_the_reference_record_for_record(tmp_path):
    n = _same(tmp_path, TS.load("test"), list(panel("panel-v2")))
    assert n == 315 * 162


def test_short_games_and_a_sampling_policy_conform(tmp_path):
    """A turn limit of 5 (games end on the limit) and a policy that samples with its own generator."""
    from importlib import resources

    shipped = Path(str(resources.files("arena_bench").joinpath("policies/ppo-nash-v1.npz")))
    with np.load(shipped, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["__meta__"]))
    meta["decoding"] = "sample"
    arrays["__meta__"] = np.array(json.dumps(meta))
    sampling = tmp_path / "sampling.npz"
    np.savez(sampling, **arrays)
    specs = [f"policy/{sampling}", "scripted/random-rational", "scripted/tit-for-tat", "scripted/logroller"]
    scenarios = TS.load("lite")[:6]
    assert _same(tmp_path, scenarios, specs, max_turns=5) == 6 * 2 * 16
    (tmp_path / "full").mkdir()
    assert _same(tmp_path / "full", scenarios, specs) == 6 * 2 * 16


def _variant(tmp_path: Path, name: str, **meta_changes) -> Path:
    """ppo-nash-v1's weights with other meta (decoding, guard) in a file of its own."""
    from importlib import resources

    shipped = Path(str(resources.files("arena_bench").joinpath("policies/ppo-nash-v1.npz")))
    with np.load(shipped, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = {**json.loads(str(arrays["__meta__"])), **meta_changes}
    arrays["__meta__"] = np.array(json.dumps(meta))
    path = tmp_path / f"{name}.npz"
    np.savez(path, **arrays)
    return path


def test_a_guarded_policy_conforms_and_never_deals_below_its_batna(tmp_path):
    """The batna guard: both engines mask the same accepts and replace the same offers; no side played
    by the guarded policy ends a deal below its BATNA, where the unguarded weights do on the same cells."""
    guarded = _variant(tmp_path, "guarded", guard="batna", decoding="sample")
    plain = _variant(tmp_path, "plain", decoding="sample")
    opponents = ["scripted/pushover", "scripted/conceder", "scripted/random-rational", "scripted/logroller"]
    scenarios = [s for s in TS.load("dev") if s.stratum in ("no_zopa", "asymmetric_batna")][:16]
    pairs = [(f"policy/{guarded}", o) for o in opponents] + [(f"policy/{guarded}", f"policy/{guarded}")]
    specs = [f"policy/{guarded}", *opponents]
    assert _same(tmp_path, scenarios, specs, pairs=pairs) == len(scenarios) * (
        4 * 4 + 2
    )  # self-play: 2 cells

    def below(path: Path) -> tuple[int, int]:
        spec = f"policy/{path}"
        pairs = [(spec, o) for o in opponents]
        _, _, records = _play(
            tmp_path / path.stem, "games", scenarios, [spec, *opponents], "array", pairs=pairs
        )
        sides = [s for r in records for s in r.to_dict()["sides"] if s["player"] == spec]
        return sum(not s["rational"] for s in sides), len(sides)

    for p in (guarded, plain):
        (tmp_path / p.stem).mkdir()
    bad_guarded, n = below(guarded)
    bad_plain, _ = below(plain)
    assert n == len(scenarios) * 4 * 4
    assert bad_guarded == 0
    assert bad_plain > 0, "the unguarded weights should make some below-BATNA deals here"


def test_an_unknown_guard_is_refused_when_loaded(tmp_path):
    from arena_bench.errors import PolicyError

    path = _variant(tmp_path, "odd", guard="oracle")
    with pytest.raises(PolicyError, match="guard 'oracle'"):
        make_player(f"policy/{path}")


def test_micro_and_hardheaded_conform(tmp_path):
    """The ANAC strategies (MiCRO draws from its own generator when it may not concede)."""
    specs = [
        "scripted/micro",
        "scripted/hardheaded",
        "scripted/boulware",
        "scripted/hardliner",
        "policy/ppo-nash-v1",
    ]
    assert _same(tmp_path, TS.load("dev")[:12], specs) == 12 * 2 * 25


def test_a_resumed_array_run_plays_only_what_is_missing(tmp_path):
    scenarios = TS.load("dev")[:4]
    specs = ["scripted/boulware", "scripted/pushover", "scripted/random-rational"]
    cells = plan_cells(scenarios, [(x, y) for i, x in enumerate(specs) for y in specs[i:]])
    path = tmp_path / "games.jsonl"

    def go(cells_now):
        store = GameStore(path)
        stats = asyncio.run(
            run_cells(
                cells_now,
                {s.id: s for s in scenarios},
                {s: make_player(s) for s in specs},
                store,
                task_set=TS.full_name,
                task_hash=TS.hash,
                split="dev",
                progress=False,
                engine="array",
            )
        )
        store.close()
        return stats

    first = go(cells[: len(cells) // 3])
    with open(path, "a", encoding="utf-8") as fh:  # a crash while writing: a torn last line
        fh.write('{"game_id": "torn')
    second = go(cells)
    assert second.skipped_done == first.completed
    assert second.completed == len(cells) - first.completed
    ids = [json.loads(line)["game_id"] for line in path.read_text().splitlines()]
    assert len(ids) == len(set(ids)) == len(cells)
    assert (tmp_path / "games.rejected.jsonl").exists()


def test_engine_choice():
    assert choose_engine("auto", ["scripted/boulware", "policy/ppo-nash-v1"]) == "array"
    assert choose_engine("auto", ["scripted/boulware", "openai/gpt-4o-mini"]) == "reference"
    assert choose_engine("auto", ["scripted/boulware", "scripted/micro"]) == "array"
    assert choose_engine("auto", ["scripted/boulware", "scripted/injector"]) == "reference"  # no array form
    assert choose_engine("auto", ["scripted/boulware"], probe=True) == "reference"
    assert choose_engine("reference", ["scripted/boulware"]) == "reference"
    with pytest.raises(RunError, match="openai/gpt-4o-mini has no array form"):
        choose_engine("array", ["scripted/boulware", "openai/gpt-4o-mini"])
    with pytest.raises(RunError, match="probes"):
        choose_engine("array", ["scripted/boulware"], probe=True)
    with pytest.raises(RunError, match="unknown engine"):
        choose_engine("fast", ["scripted/boulware"])


def test_cli_engines_give_the_same_run(tmp_path):
    """``tournament --engine array`` and ``--engine reference``: the same run id, games and statistics."""
    from click.testing import CliRunner

    from arena_bench.cli import main

    out = {}
    for engine in ("array", "reference"):
        result = CliRunner().invoke(
            main,
            ["tournament", "--agents", "scripted/boulware,scripted/logroller,policy/ppo-nash-v1", "--split", "lite",
             "--limit", "3", "--engine", engine, "--no-progress", "--output-path", str(tmp_path / engine),
             "--bootstrap", "200"],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        (run_dir,) = (tmp_path / engine / "tournament").iterdir()
        results = json.loads((run_dir / "results.json").read_text())
        assert results["counts"]["engine"] == engine
        games = sorted((run_dir / "games.jsonl").read_text().splitlines())
        out[engine] = (run_dir.name, games, results["statistics"])
    assert out["array"] == out["reference"]


def test_the_trainers_array_environment_sees_what_the_batched_one_sees():
    """reference_trainer's ArrayEnv (rollouts on the array engine) against its BatchedEnv: the same
    actions give the same features, utilities and rewards' inputs at every turn."""
    from arena_bench.agents.policy import ACCEPT, PROPOSE, WALK
    from reference_trainer.array_env import ArrayEnv
    from reference_trainer.reference_env import BatchedEnv
    from reference_trainer.scenarios import generated_scenarios

    rng = np.random.default_rng(3)
    pool = generated_scenarios(5, 40, lambda i: f"train-{i:04d}")
    scenarios = [pool[int(i)] for i in rng.integers(len(pool), size=64)]
    first = rng.integers(2, size=64)
    old = BatchedEnv(scenarios, first)
    new = ArrayEnv(scenarios, first, np.zeros(64, dtype=int), [None] * 64, [0] * 64)
    while not old.done.all():
        live = np.flatnonzero(~old.done)
        assert np.array_equal(live, np.flatnonzero(~new.done))
        for a, b in zip(old.observe(live), new.observe(live)):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
        # utilities differ by rounding (the engine rounds grids to 12 decimals); sqrt lifts 1e-17 to 1e-9
        np.testing.assert_allclose(old.table_potential(), new.table_potential(), atol=1e-7)
        can = old.can_accept(live)
        kind = np.where(can & (rng.random(len(live)) < 0.15), ACCEPT, PROPOSE)
        kind = np.where(rng.random(len(live)) < 0.02, WALK, kind)
        offers = np.full((len(live), 8), -1)
        for j, k in enumerate(live):
            shape = scenarios[k].shape
            offers[j, : len(shape)] = [rng.integers(n) for n in shape]
        old.step(live, kind, offers)
        new.step(live, kind, offers)
    assert np.array_equal(old.deal, new.deal)
    np.testing.assert_allclose(old.utilities(), new.utilities(), atol=1e-9)
    np.testing.assert_allclose(old.shares(), new.shares(), atol=1e-9)
    np.testing.assert_allclose(old.welfare(), new.welfare(), atol=1e-9)
    np.testing.assert_allclose(old.counts, new.counts)


def test_the_window_search_is_searchsorted_row_by_row():
    """ArrayGames.search (one searchsorted over complex keys) against np.searchsorted on each
    scenario's sorted utilities: both sides, ties, values outside the range and at its ends."""
    from arena_bench.arrays.batch import ArrayGames, GameSpec

    scenarios = TS.load("dev")[:12]
    games = ArrayGames([GameSpec(s, ("scripted/boulware", "scripted/linear"), 0, (0, 0)) for s in scenarios])
    rng = np.random.default_rng(5)
    order, u_sorted, _ = games.sorted_outcomes
    sc = rng.integers(len(scenarios), size=4000)
    role = rng.integers(2, size=4000)
    size = games.n_outcomes[sc]
    # existing utilities (ties), random ones, the ends and beyond
    pick = u_sorted[sc, role, (rng.random(4000) * size).astype(int)]
    x = np.where(rng.random(4000) < 0.5, pick, rng.uniform(-0.2, 1.2, 4000))
    x[:4] = [-np.inf, np.inf, 0.0, 1.0]
    for right in (False, True):
        got = games.search(sc, role, x, right=right)
        want = [
            np.searchsorted(u_sorted[k, r, :n], v, side="right" if right else "left")
            for k, r, n, v in zip(sc, role, size, x)
        ]
        assert got.tolist() == want
    for k in range(len(scenarios)):  # the order sorts each role's utilities, ties in outcome order
        for r in (0, 1):
            n = games.n_outcomes[k]
            assert np.array_equal(order[k, r, :n], np.argsort(games.U[k, r, :n], kind="stable"))


def test_the_window_rule_picks_what_the_reference_mask_picks():
    """Strategy.near_target against ScriptedAgent.near_target's own steps (a mask over every
    outcome, the model's grid, the first best), for targets that leave the window empty too."""
    from arena_bench.arrays.batch import ArrayGames, GameSpec
    from arena_bench.arrays.strategies import Strategy

    rng = np.random.default_rng(8)
    scenarios = TS.load("dev")[:30]
    specs = [GameSpec(scenarios[int(i)], ("a", "b"), 0, (0, 0)) for i in rng.integers(30, size=300)]
    games = ArrayGames(specs)
    seats = np.arange(2 * games.n)
    # a model with some history: random counts and unchanged issues
    live = np.arange(games.n_issues_max)[None, :] < games.n_issues[games.seat_sc][:, None]
    games.counts[:] = rng.integers(0, 4, games.counts.shape) * live[:, :, None]
    games.unchanged[:] = rng.integers(0, 3, games.unchanged.shape) * live
    strategy = Strategy(games, seats, [0] * len(seats))
    best = games.seat_best
    for width in (0.0, 0.01, 0.05, 0.3):
        target = (
            best
            - rng.uniform(0, 1, len(seats)) * (best - games.seat_batna)
            - rng.choice([0, 1e-13], len(seats))
        )
        got = strategy.near_target(seats, target, best, width)
        grid = games.model_grid(seats)
        for j, seat in enumerate(seats):
            u = games.U[games.seat_sc[seat], games.seat_role[seat], : games.n_outcomes[games.seat_sc[seat]]]
            t = min(target[j], best[j])
            ok = np.flatnonzero((u >= t - 1e-12) & (u <= t + width))
            if ok.size == 0:
                above = np.flatnonzero(u >= t - 1e-12)
                ok = above[u[above] == u[above].min()]
            est = grid[j, ok]
            top = ok[est >= est.max() - 1e-12]
            assert got[j] == top[np.argmax(u[top])], (width, j)


def test_a_shared_scenario_table_plays_as_the_batchs_own_and_refuses_foreign_scenarios():
    """Games over a table of a larger pool (the trainer's: built once, shared by every batch) play
    exactly as over a table of their own scenarios; the table is read-only, and a scenario it does
    not hold, or another scenario under one of its ids, is refused by name."""
    import dataclasses

    from arena_bench.arrays.batch import ArrayGames, GameSpec, ScenarioTable
    from arena_bench.arrays.registry import strategy_for

    pool = TS.load("dev")[:40]
    table = ScenarioTable(pool[::-1])  # other rows, other padding than the batch's own
    rng = np.random.default_rng(2)
    players = ("scripted/hardheaded", "scripted/logroller")
    specs = [
        GameSpec(pool[int(i)], players, int(i) % 2, (int(i), int(i) + 1)) for i in rng.integers(10, size=60)
    ]

    def play(games):
        seats = [np.arange(0, 2 * games.n, 2), np.arange(1, 2 * games.n, 2)]
        moves = [strategy_for(p)(games, s, [7] * len(s)) for p, s in zip(players, seats)]
        for t in range(games.max_turns):
            open_ = np.flatnonzero(~games.done)
            if not open_.size:
                break
            role = (games.first[open_] + t) % 2
            kind, flat = np.empty(open_.size, dtype=int), np.empty(open_.size, dtype=int)
            for r in (0, 1):
                sel = role == r
                kind[sel], flat[sel] = moves[r].decide(t, open_[sel], 2 * open_[sel] + r)
            games.apply(t, open_, kind, flat)
        return games.hist_kind, games.hist_flat, games.agreement

    own, shared = ArrayGames(specs), ArrayGames(specs, table=table)
    assert shared.k == max(s.n_outcomes for s in pool) > own.k
    for a, b in zip(play(own), play(shared)):
        assert np.array_equal(a, b)
    assert (shared.hist_kind >= 0).sum() > 100  # real games were played
    with pytest.raises(ValueError, match="read-only"):
        shared.U[0, 0, 0] = 1.0
    other = TS.load("dev")[50]
    with pytest.raises(ValueError, match=f"{other.id}.*not in this scenario table"):
        ArrayGames([GameSpec(other, players, 0, (0, 0))], table=table)
    impostor = dataclasses.replace(pool[0], roles=pool[0].roles[::-1])
    with pytest.raises(ValueError, match="differs from the table's scenario"):
        ArrayGames([GameSpec(impostor, players, 0, (0, 0))], table=table)
