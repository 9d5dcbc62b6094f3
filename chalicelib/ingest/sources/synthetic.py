"""A seeded generator of realistic Twitter stream lines (v1.1 and v2 shapes).

It stands in for the live stream when there are no credentials (the local
mode, the dev stage, tests, benchmarks), so it emits the JSON documents
Twitter sends, not envelopes: every line goes through
:func:`chalicelib.envelope.normalize.normalize_line` exactly like a live one.

What makes it realistic enough to test a pipeline with:

* authors drawn from a Zipf-Mandelbrot law over millions of accounts: a long
  tail (the top 1% of accounts write more than half the tweets) with a flattened
  head, because the platform caps an account at 2,400 posts a day, so no one
  author dominates a stream;
* v1.1 statuses (``extended_tweet`` over 140 characters, nested
  ``retweeted_status``/``quoted_status``) and v2 filtered-stream lines
  (``includes.users``, ``includes.tweets``, ``matching_rules``, ``note_tweet``);
* retweets, quotes, replies, hashtags, mentions, URLs with correct entity
  offsets; emoji (ZWJ sequences, flags, skin tones) and non-Latin scripts
  (Japanese, Arabic, Cyrillic, Devanagari, Hangul, Chinese);
* snowflake ids ``(ms - 1288834974657) << 22 | worker << 12 | seq``, beyond
  2^53, and slightly out of order (a tweet can arrive a few seconds late);
* occasional control traffic: keep-alive blank lines, limit notices, deletes of
  tweets generated earlier (v1.1 notices and v2 compliance lines).

Everything is derived from the seed and a virtual clock, so
``generate_lines(seed, count)`` returns the same lines on every machine.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections import deque
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from chalicelib.ingest.sources.base import LocalSource
from chalicelib.timeutil import format_v1_created_at, iso_utc

TWITTER_EPOCH_MS = 1288834974657
DEFAULT_START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DEFAULT_AUTHORS = 5_000_000
ZIPF_S = 1.1
ZIPF_Q = 1000.0  # Mandelbrot offset: flattens the head (posting limits)
VIRTUAL_RATE = 50.0  # lines per virtual second, about the 1% sample stream


# Invented phrases per language (weight, phrases, hashtags).
_LANGS: dict[str, tuple[float, tuple[str, ...], tuple[str, ...]]] = {
    "en": (
        0.45,
        (
            "just watched the sunrise over the harbour",
            "new release notes are up, lots of small fixes",
            "can't believe the score tonight",
            "coffee first, then the backlog",
            "the 8:15 train is late again",
            "reading a long thread about data lakes and why partitions matter",
            "who else is at the conference this week?",
        ),
        ("data", "tide", "music", "football", "AI", "OpenSource", "coffee"),
    ),
    "es": (
        0.1,
        ("qué día tan bonito en la playa", "mañana empieza el festival", "otra vez lluvia"),
        ("Madrid", "fútbol", "música"),
    ),
    "pt": (0.06, ("bom dia a todos", "o jogo de hoje foi incrível"), ("Brasil", "futebol")),
    "ja": (
        0.1,
        ("今日はとても良い天気です", "新しいカフェに行ってきました", "電車が遅れています"),
        ("東京", "おはよう", "ラーメン"),
    ),
    "zh": (0.04, ("今天的天气很好", "刚刚看完这部电影"), ("北京", "电影")),
    "ko": (0.05, ("오늘 날씨 정말 좋다", "새로운 노래가 나왔어요"), ("서울", "음악")),
    "ar": (0.07, ("صباح الخير من القاهرة", "مباراة رائعة الليلة"), ("القاهرة", "كرة_القدم")),
    "ru": (0.07, ("Доброе утро, друзья", "сегодня отличная погода"), ("Москва", "футбол")),
    "hi": (0.06, ("आज मौसम बहुत अच्छा है", "नमस्ते दोस्तों"), ("भारत", "क्रिकेट")),
}
_LANG_NAMES = tuple(_LANGS)
_LANG_WEIGHTS = tuple(v[0] for v in _LANGS.values())
_EMOJI = ("🌊", "🔥", "😂", "❤️", "👩‍💻", "🏳️‍🌈", "🇯🇵", "👍🏽", "🎉", "☕")
_SYLLABLES = ("ka", "lo", "mi", "ra", "shi", "ton", "vel", "zu", "an", "bri", "dex", "or", "quin")
_PLACES = ("Portland, ME", "Lisboa", "東京", "القاهرة", "Москва", "Seoul", "", None)
_RULES = (
    {"id": "1990000000000000001", "tag": "lakes"},
    {"id": "1990000000000000002", "tag": "sports"},
    {"id": "1990000000000000003", "tag": None},
)
_SOURCES = (
    '<a href="https://mobile.twitter.com" rel="nofollow">Twitter Web App</a>',
    '<a href="http://twitter.com/download/iphone" rel="nofollow">Twitter for iPhone</a>',
    '<a href="http://twitter.com/download/android" rel="nofollow">Twitter for Android</a>',
)


def snowflake(ms: int, counter: int) -> int:
    """A Twitter-style id for time ``ms``; ``counter`` fills worker and sequence bits."""
    return ((ms - TWITTER_EPOCH_MS) << 22) | (counter & 0x3FFFFF)


def v1_time(ms: int) -> str:
    """``Wed Oct 10 20:19:24 +0000 2018`` (locale-independent)."""
    return format_v1_created_at(datetime.fromtimestamp(ms / 1000, tz=UTC))


def v2_time(ms: int) -> str:
    return iso_utc(datetime.fromtimestamp(ms / 1000, tz=UTC))


class _Author:
    """A deterministic account for a popularity rank."""

    __slots__ = (
        "created_ms",
        "description",
        "followers",
        "friends",
        "id",
        "lang",
        "location",
        "name",
        "screen_name",
        "statuses",
        "verified",
    )

    def __init__(self, seed: int, rank: int, authors: int) -> None:
        rng = random.Random(seed * 10_000_019 + rank)  # noqa: S311 (test data, not security)
        self.created_ms = rng.randint(1_180_000_000_000, 1_760_000_000_000)  # 2007..2025
        # Accounts made before snowflake ids (late 2013 for users) have small ids.
        if self.created_ms < 1_385_000_000_000:
            self.id = rng.randint(10_000, 2_000_000_000)
        else:
            self.id = snowflake(self.created_ms, rng.getrandbits(22))
        self.lang = rng.choices(_LANG_NAMES, _LANG_WEIGHTS)[0]
        handle = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3)))
        self.screen_name = f"{handle}_{rank % 100_000}"[:15]
        phrase = _LANGS[self.lang][1][0].split()
        self.name = f"{handle.title()} {phrase[0]}" + (
            f" {rng.choice(_EMOJI)}" if rng.random() < 0.3 else ""
        )
        self.description = rng.choice(("", _LANGS[self.lang][1][-1], "data • tides • 🌊"))
        self.location = rng.choice(_PLACES)
        popularity = max(1.0, authors / rank)
        self.followers = int(popularity * rng.uniform(0.5, 2.0))
        self.friends = rng.randint(0, 2000)
        self.statuses = rng.randint(1, 100_000)
        self.verified = rank <= 1000 and rng.random() < 0.5

    def v1(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "id_str": str(self.id),
            "name": self.name,
            "screen_name": self.screen_name,
            "location": self.location,
            "url": None,
            "description": self.description,
            "translator_type": "none",
            "protected": False,
            "verified": self.verified,
            "followers_count": self.followers,
            "friends_count": self.friends,
            "listed_count": self.followers // 100,
            "favourites_count": self.statuses // 3,
            "statuses_count": self.statuses,
            "created_at": v1_time(self.created_ms),
            "utc_offset": None,
            "time_zone": None,
            "geo_enabled": False,
            "lang": None,
            "contributors_enabled": False,
            "is_translator": False,
            "profile_image_url_https": f"https://pbs.twimg.com/profile_images/{self.id}/a_normal.jpg",
            "default_profile": True,
            "default_profile_image": False,
            "following": None,
            "follow_request_sent": None,
            "notifications": None,
        }

    def v2(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.screen_name,
            "name": self.name,
            "created_at": v2_time(self.created_ms),
            "description": self.description,
            "location": self.location,
            "url": "",
            "verified": self.verified,
            "protected": False,
            "public_metrics": {
                "followers_count": self.followers,
                "following_count": self.friends,
                "tweet_count": self.statuses,
                "listed_count": self.followers // 100,
            },
        }


class _Text:
    """Tweet text built piece by piece, recording entity offsets in code points."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.hashtags: list[tuple[int, int, str]] = []
        self.mentions: list[tuple[int, int, _Author]] = []
        self.urls: list[tuple[int, int, str, str]] = []

    def add(self, text: str) -> tuple[int, int]:
        if self.parts:
            self.parts.append(" ")
            self.length += 1
        start = self.length
        self.parts.append(text)
        self.length += len(text)
        return start, self.length

    def __str__(self) -> str:
        return "".join(self.parts)


