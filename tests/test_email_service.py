import dataclasses
import logging
import re
import time
from datetime import datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest

from email_service import (
    EmailAuthenticationError,
    EmailError,
    EmailService,
    EmailTLSError,
    FindNotice,
    PermanentEmailError,
    SeatOffer,
    TemporaryEmailError,
    booking_link,
    compose_find_email,
)
from email_templates.formatting import format_price, seat_class_title, tariff_title

SENDER = "RegioJet Watch <watch@example.org>"
RECIPIENT = "jana.novakova@example.com"
PASSWORD = "correct-horse-battery"

NOTICE = FindNotice(
    notification_id=7,
    watch_id=42,
    to_address=RECIPIENT,
    language="cs",
    from_station_id=372825000,
    from_station_name="Praha hl.n.",
    from_time_zone="Europe/Prague",
    to_station_id=372825002,
    to_station_name="Brno hl.n.",
    to_time_zone="Europe/Prague",
    # Friday 5 December 2025, 14:50 and 17:22 in Prague (UTC+1 in winter).
    departure_at=datetime(2025, 12, 5, 13, 50),
    arrival_at=datetime(2025, 12, 5, 16, 22),
    tariffs=("REGULAR", "CHILD_UNDER_12", "REGULAR"),
    offers=(
        SeatOffer(seat_class="C1", free_seats=5, price=Decimal("1249"), currency="CZK"),
        SeatOffer(seat_class="C2", free_seats=1, price=Decimal("8.6"), currency="EUR"),
    ),
)


def make_notice(**changes) -> FindNotice:
    return dataclasses.replace(NOTICE, **changes)


