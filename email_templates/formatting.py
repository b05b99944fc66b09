"""Titles, prices and local times as the notification email templates show them, in cs and en."""

from collections import Counter
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# --- Titles -------------------------------------------------------------------------------

# Titles follow RegioJet's own /consts/seatClasses titles, shortened to what a traveller
# recognises. Keys missing here are shown as the key itself.
SEAT_CLASS_TITLES = {
    "TRAIN_LOW_COST": {"cs": "Low cost", "en": "Low cost"},
    "TRAIN_2ND_CLASS": {"cs": "2. třída", "en": "2nd class"},
    "TRAIN_1ST_CLASS": {"cs": "1. třída", "en": "1st class"},
    "C0": {"cs": "Standard", "en": "Standard"},
    "C1": {"cs": "Relax", "en": "Relax"},
    "C2": {"cs": "Business", "en": "Business"},
    "TRAIN_STANDARD_PL": {"cs": "Standard (PL)", "en": "Standard (PL)"},
    "TRAIN_STANDARD_PLUS": {"cs": "Standard PLUS", "en": "Standard PLUS"},
    "TRAIN_R23_LOW_COST": {"cs": "Low cost", "en": "Low cost"},
    "TRAIN_R23_STANDARD": {"cs": "Standard", "en": "Standard"},
    "TRAIN_R23_RELAX": {"cs": "Relax", "en": "Relax"},
    "TRAIN_R23_BUSINESS": {"cs": "Business", "en": "Business"},
    "TRAIN_R8_STANDARD": {"cs": "Standard", "en": "Standard"},
    "TRAIN_COUCHETTE_STANDARD": {"cs": "Lehátko", "en": "Couchette"},
    "TRAIN_COUCHETTE_RELAX": {"cs": "Lůžko", "en": "Sleeper berth"},
    "TRAIN_COUCHETTE_RELAX_FOR_WOMEN": {
        "cs": "Lůžko jen pro ženy",
        "en": "Sleeper berth, women only",
    },
    "TRAIN_COUCHETTE_RELAX_3": {"cs": "Lůžko (muži i ženy)", "en": "Sleeper (men and women)"},
    "TRAIN_COUCHETTE_RELAX_3_WOMEN": {"cs": "Lůžko jen pro ženy", "en": "Sleeper, women only"},
    "TRAIN_COUCHETTE_BUSINESS": {
        "cs": "Lůžko ve vlastním kupé",
        "en": "Private sleeper compartment",
    },
    "TRAIN_COUCHETTE_BUSINESS_4": {
        "cs": "Lůžko ve vlastním kupé",
        "en": "Private sleeper compartment",
    },
    "BUS_STANDARD": {"cs": "Standard (autobus)", "en": "Standard (bus)"},
    "BUS_RELAX": {"cs": "Relax (autobus)", "en": "Relax (bus)"},
    "NO": {"cs": "Bez třídy", "en": "No class"},
}

# New night-train keys keep appearing, so an unknown TRAIN_COUCHETTE_* key still gets a
# readable title with the key in brackets.
COUCHETTE_PREFIX = "TRAIN_COUCHETTE_"
UNKNOWN_COUCHETTE_TITLES = {"cs": "Lůžko nebo lehátko", "en": "Couchette or sleeper"}

# ISIC means a senior aged 65 or more in RegioJet's current tariff list.
TARIFF_TITLES = {
    "REGULAR": {"cs": "Dospělý", "en": "Adult"},
    "CHILD_UNDER_12": {"cs": "Dítě do 12 let", "en": "Child under 12"},
    "CZECH_STUDENT_PASS_15": {"cs": "Žákovský průkaz 15", "en": "Pupil pass 15"},
    "CZECH_STUDENT_PASS_26": {"cs": "Studentský průkaz 26", "en": "Student pass 26"},
    "ISIC": {"cs": "Senior 65+", "en": "Senior 65+"},
    "ATTENDED_CHILD": {"cs": "Dítě do 6 let s doprovodem", "en": "Accompanied child under 6"},
    "DISABLED": {"cs": "Držitel průkazu ZTP/P", "en": "Disabled person (ZTP/P card)"},
    "DISABLED_3": {"cs": "Invalidita 3. stupně", "en": "3rd grade disability"},
    "DISABLED_ATTENDANCE": {"cs": "Průvodce držitele ZTP/P", "en": "Companion of a ZTP/P holder"},
    "EURO26": {"cs": "Dospělý s ISIC/EYCA/ALIVE od 26 let", "en": "Adult 26+ with ISIC/EYCA/ALIVE"},
}


