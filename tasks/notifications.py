"""The email task: send one notification and record the outcome."""

import logging

import outbox
from email_service import (
    EmailAuthenticationError,
    PermanentEmailError,
    TemporaryEmailError,
    compose_find_email,
)
from huey_app import huey
from models import ServiceState, upsert_service_state
from pony.orm import db_session
from runtime import get_email_service, get_settings
from tasks.priorities import NOTIFICATION_PRIORITY
from timeutil import utc_now

logger = logging.getLogger(__name__)

SMTP_AUTH_ALERT_KEY = "smtp_authentication_failure"


@huey.task(retries=3, retry_delay=10, priority=NOTIFICATION_PRIORITY)
def send_notification_email(notification_id: int) -> None:
    notice = outbox.claim_notification(notification_id, utc_now())
    if notice is None:
        logger.info("notification=%d skipped: already sent, failed, not due or being sent", notification_id)
        return

    message = compose_find_email(notice, get_settings().email_from)
    try:
        get_email_service().send(message)
    except EmailAuthenticationError as error:
        # Every email would fail the same way: tell the operator once, keep the emails pending.
        report_authentication_failure(str(error))
        retry_later(notification_id, f"SMTP login rejected: {error}")
        return
    except TemporaryEmailError as error:
        retry_later(notification_id, f"temporary SMTP failure: {error}")
        return
    except PermanentEmailError as error:
        outbox.mark_failed(notification_id, f"SMTP server refused the email: {error}", utc_now())
        logger.warning("notification=%d failed for good: %s", notification_id, error)
        return

    outbox.mark_sent(notification_id, utc_now())
    clear_authentication_failure()
    logger.info("notification=%d sent (watch=%d, language=%s)", notification_id, notice.watch_id, notice.language)


def retry_later(notification_id: int, reason: str) -> None:
    delay = outbox.schedule_retry(notification_id, reason, utc_now())
    send_notification_email.schedule(args=(notification_id,), delay=delay)
    logger.warning("notification=%d retry in %.0f s: %s", notification_id, delay, reason)


@db_session
def report_authentication_failure(reason: str) -> None:
    if upsert_service_state(SMTP_AUTH_ALERT_KEY, reason, utc_now()):
        logger.error(
            "SMTP login rejected: %s. No email can be sent until SMTP_USER / SMTP_PASSWORD are fixed; "
            "notifications stay pending and are sent once the login works.",
            reason,
        )


@db_session
def clear_authentication_failure() -> None:
    state = ServiceState.get(key=SMTP_AUTH_ALERT_KEY)
    if state is not None:
        state.delete()
        logger.info("SMTP login works again")
