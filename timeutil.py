"""UTC helpers: the database and Huey keep naive UTC datetimes."""

from datetime import datetime, timezone
from zoneinfo import ZoneInfo


def utc_now() -> datetime:
    """Return the current time as a naive UTC datetime, the form Pony stores."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def to_naive_utc(moment: datetime) -> datetime:
    """Convert an aware datetime (such as a RegioJet time with an offset) to naive UTC."""
    if moment.tzinfo is None:
        raise ValueError(f"expected a datetime with a time zone, got naive {moment.isoformat()}")
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def to_local(moment: datetime, time_zone: str) -> datetime:
    """Convert a naive UTC datetime to the wall-clock time of a tz database zone."""
    return moment.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(time_zone))
