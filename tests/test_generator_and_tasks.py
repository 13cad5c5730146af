from __future__ import annotations

import collections
import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from arena_bench.cli import main
from arena_bench.core.analysis import analyse
from arena_bench.scenarios.families import FAMILIES
from arena_bench.scenarios.generator import (
    STRATA,
    GeneratorConfig,
    draw_params,
    generate_scenario,
    generate_split,
)
from arena_bench.scenarios.tasks import TaskSetError, build_files, open_task_set, validate_task_set

from .conftest import TASKS_V1


def small_config(**kw):
    return GeneratorConfig(per_cell={"dev": 1, "test": 1}, **kw)


def test_same_seed_same_scenarios_and_different_seed_differs():
    c = small_config()
    assert generate_split(c, "dev") == generate_split(c, "dev")
    other = generate_split(GeneratorConfig(seed=1, per_cell={"dev": 1, "test": 1}), "dev")
    assert [s.roles for s in other] != [s.roles for s in generate_split(c, "dev")]


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("stratum", STRATA)
def test_every_family_and_stratum_keeps_its_promises(family, stratum):
    if stratum == "compatible" and not FAMILIES[family].supports_compatible:
        pytest.skip("item division has no compatible issues")
    for seed in range(4):
        rng = np.random.default_rng(seed)
        params = draw_params(family, stratum, rng, GeneratorConfig())
        s = generate_scenario("x", params, rng)
        a = analyse(s)
        assert a.zopa == (stratum != "no_zopa")
        for role in s.roles:
            # the stated top priority is a highest-weight issue
            top = s.issues[int(np.argmax(role.weights))].name.replace("_", " ")
            first_sentence = role.narrative.split(". ")[1]
            assert "matters most" in first_sentence and top in first_sentence
            assert f"worth {round(100 * role.batna)} points" in role.narrative
            for i, issue in enumerate(s.issues):
                best = issue.options[int(np.argmax(role.values[i]))]
                assert f"prefer {best!r}" in role.narrative
        if stratum == "compatible":
            names = s.generator["compatible_issues"]
            assert names
            for name in names:
                i = [x.name for x in s.issues].index(name)
                assert np.argmax(s.roles[0].values[i]) == np.argmax(s.roles[1].values[i])
        if stratum == "asymmetric_batna":
            f = s.generator["batna_factors"]
            assert max(f) >= 0.6 and min(f) <= 0.15


def test_priority_correlation_controls_logrolling():
    c = GeneratorConfig()
    ip = collections.defaultdict(list)
    for seed in range(40):
        for stratum in ("distributive", "integrative"):
            rng = np.random.default_rng(seed)
            s = generate_scenario("x", draw_params("software_renewal", stratum, rng, c), rng)
            ip[stratum].append(analyse(s).integrative_potential)
    assert np.mean(ip["integrative"]) > np.mean(ip["distributive"]) + 0.1


def test_shipped_task_set_is_valid_and_balanced():
    assert validate_task_set(TASKS_V1) == []
    ts = open_task_set("negotiation-v1")
    assert ts.manifest["splits"]["dev"] >= 100 and ts.manifest["splits"]["test"] >= 300
    assert ts.manifest["splits"]["lite"] >= 30
    test, lite = ts.load("test"), ts.load("lite")
    assert {s.id for s in lite} <= {s.id for s in test}
    for split in (test, lite):
        counts = collections.Counter(s.stratum for s in split)
        assert set(counts) == set(STRATA)
        assert len(set(counts.values())) == 1  # strata exactly balanced
        assert set(collections.Counter(s.family for s in split)) == set(FAMILIES)


@pytest.mark.slow
def test_regenerates_byte_for_byte_slow():
    config = GeneratorConfig.from_dict(json.loads((TASKS_V1 / "generator.json").read_text()))
    for name, data in build_files(config).items():
        assert (TASKS_V1 / name).read_bytes() == data, name


