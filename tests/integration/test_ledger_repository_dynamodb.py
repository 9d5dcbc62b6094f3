"""The consumer's repository on DynamoDB (moto server) against the shared contract."""

from __future__ import annotations

import pytest

from chalicelib.aws import client as aws_client
from chalicelib.consume.repository import DynamoLedgerRepository, TableNames
from chalicelib.dynamo.repository import DynamoRepository
from tests.conftest import AwsHarness
from tests.support.repository_contract import LedgerRepositoryContract

pytestmark = pytest.mark.integration


@pytest.fixture
def tables(aws: AwsHarness) -> TableNames:
    return TableNames.of(aws.settings)


@pytest.fixture
def repo(aws: AwsHarness, tables: TableNames) -> DynamoLedgerRepository:
    dynamodb = aws_client("dynamodb", aws.settings.region)
    return DynamoLedgerRepository(DynamoRepository(dynamodb), tables)


class TestDynamoLedgerRepository(LedgerRepositoryContract):
    pass
