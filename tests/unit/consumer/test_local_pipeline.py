"""Pieces of the local pipeline that need no stack: the Lambda SQS record shape and DLQ summaries."""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from ops.notifications.dlq import describe_message
from ops.notifications.pipeline import lambda_record
from tests.fixtures.notifications.consumer import events as ev


def test_received_message_becomes_the_record_lambda_would_pass() -> None:
    message = ev.apple("DID_RENEW")
    received = {
        "MessageId": "m-1",
        "ReceiptHandle": "rh-1",
        "Body": message.to_json(),
        "MD5OfBody": "abc",
        "Attributes": {"MessageGroupId": message.message_group_id, "ApproximateReceiveCount": "3"},
        "MessageAttributes": {"provider": {"StringValue": "apple", "DataType": "String"}},
    }
    record = SQSRecord(lambda_record(received, "arn:aws:sqs:us-east-1:123456789012:q.fifo", "us-east-1"))
    assert (record.message_id, record.receipt_handle, record.body) == ("m-1", "rh-1", message.to_json())
    assert record.attributes.message_group_id == message.message_group_id
    assert record.attributes.approximate_receive_count == "3"
    provider = record.message_attributes["provider"]
    assert provider is not None and provider.string_value == "apple"
    assert record.event_source_arn.endswith(":q.fifo")


def test_dlq_summaries_name_provider_id_and_type() -> None:
    assert describe_message(ev.apple("EXPIRED", "VOLUNTARY", notification_id="n-1").to_json()) == (
        "apple",
        "n-1",
        "EXPIRED/VOLUNTARY",
    )
    google = ev.google_subscription(4, message_id="777")
    assert describe_message(google.to_json()) == ("google", "777", "subscriptionNotification:4")
    assert describe_message("{not json") == ("?", "?", "(not a NotificationMessage)")