def plain_text(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html_text(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def make_service(port: int, **changes) -> EmailService:
    settings = dict(
        host="127.0.0.1", port=port, user=None, password=None, security="none", sender=SENDER, timeout=5.0
    )
    settings.update(changes)
    return EmailService(**settings)


# --- Composing ------------------------------------------------------------------------------


def test_compose_czech_subject():
    message = compose_find_email(NOTICE, SENDER)

    assert message["Subject"] == "Volná místa: Praha hl.n. → Brno hl.n., pá 5. 12. 14:50"


def test_compose_english_subject():
    message = compose_find_email(make_notice(language="en"), SENDER)

    assert message["Subject"] == "Seats free: Praha hl.n. → Brno hl.n., Fri 5 Dec 14:50"


def test_compose_czech_body_phrases():
    text = plain_text(compose_find_email(NOTICE, SENDER))

    assert "Spoj: Praha hl.n. → Brno hl.n." in text
    assert "Odjezd: pá 5. 12. 2025 14:50 (Praha hl.n.)" in text
    assert "Příjezd: pá 5. 12. 2025 17:22 (Brno hl.n.)" in text
    assert "Cestující (3): 2 × Dospělý, 1 × Dítě do 12 let" in text
    assert "- Relax: 5 volných míst, 1 249 Kč" in text
    assert "- Business: 1 volné místo, 8,60 €" in text
    assert "Tímto e-mailem hlídání č. 42 končí" in text
    assert "nic dalšího o něm nepošleme" in text
    assert "regiojet-watch watch ..." in text
    assert "regiojet-watch cancel ČÍSLO_HLÍDÁNÍ" in text


def test_compose_english_body_phrases():
    text = plain_text(compose_find_email(make_notice(language="en"), SENDER))

    assert "Connection: Praha hl.n. → Brno hl.n." in text
    assert "Departure: Fri 5 Dec 2025 14:50 (Praha hl.n.)" in text
    assert "Arrival: Fri 5 Dec 2025 17:22 (Brno hl.n.)" in text
    assert "Passengers (3): 2 × Adult, 1 × Child under 12" in text
    assert "- Relax: 5 free seats, CZK 1,249" in text
    assert "- Business: 1 free seat, EUR 8.60" in text
    assert "This email ends watch 42" in text
    assert "will send nothing more about it" in text
    assert "regiojet-watch watch ..." in text
    assert "regiojet-watch cancel WATCH_ID" in text


def test_compose_html_carries_same_facts():
    html = html_text(compose_find_email(NOTICE, SENDER))

    assert "pá 5. 12. 2025 14:50" in html
    assert "<td>Relax</td><td>5 volných míst</td><td>1 249 Kč</td>" in html
    assert "2 × Dospělý, 1 × Dítě do 12 let" in html
    assert 'href="https://regiojet.cz/?departureDate=2025-12-05&amp;' in html
    assert "hlídání č. 42 končí" in html
    assert "regiojet-watch cancel ČÍSLO_HLÍDÁNÍ" in html


def test_compose_summer_time_is_utc_plus_two():
    # Friday 4 July 2025: Prague keeps summer time (UTC+2).
    notice = make_notice(departure_at=datetime(2025, 7, 4, 12, 50), arrival_at=datetime(2025, 7, 4, 15, 22))

    text = plain_text(compose_find_email(notice, SENDER))

    assert "Odjezd: pá 4. 7. 2025 14:50" in text
    assert "Příjezd: pá 4. 7. 2025 17:22" in text


def test_compose_times_across_zones():
    # A night train from Prague (UTC+1 in December) to Kyiv (UTC+2), with the legacy zone name.
    notice = make_notice(
        to_station_name="Kyjev",
        to_time_zone="Europe/Kiev",
        departure_at=datetime(2025, 12, 5, 19, 0),
        arrival_at=datetime(2025, 12, 6, 8, 30),
    )

    text = plain_text(compose_find_email(notice, SENDER))

    assert "Odjezd: pá 5. 12. 2025 20:00 (Praha hl.n.)" in text
    assert "Příjezd: so 6. 12. 2025 10:30 (Kyjev)" in text


def test_compose_unknown_time_zone_raises():
    with pytest.raises(ValueError, match="Europe/Nowhere"):
        compose_find_email(make_notice(to_time_zone="Europe/Nowhere"), SENDER)


def test_compose_unknown_language_raises():
    with pytest.raises(ValueError, match="'de'"):
        compose_find_email(make_notice(language="de"), SENDER)


def test_compose_headers():
    message = compose_find_email(NOTICE, SENDER)

    assert message["From"] == SENDER
    assert message["To"] == RECIPIENT
    assert message["Auto-Submitted"] == "auto-generated"
    assert re.fullmatch(r"<[^<>@\s]+@example\.org>", message["Message-ID"])
    assert message["Date"] is not None
    assert message.get_content_type() == "multipart/alternative"


def test_compose_message_ids_differ():
    first = compose_find_email(NOTICE, SENDER)
    second = compose_find_email(NOTICE, SENDER)

    assert first["Message-ID"] != second["Message-ID"]


def test_compose_escapes_station_name_in_html():
    notice = make_notice(to_station_name='<b>Brno</b> & "x"')

    message = compose_find_email(notice, SENDER)
    html = html_text(message)

    assert "&lt;b&gt;Brno&lt;/b&gt; &amp; &#34;x&#34;" in html
    assert "<b>Brno</b>" not in html
    assert '<b>Brno</b> & "x"' in plain_text(message)


def test_compose_flattens_newlines_in_station_name():
    notice = make_notice(from_station_name="Praha\r\nBcc: victim@example.net\nhl.n.")

    message = compose_find_email(notice, SENDER)

    assert message["Subject"].startswith("Volná místa: Praha Bcc: victim@example.net hl.n. → Brno hl.n.")
    assert message["Bcc"] is None
    assert "\n" not in message["Subject"]


@pytest.mark.parametrize("address", ["jana@example.com\r\nBcc: victim@example.net", "jana@example.com\n"])
def test_compose_rejects_recipient_with_line_break(address):
    with pytest.raises(ValueError, match="line break"):
        compose_find_email(make_notice(to_address=address), SENDER)


def test_compose_rejects_sender_with_line_break():
    with pytest.raises(ValueError, match="line break"):
        compose_find_email(NOTICE, "watch@example.org\r\nBcc: victim@example.net")


def test_compose_plain_part_has_no_html_tags():
    text = plain_text(compose_find_email(NOTICE, SENDER))

    assert re.search(r"</?[a-zA-Z][^>]*>", text) is None
    assert "&amp;" not in text


# --- Titles and prices ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seat_class", "language", "title"),
    [
        ("TRAIN_LOW_COST", "cs", "Low cost"),
        ("C0", "cs", "Standard"),
        ("C1", "en", "Relax"),
        ("C2", "cs", "Business"),
        ("BUS_STANDARD", "en", "Standard (bus)"),
        ("BUS_RELAX", "en", "Relax (bus)"),
        ("NO", "cs", "Bez třídy"),
        ("NO", "en", "No class"),
        ("TRAIN_COUCHETTE_STANDARD", "cs", "Lehátko"),
        ("TRAIN_COUCHETTE_NEW_KIND", "en", "Couchette or sleeper (TRAIN_COUCHETTE_NEW_KIND)"),
        ("C9_UNKNOWN", "cs", "C9_UNKNOWN"),
    ],
)
def test_seat_class_title_by_key(seat_class, language, title):
    assert seat_class_title(seat_class, language) == title


@pytest.mark.parametrize(
    ("tariff", "title"),
    [
        ("REGULAR", "Dospělý"),
        ("CHILD_UNDER_12", "Dítě do 12 let"),
        ("CZECH_STUDENT_PASS_15", "Žákovský průkaz 15"),
        ("CZECH_STUDENT_PASS_26", "Studentský průkaz 26"),
        ("ISIC", "Senior 65+"),
        ("SOMETHING_NEW", "SOMETHING_NEW"),
    ],
)
def test_tariff_title_czech(tariff, title):
    assert tariff_title(tariff, "cs") == title


@pytest.mark.parametrize(
    ("amount", "currency", "language", "formatted"),
    [
        (Decimal("1249"), "CZK", "cs", "1 249 Kč"),
        (Decimal("1249"), "CZK", "en", "CZK 1,249"),
        (Decimal("1249.00"), "CZK", "cs", "1 249 Kč"),
        (Decimal("249.50"), "CZK", "cs", "249,50 Kč"),
        (Decimal("8.6"), "EUR", "cs", "8,60 €"),
        (Decimal("8.6"), "EUR", "en", "EUR 8.60"),
        (Decimal("12345.5"), "EUR", "cs", "12 345,50 €"),
        (Decimal("12345.5"), "EUR", "en", "EUR 12,345.50"),
        (Decimal("99"), "EUR", "cs", "99,00 €"),
        (Decimal("120"), "PLN", "cs", "120,00 PLN"),
    ],
)
def test_format_price_by_language(amount, currency, language, formatted):
    assert format_price(amount, currency, language) == formatted


# --- Booking link ---------------------------------------------------------------------------


def test_booking_link_has_one_tariff_per_passenger():
    query = parse_qs(urlsplit(booking_link(NOTICE)).query)

    assert query["tariffs"] == ["REGULAR", "CHILD_UNDER_12", "REGULAR"]
    assert query["fromLocationId"] == ["372825000"]
    assert query["fromLocationType"] == ["STATION"]
    assert query["toLocationId"] == ["372825002"]
    assert query["toLocationType"] == ["STATION"]
    assert query["departureDate"] == ["2025-12-05"]


def test_booking_link_exact_text():
    link = booking_link(make_notice(tariffs=("REGULAR", "CZECH_STUDENT_PASS_26")))

    assert link == (
        "https://regiojet.cz/?departureDate=2025-12-05&fromLocationId=372825000&fromLocationType=STATION"
        "&toLocationId=372825002&toLocationType=STATION&tariffs=REGULAR&tariffs=CZECH_STUDENT_PASS_26"
    )


def test_booking_link_uses_local_departure_date():
    # 23:30 UTC on 5 December is 00:30 on 6 December in Prague.
    link = booking_link(make_notice(departure_at=datetime(2025, 12, 5, 23, 30)))

    assert parse_qs(urlsplit(link).query)["departureDate"] == ["2025-12-06"]


def test_booking_link_encodes_reserved_characters():
    link = booking_link(make_notice(tariffs=("A&B=C",)))

    assert "tariffs=A%26B%3DC" in link
    assert parse_qs(urlsplit(link).query)["tariffs"] == ["A&B=C"]


def test_booking_link_without_tariffs_raises():
    with pytest.raises(ValueError, match="no tariffs"):
        booking_link(make_notice(tariffs=()))


# --- Sending --------------------------------------------------------------------------------


def test_send_delivers_plain_and_html_parts(smtp_server):
    make_service(smtp_server.port).send(compose_find_email(NOTICE, SENDER))

    received = smtp_server.messages[0].message
    parts = [part.get_content_type() for part in received.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert "Dítě do 12 let" in plain_text(received)
    assert re.search(r"</?[a-zA-Z][^>]*>", plain_text(received)) is None
    assert "<table" in html_text(received)
    assert received["Subject"] == "Volná místa: Praha hl.n. → Brno hl.n., pá 5. 12. 14:50"


def test_send_uses_sender_as_envelope_sender(smtp_server):
    make_service(smtp_server.port).send(compose_find_email(NOTICE, SENDER))

    received = smtp_server.messages[0]
    assert received.mail_from == "watch@example.org"
    assert received.rcpt_tos == [RECIPIENT]
    assert received.message["From"] == SENDER


def test_send_opens_one_connection_per_email(smtp_server):
    service = make_service(smtp_server.port)

    service.send(compose_find_email(NOTICE, SENDER))
    service.send(compose_find_email(NOTICE, SENDER))

    assert smtp_server.connection_count == 2
    assert len(smtp_server.messages) == 2


def test_send_with_newline_station_adds_no_recipient(smtp_server):
    notice = make_notice(to_station_name="Brno\r\nBcc: victim@example.net")

    make_service(smtp_server.port).send(compose_find_email(notice, SENDER))

    received = smtp_server.messages[0]
    assert received.rcpt_tos == [RECIPIENT]
    assert received.message["Bcc"] is None
    assert b"\r\nBcc:" not in received.raw


def test_send_with_login_keeps_user_name(smtp_server):
    smtp_server.require_auth("watch-bot", PASSWORD)
    service = make_service(smtp_server.port, user="watch-bot", password=PASSWORD)

    service.send(compose_find_email(NOTICE, SENDER))

    assert smtp_server.logins == ["watch-bot"]
    assert len(smtp_server.messages) == 1


def test_send_to_log_without_host(smtp_server, caplog):
    service = make_service(smtp_server.port, host=None)
    caplog.set_level(logging.INFO, logger="email_service")

    service.send(compose_find_email(NOTICE, SENDER))

    assert service.sends_to_log
    assert "Volná místa: Praha hl.n. → Brno hl.n., pá 5. 12. 14:50" in caplog.text
    assert "j***@example.com" in caplog.text
    assert RECIPIENT not in caplog.text
    assert "Cestující (3): 2 × Dospělý, 1 × Dítě do 12 let" in caplog.text
    assert smtp_server.connection_count == 0
    assert smtp_server.messages == []


def test_sends_to_log_false_with_host():
    assert not make_service(25).sends_to_log


def test_send_connection_refused_is_temporary(closed_smtp_port, caplog):
    service = make_service(closed_smtp_port)

    with pytest.raises(TemporaryEmailError) as raised:
        service.send(compose_find_email(NOTICE, SENDER))

    assert f"127.0.0.1:{closed_smtp_port}" in str(raised.value)
    assert f"127.0.0.1:{closed_smtp_port}" in caplog.text
    assert caplog.records[-1].levelno == logging.WARNING


def test_send_timeout_is_temporary(silent_smtp_port):
    service = make_service(silent_smtp_port, timeout=0.5)
    started = time.monotonic()

    with pytest.raises(TemporaryEmailError, match="timed out"):
        service.send(compose_find_email(NOTICE, SENDER))

    assert time.monotonic() - started < 3


def test_send_recipient_450_is_temporary(smtp_server):
    smtp_server.reject_recipient(code=450, text="4.2.1 Mailbox busy")

    with pytest.raises(TemporaryEmailError) as raised:
        make_service(smtp_server.port).send(compose_find_email(NOTICE, SENDER))

    assert "450" in str(raised.value)
    assert not isinstance(raised.value, PermanentEmailError)


def test_send_recipient_550_is_permanent(smtp_server, caplog):
    smtp_server.reject_recipient(code=550)

    with pytest.raises(PermanentEmailError) as raised:
        make_service(smtp_server.port).send(compose_find_email(NOTICE, SENDER))

    assert "550" in str(raised.value)
    assert "j***@example.com" in str(raised.value)
    assert RECIPIENT not in caplog.text
    assert smtp_server.messages == []


def test_send_data_451_is_temporary(smtp_server):
    smtp_server.fail_data(code=451)

    with pytest.raises(TemporaryEmailError, match="451"):
        make_service(smtp_server.port).send(compose_find_email(NOTICE, SENDER))


def test_send_data_554_is_permanent(smtp_server):
    smtp_server.fail_data(code=554, text="5.7.1 Message rejected as spam")

    with pytest.raises(PermanentEmailError, match="554"):
        make_service(smtp_server.port).send(compose_find_email(NOTICE, SENDER))


def test_send_wrong_password_is_authentication_error(smtp_server, caplog):
    smtp_server.require_auth("watch-bot", PASSWORD)
    service = make_service(smtp_server.port, user="watch-bot", password="wrong-password")

    with pytest.raises(EmailAuthenticationError, match="535") as raised:
        service.send(compose_find_email(NOTICE, SENDER))

    assert "wrong-password" not in str(raised.value)
    assert "wrong-password" not in caplog.text
    assert smtp_server.messages == []


def test_send_without_login_when_required_is_authentication_error(smtp_server):
    smtp_server.require_auth("watch-bot", PASSWORD)

    with pytest.raises(EmailAuthenticationError, match="530"):
        make_service(smtp_server.port).send(compose_find_email(NOTICE, SENDER))


def test_send_error_text_is_one_line(smtp_server):
    # smtplib joins the lines of a multiline reply with "\n".
    smtp_server.reject_recipient(code=550, text="5.1.1 Mailbox unavailable\n5.1.1 Try another address")

    with pytest.raises(EmailError) as raised:
        make_service(smtp_server.port).send(compose_find_email(NOTICE, SENDER))

    assert "\n" not in str(raised.value)
    assert "Mailbox unavailable 5.1.1 Try another address" in str(raised.value)


# --- TLS ------------------------------------------------------------------------------------


def test_starttls_rejects_untrusted_certificate(starttls_smtp_server):
    service = make_service(starttls_smtp_server.port, security="starttls")

    with pytest.raises(EmailTLSError, match="certificate"):
        service.send(compose_find_email(NOTICE, SENDER))

    assert starttls_smtp_server.messages == []


def test_starttls_error_is_temporary(starttls_smtp_server):
    service = make_service(starttls_smtp_server.port, security="starttls")

    with pytest.raises(TemporaryEmailError):
        service.send(compose_find_email(NOTICE, SENDER))


def test_starttls_with_trusted_ca_delivers(starttls_smtp_server, smtp_test_ca):
    service = make_service(
        starttls_smtp_server.port, security="starttls", ssl_context=smtp_test_ca.client_context()
    )

    service.send(compose_find_email(NOTICE, SENDER))

    assert len(starttls_smtp_server.messages) == 1


def test_starttls_login_after_tls(starttls_smtp_server, smtp_test_ca):
    starttls_smtp_server.require_auth("watch-bot", PASSWORD)
    service = make_service(
        starttls_smtp_server.port,
        security="starttls",
        user="watch-bot",
        password=PASSWORD,
        ssl_context=smtp_test_ca.client_context(),
    )

    service.send(compose_find_email(NOTICE, SENDER))

    assert starttls_smtp_server.logins == ["watch-bot"]
    assert len(starttls_smtp_server.messages) == 1


def test_starttls_missing_on_server_raises(smtp_server):
    service = make_service(smtp_server.port, security="starttls")

    with pytest.raises(EmailTLSError, match="STARTTLS"):
        service.send(compose_find_email(NOTICE, SENDER))

    assert smtp_server.messages == []


def test_ssl_rejects_untrusted_certificate(ssl_smtp_server):
    service = make_service(ssl_smtp_server.port, security="ssl")

    with pytest.raises(EmailTLSError, match="certificate"):
        service.send(compose_find_email(NOTICE, SENDER))


def test_ssl_with_trusted_ca_delivers(ssl_smtp_server, smtp_test_ca):
    service = make_service(ssl_smtp_server.port, security="ssl", ssl_context=smtp_test_ca.client_context())

    service.send(compose_find_email(NOTICE, SENDER))

    assert ssl_smtp_server.messages[0].rcpt_tos == [RECIPIENT]


# --- Settings -------------------------------------------------------------------------------


def test_service_rejects_unknown_security():
    with pytest.raises(ValueError, match="'tls'"):
        make_service(587, security="tls")


def test_service_rejects_user_without_password():
    with pytest.raises(ValueError, match="together"):
        make_service(587, user="watch-bot")


def test_service_rejects_invalid_port():
    with pytest.raises(ValueError, match="70000"):
        make_service(70000)


def test_service_rejects_sender_without_domain():
    with pytest.raises(ValueError, match="watch-bot"):
        make_service(587, sender="watch-bot")
