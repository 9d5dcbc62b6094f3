"""``tweet_item`` uses the schema's shape instead of walking every value: same items."""

from __future__ import annotations

from typing import Any

from chalicelib.dynamo.hashing import hash_line
from chalicelib.dynamo.items import TWEET_FIELDS, created_hour, created_key, drop_nulls, tweet_item
from chalicelib.envelope.normalize import normalize_line
from chalicelib.envelope.schema import validate
from tests.envelopes import tweet_envelope
from tests.paths import OWN_TWITTER


def generic_item(envelope: dict[str, Any], **enrichment: Any) -> dict[str, Any]:
    """The item as it was built before: every field, then ``drop_nulls`` over all of it."""
    author = envelope["author"]
    item = {name: envelope.get(name) for name in TWEET_FIELDS}
    item.update(
        hash_line=hash_line(envelope["tweet_id"]),
        status="live",
        author_id=author["id"] if author else None,
        author=author,
        created_key=created_key(envelope["created_at"], envelope["tweet_id"]),
        created_hour=created_hour(envelope["created_at"]),
        **enrichment,
    )
    result: dict[str, Any] = drop_nulls(item)
    return result


def envelopes() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted(OWN_TWITTER.glob("*.json*")):
        text = path.read_text(encoding="utf-8")
        for line in text.splitlines() if path.suffix == ".jsonl" else [text]:
            found += [n.envelope for n in normalize_line(line) if n.envelope]
    nulls = tweet_envelope(1, 2)
    nulls["author"].update(url=None, description=None)
    nulls["mentions"] = [{"id": None, "screen_name": "x"}, {"id": "3", "screen_name": None}]
    nulls.update(lang=None, urls=None, quoted_tweet_id=None)
    found.append(nulls)
    return [e for e in found if e["kind"] == "tweet" and not validate(e)]


def test_same_item_as_the_generic_walk_for_every_valid_fixture_tweet() -> None:
    enrichment = {"processed_at": "2026-11-24T10:00:00.000Z", "origin": {"shard": "s", "seq": "1"}}
    checked = 0
    for envelope in envelopes():
        item = tweet_item(envelope, **enrichment, unset=None)
        assert item == generic_item(envelope, **enrichment)
        # (Attribute order is not compared: DynamoDB keeps none.)
        checked += 1
    assert checked > 5


def test_the_item_shares_no_container_with_the_envelope() -> None:
    """The consumer may drop the envelope; the API tests reuse theirs: neither sees the other."""
    envelope = tweet_envelope(1, 2)
    item = tweet_item(envelope)
    item["author"]["name"] = "changed"
    item["hashtags"].append("more")
    item["mentions"][0]["screen_name"] = "changed"
    assert envelope == tweet_envelope(1, 2)
