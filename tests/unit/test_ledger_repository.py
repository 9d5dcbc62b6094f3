"""The in-memory twin of the consumer's tables: the shared contract, then what only it does."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from chalicelib.consume.repository import TableNames
from tests.support.memory_repository import InMemoryLedgerRepository, InvocationDiedError
from tests.support.repository_contract import LedgerRepositoryContract, author, live_tweet

TABLES = TableNames("tweetlake-test-tweets", "tweetlake-test-authors", "tweetlake-test-state")


@pytest.fixture
def tables() -> TableNames:
    return TABLES


@pytest.fixture
def repo(tables: TableNames) -> InMemoryLedgerRepository:
    return InMemoryLedgerRepository(tables)


class TestInMemoryLedgerRepository(LedgerRepositoryContract):
    pass


def test_two_items_under_one_key_in_a_phase_are_refused(repo: InMemoryLedgerRepository) -> None:
    """DynamoDB refuses a request naming one key twice; moto only refuses identical puts,
    so the contract (which runs on moto) cannot say this, and the twin says it here."""
    with pytest.raises(ClientError) as err:
        repo.write([(TABLES.authors, author(5)), (TABLES.authors, author(5, tweet_count=9))])
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert repo.items(TABLES.authors) == []


def test_an_unknown_table_or_a_missing_key_is_refused(repo: InMemoryLedgerRepository) -> None:
    with pytest.raises(ClientError) as err:
        repo.write([("tweetlake-test-other", author(5))])
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as err:
        repo.write([(TABLES.state, {"pk": "hours"})])
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_an_invocation_dies_between_phases(repo: InMemoryLedgerRepository) -> None:
    """GIVEN die_after(1) WHEN two phases are written THEN the first lands, the second
    raises and writes nothing, and the next invocation writes normally."""
    repo.die_after(1)
    repo.write([(TABLES.tweets, live_tweet(1, 5))])
    with pytest.raises(InvocationDiedError):
        repo.write([(TABLES.authors, author(5))])
    assert len(repo.items(TABLES.tweets)) == 1
    assert repo.items(TABLES.authors) == []
    repo.write([(TABLES.authors, author(5))])
    assert repo.items(TABLES.authors) == [author(5)]


def test_what_comes_back_is_a_copy(repo: InMemoryLedgerRepository) -> None:
    item = author(5)
    repo.write([(TABLES.authors, item)])
    item["tweet_count"] = 99
    read = repo.read(author_ids=["5"]).authors["5"]
    read["applied"].clear()
    assert repo.read(author_ids=["5"]).authors["5"] == author(5)
