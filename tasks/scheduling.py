"""Periodic tasks: sweeps that queue due checks, expiry of departed routes, and lost-task recovery.

Huey looks at periodic tasks once a minute, so `plan_route_sweeps` runs every minute and schedules
`schedule_route_checks` every second (checking.SWEEP_PERIOD) within that minute. Every consumer that
runs periodic tasks does this; the database claims make the extra sweeps harmless.
"""

import logging

from huey import crontab
from pony.orm import db_session

import checking
import outbox
from huey_app import huey
from models import upsert_service_state
from tasks.checks import check_route_batch
from tasks.notifications import send_notification_email
from tasks.priorities import SWEEP_PRIORITY
from timeutil import utc_now

logger = logging.getLogger(__name__)

LAST_SWEEP_KEY = "last_sweep_at"


@huey.periodic_task(crontab(), priority=SWEEP_PRIORITY)
def plan_route_sweeps() -> None:
    period = int(checking.SWEEP_PERIOD.total_seconds())
    lookahead = int(checking.SWEEP_LOOKAHEAD.total_seconds())
    for delay in range(0, 60, period):
        # A sweep that could not start before the next one is due is dropped, because the lookahead
        # of the next sweep covers its routes.
        schedule_route_checks.schedule(delay=delay, expires=delay + lookahead)


@huey.task(priority=SWEEP_PRIORITY)
def schedule_route_checks() -> None:
    """Claim the routes due within the sweep lookahead and queue their checks at their planned times."""
    now = utc_now()
    claims = checking.claim_due_routes(now, checking.SWEEP_LOOKAHEAD, limit=checking.SWEEP_MAX_ROUTES)

    batches = checking.plan_batches(claims)
    for batch in batches:
        arguments = (batch.route_ids, batch.claim_token, batch.claimed_before)
        if batch.planned_at <= now:
            check_route_batch(*arguments)
        else:
            check_route_batch.schedule(args=arguments, eta=batch.planned_at)

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
