"""Static data of the fake RegioJet API: locations, tariffs, seat classes and the line plan.

The ids of the main stations and cities are RegioJet's real ones, so ids seen in saved responses
work here too. The other ids, the names of minor stations and all times are made up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Languages served with Czech names; every other X-Lang gets English names and titles.
CZECH_NAME_LANGS = frozenset({"cs", "sk"})


@dataclass(frozen=True)
class FakeStation:
    id: int
    name_cs: str
    name_en: str
    time_zone: str
    significance: int
    aliases: tuple[str, ...] = ()
    types: tuple[str, ...] = ("TRAIN_STATION",)


@dataclass(frozen=True)
class FakeCity:
    id: int
    name_cs: str
    name_en: str
    country_code: str
    # Either a list or, as RegioJet sometimes sends it, one comma-joined string.
    aliases: tuple[str, ...] | str
    stations: tuple[FakeStation, ...]


@dataclass(frozen=True)
class FakeCountry:
    code: str
    name_cs: str
    name_en: str
    cities: tuple[FakeCity, ...] = field(default_factory=tuple)


PRAGUE = "Europe/Prague"
BRATISLAVA = "Europe/Bratislava"
VIENNA = "Europe/Vienna"

PRAHA_HLN = 372825000
PRAHA_FLORENC = 10204003
PRAHA_HRADCANSKA = 17797000
BRNO_HLN = 3088864001
BRNO_GRAND = 10204002
BRNO_KRALOVO_POLE = 4987881000
PARDUBICE_HLN = 372825002
OLOMOUC_HLN = 372825004
OSTRAVA_HLN = 372842000
OSTRAVA_SVINOV = 372825007
ZILINA_ZST = 1313142001
BRATISLAVA_HLST = 1841058000
BRATISLAVA_EINSTEINOVA = 2420693001
KOSICE_ZST = 1763018007
KOSICE_AS = 10204035
WIEN_HBF = 3741302011

COUNTRIES: tuple[FakeCountry, ...] = (
    FakeCountry(
        "CZ",
        "Česká republika",
        "Czech Republic",
        (
            FakeCity(
                10202003,
                "Praha",
                "Prague",
                "CZ",
                ("Praha", "Prague", "Prag", "Praga", "Prága", "Pha", "Прага"),
                (
                    FakeStation(
                        PRAHA_HLN,
                        "hl.n.",
                        "MS",
                        PRAGUE,
                        6,
                        ("Hbf.", "hl.n.", "Praha hlavní nádraží", "hlavák", "Hauptbahnhof", "nádraží"),
                    ),
                    FakeStation(
                        PRAHA_FLORENC,
                        "ÚAN Florenc",
                        "Florenc bus station",
                        PRAGUE,
                        5,
                        ("Florenc", "autobusové nádraží Florenc"),
                        ("BUS_STATION",),
                    ),
                    FakeStation(PRAHA_HRADCANSKA, "Hradčanská", "Hradčanská", PRAGUE, 1, (), ("BUS_STATION",)),
                ),
            ),
            FakeCity(
                10202002,
                "Brno",
                "Brno",
                "CZ",
                ("Brünn", "Brno", "Брно"),
                (
                    FakeStation(
                        BRNO_HLN,
                        "hl.n.",
                        "MS",
                        PRAGUE,
                        4,
                        ("hl.n.", "hlavák", "Brno hlavní nádraží", "Hbf"),
                    ),
                    FakeStation(
                        BRNO_GRAND,
                        "ÚAN u hotelu Grand",
                        "bus station Grand",
                        PRAGUE,
                        3,
                        ("Grand", "der Busbahnhof Grand"),
                        ("BUS_STATION",),
                    ),
                    FakeStation(BRNO_KRALOVO_POLE, "Královo Pole", "Královo Pole", PRAGUE, 1, ("Krpole",)),
                ),
            ),
            FakeCity(
                10202000,
                "Ostrava",
                "Ostrava",
                "CZ",
                ("Ova", "Острава"),
                (
                    FakeStation(
                        OSTRAVA_HLN, "hl.n.", "MS", PRAGUE, 3, ("Ostrava hlavní nádraží", "Ostrava nádraží")
                    ),
                    FakeStation(OSTRAVA_SVINOV, "Svinov", "Svinov", PRAGUE, 2, ("Ostrava Svinov",)),
                ),
            ),
            FakeCity(
                10202011,
                "Pardubice",
                "Pardubice",
                "CZ",
                ("Pardubitz",),
                (FakeStation(PARDUBICE_HLN, "hl.n.", "MS", PRAGUE, 2, ("Pardubice hlavní nádraží",)),),
            ),
            FakeCity(
                10202010,
                "Olomouc",
                "Olomouc",
                "CZ",
                ("Olmütz", "Olo"),
                (FakeStation(OLOMOUC_HLN, "hl.n.", "MS", PRAGUE, 2, ("Olomouc hlavní nádraží",)),),
            ),
        ),
    ),
    FakeCountry(
        "SK",
        "Slovensko",
        "Slovakia",
        (
            FakeCity(
                10202001,
                "Bratislava",
                "Bratislava",
                "SK",
                "Blava,Brtislava,Preßburg,Pressburg,Pozsony",
                (
                    FakeStation(BRATISLAVA_HLST, "hl.st.", "MS", BRATISLAVA, 2, ("Hbf.", "hl.n.", "hl.st.")),
                    FakeStation(
                        BRATISLAVA_EINSTEINOVA, "Einsteinova", "Einsteinova", BRATISLAVA, 1, (), ("BUS_STATION",)
                    ),
                ),
            ),
            FakeCity(
                10202033,
                "Košice",
                "Košice",
                "SK",
                ("košo", "Kassa", "Koszyce", "Кошице"),
                (
                    FakeStation(KOSICE_ZST, "žel. st.", "railway station", BRATISLAVA, 2, ("Košice železničná stanica",)),
                    FakeStation(KOSICE_AS, "AS", "bus station", BRATISLAVA, 1, (), ("BUS_STATION",)),
                ),
            ),
            FakeCity(
                10202031,
                "Žilina",
                "Žilina",
                "SK",
                ("Sillein", "Zsolna"),
                (FakeStation(ZILINA_ZST, "žel. st.", "railway station", BRATISLAVA, 2, ()),),
            ),
        ),
    ),
    FakeCountry(
        "AT",
        "Rakousko",
        "Austria",
        (
            FakeCity(
                10202052,
                "Vídeň",
                "Vienna",
                "AT",
                ("Wien", "Viedeň", "Vienne", "Bécs", "Vídeň"),
                (FakeStation(WIEN_HBF, "Hbf", "Hbf", VIENNA, 3, ("Vídeň hbf", "Wien Hauptbahnhof")),),
            ),
        ),
    ),
)

TARIFFS: tuple[tuple[str, str, str, float], ...] = (
    # key, Czech title, English title, share of the regular fare
    ("REGULAR", "Dospělý 18–64 let", "Adult 18-64 years", 1.0),
    ("CHILD_UNDER_12", "Dítě 6–12 let", "Child 6-12 years", 0.5),
    ("CZECH_STUDENT_PASS_15", "Mládež 13–17 let", "Youth 13-17 years", 0.5),
    ("CZECH_STUDENT_PASS_26", "Student 18–25 let", "Student 18-25 years", 0.5),
    ("ISIC", "Senior od 65 let", "Senior from 65 years", 0.5),
    ("ATTENDED_CHILD", "Dítě 0–5 let s doprovodem", "Accompanied child 0-5 years", 0.0),
    ("DISABLED", "Držitel průkazu ZTP/P", "Disabled person (ZTP/P)", 0.25),
    ("DISABLED_3", "Invalidita 3. stupně", "3rd grade disability", 0.5),
    ("DISABLED_ATTENDANCE", "Průvodce držitele ZTP/P", "Disabled person attendance (ZTP/P)", 0.0),
    ("EURO26", "Dospělý ISIC/EYCA/ALIVE od 26 let", "Adult ISIC/EYCA/ALIVE from 26 years", 0.85),
)
TARIFF_SHARES = {key: share for key, _, _, share in TARIFFS}

SEAT_CLASSES: tuple[tuple[str, str, str, str], ...] = (
    # key, vehicleClass, Czech title, English title
    ("TRAIN_LOW_COST", "2", "Low cost (2. tř.)", "Low cost (2nd cl.)"),
    ("C0", "2", "Standard (2. tř.)", "Standard (2nd cl.)"),
    ("TRAIN_STANDARD_PLUS", "2", "Standard PLUS", "Standard PLUS"),
    ("C1", "2", "Relax (2. tř.)", "Relax (2nd cl.)"),
    ("C2", "1", "Business (1. tř.)", "Business (1st cl.)"),
    ("TRAIN_COUCHETTE_STANDARD", "undefined", "Lehátko", "Couchette"),
    ("TRAIN_COUCHETTE_RELAX", "undefined", "Lůžko", "Sleeper"),
    ("TRAIN_COUCHETTE_RELAX_FOR_WOMEN", "undefined", "Lůžko jen pro ženy", "Sleeper for women"),
    ("TRAIN_COUCHETTE_BUSINESS", "undefined", "Lůžko – vlastní kupé", "Sleeper – private compartment"),
    ("BUS_STANDARD", "undefined", "Standard (bus)", "Standard (bus)"),
    ("BUS_RELAX", "undefined", "Relax (bus)", "Relax (bus)"),
    ("NO", "undefined", "- bez třídy -", "- no seat class -"),
)

# Seats per class when the vehicle is empty, and the price of the class relative to C0.
DAY_TRAIN_CLASSES = {"TRAIN_LOW_COST": (60, 0.8), "C0": (160, 1.0), "C1": (50, 1.25), "C2": (20, 1.5)}
NIGHT_TRAIN_CLASSES = {
    **DAY_TRAIN_CLASSES,
    "TRAIN_COUCHETTE_STANDARD": (36, 2.0),
    "TRAIN_COUCHETTE_RELAX": (24, 2.8),
}
SUPPORT_TRAIN_CLASSES = {"TRAIN_LOW_COST": (40, 0.8), "C0": (80, 1.0)}
BUS_CLASSES = {"BUS_STANDARD": (40, 1.0), "BUS_RELAX": (12, 1.2)}


@dataclass(frozen=True)
class Line:
    """A line that runs every day: stops with minutes from the first departure, and start times."""

    code: str
    vehicle_type: str
    stops: tuple[tuple[int, int], ...]  # (station id, minutes after the first departure)
    departures: tuple[str, ...]  # local time at the first stop, "HH:MM"
    seat_classes: dict[str, tuple[int, float]]
    czk_per_minute: float
    support: bool = False


def _reverse(stops: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    total = stops[-1][1]
    return tuple((station_id, total - minutes) for station_id, minutes in reversed(stops))


_PRAHA_BRNO = ((PRAHA_HLN, 0), (PARDUBICE_HLN, 58), (BRNO_HLN, 150))
_PRAHA_OSTRAVA = ((PRAHA_HLN, 0), (PARDUBICE_HLN, 58), (OLOMOUC_HLN, 132), (OSTRAVA_HLN, 200))
_PRAHA_KOSICE = (
    (PRAHA_HLN, 0),
    (PARDUBICE_HLN, 58),
    (OLOMOUC_HLN, 132),
    (OSTRAVA_HLN, 200),
    (ZILINA_ZST, 305),
    (KOSICE_ZST, 495),
)
_FLORENC_GRAND = ((PRAHA_FLORENC, 0), (BRNO_GRAND, 150))
_BRATISLAVA_BRNO = ((BRATISLAVA_HLST, 0), (BRNO_HLN, 90))
_BRNO_WIEN = ((BRNO_HLN, 0), (WIEN_HBF, 95))

LINES: tuple[Line, ...] = (
    Line("RJ 1000", "TRAIN", _PRAHA_BRNO, ("06:09", "08:09", "10:09", "12:09", "14:09", "16:09", "18:09"),
         DAY_TRAIN_CLASSES, 1.6),
    Line("RJ 1001", "TRAIN", _reverse(_PRAHA_BRNO), ("05:03", "07:09", "09:09", "11:09", "13:09", "15:09", "19:09"),
         DAY_TRAIN_CLASSES, 1.6),
    Line("RJ 1010", "TRAIN", _PRAHA_OSTRAVA, ("06:03", "08:03", "10:03", "14:03", "18:03"), DAY_TRAIN_CLASSES, 1.5),
    # Reinforcement train: leaves at the same time as the regular 06:03 and 14:03.
    Line("RJ 1090", "TRAIN", _PRAHA_OSTRAVA, ("06:03", "14:03"), SUPPORT_TRAIN_CLASSES, 1.3, support=True),
    Line("RJ 1011", "TRAIN", _reverse(_PRAHA_OSTRAVA), ("05:20", "09:20", "13:20", "17:20"), DAY_TRAIN_CLASSES, 1.5),
    Line("RJ 1021", "TRAIN", _PRAHA_KOSICE, ("14:50", "22:47"), NIGHT_TRAIN_CLASSES, 1.3),
    Line("RJ 1020", "TRAIN", _reverse(_PRAHA_KOSICE), ("06:10", "21:45"), NIGHT_TRAIN_CLASSES, 1.3),
    Line("RJ 2000", "BUS", _FLORENC_GRAND, ("07:00", "10:00", "13:00", "16:00", "19:00"), BUS_CLASSES, 1.2),
    Line("RJ 2001", "BUS", _reverse(_FLORENC_GRAND), ("06:30", "09:30", "15:30", "20:30"), BUS_CLASSES, 1.2),
    Line("RJ 1040", "TRAIN", _BRATISLAVA_BRNO, ("06:15", "11:15", "16:15"), DAY_TRAIN_CLASSES, 1.6),
    Line("RJ 1050", "TRAIN", _BRNO_WIEN, ("07:40", "17:40"), DAY_TRAIN_CLASSES, 1.8),
)

# Connections with one transfer: (first line, its departure, second line, minimum minutes to change).
# The second section is the first departure of the second line that leaves the transfer
# station at least that many minutes after the first section arrives there.
TRANSFERS: tuple[tuple[str, str, str, int], ...] = (("RJ 1040", "06:15", "RJ 1001", 5),)