class SyntheticStream:
    """An endless, deterministic sequence of stream lines for one seed."""

    def __init__(
        self,
        seed: int,
        *,
        start_ms: int = DEFAULT_START_MS,
        authors: int = DEFAULT_AUTHORS,
        virtual_rate: float = VIRTUAL_RATE,
    ) -> None:
        if authors < 1:
            raise ValueError("authors must be at least 1")
        self._seed = seed
        self._rng = random.Random(seed)  # noqa: S311 (test data, not security)
        self._authors = authors
        self._virtual_ms = float(start_ms)
        self._mean_gap_ms = 1000.0 / virtual_rate
        self._counter = 0
        self._cache: dict[int, _Author] = {}
        self._recent: deque[tuple[int, int, int, str]] = deque(maxlen=2000)
        self._mentioned: list[_Author] = []
        exponent = 1.0 - ZIPF_S
        self._zipf_lo = (ZIPF_Q + 1) ** exponent
        self._zipf_hi = (ZIPF_Q + authors + 1) ** exponent

    # --- sampling ----------------------------------------------------------------

    def _rank(self) -> int:
        """Inverse-CDF draw from the continuous Zipf-Mandelbrot law (O(1))."""
        u = self._rng.random()
        x = (self._zipf_lo + u * (self._zipf_hi - self._zipf_lo)) ** (1.0 / (1.0 - ZIPF_S))
        return min(self._authors, max(1, math.floor(x - ZIPF_Q)))

    def _author(self, rank: int | None = None) -> _Author:
        rank = rank or self._rank()
        author = self._cache.get(rank)
        if author is None:
            if len(self._cache) > 50_000:
                self._cache.clear()
            author = self._cache[rank] = _Author(self._seed, rank, self._authors)
        return author

    def _next_id(self, ms: int) -> int:
        self._counter += 1
        return snowflake(ms, self._counter)

    def _text(self, lang: str, *, long: bool = False) -> _Text:
        rng = self._rng
        _, phrases, tags = _LANGS[lang]
        text = _Text()
        for _ in range(rng.randint(3, 6) if long else rng.randint(1, 2)):
            text.add(rng.choice(phrases))
        if rng.random() < 0.35:
            text.add(rng.choice(_EMOJI) * rng.randint(1, 2))
        for _ in range(rng.choices((0, 1, 2, 3), (0.5, 0.3, 0.15, 0.05))[0]):
            tag = rng.choice(tags)
            start, end = text.add(f"#{tag}")
            text.hashtags.append((start, end, tag))
        if rng.random() < 0.2:
            mentioned = self._author()
            start, end = text.add(f"@{mentioned.screen_name}")
            text.mentions.append((start, end, mentioned))
        if rng.random() < 0.2:
            short = f"https://t.co/{rng.getrandbits(40):010x}"
            start, end = text.add(short)
            text.urls.append((start, end, short, f"https://example.org/{rng.getrandbits(24):x}"))
        return text

    # --- lines ---------------------------------------------------------------------

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        rng = self._rng
        self._virtual_ms += rng.expovariate(1.0 / self._mean_gap_ms)
        now_ms = int(self._virtual_ms)
        roll = rng.random()
        if roll < 0.01:
            return ""  # keep-alive
        if roll < 0.012:
            return _dumps({"limit": {"track": rng.randint(1, 5000), "timestamp_ms": str(now_ms)}})
        if roll < 0.025 and self._recent:
            return self._delete(now_ms)
        # A tweet is a little late now and then, so ids arrive out of order.
        created_ms = now_ms - (rng.randint(1, 3000) if rng.random() < 0.1 else 0)
        if rng.random() < 0.5:
            return self._v1_tweet(created_ms)
        return self._v2_tweet(created_ms)

    def _delete(self, now_ms: int) -> str:
        tweet_id, author_id, created_ms, fmt = self._rng.choice(self._recent)
        if fmt == "v1.1":
            return _dumps(
                {
                    "delete": {
                        "status": {
                            "id": tweet_id,
                            "id_str": str(tweet_id),
                            "user_id": author_id,
                            "user_id_str": str(author_id),
                        },
                        "timestamp_ms": str(now_ms),
                    }
                }
            )
        return _dumps(
            {
                "id": str(tweet_id),
                "action": "delete",
                "created_at": v2_time(created_ms),
                "redacted_at": v2_time(now_ms),
                "reason": "deleted",
            }
        )

    def _kind(self) -> str:
        return self._rng.choices(
            ("original", "retweet", "reply", "quote"), (0.52, 0.25, 0.15, 0.08)
        )[0]

    def _older(self, created_ms: int) -> tuple[int, _Author, int]:
        """A referenced tweet: a recent one, or an older one from another author."""
        ms = created_ms - self._rng.randint(1_000, 86_400_000)
        return self._next_id(ms), self._author(), ms

    # v1.1 ----------------------------------------------------------------------------

    def _v1_status(
        self, tweet_id: int, author: _Author, created_ms: int, text: _Text
    ) -> dict[str, Any]:
        full = str(text)
        entities = {
            "hashtags": [{"text": tag, "indices": [s, e]} for s, e, tag in text.hashtags],
            "user_mentions": [
                {
                    "screen_name": a.screen_name,
                    "name": a.name,
                    "id": a.id,
                    "id_str": str(a.id),
                    "indices": [s, e],
                }
                for s, e, a in text.mentions
            ],
            "urls": [
                {"url": short, "expanded_url": long, "display_url": long[8:30], "indices": [s, e]}
                for s, e, short, long in text.urls
            ],
            "symbols": [],
        }
        status: dict[str, Any] = {
            "created_at": v1_time(created_ms),
            "id": tweet_id,
            "id_str": str(tweet_id),
            "text": full,
            "source": self._rng.choice(_SOURCES),
            "truncated": False,
            "in_reply_to_status_id": None,
            "in_reply_to_status_id_str": None,
            "in_reply_to_user_id": None,
            "in_reply_to_user_id_str": None,
            "in_reply_to_screen_name": None,
            "user": author.v1(),
            "geo": None,
            "coordinates": None,
            "place": None,
            "contributors": None,
            "is_quote_status": False,
            "quote_count": 0,
            "reply_count": 0,
            "retweet_count": 0,
            "favorite_count": 0,
            "entities": entities,
            "favorited": False,
            "retweeted": False,
            "filter_level": "low",
            "lang": author.lang,
            "timestamp_ms": str(created_ms),
        }
        if len(full) > 140:
            link = f"https://t.co/{tweet_id % 10**10:010d}"
            status["truncated"] = True
            status["text"] = full[:115] + "… " + link
            status["extended_tweet"] = {
                "full_text": full,
                "display_text_range": [0, len(full)],
                "entities": entities,
            }
            status["entities"] = {
                "hashtags": [],
                "user_mentions": [],
                "urls": [
                    {
                        "url": link,
                        "expanded_url": f"https://twitter.com/i/web/status/{tweet_id}",
                        "display_url": f"twitter.com/i/web/status/{str(tweet_id)[:6]}…",
                        "indices": [117, 117 + len(link)],
                    }
                ],
                "symbols": [],
            }
        return status

    def _v1_tweet(self, created_ms: int) -> str:
        author = self._author()
        tweet_id = self._next_id(created_ms)
        kind = self._kind()
        long = self._rng.random() < 0.15
        if kind == "retweet":
            orig_id, orig_author, orig_ms = self._older(created_ms)
            original = self._v1_status(
                orig_id, orig_author, orig_ms, self._text(orig_author.lang, long=long)
            )
            prefix = f"RT @{orig_author.screen_name}: "
            text = _Text()
            full = original.get("extended_tweet", {}).get("full_text") or original["text"]
            text.add(prefix + full)
            text.mentions.append((3, 4 + len(orig_author.screen_name), orig_author))
            status = self._v1_status(tweet_id, author, created_ms, text)
            status["text"] = status["text"][:140]
            status.pop("extended_tweet", None)
            status["truncated"] = False
            status["retweeted_status"] = original
        else:
            text = self._text(author.lang, long=long)
            status = self._v1_status(tweet_id, author, created_ms, text)
            if kind == "reply":
                parent_id, parent_author, _ = self._older(created_ms)
                status.update(
                    in_reply_to_status_id=parent_id,
                    in_reply_to_status_id_str=str(parent_id),
                    in_reply_to_user_id=parent_author.id,
                    in_reply_to_user_id_str=str(parent_author.id),
                    in_reply_to_screen_name=parent_author.screen_name,
                )
            elif kind == "quote":
                quoted_id, quoted_author, quoted_ms = self._older(created_ms)
                status.update(
                    is_quote_status=True,
                    quoted_status_id=quoted_id,
                    quoted_status_id_str=str(quoted_id),
                    quoted_status=self._v1_status(
                        quoted_id, quoted_author, quoted_ms, self._text(quoted_author.lang)
                    ),
                )
        self._recent.append((tweet_id, author.id, created_ms, "v1.1"))
        return _dumps(status)

    # v2 -------------------------------------------------------------------------------

    def _v2_data(
        self, tweet_id: int, author: _Author, created_ms: int, text: _Text
    ) -> dict[str, Any]:
        full = str(text)
        self._mentioned.extend(a for _, _, a in text.mentions)
        entities: dict[str, Any] = {}
        if text.hashtags:
            entities["hashtags"] = [{"start": s, "end": e, "tag": t} for s, e, t in text.hashtags]
        if text.mentions:
            entities["mentions"] = [
                {"start": s, "end": e, "username": a.screen_name, "id": str(a.id)}
                for s, e, a in text.mentions
            ]
        if text.urls:
            entities["urls"] = [
                {"start": s, "end": e, "url": u, "expanded_url": x, "display_url": x[8:30]}
                for s, e, u, x in text.urls
            ]
        data: dict[str, Any] = {
            "id": str(tweet_id),
            "text": full if len(full) <= 280 else full[:279] + "…",
            "author_id": str(author.id),
            "created_at": v2_time(created_ms),
            "conversation_id": str(tweet_id),
            "lang": author.lang,
            "edit_history_tweet_ids": [str(tweet_id)],
            "possibly_sensitive": False,
            "public_metrics": {
                "retweet_count": 0,
                "reply_count": 0,
                "like_count": 0,
                "quote_count": 0,
            },
        }
        if entities:
            data["entities"] = entities
        if len(full) > 280:
            data["note_tweet"] = {"text": full, "entities": entities}
        return data

    def _v2_tweet(self, created_ms: int) -> str:
        self._mentioned = []
        author = self._author()
        tweet_id = self._next_id(created_ms)
        kind = self._kind()
        users = {author.id: author}
        ref_tweets: list[dict[str, Any]] = []
        if kind == "original":
            data = self._v2_data(
                tweet_id, author, created_ms, self._text(author.lang, long=self._rng.random() < 0.1)
            )
        else:
            ref_id, ref_author, ref_ms = self._older(created_ms)
            users[ref_author.id] = ref_author
            referenced = self._v2_data(ref_id, ref_author, ref_ms, self._text(ref_author.lang))
            ref_tweets.append(referenced)
            if kind == "retweet":
                text = _Text()
                text.add(f"RT @{ref_author.screen_name}: {referenced['text']}")
                text.mentions.append((3, 4 + len(ref_author.screen_name), ref_author))
                data = self._v2_data(tweet_id, author, created_ms, text)
                data["text"] = data["text"][:280]
                data.pop("note_tweet", None)
                data["referenced_tweets"] = [{"type": "retweeted", "id": str(ref_id)}]
            elif kind == "reply":
                text = _Text()
                start, end = text.add(f"@{ref_author.screen_name}")
                text.mentions.append((start, end, ref_author))
                body = self._text(author.lang)
                text.add(str(body))
                data = self._v2_data(tweet_id, author, created_ms, text)
                data["conversation_id"] = str(ref_id)
                data["in_reply_to_user_id"] = str(ref_author.id)
                data["referenced_tweets"] = [{"type": "replied_to", "id": str(ref_id)}]
            else:
                data = self._v2_data(tweet_id, author, created_ms, self._text(author.lang))
                data["referenced_tweets"] = [{"type": "quoted", "id": str(ref_id)}]
        for mentioned in self._mentioned:  # v2 expands mentioned users into includes
            users.setdefault(mentioned.id, mentioned)
        line: dict[str, Any] = {
            "data": data,
            "includes": {"users": [u.v2() for u in users.values()]},
            "matching_rules": [dict(self._rng.choice(_RULES))],
        }
        if ref_tweets:
            line["includes"]["tweets"] = ref_tweets
        self._recent.append((tweet_id, author.id, created_ms, "v2"))
        return _dumps(line)


