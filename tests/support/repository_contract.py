"""What every implementation of the consumer's repository port does.

One suite, two runs: ``tests/unit/test_ledger_repository.py`` runs it against
the in-memory twin, ``tests/integration/test_ledger_repository_dynamodb.py``
against DynamoDB on the moto server. A behaviour the ledger's tests rely on
belongs here, so the twin cannot drift from the store it stands in for.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib.consume.plan import TWEET_ATTRIBUTES
from chalicelib.consume.repository import LedgerRepository, StoredState, TableNames
from chalicelib.dynamo.items import hour_item, origin_attr, tombstone_item, tweet_item
from tests.envelopes import delete_envelope, tweet_envelope

NOW = "2026-11-24T08:00:00.000Z"
SHARD = "shardId-000000000000"
HOUR, OTHER_HOUR, LATER_HOUR = "2026-11-24T06", "2026-11-24T05", "2026-11-24T09"


def live_tweet(tweet_id: int, author_id: int, seq: int = 10) -> dict[str, Any]:
    return tweet_item(
        tweet_envelope(tweet_id, author_id),
        processed_at=NOW,
        author_tweets_in_batch=1,
        origin=origin_attr(SHARD, seq),
    )


def tombstone(tweet_id: int, author_id: int) -> dict[str, Any]:
    item = tombstone_item(
        delete_envelope(tweet_id),
        origin=origin_attr("shardId-000000000001", 40),
        processed_at=NOW,
        deleted_author_id=str(author_id),
    )
    item["replaced"] = origin_attr(SHARD, 10)
    return item


def author(author_id: int, **extra: Any) -> dict[str, Any]:
    return {
        "author_id": str(author_id),
        "tweet_count": 2,
        "profile": tweet_envelope(1, author_id)["author"],
        "profile_at": "2026-11-24T06:00:00.000Z",
        "profile_key": "2026-11-24T06:00:00.000Z#00000000000000000001#2026-11-24T06:00:05.000Z",
        "first_seen": "2026-11-24T05:00:00.000Z",
        "last_seen": "2026-11-24T06:00:00.000Z",
        # Real sequence numbers have ~56 digits: text, since a DynamoDB number holds 38.
        "applied": {SHARD: "49590338271490256608559692538361571095921575989136588898"},
        **extra,
    }


class LedgerRepositoryContract:
    """A subclass named ``Test…`` provides two fixtures: ``repo``, an empty
    repository, and ``tables``, the table names it was built with."""

    def test_keys_never_written_read_as_absent(self, repo: LedgerRepository) -> None:
        state = repo.read(
            hash_lines=[live_tweet(1, 5)["hash_line"]], author_ids=["5"], hours=[HOUR]
        )
        assert state == StoredState()

    def test_a_completed_phase_is_seen_by_the_next_read(
        self, repo: LedgerRepository, tables: TableNames
    ) -> None:
        tweet = live_tweet(1, 5)
        repo.write([(tables.tweets, tweet), (tables.state, hour_item(HOUR))])
        repo.write([(tables.authors, author(5))])
        state = repo.read(
            hash_lines=[tweet["hash_line"]], author_ids=["5", "6"], hours=[HOUR, OTHER_HOUR]
        )
        assert set(state.tweets) == {tweet["hash_line"]}
        assert state.authors == {"5": author(5)}
        assert state.hours == {HOUR}

    def test_a_live_tweet_reads_as_the_attributes_the_ledger_uses(
        self, repo: LedgerRepository, tables: TableNames
    ) -> None:
        tweet = live_tweet(1, 5)
        repo.write([(tables.tweets, tweet)])
        read = repo.read(hash_lines=[tweet["hash_line"]]).tweets[tweet["hash_line"]]
        assert read == {name: tweet[name] for name in TWEET_ATTRIBUTES if name in tweet}
        assert "text" not in read and "author" not in read

    def test_a_tombstone_reads_back_whole(self, repo: LedgerRepository, tables: TableNames) -> None:
        """The ledger rewrites a tombstone from what it read: none of it may be left behind."""
        tomb = tombstone(2, 5)
        repo.write([(tables.tweets, tomb)])
        assert repo.read(hash_lines=[tomb["hash_line"]]).tweets == {tomb["hash_line"]: tomb}

    def test_an_author_reads_back_whole_with_its_types(
        self, repo: LedgerRepository, tables: TableNames
    ) -> None:
        item = author(
            5,
            big=12345678901234567890,
            negative=-3,
            flag=True,
            nested=[{"a": [1, "b", False]}, []],
            text="é ü 漢字 🐦",
        )
        repo.write([(tables.authors, item)])
        assert repo.read(author_ids=["5"]).authors == {"5": item}

    def test_a_put_replaces_the_whole_item(
        self, repo: LedgerRepository, tables: TableNames
    ) -> None:
        repo.write([(tables.authors, author(5, old="gone"))])
        repo.write([(tables.authors, author(5, tweet_count=3))])
        assert repo.read(author_ids=["5"]).authors == {"5": author(5, tweet_count=3)}

    def test_hours_are_the_directory_entries_asked_for(
        self, repo: LedgerRepository, tables: TableNames
    ) -> None:
        repo.write(
            [
                (tables.state, hour_item(HOUR)),
                (tables.state, hour_item(OTHER_HOUR)),
                (tables.state, {"pk": "checkpoint", "sk": LATER_HOUR, "at": NOW}),
            ]
        )
        assert repo.read(hours=[HOUR, LATER_HOUR]).hours == {HOUR}

    def test_a_key_asked_for_twice_is_read_once(
        self, repo: LedgerRepository, tables: TableNames
    ) -> None:
        tweet = live_tweet(1, 5)
        repo.write([(tables.tweets, tweet), (tables.authors, author(5))])
        state = repo.read(
            hash_lines=[tweet["hash_line"]] * 2, author_ids=["5", "5"], hours=[HOUR, HOUR]
        )
        assert (set(state.tweets), set(state.authors), state.hours) == (
            {tweet["hash_line"]},
            {"5"},
            set(),
        )

    def test_more_keys_and_items_than_one_call_takes(
        self, repo: LedgerRepository, tables: TableNames
    ) -> None:
        """BatchGetItem takes 100 keys and BatchWriteItem 25 puts; a phase is not bounded."""
        tweets = [live_tweet(i, i % 7, seq=i) for i in range(1, 131)]
        repo.write([(tables.tweets, t) for t in tweets])
        state = repo.read(hash_lines=[t["hash_line"] for t in tweets])
        assert sorted(state.tweets) == sorted(t["hash_line"] for t in tweets)
        assert {t["origin"]["seq"] for t in state.tweets.values()} == {
            str(i) for i in range(1, 131)
        }

    def test_usage_counts_what_was_asked(self, repo: LedgerRepository, tables: TableNames) -> None:
        repo.write([(tables.tweets, live_tweet(1, 5)), (tables.authors, author(5))])
        repo.write([])
        repo.read(hash_lines=[live_tweet(1, 5)["hash_line"]], author_ids=["5"])
        assert repo.usage() == {
            "get_calls": 1,
            "keys_read": 2,
            "write_calls": 1,
            "items_written": 2,
            "retries": 0,
        }

    def test_a_phase_naming_one_item_twice_is_refused(
        self, repo: LedgerRepository, tables: TableNames
    ) -> None:
        tweet = live_tweet(1, 5)
        with pytest.raises(ClientError) as err:
            repo.write([(tables.tweets, tweet), (tables.tweets, tweet)])
        assert err.value.response["Error"]["Code"] == "ValidationException"
        assert repo.read(hash_lines=[tweet["hash_line"]]).tweets == {}

    def test_an_item_over_400_kb_is_refused(
        self, repo: LedgerRepository, tables: TableNames
    ) -> None:
        with pytest.raises(ClientError) as err:
            repo.write([(tables.authors, author(5, bio="x" * 410_000))])
        assert err.value.response["Error"]["Code"] == "ValidationException"

    def test_a_value_dynamodb_cannot_hold_is_refused(
        self, repo: LedgerRepository, tables: TableNames
    ) -> None:
        with pytest.raises(TypeError):
            repo.write([(tables.authors, author(5, score=1.5))])
        assert repo.read(author_ids=["5"]).authors == {}
