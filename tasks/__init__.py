"""Huey tasks. Importing this package registers every task with `huey_app.huey`."""

from tasks.checks import check_route_batch, check_single_route
from tasks.interrupted import requeue_interrupted_check
from tasks.notifications import send_notification_email
from tasks.scheduling import expire_past_routes, plan_route_sweeps, requeue_stale_notifications, schedule_route_checks

__all__ = [
    "check_route_batch",
    "check_single_route",
    "expire_past_routes",
    "plan_route_sweeps",
    "requeue_interrupted_check",
    "requeue_stale_notifications",
    "schedule_route_checks",
    "send_notification_email",
]
