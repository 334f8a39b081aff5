"""Time in one place: aware UTC datetimes for records, whole epoch seconds for index values."""

from datetime import datetime
from datetime import timezone


def utcnow():
    return datetime.now(timezone.utc)


def epoch(moment):
    """Seconds since 1970 as an int: small to pickle, cheap to compare in a BTree."""
    return int(moment.timestamp())
