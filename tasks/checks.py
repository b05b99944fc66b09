"""The check task: one RegioJet request for a monitored route and the routes claimed with it."""

import logging
from datetime import timedelta

from checking import check_route
from huey_app import huey
from runtime import get_regiojet_client, get_settings
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

    # Queue emails only now: the notifications were committed inside check_route, so a worker
    # picking one up is sure to find its row.
    from tasks.notifications import send_notification_email

    for result in results:
        for notification_id in result.notification_ids:
            send_notification_email(notification_id)
