"""Periodic tasks: sweeps that queue due checks, expiry of departed routes, and lost-task recovery.

Huey looks at periodic tasks once a minute, so `plan_route_sweeps` runs every minute and schedules
`schedule_route_checks` at every CHECK_INTERVAL_SECONDS within that minute. Every consumer that runs
periodic tasks does this; the database claims make the extra sweeps harmless.
"""

import logging
from datetime import timedelta

from huey import crontab
from pony.orm import db_session

import checking
import outbox
from huey_app import huey
from models import upsert_service_state
from runtime import get_settings
from tasks.checks import check_route_batch
from tasks.notifications import send_notification_email
from tasks.priorities import SWEEP_PRIORITY
from timeutil import utc_now

logger = logging.getLogger(__name__)

LAST_SWEEP_KEY = "last_sweep_at"


@huey.periodic_task(crontab(), priority=SWEEP_PRIORITY)
def plan_route_sweeps() -> None:
    interval = get_settings().check_interval_seconds
    for delay in range(0, 60, interval):
        # A sweep that could not start within its interval is dropped; the next one covers its routes.
        schedule_route_checks.schedule(delay=delay, expires=delay + interval)


@huey.task(priority=SWEEP_PRIORITY)
def schedule_route_checks() -> None:
    """Claim the routes due within the coming interval and queue their checks at their planned times."""
    now = utc_now()
    interval = get_settings().check_interval_seconds
    # Looking a little past the next sweep covers a late sweep without leaving a gap.
    window = timedelta(seconds=interval * 1.5)
    claims = checking.claim_due_routes(now, window, limit=checking.SWEEP_MAX_ROUTES)

    batches = checking.plan_batches(claims)
    for planned_at, route_ids in batches:
        if planned_at <= now:
            check_route_batch(route_ids)
        else:
            check_route_batch.schedule(args=(route_ids,), eta=planned_at)

    record_sweep(now, len(claims))
    if claims:
        routes = sum(len(claim.route_ids) for claim in claims)
        logger.info("sweep queued %d checks covering %d routes in %d batches", len(claims), routes, len(batches))


@db_session
def record_sweep(now, checks: int) -> None:
    upsert_service_state(LAST_SWEEP_KEY, f"{checks} checks queued", now)


@huey.periodic_task(crontab(), priority=SWEEP_PRIORITY)
def expire_past_routes() -> None:
    expired = checking.expire_past_routes(utc_now())
    if expired:
        logger.info("expired %d routes whose departure has passed", expired)


@huey.periodic_task(crontab(), priority=SWEEP_PRIORITY)
def requeue_stale_notifications() -> None:
    """Queue again the notifications whose task was lost (worker killed, queue emptied)."""
    notification_ids = outbox.stale_notification_ids(utc_now())
    for notification_id in notification_ids:
        send_notification_email(notification_id)
    if notification_ids:
        logger.warning("re-queued %d notifications whose task was lost", len(notification_ids))
