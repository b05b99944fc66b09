"""Compose the find notification email and send it over SMTP through yagmail."""

import logging
import smtplib
import ssl
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid, parseaddr

import jinja2
import yagmail

from email_templates.formatting import (
    describe_passengers,
    format_day,
    format_free_seats,
    format_moment,
    format_price,
    seat_class_title,
    to_station_time,
)

logger = logging.getLogger(__name__)

LANGUAGES = ("cs", "en")
SECURITY_MODES = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}

BOOKING_SEARCH_URL = "https://regiojet.cz/"


@dataclass(frozen=True)
class SeatOffer:
    """Free seats in one seat class of a found connection."""

    seat_class: str  # RegioJet seatClassKey, e.g. "C1"
    free_seats: int
    price: Decimal  # for all passengers together
    currency: str  # "CZK" or "EUR"


@dataclass(frozen=True)
class FindNotice:
    """Everything one notification email needs, already loaded from the database."""

    notification_id: int
    watch_id: int
    to_address: str
    language: str  # "cs" or "en"
    from_station_id: int
    from_station_name: str  # display label, e.g. "Praha hl.n."
    from_time_zone: str  # tz database name, e.g. "Europe/Prague"
    to_station_id: int
    to_station_name: str
    to_time_zone: str
    departure_at: datetime  # naive UTC
    arrival_at: datetime  # naive UTC
    tariffs: tuple[str, ...]  # one per passenger
    offers: tuple[SeatOffer, ...]


class EmailError(Exception):
    """A failure to send one email; str() is one readable line."""


class TemporaryEmailError(EmailError):
    """A failure that may pass: refused connection, timeout, disconnect or a 4xx reply."""


class EmailTLSError(TemporaryEmailError):
    """A TLS failure, such as an untrusted certificate or a server without STARTTLS.

    Retrying helps only after the server's certificate or the SMTP settings are fixed,
    so callers may treat it as an operator problem while still keeping the email.
    """


class PermanentEmailError(EmailError):
    """A 5xx reply for the recipient or the message: sending it again will fail again."""


class EmailAuthenticationError(EmailError):
    """The server rejects the SMTP login or the configured sender: an operator problem."""


# --- Booking link -------------------------------------------------------------------------


def booking_link(notice: FindNotice) -> str:
    """Build the link to RegioJet's search for the departure day with one tariff per passenger.

    RegioJet has no link to a single connection, so the traveller picks it from that day's
    results. The date is the local date at the departure station, not the UTC date.
    """
    if not notice.tariffs:
        raise ValueError(f"Watch {notice.watch_id} has no tariffs: a find notice needs one per passenger")

    departure_local = to_station_time(notice.departure_at, notice.from_time_zone)
    parameters = [
        ("departureDate", departure_local.date().isoformat()),
        ("fromLocationId", str(notice.from_station_id)),
        ("fromLocationType", "STATION"),
        ("toLocationId", str(notice.to_station_id)),
        ("toLocationType", "STATION"),
    ]
    parameters += [("tariffs", tariff) for tariff in notice.tariffs]
    return f"{BOOKING_SEARCH_URL}?{urllib.parse.urlencode(parameters)}"


# --- Composing ----------------------------------------------------------------------------

_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("email_templates", "."),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def flatten_whitespace(text: str) -> str:
    """Collapse every run of whitespace, CR and LF included, into one space."""
    return " ".join(text.split())


def check_header_address(address: str, role: str) -> None:
    """Raise ValueError for an address that could add a header or has no domain."""
    if "\r" in address or "\n" in address:
        raise ValueError(f"Invalid {role} address {address!r}: it contains a line break; remove it")

    if "@" not in parseaddr(address)[1]:
        raise ValueError(f"Invalid {role} address {address!r}: use a full address like name@example.com")


