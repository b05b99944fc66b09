"""Queue priorities: higher runs first, so emails and sweeps never wait behind a backlog of checks."""

NOTIFICATION_PRIORITY = 30
SWEEP_PRIORITY = 20
CHECK_PRIORITY = 10
