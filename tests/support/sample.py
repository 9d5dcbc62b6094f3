"""Seeded sample tweets for the lake's tests and benchmark.

Builds raw payloads in the documented v1.1 and v2 stream shapes (invented ids,
names and text, like ``tests/fixtures/twitter``) and passes them through the
real ``normalize_line``, so the envelopes, and the ``raw`` field that makes up
most of the raw zone's bytes, look like what the pipeline carries. Hashtags and
authors are Zipf-like, so "top" queries have a clear answer with ties to break.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.envelope.normalize import envelope_bytes, normalize_line
from chalicelib.timeutil import format_v1_created_at, iso_utc

HASHTAGS = [
    "tide",
    "wave",
    "lake",
    "Shore",
    "mist",
    "longform",
    "озеро",
    "湖",
    "sunrise",
    "kayak",
    "storm",
    "birds",
]
LANGS = ["en", "en", "en", "ja", "ar", "bg", "es", "und", None]
_LINK_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
WORDS = [
    "the",
    "lake",
    "was",
    "calm",
    "and",
    "the",
    "water",
    "cold",
    "while",
    "birds",
    "crossed",
    "over",
    "the",
    "pier",
    "at",
    "dawn",
]


@dataclass(frozen=True)
class Author:
    id: str
    screen_name: str
    name: str
    followers: int


def _authors(rng: random.Random, count: int) -> list[Author]:
    return [
        Author(
            id=str(1_700_000_000_000_000_000 + i * 7919),
            screen_name=f"lake_user_{i}",
            name=f"Lake User {i}",
            followers=rng.randint(0, 50_000),
        )
        for i in range(count)
    ]


def _v1_payload(
    tid: str, when: datetime, author: Author, text: str, tags: list[str], kind: str, ref: str
) -> dict[str, Any]:
    user = {
        "id": int(author.id),
        "id_str": author.id,
        "name": author.name,
        "screen_name": author.screen_name,
        "location": "Lakeside",
        "url": None,
        "description": "notes from the water " * 3,
        "verified": False,
        "followers_count": author.followers,
        "friends_count": 120,
        "statuses_count": 4000,
        "created_at": "Tue Mar 21 20:50:14 +0000 2006",
        "profile_image_url_https": "https://example.org/img/" + author.screen_name + ".png",
        "default_profile": True,
    }
    status: dict[str, Any] = {
        "created_at": format_v1_created_at(when),
        "id": int(tid),
        "id_str": tid,
        "text": text,
        "source": '<a href="https://example.org" rel="nofollow">Lake Client</a>',
        "truncated": False,
        "lang": None,
        "timestamp_ms": str(int(when.timestamp() * 1000)),
        "user": user,
        "entities": {
            "hashtags": [{"text": t, "indices": [0, len(t) + 1]} for t in tags],
            "user_mentions": [],
            "urls": [],
            "symbols": [],
        },
        "in_reply_to_status_id": None,
        "in_reply_to_status_id_str": None,
        "in_reply_to_user_id": None,
        "in_reply_to_user_id_str": None,
        "is_quote_status": kind == "quote",
        "retweet_count": 0,
        "favorite_count": 0,
        "filter_level": "low",
    }
    if kind == "reply":
        status["in_reply_to_status_id_str"] = ref
        status["in_reply_to_status_id"] = int(ref)
        status["in_reply_to_user_id_str"] = author.id
    elif kind == "quote":
        status["quoted_status_id_str"] = ref
        status["quoted_status_id"] = int(ref)
    elif kind == "retweet":
        status["retweeted_status"] = {
            "id": int(ref),
            "id_str": ref,
            "text": text,
            "created_at": format_v1_created_at(when),
            "user": user,
        }
    return status


def _v2_payload(
    tid: str, when: datetime, author: Author, text: str, tags: list[str], kind: str, ref: str
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": tid,
        "text": text,
        "author_id": author.id,
        "created_at": iso_utc(when),
        "edit_history_tweet_ids": [tid],
        "entities": {"hashtags": [{"start": 0, "end": len(t) + 1, "tag": t} for t in tags]},
        "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": 1},
    }
    ref_type = {"reply": "replied_to", "quote": "quoted", "retweet": "retweeted"}.get(kind)
    if ref_type:
        data["referenced_tweets"] = [{"type": ref_type, "id": ref}]
    if kind == "reply":
        data["in_reply_to_user_id"] = author.id
    user = {
        "id": author.id,
        "username": author.screen_name,
        "name": author.name,
        "created_at": "2015-06-01T10:00:00.000Z",
        "description": "notes from the water",
        "location": "Lakeside",
        "verified": False,
        "public_metrics": {
            "followers_count": author.followers,
            "following_count": 120,
            "tweet_count": 4000,
            "listed_count": 3,
        },
    }
    return {
        "data": data,
        "includes": {"users": [user]},
        "matching_rules": [{"id": "1992000000000000001", "tag": "lakes"}],
    }


def sample_lines(
    count: int,
    seed: int = 7,
    start: datetime = datetime(2026, 11, 24, 6, 0, tzinfo=UTC),
    span: timedelta = timedelta(hours=6),
    authors: int = 40,
) -> list[str]:
    """``count`` raw stream lines (half v1.1, half v2), reproducible from ``seed``."""
    rng = random.Random(seed)
    pool = _authors(rng, authors)
    author_weights = [1 / (i + 1) for i in range(len(pool))]
    tag_weights = [1 / (i + 1) for i in range(len(HASHTAGS))]
    lines = []
    for i in range(count):
        tid = str(1_992_400_000_000_000_000 + i * 104_729 + rng.randint(0, 1000))
        when = start + timedelta(seconds=rng.uniform(0, span.total_seconds()))
        author = rng.choices(pool, author_weights)[0]
        tags = list(
            dict.fromkeys(rng.choices(HASHTAGS, tag_weights, k=rng.choice([0, 1, 1, 2, 3])))
        )
        kind = rng.choices(["original", "retweet", "quote", "reply"], [55, 25, 8, 12])[0]
        ref = str(1_992_300_000_000_000_000 + rng.randint(0, 10**9))
        text = " ".join(rng.choices(WORDS, k=rng.randint(5, 25))) + "".join(f" #{t}" for t in tags)
        if rng.random() < 0.5:  # a t.co link: the incompressible part of real tweets
            text += " https://t.co/" + "".join(rng.choices(_LINK_CHARS, k=10))
        build = _v1_payload if i % 2 == 0 else _v2_payload
        payload = build(tid, when, author, text, tags, kind, ref)
        lang = rng.choice(LANGS)
        if build is _v1_payload:
            payload["lang"] = lang
        elif lang is not None:
            payload["data"]["lang"] = lang
        lines.append(json.dumps(payload, ensure_ascii=False, separators=(",", ":")))
    return lines


def sample_envelopes(count: int, seed: int = 7, **kwargs: Any) -> list[dict[str, Any]]:
    """Envelopes for :func:`sample_lines`, via the real normalizer."""
    envelopes = []
    for i, line in enumerate(sample_lines(count, seed, **kwargs)):
        ingested = iso_utc(datetime(2026, 11, 24, 12, 0, tzinfo=UTC) + timedelta(milliseconds=i))
        for item in normalize_line(line, source_api="synthetic", ingested_at=ingested):
            if item.envelope is not None:
                envelopes.append(item.envelope)
    return envelopes


def envelope_line(envelope: dict[str, Any]) -> bytes:
    """A Kinesis record's data, as the producer writes it."""
    return envelope_bytes(envelope)
