"""The built site in a real browser: headless Chromium driven by Playwright."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest

from arena_bench.board.leaderboard import build
from arena_bench.board.verify import expected_for
from arena_bench.playing.players import UnknownPlayer

from .leaderboard_fixtures import evaluation_run, rename_model, tournament_run

CHROMIUM = Path("/usr/bin/chromium")
EVIL = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    base = tmp_path_factory.mktemp("lb")
    runs = base / "runs"
    t = tournament_run(runs, ("scripted/boulware", "scripted/conceder", "scripted/hardliner"))
    e = evaluation_run(runs, "scripted/logroller")
    data = base / "snapshot"
    shutil.copytree(t, data / "baselines" / "tournament" / t.name)
    shutil.copytree(e, data / "submissions" / "logroller" / e.name)
    t2 = tournament_run(base / "runs2", ("scripted/linear", "scripted/pushover"))
    rename_model(t2, "scripted/pushover", EVIL, data / "submissions" / "evil" / t2.name)
    partial = evaluation_run(runs, "scripted/linear", limit=3)
    shutil.copytree(partial, data / "submissions" / "linear" / partial.name)
    out = base / "site"
    summary = build(data, out, expected_for("negotiation-v1", "lite"), b=300)
    return out, summary


def test_build_recomputes_ranks_and_lists_refusals(site):
    out, summary = site
    models = [e["model"] for e in summary["entries"]]
    assert set(models) == {
        "scripted/boulware",
        "scripted/conceder",
        "scripted/hardliner",
        "scripted/logroller",
        "scripted/linear",
        EVIL,
    }
    scores = [e["metrics"]["arena_score"]["mean"] for e in summary["entries"]]
    assert scores == sorted(scores, reverse=True)
    assert len(summary["refused"]) == 1 and "partial" in summary["refused"][0]["reasons"][0]
    assert (out / "README.md").read_text().startswith("---") and "sdk: static" in (
        out / "README.md"
    ).read_text()
    html = (out / "index.html").read_text()
    assert EVIL not in html and "http://" not in html.replace("http://www.w3.org", "")  # escaped; no CDN


@pytest.fixture(scope="module")
def server(site):
    out, _ = site
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(out))

    class Quiet(handler.func):  # type: ignore[name-defined]
        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(out)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)"
)
def test_page_in_a_real_browser(site, server, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    _, summary = site
    dialogs = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(f"{server}/index.html")
        rows = page.locator("#leaderboard tbody tr")
        assert rows.count() == len(summary["entries"])
        shown = [rows.nth(i).get_attribute("data-model") for i in range(rows.count())]
        assert shown == [e["model"] for e in summary["entries"]]  # rank order
        # sort by Value (descending on first click)
        page.locator("#leaderboard th", has_text="Value").click()
        values = [
            float(rows.nth(i).locator("td").nth(5).get_attribute("data-value")) for i in range(rows.count())
        ]
        assert values == sorted(values, reverse=True)
        assert [rows.nth(i).get_attribute("data-model") for i in range(rows.count())] != shown or len(
            set(values)
        ) == 1
        # every row says who produced it; the note says why the held-out column is the authoritative one
        assert rows.nth(0).locator("td.source").inner_text() in ("self-reported", "maintainers")
        assert "Self-reported" in page.locator("#provenance-note").inner_text()
        # the hostile name is text, and nothing ran
        assert page.locator("#leaderboard td.name", has_text=EVIL).count() == 1
        assert page.locator('img[src="x"]').count() == 0
        assert (
            page.locator("#crossplay rect").count() > 0
            and page.locator("#strata tbody tr").count() == rows.count()
        )
        page.screenshot(path=str(tmp_path / "leaderboard.png"), full_page=True)
        # a model page: transcripts and the offer trace
        page.locator("#leaderboard a", has_text="scripted/logroller").click()
        page.wait_for_selector(".transcript")
        assert page.locator(".transcript").count() >= 1
        assert page.locator('img[alt="offer trace"]').evaluate("img => img.naturalWidth") > 0
        page.goto(f"{server}/index.html")
        page.locator("#leaderboard a", has_text=EVIL).click()
        page.wait_for_selector(".transcript")
        assert page.locator("h1").inner_text() == EVIL and page.locator('img[src="x"]').count() == 0
        page.screenshot(path=str(tmp_path / "model.png"), full_page=True)
        browser.close()
    assert dialogs == []
    assert (tmp_path / "leaderboard.png").stat().st_size > 10_000


def test_another_split_gets_a_table_of_its_own_with_best_and_worst_games(site, tmp_path):
    """Runs on lite in a build for test: refused with the reason unless --also-split lite gives them
    their own table, verified and recomputed the same way, with wall time, pace and pages."""
    import json

    out, _ = site
    data = out.parent / "snapshot"
    alone = build(data, tmp_path / "plain", expected_for("negotiation-v1", "test"), b=200)
    assert alone["entries"] == [] and all(
        "played on split 'lite'" in r["reasons"][0] for r in alone["refused"]
    )
    summary = build(
        data, tmp_path / "site", expected_for("negotiation-v1", "test"), b=200, extra_splits=("lite",)
    )
    lite = summary["splits"]["lite"]
    assert {e["model"] for e in lite} >= {"scripted/logroller", "scripted/boulware"}
    # the partial lite run is refused by the lite table, and listed (it used to vanish: issue 29)
    assert [(r["split"], "partial split" in r["reasons"][0]) for r in summary["refused"]] == [("lite", True)]
    index = (tmp_path / "site" / "index.html").read_text()
    assert "<h2>Split lite</h2>" in index and EVIL not in index
    lite_table = index.split("<table class='split' id='split-lite'>")[1].split("</table>")[0]
    assert (
        "<span class='ci'>[" in lite_table and "&lt;span" not in lite_table
    )  # intervals as markup, not text
    for e in lite:
        assert e["wall_s"] > 0 and e["games_per_s"] > 0 and e["sessions"] == 1
        page = (tmp_path / "site" / "models" / e["page"]).read_text()
        payload = json.loads(
            page.split('<script id="data" type="application/json">')[1].split("</script>")[0]
        )
        titles = [t["title"] for t in payload["transcripts"]]
        assert titles[0].startswith("Best game") and titles[1].startswith("Worst game")


def test_a_board_for_another_panel_skips_other_panels_baselines_and_refuses_their_submissions(site, tmp_path):
    out, _ = site
    data = out.parent / "snapshot"
    alt = tmp_path / "data"
    shutil.copytree(data / "baselines" / "tournament", alt / "baselines" / "panel-v2")
    shutil.copytree(data / "submissions" / "logroller", alt / "submissions" / "logroller")
    summary = build(alt, tmp_path / "site", expected_for("negotiation-v1", "lite", "panel-v3"), b=100)
    assert summary["entries"] == []
    (refused,) = summary[
        "refused"
    ]  # the submission, with the reason; panel-v2's baselines are not this board's
    assert refused["run"].startswith("submissions/") and "panel 'panel-v2' differs" in refused["reasons"][0]
    with pytest.raises(UnknownPlayer, match="panel-v9"):
        expected_for("negotiation-v1", "lite", "panel-v9")


def _serve(folder: Path):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))

    class Quiet(handler.func):  # type: ignore[name-defined]
        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)"
)
def test_at_1400_px_nothing_is_off_screen_the_heatmap_has_a_legend_and_an_empty_board_says_so(
    site, server, tmp_path
):
    """Issue 29: the settings table, the lite table and the heatmap's last label fit a 1,400 px
    window; the heatmap's columns follow the rows' rank and it has a colour legend; a board built
    from lite runs only says why its main table is empty."""
    import json as _json

    sync_api = pytest.importorskip("playwright.sync_api")
    out, summary = site
    data = out.parent / "snapshot"
    # a model whose backend description is long and nested, as an API model's is
    long_run = next((data / "submissions" / "logroller").iterdir())
    lite_only = tmp_path / "data"
    shutil.copytree(long_run, lite_only / "submissions" / "logroller" / long_run.name)
    results = _json.loads((long_run / "results.json").read_text())
    results["players"]["scripted/logroller"]["backend"] = {
        "client": "openai-lean", "servers": [f"http://10.0.0.{i}:8000/v1" for i in range(12)],
        "retries": {"max": 6, "base_s": 1.0}, "note": "x" * 400,
    }  # fmt: skip
    (lite_only / "submissions" / "logroller" / long_run.name / "results.json").write_text(
        _json.dumps(results)
    )
    built = build(
        lite_only, tmp_path / "site", expected_for("negotiation-v1", "test"), b=100, extra_splits=("lite",)
    )
    (entry,) = built["splits"]["lite"]
    httpd = _serve(tmp_path / "site")
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{url}/index.html")
            assert "No run on split test has been accepted yet" in page.locator("#no-entries").inner_text()
            table = page.locator("#split-lite").bounding_box()
            assert table["x"] + table["width"] <= 1400, table
            page.screenshot(path=str(tmp_path / "lite-only.png"), full_page=True)
            page.goto(f"{url}/models/{entry['page']}")
            settings = page.locator("#settings")
            box = settings.bounding_box()
            assert box["x"] + box["width"] <= 1400, box
            for cell in settings.locator("td").all():
                b = cell.bounding_box()
                assert b["x"] + b["width"] <= 1400, (cell.inner_text()[:60], b)
            assert "servers:" in settings.inner_text() and "kind" in settings.inner_text()
            page.screenshot(path=str(tmp_path / "settings.png"), full_page=True)
            # the main site's heatmap: a legend, the last label inside the picture, columns by rank
            page.goto(f"{server}/index.html")
            assert page.locator("#crossplay-legend rect").count() >= 11
            svg = page.locator("#crossplay").bounding_box()
            labels = page.locator("#crossplay > text")
            right = max(
                labels.nth(i).bounding_box()["x"] + labels.nth(i).bounding_box()["width"]
                for i in range(labels.count())
            )
            assert right <= svg["x"] + svg["width"] + 1
            ranked = [e["model"] for e in summary["entries"]]
            heads = [t for t in (labels.nth(i).text_content() for i in range(labels.count())) if t in ranked]
            assert heads[: len(ranked)] == ranked  # the column labels come first, in rank order
            browser.close()
    finally:
        httpd.shutdown()
    assert (tmp_path / "settings.png").stat().st_size > 10_000
