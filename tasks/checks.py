"""The check tasks: one connection (`check_single_route`) or a batch of claimed routes (`check_route_batch`)."""

import logging
from datetime import datetime, timedelta

from checking import CheckResult, check_route, check_routes
from huey_app import huey
from runtime import get_check_executor, get_regiojet_client, get_settings
from tasks.priorities import CHECK_PRIORITY
from timeutil import utc_now

logger = logging.getLogger(__name__)


# Temporary RegioJet failures are retried through the database (see checking.record_temporary_failure);
# Huey's retries cover the rest, such as the database being briefly unreachable.
@huey.task(retries=3, retry_delay=10, priority=CHECK_PRIORITY)
def check_single_route(route_id: int) -> None:
    settings = get_settings()
    results = check_route(
        route_id,
        get_regiojet_client(),
        currency=settings.regiojet_currency,
        interval=timedelta(seconds=settings.check_interval_seconds),
        now=utc_now(),
    )

    queue_notifications(results)


@huey.task(retries=3, retry_delay=10, priority=CHECK_PRIORITY)
def check_route_batch(
    route_ids: tuple[int, ...], claim_token: str | None = None, claimed_before: datetime | None = None
) -> None:
    """Check claimed routes of many connections with concurrent requests, then queue the finds' emails.

    The sweep passes its claim (`claim_token`, and `claimed_before` for a claim by the horizon), so
    that a batch running late skips the routes a later sweep has claimed again and the routes
    checked since. Tasks queued without one check every active route given.
    """
    settings = get_settings()
    results = check_routes(
        list(route_ids),
        get_check_executor(),
        get_regiojet_client,
        currency=settings.regiojet_currency,
        interval=timedelta(seconds=settings.check_interval_seconds),
        now=utc_now(),
        claim_token=claim_token,
        claimed_before=claimed_before,
    )
    queue_notifications(results)


def queue_notifications(results: list[CheckResult]) -> None:
    # Queue emails only now: the notifications were committed by the check, so a worker picking
    # one up is sure to find its row.
    from tasks.notifications import send_notification_email

    for result in results:
        for notification_id in result.notification_ids:
            send_notification_email(notification_id)
