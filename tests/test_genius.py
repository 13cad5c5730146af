from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from arena_bench.cli import main
from arena_bench.core.analysis import analyse
from arena_bench.scenarios.genius import GeniusError, import_genius

from .conftest import GENIUS_DIR

SMALL = Path(__file__).parent / "data" / "genius_small"


def load_small(**kw):
    return import_genius(
        (SMALL / "fruit_domain.xml").read_text(),
        (SMALL / "fruit_shop.xml").read_text(),
        (SMALL / "fruit_customer.xml").read_text(),
        scenario_id="fruit",
        role_names=("shop", "customer"),
        **kw,
    )


def test_small_domain_normalises_like_genius():
    s = load_small()
    shop, customer = s.roles
    assert s.issues[0].options == ("Apples", "Pears")  # trailing space stripped
    assert shop.weights == pytest.approx((0.6, 0.4))  # 0.60003 + 0.40002 normalised
    assert shop.values[0] == pytest.approx((0.5, 1.0))  # divided by the issue's largest evaluation
    assert shop.values[1] == pytest.approx((1 / 6, 0.5, 1.0))  # "Next week " matched despite the space
    assert customer.values[1] == pytest.approx((1.0, 0.5, 0.0))
    assert shop.batna == 0.25 and customer.batna == 0.0
    assert s.generator["discount_factor"] == [0.9, None]  # recorded, not applied
    a = analyse(s)
    # shop: u = .6*v0 + .4*v1; customer: .25*c0 + .75*c1. Hand check of one outcome: (Pears, Today)
    assert s.utilities((1, 0)) == pytest.approx((0.6 + 0.4 / 6, 0.125 + 0.75))
    assert a.zopa


def test_errors_name_the_file():
    bad = (SMALL / "fruit_customer.xml").read_text().replace('name="Delivery"', 'name="Shipping"')
    with pytest.raises(GeniusError, match="customer.xml: no <issue name='Delivery'>"):
        import_genius(
            (SMALL / "fruit_domain.xml").read_text(),
            (SMALL / "fruit_shop.xml").read_text(),
            bad,
            scenario_id="x",
            labels=("domain.xml", "shop.xml", "customer.xml"),
        )
    with pytest.raises(GeniusError, match="not well-formed"):
        import_genius("<oops", "", "", scenario_id="x")


def test_cli_import_appends_a_valid_line(tmp_path):
    out = tmp_path / "imported.jsonl"
    result = CliRunner().invoke(
        main,
        [
            "tasks",
            "import-genius",
            str(SMALL / "fruit_domain.xml"),
            str(SMALL / "fruit_shop.xml"),
            str(SMALL / "fruit_customer.xml"),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    assert [r["name"] for r in record["roles"]] == ["shop", "customer"]
    assert record["analysis"]["zopa"] is True


needs_genius = pytest.mark.skipif(not GENIUS_DIR.is_dir(), reason=f"{GENIUS_DIR} is absent")


@needs_genius
def test_real_anac_laptop():
    d = GENIUS_DIR / "laptop"
    s = import_genius(
        (d / "laptop_domain.xml").read_text(),
        (d / "laptop_buyer_utility.xml").read_text(),
        (d / "laptop_seller_utility.xml").read_text(),
        scenario_id="laptop",
        role_names=("buyer", "seller"),
    )
    assert s.n_outcomes == 27
    assert sum(s.roles[0].weights) == pytest.approx(1.0)
    assert s.roles[0].values[0] == pytest.approx((12 / 30, 20 / 30, 1.0))
    assert s.generator["discount_factor"] == pytest.approx([0.42441038, 0.42441038])


@needs_genius
def test_real_anac_acquisition_with_quirks():
    d = GENIUS_DIR / "is_bt_acquisition"
    s = import_genius(
        (d / "IS_BT_Acquisition.xml").read_text(),
        (d / "IS_BT_Acquisition_IS_prof.xml").read_text(),
        (d / "IS_BT_Acquisition_BT_prof.xml").read_text(),
        scenario_id="isbt",
        role_names=("is", "bt"),
    )
    assert len(s.issues) == 5 and s.n_outcomes == 384  # despite number_of_issues="0"
    assert all(o == o.strip() for i in s.issues for o in i.options)
    a = analyse(s)
    assert a.nash is not None and len(a.frontier) >= 2
