"""DynamoDB table and index definitions: the one place their shapes are declared.

The test harness and the local mode create tables from these definitions
(``tweetlake_local.resources``), and a test compares them with what
``terraform/dynamodb.tf`` declares, so code, emulation and AWS agree.

Item shapes (the consumer writes them, the API reads them):

* **tweets** — key ``hash_line`` (see :mod:`chalicelib.dynamo.hashing`). A live tweet
  carries the enriched envelope fields (not ``raw``: the lake keeps that),
  ``author_id``, ``created_key`` = ``<created_at>#<tweet_id>`` (sorts newest
  first when read backwards, unique) and ``created_hour`` = ``YYYY-MM-DDTHH``.
  A delete leaves a tombstone item (``status = "deleted"``, no index
  attributes, so it drops out of both indexes) that stops a late copy of the
  tweet from being stored again.
  Indexes: ``by_author`` (author_id, created_key) for a user's timeline and
  ``by_time`` (created_hour, created_key) for the global newest-first feed.
  Also on a live tweet: ``status = "live"``, ``processed_at``,
  ``author_tweets_in_batch``, and bookkeeping ``origin`` = {shard, seq} (the
  record that stored it; readers should not show it). A tombstone holds
  ``hash_line``, ``status``, ``tweet_id``, ``deleted_at``, ``source_api``,
  ``processed_at``, ``origin`` and, once any copy of the tweet was seen,
  ``deleted_author_id`` and ``replaced`` (bookkeeping).
* **authors** — key ``author_id``: latest profile, first/last seen, exact
  stored-tweet count, bookkeeping for exactly-once counting. Attributes:
  ``profile`` (map, the envelope's ``author``), ``profile_at`` (creation time
  of the tweet that carried it), ``first_seen``/``last_seen`` (creation times
  of the author's oldest/newest tweet seen), ``tweet_count`` (live tweets),
  bookkeeping ``profile_key`` and ``applied`` = {shard: sequence number text}
  (see ``chalicelib.consume.plan``). There is no ``profile`` until a tweet of the
  author has been seen.
* **state** — key (``pk``, ``sk``): small documents such as the ingest
  checkpoint (``pk = "checkpoint"``) and the directory of non-empty hour
  buckets (``pk = "hours"``, ``sk = YYYY-MM-DDTHH``) that lets the feed skip
  empty hours without scanning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Index:
    name: str
    hash_key: str
    range_key: str | None = None
    projection: str = "ALL"


@dataclass(frozen=True, slots=True)
class TableDef:
    """A table's logical name, its key attributes (all strings) and its GSIs."""

    logical: str
    hash_key: str
    range_key: str | None = None
    indexes: tuple[Index, ...] = field(default_factory=tuple)

    def attributes(self) -> list[str]:
        """Every attribute that appears in a key of the table or an index."""
        names = [self.hash_key, self.range_key]
        for index in self.indexes:
            names += [index.hash_key, index.range_key]
        return sorted({n for n in names if n})


TWEETS = TableDef(
    logical="tweets",
    hash_key="hash_line",
    indexes=(
        Index("by_author", "author_id", "created_key"),
        Index("by_time", "created_hour", "created_key"),
    ),
)
AUTHORS = TableDef(logical="authors", hash_key="author_id")
STATE = TableDef(logical="state", hash_key="pk", range_key="sk")

ALL_TABLES: tuple[TableDef, ...] = (TWEETS, AUTHORS, STATE)

#: Every table is encrypted at rest with the AWS managed key and has
#: point-in-time recovery, as terraform/dynamodb.tf declares (a test compares).
SSE_SPECIFICATION: dict[str, Any] = {"Enabled": True}
POINT_IN_TIME_RECOVERY = True


def _key_schema(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return schema


def create_table_request(table: TableDef, name: str) -> dict[str, Any]:
    """Arguments for ``dynamodb.create_table`` (on-demand and encrypted, like Terraform
    declares; point-in-time recovery is a separate call, see ``POINT_IN_TIME_RECOVERY``)."""
    request: dict[str, Any] = {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": a, "AttributeType": "S"} for a in table.attributes()
        ],
        "KeySchema": _key_schema(table.hash_key, table.range_key),
        "SSESpecification": dict(SSE_SPECIFICATION),
    }
    if table.indexes:
        request["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index.name,
                "KeySchema": _key_schema(index.hash_key, index.range_key),
                "Projection": {"ProjectionType": index.projection},
            }
            for index in table.indexes
        ]
    return request
