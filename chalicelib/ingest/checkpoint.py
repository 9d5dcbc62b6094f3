"""The ingest checkpoint: the largest tweet id a run has put into the stream.

It lives in the state table (``pk="checkpoint"``, ``sk="ingest"``), not in SSM
Parameter Store, because:

* DynamoDB can make the write monotonic in one call: a conditional update
  that only succeeds if the stored id is smaller. SSM ``PutParameter`` can only
  overwrite or not, so a late or replayed run could move the checkpoint back.
* The table already exists, with its IAM grant, for the consumer's state; SSM
  would add a resource, a policy statement and a much lower request quota.
* The item can carry context (when, which source, how many records) next to the
  id, and a strongly consistent read returns the latest value.

The id is stored as a DynamoDB number: numbers keep 38 significant digits, so
20-digit tweet ids compare exactly (as JSON numbers they would not). "Largest"
rather than "last" because a stream delivers ids slightly out of order; the
maximum is what ``since_id``-style backfill wants.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.aws import error_code
from chalicelib.timeutil import now_iso

CHECKPOINT_PK = "checkpoint"
CHECKPOINT_SK = "ingest"
#: Sources whose checkpoint is not a tweet id keep their own item and attribute:
#: Jetstream's is the largest ``time_us`` (µs) a run put into the stream.
CURSOR_CHECKPOINTS = {"bluesky": ("jetstream", "cursor_us")}


@dataclass(frozen=True, slots=True)
class CheckpointWrite:
    """Outcome of :meth:`Checkpoint.advance`: the id now stored and whether we moved it."""

    tweet_id: int
    advanced: bool


class Checkpoint:
    def __init__(
        self, dynamodb: Any, table: str, sk: str = CHECKPOINT_SK, attribute: str = "last_tweet_id"
    ) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self._key = {"pk": {"S": CHECKPOINT_PK}, "sk": {"S": sk}}
        self._attribute = attribute

    @classmethod
    def for_source(cls, dynamodb: Any, table: str, source: str) -> Checkpoint:
        """The checkpoint ``source`` resumes from (a cursor item for Jetstream)."""
        sk, attribute = CURSOR_CHECKPOINTS.get(source, (CHECKPOINT_SK, "last_tweet_id"))
        return cls(dynamodb, table, sk, attribute)

    def read(self) -> int | None:
        """The stored tweet id, or None before the first successful run."""
        item = self._dynamodb.get_item(TableName=self._table, Key=self._key, ConsistentRead=True)
        value = item.get("Item", {}).get(self._attribute, {}).get("N")
        return int(value) if value is not None else None

    def advance(self, tweet_id: int, *, source: str, sent: int) -> CheckpointWrite:
        """Store ``tweet_id`` unless a larger one is already there (never moves back)."""
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key=self._key,
                UpdateExpression="SET #value = :id, updated_at = :at, "
                "#source = :source, last_run_sent = :sent",
                ConditionExpression="attribute_not_exists(#value) OR #value < :id",
                ExpressionAttributeNames={"#source": "source", "#value": self._attribute},
                ExpressionAttributeValues={
                    ":id": {"N": str(tweet_id)},
                    ":at": {"S": now_iso()},
                    ":source": {"S": source},
                    ":sent": {"N": str(sent)},
                },
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            stored = self.read()
            return CheckpointWrite(
                tweet_id=stored if stored is not None else tweet_id, advanced=False
            )
        return CheckpointWrite(tweet_id=tweet_id, advanced=True)
