"""CloudEvents 1.0 binary mode on Kafka: attributes in `ce_*` headers, the JSON payload as value.

The header mapping is the CloudEvents SDK's Kafka binding; this module only adds our two
extensions (`correlationid`, `traceparent`) and the payload registry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

_FORMAT = JSONFormat()


class InvalidMessage(ValueError):
    """A Kafka record that is not a CloudEvent we can read."""


@dataclass(frozen=True)
class Envelope:
    id: str
    type: str
    source: str
    subject: str
    time: datetime
    data: dict[str, Any]
    correlation_id: str | None = None
    traceparent: str | None = None
    headers: dict[str, bytes] = field(default_factory=dict, compare=False)

    def to_kafka(self) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
        """(key, value, headers) for a producer; the key is the aggregate id."""
        attributes: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "source": self.source,
            "subject": self.subject,
            "time": self.time,
            "datacontenttype": "application/json",
        }
        if self.correlation_id:
            attributes["correlationid"] = self.correlation_id
        if self.traceparent:
            attributes["traceparent"] = self.traceparent
        message = ce_kafka.to_binary(CloudEvent(attributes=attributes, data=self.data), _FORMAT)
        return self.subject.encode(), message.value, list(message.headers.items())

    @classmethod
    def from_kafka(cls, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]] | tuple) -> Envelope:
        header_map = {name: raw for name, raw in headers}
        if "ce_id" not in header_map or "ce_type" not in header_map:
            raise InvalidMessage("not a CloudEvent: ce_id or ce_type header missing")
        try:
            event = ce_kafka.from_binary(
                ce_kafka.KafkaMessage(headers=header_map, key=key, value=value or b""), _FORMAT
            )
        except Exception as exc:  # the SDK raises several types for one meaning: unreadable event
            raise InvalidMessage(f"unreadable CloudEvent: {exc}") from None
        data = event.get_data()
        if isinstance(data, (bytes, str)):
            try:
                data = json.loads(data)
            except ValueError:
                raise InvalidMessage("the payload is not JSON") from None
        if not isinstance(data, dict):
            raise InvalidMessage("the payload is not a JSON object")
        return cls(
            id=event.get_id(),
            type=event.get_type(),
            source=event.get_source(),
            subject=event.get_subject() or (key.decode() if key else ""),
            time=event.get_time() or datetime.now(UTC),
            data=data,
            correlation_id=event.get_extension("correlationid"),
            traceparent=event.get_extension("traceparent"),
            headers=header_map,
        )