def seat_class_title(seat_class: str, language: str) -> str:
    """Return the traveller-facing title of a RegioJet seat class key."""
    titles = SEAT_CLASS_TITLES.get(seat_class)
    if titles is not None:
        return titles[language]

    if seat_class.startswith(COUCHETTE_PREFIX):
        return f"{UNKNOWN_COUCHETTE_TITLES[language]} ({seat_class})"

    return seat_class


def tariff_title(tariff: str, language: str) -> str:
    """Return the traveller-facing title of a RegioJet tariff key, or the key if unknown."""
    titles = TARIFF_TITLES.get(tariff)
    return titles[language] if titles is not None else tariff


def describe_passengers(tariffs: tuple[str, ...], language: str) -> str:
    """Group passengers by tariff in order of first appearance: "2 × Dospělý, 1 × …"."""
    counts = Counter(tariffs)
    return ", ".join(f"{count} × {tariff_title(tariff, language)}" for tariff, count in counts.items())


# --- Numbers, prices and times ------------------------------------------------------------

CZECH_CURRENCY_SYMBOLS = {"CZK": "Kč", "EUR": "€"}

# RegioJet prices these currencies in whole units; others get two decimals.
WHOLE_UNIT_CURRENCIES = frozenset({"CZK", "HUF"})

CZECH_WEEKDAYS = ("po", "út", "st", "čt", "pá", "so", "ne")
ENGLISH_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
ENGLISH_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_price(amount: Decimal, currency: str, language: str) -> str:
    """Format a price as "1 249 Kč" / "8,60 €" in Czech and "CZK 1,249" / "EUR 8.60" in English."""
    whole = currency in WHOLE_UNIT_CURRENCIES and amount == amount.to_integral_value()
    decimals = 0 if whole else 2
    rounded = amount.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    english_number = f"{rounded:,.{decimals}f}"

    if language == "en":
        return f"{currency} {english_number}"

    # Czech groups thousands with a space and uses a decimal comma.
    czech_number = english_number.replace(",", " ").replace(".", ",")
    return f"{czech_number} {CZECH_CURRENCY_SYMBOLS.get(currency, currency)}"


def format_free_seats(count: int, language: str) -> str:
    """Format a free seat count with the plural form the language needs."""
    if language == "en":
        return f"{count} free seat" if count == 1 else f"{count} free seats"

    if count == 1:
        return "1 volné místo"
    if 2 <= count <= 4:
        return f"{count} volná místa"
    return f"{count} volných míst"


def to_station_time(moment_utc: datetime, time_zone: str) -> datetime:
    """Convert a naive UTC datetime to the station's local time."""
    try:
        zone = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"Unknown station time zone {time_zone!r}: use a tz database name such as 'Europe/Prague'"
        ) from exc

    return moment_utc.replace(tzinfo=UTC).astimezone(zone)


def format_day(moment: datetime, language: str) -> str:
    """Format weekday, day and month: "pá 5. 12." in Czech, "Fri 5 Dec" in English."""
    if language == "en":
        return f"{ENGLISH_WEEKDAYS[moment.weekday()]} {moment.day} {ENGLISH_MONTHS[moment.month - 1]}"
    return f"{CZECH_WEEKDAYS[moment.weekday()]} {moment.day}. {moment.month}."


def format_moment(moment: datetime, language: str) -> str:
    """Format a local time with weekday and year: "pá 5. 12. 2025 14:50"."""
    return f"{format_day(moment, language)} {moment.year} {moment:%H:%M}"
