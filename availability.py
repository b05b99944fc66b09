"""The availability rule: when does a route detail satisfy a watch?"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Collection

from regiojet_client import RouteDetail


@dataclass(frozen=True)
class Offer:
    """A seat class that can be booked for the whole party, as RegioJet priced it."""

    seat_class: str
    free_seats: int
    price: Decimal
    currency: str

    def to_json(self) -> dict:
        return {
            "seat_class": self.seat_class,
            "free_seats": self.free_seats,
            "price": str(self.price),
            "currency": self.currency,
        }

    @classmethod
    def from_json(cls, data: dict) -> "Offer":
        return cls(data["seat_class"], int(data["free_seats"]), Decimal(data["price"]), data["currency"])


def find_offers(detail: RouteDetail, seat_classes: Collection[str], passengers: int, currency: str) -> list[Offer]:
    """Return the watched seat classes that are bookable with at least `passengers` free seats.

    An empty `seat_classes` means any class. The detail must have been requested for the watch's
    segment and tariffs, so its prices are the party's total. An empty result means the watch is
    not satisfied.
    """
    if not detail.bookable:
        return []

    offers = []
    for price_class in detail.price_classes:
        if seat_classes and price_class.seat_class not in seat_classes:
            continue
        if not price_class.bookable or price_class.free_seats < passengers:
            continue
        offers.append(Offer(price_class.seat_class, price_class.free_seats, price_class.price, currency))
    return offers
