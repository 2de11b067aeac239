"""RFC 3339 timestamps the way Google APIs write them: UTC, microseconds, trailing 'Z'."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_rfc3339() -> str:
    return rfc3339(utcnow())


def parse_rfc3339(text: str) -> datetime:
    """Parse '2024-05-01T10:00:00Z' or with an offset / fraction; naive values are taken as UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)
