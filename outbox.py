"""The notification outbox: claim a pending notification, then record how its email went.

A notification row is written in the same transaction that marks its route found, before any task
exists. A send claims the row with a conditional UPDATE (pending -> sending, with a lease), so two
workers never send the same email and a sent one is never sent again. A row left pending or sending
past its lease, because its task was lost, is queued again by `stale_notification_ids`.
"""

import logging
from datetime import datetime, timedelta

from pony.orm import db_session

from availability import Offer
from email_service import FindNotice, SeatOffer
from models import NOTIFICATION_FAILED, PENDING, SENDING, SENT, Notification, db

logger = logging.getLogger(__name__)

# How long one send may take before another worker may take the notification over. It covers
# an SMTP connection, a slow server and the timeout of the email service.
SEND_LEASE = timedelta(minutes=2)

# A pending notification whose task has not started this long after it became due was lost.
LOST_TASK_GRACE = timedelta(seconds=60)

# Temporary SMTP failures retry after 30 s doubling, at most 30 minutes apart.
RETRY_BASE_SECONDS = 30.0
RETRY_CAP_SECONDS = 1800.0


def retry_delay(attempts: int) -> float:
    return min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0))


@db_session
def claim_notification(notification_id: int, now: datetime) -> FindNotice | None:
    """Claim a notification for sending and return its email contents, or None if it is not ours.

    None means the notification is sent, failed, not yet due, or being sent by another worker.
    """
    cursor = db.execute(
        """
        UPDATE notification SET status = $sending, lease_until = $lease_until, attempts = attempts + 1
        WHERE id = $id AND (
            (status = $pending AND next_attempt_at <= $now)
            OR (status = $sending AND lease_until < $now)
        )
        """,
        {
            "id": notification_id,
            "now": now,
            "lease_until": now + SEND_LEASE,
            "pending": PENDING,
            "sending": SENDING,
        },
    )
    if cursor.rowcount != 1:
        return None
    return build_notice(Notification[notification_id])


def build_notice(notification: Notification) -> FindNotice:
    route = notification.route
    watcher = notification.watch.watcher
    offers = tuple(
        SeatOffer(offer.seat_class, offer.free_seats, offer.price, offer.currency)
        for offer in (Offer.from_json(data) for data in (route.found_offers or []))
    )
    return FindNotice(
        notification_id=notification.id,
        watch_id=notification.watch.id,
        to_address=watcher.email,
        language=watcher.language,
        from_station_id=route.from_station_id,
        from_station_name=route.from_station_name,
        from_time_zone=route.from_time_zone,
        to_station_id=route.to_station_id,
        to_station_name=route.to_station_name,
        to_time_zone=route.to_time_zone,
        departure_at=route.departure_at,
        arrival_at=route.arrival_at,
        tariffs=tuple(route.tariff_list),
        offers=offers,
    )


@db_session
def mark_sent(notification_id: int, now: datetime) -> None:
    Notification[notification_id].set(status=SENT, sent_at=now, lease_until=None, last_error="")


@db_session
def mark_failed(notification_id: int, reason: str, now: datetime) -> None:
    """Record a permanent failure: the email will not be tried again."""
    Notification[notification_id].set(status=NOTIFICATION_FAILED, lease_until=None, last_error=reason[:1000])


@db_session
def schedule_retry(notification_id: int, reason: str, now: datetime, delay: float | None = None) -> float:
    """Put the notification back to pending after a temporary failure; return the delay in seconds."""
    notification = Notification[notification_id]
    if delay is None:
        delay = retry_delay(notification.attempts)
    notification.set(
        status=PENDING,
        next_attempt_at=now + timedelta(seconds=delay),
        lease_until=None,
        last_error=reason[:1000],
    )
    return delay


@db_session
def stale_notification_ids(now: datetime, limit: int = 1000) -> list[int]:
    """Return notifications whose task was evidently lost: due long ago, or past their send lease."""
    rows = db.select(
        """SELECT id FROM notification
        WHERE (status = $pending AND next_attempt_at < $due_before)
           OR (status = $sending AND lease_until < $now)
        ORDER BY next_attempt_at
        LIMIT $limit
        """,
        {"pending": PENDING, "sending": SENDING, "due_before": now - LOST_TASK_GRACE, "now": now, "limit": limit},
    )
    return list(rows)
