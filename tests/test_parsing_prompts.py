from __future__ import annotations

import json

import pytest

from arena_bench.agents.base import Observation
from arena_bench.core.protocol import Action, Kind, PublicTurn
from arena_bench.core.scenario import Issue
from arena_bench.playing.game import public_view
from arena_bench.playing.parsing import parse_reply
from arena_bench.playing.prompts import reply_schema, system_prompt, template_hash, turn_prompt
from arena_bench.scenarios.tasks import open_task_set

ISSUES = (
    Issue("price", "", ("$80,000", "$90,000")),
    Issue("support_tier", "", ("Gold, 8h response", "Silver")),
)


@pytest.mark.parametrize(
    "text",
    [
        '{"message": "hi", "action": "propose", "offer": {"price": "$80,000", "support_tier": "Silver"}}',
        'Sure!\n```json\n{"message": "hi", "action": "propose", "offer": {"price": "$80,000", "support_tier": "Silver"}}\n```',
        'My offer: {"message":"hi","action":"PROPOSE","offer":{"Price":" $80,000 ","support_tier":"silver"}} thanks',
    ],
)
def test_wrappers_case_and_spacing_are_tolerated(text):
    p = parse_reply(text, ISSUES)
    assert p.error is None and p.action == Action.propose((0, 1)) and p.message == "hi"


@pytest.mark.parametrize(
    "text, error",
    [
        ("", "empty"),
        ("let's split the difference", "no JSON object"),
        (
            '{"message": "x", "action": "propose", "offer": {"price": "$85,000", "support_tier": "Silver"}}',
            "'$85,000' is not an option",
        ),
        (
            '{"message": "x", "action": "propose", "offer": {"price": "80000", "support_tier": "Silver"}}',
            "is not an option",
        ),
        ('{"message": "x", "action": "propose", "offer": {"price": "$80,000"}}', "'support_tier' is missing"),
        (
            '{"message": "x", "action": "propose", "offer": {"price": "$80,000", "support_tier": "Silver", "color": "red"}}',
            "unknown issue",
        ),
        ('{"message": "x", "action": "haggle"}', "unknown action"),
        ('{"message": "x"}', '"action" is missing'),
        ('{"message": "x", "action": "propose"}', 'needs "offer"'),
        (
            '{"message": "x", "action": "propose", "offer": {"price": "$80,000", "support_tier": "Gold"}}',
            "'Gold' is not an option",
        ),
    ],
)
def test_nothing_is_invented_rounded_or_guessed(text, error):
    p = parse_reply(text, ISSUES)
    assert p.action is None and error in p.error


def test_accept_and_walk_away_ignore_the_offer():
    assert parse_reply('{"message": "", "action": "accept", "offer": {}}', ISSUES).action == Action.accept()
    assert parse_reply('{"action": "walk away"}', ISSUES).action.kind is Kind.WALK_AWAY


def test_prompts_show_only_the_own_brief_and_the_public_history():
    s = open_task_set("negotiation-v1").load("lite")[3]
    offer = (0,) * len(s.issues)
    obs = Observation(
        0,
        s.roles[0],
        public_view(s),
        (PublicTurn(0, 1, "hello there", Action.propose(offer)),),
        1,
        20,
        offer,
        1,
    )
    system, turn = system_prompt(obs), turn_prompt(obs)
    assert s.roles[0].narrative in system and s.roles[1].narrative not in system + turn
    other_batna = f"{100 * s.roles[1].batna:g} points"
    assert f"no deal gives you {100 * s.roles[0].batna:g}" in system
    assert "hello there" in turn and "On the table from" in turn
    own_points = sum(row[o] for row, o in zip(s.roles[0].points(), offer))
    assert f"{own_points:g} points to you" in turn
    assert other_batna not in turn or s.roles[0].batna == s.roles[1].batna
    schema = reply_schema(s.issues)
    assert schema["properties"]["offer"]["required"] == [i.name for i in s.issues]
    assert len(template_hash()) == 16 and json.dumps(schema)
