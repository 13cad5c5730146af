"""A person plays the panel in a real browser (issue 27): Chromium drives whole games on the
``arena-bench play`` page by clicking (propose, accept, walk away); the run folder it leaves is an
ordinary run that passes validate-results and shows on the board as a human row."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from arena_bench.board.leaderboard import build
from arena_bench.board.verify import Expected, validate_and_verify
from arena_bench.scenarios.tasks import open_task_set

CHROMIUM = Path("/usr/bin/chromium")
ONE_SCENARIO = {
    "name": "play-test", "version": 1, "seed": 99, "per_cell": {"dev": 1, "test": 1}, "lite_per_cell": 1,
    "families": ["job_offer"], "strata": ["integrative"], "max_issues": 3,
}  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)"
)
def test_a_person_plays_whole_games_by_clicking_and_the_run_is_verified_and_shown(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    (tmp_path / "gen.json").write_text(json.dumps(ONE_SCENARIO))
    cli = [sys.executable, "-m", "arena_bench.cli"]
    made = subprocess.run([*cli, "tasks", "generate", "--config", tmp_path / "gen.json", "--out", tmp_path / "set"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert made.returncode == 0, made.stderr
    port = _free_port()
    server = subprocess.Popen(
        [*cli, "play", "--handle", "tester", "--tasks", str(tmp_path / "set"), "--split", "test", "--port", str(port),
         "--output-path", str(tmp_path / "runs")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ},
    )  # fmt: skip
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for _ in range(100):
                try:
                    page.goto(f"http://127.0.0.1:{port}/")
                    break
                except Exception:  # noqa: BLE001 - the server is still starting
                    time.sleep(0.2)
            page.wait_for_selector("#consent:not([hidden])")
            assert "human/tester" in page.locator("#consent-text").inner_text()
            page.locator("#agree").check()
            page.locator("#start").click()
            clicks = {"propose": 0, "accept": 0, "walk": 0}
            proposed_points = None
            while True:
                page.wait_for_selector("#game:not([hidden]), #done:not([hidden])", timeout=60_000)
                if page.locator("#done").is_visible():
                    break
                turn = page.locator("#turn-prompt").inner_text()
                game = page.locator("#game-title").inner_text()
                assert "Your points for each option" in page.locator("#system-prompt").inner_text()
                if game.startswith("Game 1:") and clicks["propose"] == 0:
                    # build an offer: the best option of every issue, the total shown as it is built
                    for sel in page.locator("#builder select").all():
                        options = sel.locator("option").all_inner_texts()
                        best = max(
                            range(len(options)), key=lambda i: float(options[i].rsplit("(", 1)[1].split()[0])
                        )
                        sel.select_option(index=best)
                    proposed_points = float(page.locator("#offer-points").inner_text())
                    page.locator("#message").fill("I need the best terms on everything.")
                    page.locator("#propose").click()
                    clicks["propose"] += 1
                elif "On the table from" in turn and clicks["accept"] == 0:
                    page.locator("#accept").click()
                    clicks["accept"] += 1
                else:
                    page.locator("#walk").click()
                    clicks["walk"] += 1
                page.wait_for_timeout(50)
            assert "games are saved in" in page.locator("#done-text").inner_text()
            browser.close()
        out, err = server.communicate(timeout=60)
        assert server.returncode == 0, err[-2000:]
    finally:
        if server.poll() is None:
            server.kill()
    assert clicks["propose"] == 1 and clicks["accept"] == 1 and clicks["walk"] > 10 and proposed_points > 50
    (results,) = (tmp_path / "runs").glob("*/*/results.json")
    assert validate_and_verify(results.parent) == []
    data = json.loads(results.read_text())
    assert data["players"]["human/tester"] == {
        "spec": "human/tester",
        "kind": "human",
        "interface": "play-web/1",
    }
    assert data["config"]["player_options"]["human/tester"]["interface"] == "play-web/1"
    games = [json.loads(line) for line in (results.parent / "games.jsonl").read_text().splitlines()]
    human_turns = [t for g in games for t in g["turns"] if g["players"][t["role"]] == "human/tester"]
    assert {t["action"]["kind"] for t in human_turns if t["action"]} == {"propose", "accept", "walk_away"}
    assert any(t["message"] == "I need the best terms on everything." for t in human_turns)
    # the board shows it as a human row
    folder = tmp_path / "board"
    (folder / "submissions" / "tester").mkdir(parents=True)
    os.rename(results.parent, folder / "submissions" / "tester" / results.parent.name)
    ts = open_task_set(tmp_path / "set")
    summary = build(
        folder,
        tmp_path / "site",
        Expected(task_hash=ts.hash, split="test"),
        b=50,
        task_set=str(tmp_path / "set"),
    )
    rows = {e["model"]: e for e in summary["entries"]}
    assert set(rows) == {"human/tester", "humans (all people)"} and rows["human/tester"]["source"] == "human"
    assert (
        rows["humans (all people)"]["people"] == 1
        and rows["humans (all people)"]["games"] == rows["human/tester"]["games"]
    )