def _dumps(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def generate_lines(
    seed: int, count: int, *, authors: int = DEFAULT_AUTHORS, start_ms: int = DEFAULT_START_MS
) -> list[str]:
    """The first ``count`` lines of the stream for ``seed`` (same on every machine)."""
    stream = SyntheticStream(seed, start_ms=start_ms, authors=authors)
    return [next(stream) for _ in range(count)]


class SyntheticSource(LocalSource):
    """The synthetic stream as a :class:`~chalicelib.ingest.sources.base.Source`.

    ``rate`` paces lines in real time (lines per second; 0 = as fast as
    possible) and also sets the virtual clock, so ids track wall time when
    ``start_ms`` is None (each scheduled run continues from "now"). ``limit``
    ends the source after that many lines (0 = never).
    """

    source_api = "synthetic"

    def __init__(
        self,
        seed: int,
        *,
        rate: float = 0.0,
        limit: int = 0,
        start_ms: int | None = None,
        authors: int = DEFAULT_AUTHORS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__()
        if start_ms is None:
            start_ms = int(time.time() * 1000)
            if not rate and limit:
                # An unpaced, bounded load is a backlog: put its virtual timeline in the
                # past so no tweet claims to be created after it was ingested.
                start_ms -= int(limit * 1000 / VIRTUAL_RATE) + 1000
        self._stream = SyntheticStream(
            seed, start_ms=start_ms, authors=authors, virtual_rate=rate or VIRTUAL_RATE
        )
        self._rate = rate
        self._limit = limit
        self._clock = clock
        self._sleep = sleep

    def lines(self) -> Iterator[str]:
        started = self._clock()
        emitted = 0
        while not self._stopped.is_set() and (not self._limit or emitted < self._limit):
            if self._rate:
                wait = started + emitted / self._rate - self._clock()
                if wait > 0:
                    self._sleep(wait)
                    if self._stopped.is_set():
                        return
            yield next(self._stream)
            emitted += 1