def compose_find_email(notice: FindNotice, sender: str) -> EmailMessage:
    """Build the multipart/alternative notification email for one find, in the watcher's language."""
    if notice.language not in LANGUAGES:
        raise ValueError(f"Unsupported language {notice.language!r} for watch {notice.watch_id}: use 'cs' or 'en'")
    check_header_address(sender, "sender")
    check_header_address(notice.to_address, "recipient")

    context = _template_context(notice)
    language = notice.language
    subject = flatten_whitespace(_templates.get_template(f"find-subject.{language}.txt").render(context))
    text = _templates.get_template(f"find-body.{language}.txt").render(context)
    html = _templates.get_template(f"find-body.{language}.html").render(context)

    message = EmailMessage()
    message["From"] = sender
    message["To"] = notice.to_address
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(
        idstring=f"notification-{notice.notification_id}", domain=parseaddr(sender)[1].rpartition("@")[2]
    )
    # RFC 3834 tells vacation responders and ticket systems not to reply to this header value.
    message["Auto-Submitted"] = "auto-generated"

    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def _template_context(notice: FindNotice) -> dict:
    language = notice.language
    departure = to_station_time(notice.departure_at, notice.from_time_zone)
    arrival = to_station_time(notice.arrival_at, notice.to_time_zone)

    offers = [
        {
            "title": seat_class_title(offer.seat_class, language),
            "free_seats": format_free_seats(offer.free_seats, language),
            "price": format_price(offer.price, offer.currency, language),
        }
        for offer in notice.offers
    ]

    return {
        "from_station": flatten_whitespace(notice.from_station_name),
        "to_station": flatten_whitespace(notice.to_station_name),
        "departure": format_moment(departure, language),
        "arrival": format_moment(arrival, language),
        "departure_day": format_day(departure, language),
        "departure_time": f"{departure:%H:%M}",
        "offers": offers,
        "passenger_count": len(notice.tariffs),
        "passengers": describe_passengers(notice.tariffs, language),
        "booking_link": booking_link(notice),
        "watch_id": notice.watch_id,
    }


# --- Sending ------------------------------------------------------------------------------


def mask_address(address: str) -> str:
    """Shorten an address for logs: "jana@example.com" becomes "j***@example.com"."""
    local_part, _, domain = parseaddr(address)[1].rpartition("@")
    return f"{local_part[:1]}***@{domain}"


