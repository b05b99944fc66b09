"""Process-wide resources built once from the settings: settings, RegioJet clients, email service."""

import functools
import threading
from concurrent.futures import ThreadPoolExecutor

from config import Settings, load_settings
from email_service import EmailService
from regiojet_client import RegioJetClient
from request_budget import RequestBudget

_thread_local = threading.local()


@functools.cache
def get_settings() -> Settings:
    return load_settings()


def get_regiojet_client() -> RegioJetClient:
    """Return this thread's RegioJet client; a requests.Session is not shared between threads."""
    client = getattr(_thread_local, "regiojet_client", None)
    if client is None:
        settings = get_settings()
        client = RegioJetClient(
            settings.regiojet_api_url,
            lang=settings.regiojet_lang,
            currency=settings.regiojet_currency,
            before_request=take_request_slot,
        )
        _thread_local.regiojet_client = client
    return client


# Route-detail requests in flight at once across the batch checks of one process. At 50 ms per
# request this allows about 1,000 requests a second; each thread keeps its own keep-alive session.
CHECK_REQUEST_THREADS = 48


@functools.cache
def get_check_executor() -> ThreadPoolExecutor:
    """Return the process-wide thread pool that sends the requests of batch checks."""
    # NOTE: the interpreter joins these threads at exit, so a consumer stopped at its shutdown
    # limit still waits for the requests in flight, up to the client's read timeout.
    return ThreadPoolExecutor(max_workers=CHECK_REQUEST_THREADS, thread_name_prefix="check-request")


@functools.cache
def get_request_budget() -> RequestBudget:
    """Return the RegioJet request budget kept in the Huey queue's storage, shared by all consumers."""
    # Imported here because huey_app imports this module.
    from huey_app import huey

    settings = get_settings()
    return RequestBudget(huey.storage, "regiojet-requests", settings.regiojet_max_requests_per_second)


def take_request_slot() -> None:
    """Take a slot of the shared budget before each RegioJet request; raises RequestBudgetExceeded."""
    get_request_budget().acquire()


@functools.cache
def get_email_service() -> EmailService:
    settings = get_settings()
    return EmailService(
        host=settings.smtp_host,
        port=settings.smtp_port,
        user=settings.smtp_user,
        password=settings.smtp_password,
        security=settings.smtp_security,
        sender=settings.email_from,
    )