def test_cli_generate_reproduces_v1_byte_for_byte(tmp_path):
    out = tmp_path / "negotiation-v1"
    r = CliRunner().invoke(
        main, ["tasks", "generate", "--config", str(TASKS_V1 / "generator.json"), "--out", str(out)]
    )
    assert r.exit_code == 0, r.output
    for f in TASKS_V1.iterdir():
        assert (out / f.name).read_bytes() == f.read_bytes(), f.name
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left
    again = CliRunner().invoke(main, ["tasks", "generate", "--out", str(out)])
    assert again.exit_code == 2 and "already exists" in again.output


def test_tampering_is_caught_with_file_line_and_field(tmp_path):
    copy = tmp_path / "ts"
    shutil.copytree(TASKS_V1, copy)
    lines = (copy / "dev.jsonl").read_text().splitlines()
    record = json.loads(lines[4])
    record["analysis"]["nash"]["u"][0] += 0.01
    lines[4] = json.dumps(record)
    (copy / "dev.jsonl").write_text("\n".join(lines) + "\n")
    problems = validate_task_set(copy)
    assert any("dev.jsonl: sha256 differs" in p for p in problems)
    assert any("dev.jsonl:5:" in p and "analysis.nash" in p for p in problems)
    with pytest.raises(TaskSetError, match="dev.jsonl: sha256 differs"):
        open_task_set(copy)
    r = CliRunner().invoke(main, ["tasks", "validate", str(copy)])
    assert r.exit_code == 1 and "dev.jsonl:5:" in r.output


def test_bad_line_is_reported_with_its_number(tmp_path):
    copy = tmp_path / "ts"
    shutil.copytree(TASKS_V1, copy)
    lines = (copy / "lite.jsonl").read_text().splitlines()
    record = json.loads(lines[2])
    record["roles"][0]["batna"] = 1.5
    lines[2] = json.dumps(record)
    (copy / "lite.jsonl").write_text("\n".join(lines) + "\n")
    problems = validate_task_set(copy)
    assert any("lite.jsonl:3:" in p and "batna" in p for p in problems)


def test_unknown_task_set_suggests_the_right_name():
    with pytest.raises(TaskSetError, match="did you mean 'negotiation-v1'"):
        open_task_set("negotiaton-v1")


def test_datasets_loads_every_split(tmp_path):
    datasets = pytest.importorskip("datasets")
    files = {s: str(TASKS_V1 / f"{s}.jsonl") for s in ("dev", "test", "lite")}
    d = datasets.load_dataset("json", data_files=files, cache_dir=str(tmp_path / "c1"))
    ts = open_task_set(TASKS_V1)
    for split, n in ts.manifest["splits"].items():
        assert d[split].num_rows == n
    assert d["test"][0]["analysis"]["frontier"]["u"] == ts.load_with_analysis("test")[0][1]["frontier"]["u"]
    # the dataset card's configs: load the folder as a Hub-style dataset repository
    d2 = datasets.load_dataset(str(TASKS_V1), cache_dir=str(tmp_path / "c2"))
    assert d2["lite"].num_rows == ts.manifest["splits"]["lite"]
    assert d2["test"][3]["id"] == ts.load("test")[3].id


def test_cli_show_and_list():
    r = CliRunner().invoke(main, ["tasks", "show", "test-0003"])
    assert r.exit_code == 0, r.output
    assert "Nash:" in r.output and "Private brief of" in r.output and "no deal (BATNA)" in r.output
    r = CliRunner().invoke(main, ["tasks", "show", "test-003"])
    assert r.exit_code == 2 and "did you mean" in r.output
    r = CliRunner().invoke(main, ["tasks", "list", "--split", "lite"])
    assert (
        r.exit_code == 0
        and f"lite: {open_task_set(TASKS_V1).manifest['splits']['lite']} scenarios" in r.output
    )
