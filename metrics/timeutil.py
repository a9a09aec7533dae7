"""Time slices of the statistics, in UTC: shared by the fill (writer), the readers and reports."""

from datetime import UTC, date, datetime, time, timedelta

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def floor_time(moment: datetime, slice_: timedelta) -> datetime:
    """The start of the hour (or, for a slice of a day or more, the day) holding `moment`."""
    moment = moment.astimezone(UTC)
    if slice_ >= DAY:
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return moment.replace(minute=0, second=0, microsecond=0)


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)