class EmailService:
    """Send prepared emails over SMTP, or write them to the log when no SMTP host is set.

    Each send opens its own connection and closes it afterwards. Notifications are rare
    (one per watcher and find), so a kept-open connection would add reconnect handling for
    no measurable gain.
    """

    def __init__(
        self,
        host: str | None,
        port: int,
        user: str | None,
        password: str | None,
        security: str,
        sender: str,
        timeout: float = 30.0,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ):
        if security not in SECURITY_MODES:
            raise ValueError(f"Invalid SMTP security {security!r}: use starttls, ssl or none")
        if host is not None and not 0 < port < 65536:
            raise ValueError(f"Invalid SMTP port {port}: use 1-65535, usually {DEFAULT_PORTS[security]} for {security}")
        if (user is None) != (password is None):
            raise ValueError("SMTP user and password must be set together: set both, or neither to send without login")
        if timeout <= 0:
            raise ValueError(f"Invalid SMTP timeout {timeout}: use a number of seconds above 0")
        check_header_address(sender, "sender")

        self.host = host
        self.port = port
        self.user = user
        self._password = password
        self.security = security
        self.sender = sender
        self.envelope_sender = parseaddr(sender)[1]
        self.timeout = timeout
        # The system trust store by default; tests pass a context that trusts their own CA.
        self.ssl_context = ssl_context if ssl_context is not None else ssl.create_default_context()

        if host is not None and security == "none" and user is not None:
            logger.warning("SMTP login to %s:%s without TLS sends the password unencrypted", host, port)

    def __repr__(self) -> str:
        return f"EmailService(host={self.host!r}, port={self.port}, security={self.security!r})"

    @property
    def sends_to_log(self) -> bool:
        """True when no SMTP host is configured, so emails go to the log."""
        return self.host is None

    def send(self, message: EmailMessage) -> None:
        """Send one email to the addresses in its To header, or log it when no SMTP host is set.

        Raises TemporaryEmailError, PermanentEmailError or EmailAuthenticationError.
        """
        recipients = [address for _, address in getaddresses(message.get_all("To", [])) if address]
        if not recipients:
            raise ValueError("The email has no To address: set message['To'] before sending")

        if self.sends_to_log:
            self._log_message(message, recipients)
            return

        refused = self._deliver(message, recipients)

        if refused:
            raise self._refused_recipients_error(refused)

    def _log_message(self, message: EmailMessage, recipients: list[str]) -> None:
        text_part = message.get_body(preferencelist=("plain",))
        text = text_part.get_content() if text_part is not None else ""
        logger.info(
            "SMTP is not configured, so this email is logged instead of sent. Subject: %s; to: %s\n%s",
            message["Subject"],
            ", ".join(mask_address(address) for address in recipients),
            text,
        )

    def _deliver(self, message: EmailMessage, recipients: list[str]) -> dict:
        client = self._client()
        logged_in = False
        delivered = False
        try:
            # yagmail's own send() would rebuild the message, retry with sleeps and
            # return False, so only its connection setup is used.
            client.login()
            logged_in = True
            refused = client.smtp.send_message(message, from_addr=self.envelope_sender, to_addrs=recipients)
            delivered = True
            return refused
        except (smtplib.SMTPException, OSError) as exc:
            raise self._translate_error(exc, client, recipients, logged_in) from exc
        finally:
            self._close(client, graceful=delivered)

    def _client(self) -> yagmail.SMTP:
        tls_options: dict = {}
        if self.security == "ssl":
            tls_options["context"] = self.ssl_context

        # A one-entry dict as user stops yagmail from appending "@gmail.com" to a login
        # without "@". The login never becomes the From address, because send_message
        # gets the envelope sender explicitly.
        login = self.user if self.user is not None else self.envelope_sender
        return yagmail.SMTP(
            user={login: login},
            password=self._password,
            host=self.host,
            port=self.port,
            smtp_ssl=self.security == "ssl",
            smtp_starttls={"context": self.ssl_context} if self.security == "starttls" else False,
            smtp_skip_login=self.user is None,
            soft_email_validation=False,
            timeout=self.timeout,
            **tls_options,
        )

    def _close(self, client: yagmail.SMTP, graceful: bool) -> None:
        connection = client.smtp
        client.is_closed = True  # keeps yagmail's __del__ from sending QUIT again
        if connection is None:
            return

        # After a failure the server may be unresponsive, so QUIT would wait for the
        # timeout a second time. Dropping the socket is enough then.
        if graceful:
            try:
                connection.quit()
                return
            except (smtplib.SMTPException, OSError):
                pass
        connection.close()

    def _translate_error(
        self, exc: Exception, client: yagmail.SMTP, recipients: list[str], logged_in: bool
    ) -> EmailError:
        address = f"{self.host}:{self.port}"

        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            return self._refused_recipients_error(exc.recipients)

        if isinstance(exc, smtplib.SMTPAuthenticationError):
            logger.warning("SMTP server %s rejected the login for user %r: %s", address, self.user, exc.smtp_code)
            return EmailAuthenticationError(
                f"SMTP server {address} rejected the login for user {self.user!r} "
                f"({exc.smtp_code}): check the SMTP user and password"
            )

        if isinstance(exc, smtplib.SMTPSenderRefused):
            return self._sender_refused_error(exc, address)

        if isinstance(exc, smtplib.SMTPNotSupportedError) and logged_in:
            # While sending, smtplib raises it only for a non-ASCII address on a server
            # without SMTPUTF8, which no retry changes.
            masked = ", ".join(mask_address(recipient) for recipient in recipients)
            logger.warning("SMTP server %s cannot take the email to %s: %s", address, masked, exc)
            return PermanentEmailError(f"SMTP server {address} cannot take the email to {masked}: {exc}")

        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return self._not_supported_error(exc, client, address)

        if isinstance(exc, smtplib.SMTPResponseException):
            return self._reply_error(exc, address, recipients)

        if isinstance(exc, ssl.SSLError):
            logger.warning("TLS with SMTP server %s failed: %s", address, exc)
            return EmailTLSError(
                f"TLS with SMTP server {address} failed: {exc}; check the security setting, the port "
                "and that the server's certificate is valid for this host name"
            )

        # smtplib turns a timeout while reading a reply into SMTPServerDisconnected.
        if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
            logger.warning("SMTP server %s did not respond within %s s", address, self.timeout)
            return TemporaryEmailError(f"SMTP server {address} timed out after {self.timeout} s; retry later")

        logger.warning("SMTP connection to %s failed: %s", address, exc)
        return TemporaryEmailError(f"SMTP connection to {address} failed: {exc}; retry later")

    def _refused_recipients_error(self, refused: dict) -> EmailError:
        address = f"{self.host}:{self.port}"
        masked = ", ".join(mask_address(recipient) for recipient in refused)
        codes = [code for code, _ in refused.values()]
        replies = "; ".join(f"{code} {_reply_text(reply)}" for code, reply in refused.values())
        logger.warning("SMTP server %s rejected recipient %s: %s", address, masked, replies)

        if all(500 <= code < 600 for code in codes):
            return PermanentEmailError(f"SMTP server {address} rejected recipient {masked}: {replies}")
        return TemporaryEmailError(
            f"SMTP server {address} rejected recipient {masked} for now: {replies}; retry later"
        )

    def _sender_refused_error(self, exc: smtplib.SMTPSenderRefused, address: str) -> EmailError:
        reply = f"{exc.smtp_code} {_reply_text(exc.smtp_error)}"
        logger.warning("SMTP server %s rejected sender %s: %s", address, self.envelope_sender, reply)

        if 400 <= exc.smtp_code < 500:
            return TemporaryEmailError(f"SMTP server {address} rejected sender {self.envelope_sender} for now: {reply}")
        # A 5xx here is about the configured sender or missing login, not this email.
        return EmailAuthenticationError(
            f"SMTP server {address} rejected sender {self.envelope_sender}: {reply}; "
            "check the sender address and the SMTP login"
        )

    def _not_supported_error(self, exc: smtplib.SMTPNotSupportedError, client: yagmail.SMTP, address: str) -> EmailError:
        logger.warning("SMTP server %s does not support a required extension: %s", address, exc)
        tls_active = isinstance(getattr(client.smtp, "sock", None), ssl.SSLSocket)

        if self.security == "starttls" and not tls_active:
            return EmailTLSError(
                f"SMTP server {address} does not offer STARTTLS: use security 'ssl' or the right port"
            )
        return EmailAuthenticationError(
            f"SMTP server {address} does not accept a login here ({exc}): unset the SMTP user "
            "and password, or use a port that offers AUTH"
        )

    def _reply_error(self, exc: smtplib.SMTPResponseException, address: str, recipients: list[str]) -> EmailError:
        masked = ", ".join(mask_address(recipient) for recipient in recipients)
        reply = f"{exc.smtp_code} {_reply_text(exc.smtp_error)}"
        logger.warning("SMTP server %s rejected the email to %s: %s", address, masked, reply)

        if 500 <= exc.smtp_code < 600:
            return PermanentEmailError(f"SMTP server {address} rejected the email to {masked}: {reply}")
        return TemporaryEmailError(f"SMTP server {address} rejected the email to {masked} for now: {reply}; retry later")


def _reply_text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return flatten_whitespace(text)
