"""Re-enqueue the check tasks that a consumer shutdown interrupted.

`huey_consumer --graceful-signal TERM --shutdown-timeout 25` waits 25 s for running tasks, then
exits. Huey has already deleted those tasks from the queue, so without this handler their work
waits for the sweeps' database recovery.
"""

import logging

from huey.signals import SIGNAL_INTERRUPTED

from huey_app import huey
from tasks.checks import check_route_batch, check_single_route

logger = logging.getLogger(__name__)

RESTARTABLE_TASK_CLASSES = (check_single_route.task_class, check_route_batch.task_class)


@huey.signal(SIGNAL_INTERRUPTED)
def requeue_interrupted_check(signal: str, task) -> None:
    """Put an interrupted check back on the queue, so the next consumer runs it at once.

    A check is safe to run twice because a route found by the first run is no longer active, so the
    second run skips it. The re-queued check does not wait for the route's claim, which would keep
    the sweeps off the route until its check is overdue, 90 s after its planned time.

    Email tasks are not re-enqueued. A send interrupted after its claim leaves the row `sending`,
    and the SMTP server may already have stored the email, so only the lapse of the row's send lease
    may allow a second send. A new task would be skipped until then anyway, and
    `requeue_stale_notifications` queues the row once the lease lapses. An email task interrupted
    before its claim leaves the row `pending`, which the same sweep queues 60 s after it was due.
    """
    if not isinstance(task, RESTARTABLE_TASK_CLASSES):
        logger.warning("task %s (%s) was interrupted by the shutdown; the periodic sweeps recover its work", task.id, task.name)
        return

    huey.enqueue(task)
    logger.warning("check task %s (%s, args=%s) was interrupted by the shutdown and is queued again", task.id, task.name, task.args)
