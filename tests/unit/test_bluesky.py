"""Jetstream frames → envelopes (chalicelib.envelope.bluesky), on the own fixture file.

The fixture (tests/fixtures/bluesky/jetstream_events.jsonl) follows Jetstream's
documented frames and the app.bsky.feed.post lexicon: a post whose facets sit
after emoji and CJK text (byte offsets differ from character offsets), an
image-only post with empty text, a reply with a quote, a link card, an update,
a delete, identity and account events, a like (another collection), a record
whose text is not a string, and a post whose client clock is years ahead.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.envelope.bluesky import created_time, facet_text
from chalicelib.envelope.codec import decode_valid
from chalicelib.envelope.normalize import Normalized, envelope_bytes, normalize_line
from chalicelib.envelope.schema import validate
from chalicelib.ids import is_did, is_post_id, is_x_id
from tests.paths import bluesky_lines
from tests.support import bluesky as bs
from tests.support.bluesky import did, tid

A, B, C = did(1001), did(2002), did(3003)


def normalized() -> list[Normalized]:
    out = []
    for line in bluesky_lines():
        [item] = normalize_line(line, ingested_at="2025-06-01T12:00:30.000Z")
        out.append(item)
    return out


def test_every_frame_is_classified_and_carries_its_cursor() -> None:
    items = normalized()
    kinds = [n.kind for n in items]
    assert kinds == [
        "tweet", "tweet", "tweet", "tweet", "tweet", "delete",
        "account", "account", "control", "invalid", "tweet", "account",
    ]  # fmt: skip
    assert [n.cursor for n in items] == [json.loads(line)["time_us"] for line in bluesky_lines()]
    assert items[8].control == "other_collection" and items[8].reason == "app.bsky.feed.like"
    assert items[9].reason == "jetstream: record.text is int, not a string"


def test_every_envelope_passes_the_consumers_decoder() -> None:
    for item in normalized():
        if item.envelope is not None:
            data = envelope_bytes(item.envelope)
            assert validate(json.loads(data)) == [], item.envelope
            assert decode_valid(data) is not None


def test_facets_are_sliced_by_utf8_bytes_after_emoji_and_cjk() -> None:
    first = normalized()[0].envelope
    assert first is not None
    assert first["text"].startswith("湖のほとり 🌊🏞️")
    assert first["hashtags"] == ["湖"]
    # The handle comes only from the byte slice: character offsets would cut elsewhere.
    assert first["mentions"] == [{"id": C, "screen_name": "alice.test"}]
    assert first["urls"] == ["https://example.com/lake"]
    assert first["lang"] == "ja"
    assert first["author"] == {"id": A}
    assert first["tweet_id"] == f"{A}:{json.loads(bluesky_lines()[0])['commit']['rkey']}"


def test_facet_text_refuses_ranges_that_cut_a_character_or_overrun() -> None:
    encoded = "🌊#湖".encode()
    assert facet_text(encoded, {"byteStart": 4, "byteEnd": 8}) == "#湖"
    assert facet_text(encoded, {"byteStart": 1, "byteEnd": 8}) is None  # inside the emoji
    assert facet_text(encoded, {"byteStart": 4, "byteEnd": 99}) is None
    assert facet_text(encoded, {"byteStart": "4", "byteEnd": 8}) is None


def test_image_only_post_keeps_its_empty_text() -> None:
    second = normalized()[1].envelope
    assert second is not None and second["text"] == "" and second["author"] == {"id": B}


def test_reply_quote_link_card_update_and_delete() -> None:
    items = normalized()
    first, second, reply, card, update, delete = (n.envelope for n in items[:6])
    assert reply is not None and first is not None and second is not None
    assert reply["in_reply_to_tweet_id"] == first["tweet_id"]
    assert reply["in_reply_to_user_id"] == A
    assert reply["quoted_tweet_id"] == second["tweet_id"]
    assert card is not None and card["urls"] == ["https://example.org/article"]
    assert update is not None and update["tweet_id"] == first["tweet_id"]
    assert update["rev"] > first["rev"] and update["text"].endswith("(edited)")
    assert delete is not None and delete["tweet_id"] == card["tweet_id"]
    assert delete["author_id"] == C and delete["deleted_at"] == "2025-06-01T12:00:05.000Z"


def test_identity_and_account_events() -> None:
    items = normalized()
    identity, takedown, back = (items[i].envelope for i in (6, 7, 11))
    assert identity is not None and identity["handle"] == "lakewalker.test"
    assert identity["event"] == "identity" and identity["author_id"] == A
    assert takedown is not None and (takedown["active"], takedown["status"]) == (False, "takendown")
    assert back is not None and back["active"] is True and back["seq"] > takedown["seq"]


def test_a_future_created_at_gives_way_to_the_relays_time_and_says_so() -> None:
    late = normalized()[10].envelope
    assert late is not None
    assert late["created_at"] == "2025-06-01T12:00:10.000Z"
    assert late["created_at_derived"] is True
    assert "created_at_derived" not in (normalized()[0].envelope or {})


@pytest.mark.parametrize(
    ("claimed", "derived"),
    [
        ("2025-06-01T12:05:00Z", False),  # five minutes ahead: clocks drift
        ("2025-06-01T12:20:00Z", True),  # twenty: not believed
        ("2021-12-31T23:59:59Z", True),  # before Bluesky
        ("2025-06-01T12:00:00", True),  # no zone
        (None, True),
        (12, True),
    ],
)
def test_created_at_plausibility(claimed: Any, derived: bool) -> None:
    assert created_time(claimed, 1_748_779_200_000_000)[1] is derived


def test_id_families_stay_apart() -> None:
    post = f"{A}:{tid(1_748_779_200_000_000)}"
    assert is_post_id(post) and is_did(A)
    assert not is_x_id(post) and not is_post_id("1234") and not is_did("1234")
    assert not is_post_id(f"{A}:{tid(1_748_779_200_000_000)}\n")
    assert not is_did("did:plc:UPPERCASEUPPERCASEUPPERC")


def test_x_envelopes_still_refuse_bluesky_ids_and_the_reverse() -> None:
    """An X payload_format holds X ids only, a jetstream one Bluesky ids only."""
    bluesky = normalized()[0].envelope
    assert bluesky is not None
    as_x = {**bluesky, "payload_format": "v2", "source_api": "v2"}
    assert any("tweet_id" in error for error in validate(as_x))
    assert decode_valid(envelope_bytes(as_x)) is None
    with_x_id = {**bluesky, "tweet_id": "1234567890"}
    assert any("tweet_id" in error for error in validate(with_x_id))
    assert decode_valid(envelope_bytes(with_x_id)) is None


def test_malformed_frames_are_invalid_with_a_reason() -> None:
    cases = {
        '{"did":"did:plc:x","time_us":"soon","kind":"commit"}': "time_us",
        '{"did":"did:plc:x","time_us":5,"kind":"commit","commit":[]}': "commit is list",
        json.dumps(
            bs.commit(
                A,
                5,
                "create",
                "3lqk7ljub322b",
                record={"text": "x", "reply": {"parent": {"uri": "https://x"}}},
            )
        ): "not at://",
        '{"did":"did:plc:x","time_us":5,"kind":"account","account":{"seq":1}}': "account.active",
    }
    for line, words in cases.items():
        [item] = normalize_line(line)
        assert item.kind == "invalid" and words in (item.reason or ""), (line, item)


def test_jetstream_settings_defaults_and_refusals() -> None:
    from chalicelib.config import ConfigError
    from chalicelib.ingest.sources.jetstream import (
        PUBLIC_INSTANCES,
        frame_time_us,
        load_jetstream_settings,
        subscribe_url,
    )

    settings = load_jetstream_settings({})
    assert settings.urls == PUBLIC_INSTANCES and len(PUBLIC_INSTANCES) == 4
    assert settings.collections == ("app.bsky.feed.post",) and settings.rewind_s == 5
    url = subscribe_url(
        "wss://jetstream2.us-west.bsky.network/subscribe",
        load_jetstream_settings({"TWEETLAKE_JETSTREAM_DIDS": f"{A}, {B}"}),
        1_725_911_162_329_308,
    )
    assert url == (
        "wss://jetstream2.us-west.bsky.network/subscribe?wantedCollections=app.bsky.feed.post"
        f"&wantedDids={A.replace(':', '%3A')}&wantedDids={B.replace(':', '%3A')}"
        "&cursor=1725911162329308"
    )
    for variable, value in {
        "TWEETLAKE_JETSTREAM_URLS": "ws://jetstream.example/subscribe",  # clear text off-host
        "TWEETLAKE_JETSTREAM_COLLECTIONS": "posts",
        "TWEETLAKE_JETSTREAM_DIDS": "did:plc:short",
        "TWEETLAKE_JETSTREAM_REWIND_S": "-1",
    }.items():
        with pytest.raises(ConfigError, match=variable):
            load_jetstream_settings({variable: value})
    assert frame_time_us('{"did":"d","time_us": 17,"kind":"commit"}') == 17
    assert frame_time_us(b'{"kind":"commit"}') is None
