"""What the synthetic company buys and sells: categories, their items, and partner names.

A *category* is what decides the account a careful bookkeeper posts a line to (office
rent, telephone, merchandise for resale, consulting revenue, ...). Each has *items*: the
line descriptions that appear on invoices, with their VAT rate class, a price range in 2025
euros and a quantity range. Partners sell or buy items of one to three categories.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Item:
    """One kind of invoice line."""

    description: str
    rate_class: str
    """A class of :mod:`ledgerpilot.synth.vat` (``standard``, ``catering``, ``exempt``, ...)."""
    low: float
    """Lowest typical unit price in 2025 euros."""
    high: float
    """Highest typical unit price in 2025 euros."""
    max_qty: int = 1
    unit: str = ""
    """``"pcs"``, ``"h"``, ``"nights"``: shown with the quantity in the description."""
    periodic: bool = False
    """Whether the description names the billing period (``Office rent 03/2024``)."""


@dataclass(frozen=True, slots=True)
class Category:
    """A group of items that a careful bookkeeper posts to one account."""

    key: str
    sale: bool
    """True for what the company sells, False for what it buys."""
    goods: bool
    """Goods or services: decides the EU reverse-charge accounts and export revenue accounts."""
    items: tuple[Item, ...]
    siblings: tuple[str, ...]
    """Categories a hurried clerk confuses this one with (their accounts are the noise)."""
    abroad: float = 0.0
    """Share of this category's suppliers or customers outside the company's country."""
    recurring: bool = False
    """Billed monthly by a fixed contract (rent, telephone, subscriptions)."""


def _i(
    description: str,
    rate_class: str,
    low: float,
    high: float,
    max_qty: int = 1,
    unit: str = "",
    periodic: bool = False,
) -> Item:
    return Item(description, rate_class, low, high, max_qty, unit, periodic)


S = "standard"

PURCHASES: tuple[Category, ...] = (
    Category(
        "merchandise",
        False,
        True,
        (
            _i('14" business laptop', S, 650, 1500, 8, "pcs"),
            _i('27" office monitor', S, 160, 420, 10, "pcs"),
            _i("Laser printer", S, 180, 650, 4, "pcs"),
            _i("24-port network switch", S, 140, 900, 4, "pcs"),
            _i("1 TB NVMe SSD", S, 60, 140, 20, "pcs"),
            _i("1500 VA UPS", S, 180, 450, 5, "pcs"),
            _i("Wi-Fi access point", S, 90, 260, 10, "pcs"),
            _i("USB-C docking station", S, 110, 280, 10, "pcs"),
            _i("4-bay NAS storage", S, 450, 900, 3, "pcs"),
        ),
        ("small_equipment", "office_supplies"),
        abroad=0.45,
    ),
    Category(
        "subcontracting",
        False,
        False,
        (
            _i("Software development services", S, 35, 95, 160, "h"),
            _i("Freelance developer", S, 30, 85, 120, "h"),
            _i("QA and testing services", S, 28, 60, 80, "h"),
            _i("UX design services", S, 40, 90, 60, "h"),
            _i("Database administration services", S, 45, 100, 40, "h"),
        ),
        ("it_maintenance", "legal"),
        abroad=0.35,
    ),
    Category(
        "rent",
        False,
        False,
        (
            _i("Office rent", S, 900, 6500, periodic=True),
            _i("Parking space rent", S, 60, 180, 6, "pcs", periodic=True),
            _i("Storage room rent", S, 90, 400, periodic=True),
        ),
        ("service_charges", "vehicle_lease"),
        recurring=True,
    ),
    Category(
        "service_charges",
        False,
        False,
        (
            _i("Service charges for common areas", S, 80, 600, periodic=True),
            _i("Building maintenance fee", S, 40, 300, periodic=True),
        ),
        ("rent", "water_waste"),
        recurring=True,
    ),
    Category(
        "electricity",
        False,
        True,
        (
            _i("Electricity supply", "electricity", 80, 900, periodic=True),
            _i("Electricity network fee", "electricity", 25, 220, periodic=True),
        ),
        ("gas", "water_waste"),
        recurring=True,
    ),
    Category(
        "gas",
        False,
        True,
        (
            _i("Natural gas for heating", "gas", 40, 700, periodic=True),
            _i("Gas network fee", "gas", 10, 90, periodic=True),
        ),
        ("electricity", "water_waste"),
        recurring=True,
    ),
    Category(
        "water_waste",
        False,
        False,
        (
            _i("Water supply and sewerage", S, 20, 160, periodic=True),
            _i("Waste collection", S, 15, 120, periodic=True),
        ),
        ("service_charges", "electricity"),
        recurring=True,
    ),
    Category(
        "phone",
        False,
        False,
        (
            _i("Mobile tariff", S, 15, 45, 25, "pcs", periodic=True),
            _i("Fixed line", S, 20, 60, periodic=True),
            _i("Roaming charges", S, 5, 80),
        ),
        ("internet", "courier"),
        recurring=True,
    ),
    Category(
        "internet",
        False,
        False,
        (
            _i("Fibre internet access", S, 40, 250, periodic=True),
            _i("Static IP addresses", S, 5, 30, periodic=True),
            _i("Leased line", S, 150, 600, periodic=True),
        ),
        ("phone", "hosting"),
        recurring=True,
    ),
    Category(
        "software",
        False,
        False,
        (
            _i("Office suite licences", S, 10, 22, 40, "pcs", periodic=True),
            _i("Issue tracker cloud subscription", S, 7, 16, 40, "pcs", periodic=True),
            _i("Code hosting team plan", S, 4, 21, 40, "pcs", periodic=True),
            _i("Team chat subscription", S, 6, 13, 40, "pcs", periodic=True),
            _i("Design suite subscription", S, 55, 90, 5, "pcs", periodic=True),
            _i("Video conferencing subscription", S, 13, 22, 15, "pcs", periodic=True),
            _i("IDE licences", S, 20, 70, 20, "pcs", periodic=True),
            _i("Password manager business plan", S, 3, 8, 40, "pcs", periodic=True),
        ),
        ("hosting", "it_maintenance"),
        abroad=0.75,
        recurring=True,
    ),
    Category(
        "hosting",
        False,
        False,
        (
            _i("Cloud compute instances", S, 60, 2500, periodic=True),
            _i("Object storage", S, 10, 300, periodic=True),
            _i("Managed database hosting", S, 40, 900, periodic=True),
            _i("Domain registration", S, 10, 60, 5, "pcs"),
            _i("TLS certificate", S, 20, 300),
            _i("Dedicated server rental", S, 60, 400, 4, "pcs", periodic=True),
        ),
        ("software", "internet"),
        abroad=0.6,
        recurring=True,
    ),
    Category(
        "office_supplies",
        False,
        True,
        (
            _i("Copy paper A4, box", S, 18, 35, 20, "pcs"),
            _i("Toner cartridge", S, 40, 160, 6, "pcs"),
            _i("Ballpoint pens, pack", S, 4, 15, 10, "pcs"),
            _i("Folders and binders", S, 2, 9, 30, "pcs"),
            _i("Sticky notes, pack", S, 3, 8, 20, "pcs"),
            _i("Envelopes C4, box", S, 8, 25, 5, "pcs"),
        ),
        ("small_equipment", "books"),
    ),
    Category(
        "small_equipment",
        False,
        True,
        (
            _i("Wireless mouse", S, 15, 60, 10, "pcs"),
            _i("USB headset", S, 25, 140, 10, "pcs"),
            _i("Webcam", S, 35, 160, 6, "pcs"),
            _i("HDMI cable", S, 6, 25, 20, "pcs"),
            _i("Desk lamp", S, 20, 90, 6, "pcs"),
            _i("USB-C charger", S, 18, 70, 10, "pcs"),
            _i("Keyboard", S, 20, 120, 10, "pcs"),
        ),
        ("office_supplies", "merchandise"),
        abroad=0.2,
    ),
    Category(
        "books",
        False,
        True,
        (
            _i("Technical book", "reduced", 25, 70, 4, "pcs"),
            _i("Accounting handbook", "reduced", 30, 90, 2, "pcs"),
            _i("Tax law commentary", "reduced", 60, 160),
            _i("Professional journal, annual subscription", "reduced", 80, 400),
        ),
        ("training", "office_supplies"),
        abroad=0.15,
    ),
    Category(
        "travel_hotel",
        False,
        False,
        (
            _i("Hotel accommodation", "accommodation", 70, 260, 5, "nights"),
            _i("Hotel accommodation incl. breakfast", "accommodation", 85, 300, 4, "nights"),
        ),
        ("travel_transport", "catering"),
        abroad=0.3,
    ),
    Category(
        "travel_transport",
        False,
        False,
        (
            _i("Flight ticket", "exempt", 90, 650, 3, "pcs"),
            _i("Travel agency service fee", S, 10, 45),
            _i("Rental car", S, 45, 120, 5, "days"),
        ),
        ("travel_hotel", "vehicle_fuel"),
    ),
    Category(
        "vehicle_fuel",
        False,
        True,
        (
            _i("Diesel fuel", S, 45, 140),
            _i("Petrol", S, 40, 120),
            _i("AdBlue", S, 10, 30),
        ),
        ("vehicle_service", "travel_transport"),
    ),
    Category(
        "vehicle_service",
        False,
        False,
        (
            _i("Car service and inspection", S, 120, 900),
            _i("Tyre change", S, 40, 120),
            _i("Car wash", S, 10, 40),
        ),
        ("vehicle_fuel", "it_maintenance"),
    ),
    Category(
        "vehicle_lease",
        False,
        False,
        (_i("Vehicle operating lease", S, 280, 950, periodic=True),),
        ("rent", "vehicle_service"),
        recurring=True,
    ),
    Category(
        "insurance",
        False,
        False,
        (
            _i("Liability insurance premium", "exempt", 150, 2500),
            _i("Property insurance premium", "exempt", 100, 1800),
            _i("Vehicle insurance premium", "exempt", 60, 400, periodic=True),
            _i("Cyber insurance premium", "exempt", 200, 3000),
        ),
        ("legal", "bookkeeping"),
    ),
    Category(
        "legal",
        False,
        False,
        (
            _i("Legal advice", S, 120, 300, 20, "h"),
            _i("Contract review", S, 250, 2500),
            _i("Tax advisory services", S, 100, 260, 15, "h"),
        ),
        ("bookkeeping", "audit"),
    ),
    Category(
        "bookkeeping",
        False,
        False,
        (
            _i("Payroll accounting services", S, 150, 900, periodic=True),
            _i("Bookkeeping services", S, 250, 1800, periodic=True),
        ),
        ("legal", "audit"),
    ),
    Category(
        "audit",
        False,
        False,
        (
            _i("Annual financial statement audit", S, 2500, 14000),
            _i("Audit-related advisory", S, 400, 3000),
        ),
        ("legal", "bookkeeping"),
    ),
    Category(
        "marketing",
        False,
        False,
        (
            _i("Online advertising campaign", S, 150, 4000),
            _i("Search engine advertising", S, 100, 3000, periodic=True),
            _i("Social media advertising", S, 80, 2500, periodic=True),
            _i("Trade fair stand", S, 1500, 9000),
            _i("Printed brochures", S, 150, 1800),
            _i("Promotional gifts", S, 5, 25, 100, "pcs"),
        ),
        ("catering", "training"),
        abroad=0.35,
    ),
    Category(
        "catering",
        False,
        False,
        (
            _i("Business lunch", "catering", 30, 250),
            _i("Client dinner", "catering", 80, 600),
            _i("Catering for meeting", "catering", 60, 900),
        ),
        ("marketing", "travel_hotel"),
    ),
    Category(
        "training",
        False,
        False,
        (
            _i("Training course", S, 250, 2500, 4, "pcs"),
            _i("Conference ticket", S, 150, 1400, 4, "pcs"),
            _i("Certification exam", S, 120, 450, 3, "pcs"),
        ),
        ("books", "marketing"),
        abroad=0.3,
    ),
    Category(
        "cleaning",
        False,
        False,
        (
            _i("Office cleaning services", S, 150, 1200, periodic=True),
            _i("Window cleaning", S, 60, 300),
        ),
        ("service_charges", "it_maintenance"),
        recurring=True,
    ),
    Category(
        "courier",
        False,
        False,
        (
            _i("Courier delivery", S, 6, 45, 10, "pcs"),
            _i("Express parcel", S, 12, 80, 5, "pcs"),
            _i("Postage", "exempt", 10, 120),
        ),
        ("office_supplies", "phone"),
    ),
    Category(
        "it_maintenance",
        False,
        False,
        (
            _i("IT support contract", S, 150, 1800, periodic=True),
            _i("Server maintenance", S, 90, 1200),
            _i("Network maintenance", S, 80, 900),
        ),
        ("software", "subcontracting"),
        recurring=True,
    ),
)

SALES: tuple[Category, ...] = (
    Category(
        "consulting",
        True,
        False,
        (
            _i("IT consulting", S, 70, 140, 60, "h"),
            _i("Project management", S, 60, 120, 40, "h"),
            _i("Requirements workshop", S, 600, 2400),
        ),
        ("development", "training_sales"),
        abroad=0.35,
    ),
    Category(
        "development",
        True,
        False,
        (
            _i("Software development", S, 55, 120, 160, "h"),
            _i("Fixed-price development milestone", S, 2500, 25000),
            _i("Integration services", S, 60, 120, 80, "h"),
        ),
        ("consulting",),
        abroad=0.35,
    ),
    Category(
        "support",
        True,
        False,
        (
            _i("Support and maintenance contract", S, 250, 3500, periodic=True),
            _i("Hosting and operations service", S, 120, 1800, periodic=True),
            _i("Additional support hours", S, 55, 110, 20, "h"),
        ),
        ("consulting",),
        abroad=0.3,
        recurring=True,
    ),
    Category(
        "hardware",
        True,
        True,
        (
            _i('14" business laptop', S, 800, 1800, 10, "pcs"),
            _i('27" office monitor', S, 200, 520, 12, "pcs"),
            _i("24-port network switch", S, 180, 1100, 4, "pcs"),
            _i("Wi-Fi access point", S, 120, 320, 12, "pcs"),
            _i("USB-C docking station", S, 140, 340, 12, "pcs"),
            _i("4-bay NAS storage", S, 560, 1100, 3, "pcs"),
        ),
        ("books_sales", "consulting"),
        abroad=0.25,
    ),
    Category(
        "training_sales",
        True,
        False,
        (
            _i("On-site training day", S, 600, 1800, 3, "days"),
            _i("Online course seat", S, 90, 450, 12, "pcs"),
        ),
        ("consulting",),
        abroad=0.2,
    ),
    Category(
        "books_sales",
        True,
        True,
        (
            _i("Printed user manual", "reduced", 20, 60, 30, "pcs"),
            _i("Technical handbook (print)", "reduced", 35, 80, 20, "pcs"),
        ),
        ("hardware",),
        abroad=0.2,
    ),
)

CATEGORIES: dict[str, Category] = {c.key: c for c in PURCHASES + SALES}
"""Every category by key."""

# Multi-category partners: what real suppliers sell together (first one is the main trade).
SUPPLIER_BUNDLES: tuple[tuple[str, ...], ...] = (
    ("rent", "service_charges"),
    ("phone", "internet"),
    ("office_supplies", "small_equipment", "books"),
    ("merchandise", "small_equipment"),
    ("merchandise", "it_maintenance"),
    ("travel_hotel", "travel_transport"),
    ("legal", "bookkeeping"),
    ("audit", "legal"),
    ("hosting", "software"),
    ("vehicle_fuel", "vehicle_service"),
    ("marketing", "catering"),
    ("training", "books"),
    ("subcontracting", "it_maintenance"),
    ("electricity", "gas"),
    ("water_waste", "service_charges"),
)

CUSTOMER_BUNDLES: tuple[tuple[str, ...], ...] = (
    ("consulting", "development"),
    ("hardware", "consulting"),
    ("development", "support"),
    ("training_sales", "books_sales"),
    ("hardware", "support"),
    ("consulting", "training_sales"),
)

# Categories of suppliers whose invoices are utilities (Croatian charts keep a payable for them).
UTILITIES = frozenset({"electricity", "gas", "water_waste"})

# ---------------------------------------------------------------- names

STEMS = (
    "Northwind",
    "Bluepeak",
    "Silverline",
    "Brightpath",
    "Ironbridge",
    "Greenfield",
    "Redstone",
    "Clearwater",
    "Summit",
    "Pioneer",
    "Atlas",
    "Vertex",
    "Nimbus",
    "Orbit",
    "Quantum",
    "Helix",
    "Apex",
    "Lumen",
    "Cobalt",
    "Falcon",
    "Harbor",
    "Maple",
    "Granite",
    "Sterling",
    "Zenith",
    "Nova",
    "Pixel",
    "Vector",
    "Beacon",
    "Meridian",
    "Polaris",
    "Cascade",
    "Evergreen",
    "Keystone",
    "Horizon",
    "Crescent",
    "Osprey",
    "Juniper",
    "Sequoia",
    "Tundra",
)
LOCAL_STEMS: dict[str, tuple[str, ...]] = {
    "HR": (
        "Jadran",
        "Kvarner",
        "Dalmacija",
        "Slavonija",
        "Istra",
        "Sava",
        "Drava",
        "Velebit",
        "Marjan",
        "Učka",
        "Lika",
        "Zrinski",
        "Neretva",
        "Cetina",
        "Krka",
        "Mosor",
        "Biokovo",
        "Sljeme",
        "Medvednica",
        "Zagorje",
        "Posavina",
        "Mrežnica",
        "Korana",
        "Lastovo",
    ),
    "DE": (
        "Rhein",
        "Main",
        "Elbe",
        "Nord",
        "Süd",
        "Alpen",
        "Hansa",
        "Spree",
        "Isar",
        "Weser",
        "Mosel",
        "Taunus",
        "Eifel",
        "Harz",
        "Ruhr",
        "Lahn",
        "Neckar",
        "Donau",
        "Havel",
        "Ems",
        "Saale",
        "Fulda",
        "Mulde",
        "Ilm",
    ),
    "LU": (
        "Moselle",
        "Alzette",
        "Sûre",
        "Ardennes",
        "Kirchberg",
        "Pétrusse",
        "Mullerthal",
        "Our",
        "Attert",
        "Clervaux",
        "Wiltz",
        "Eisch",
        "Syre",
        "Gutland",
        "Bock",
        "Grund",
        "Vianden",
        "Remich",
        "Echternach",
        "Mersch",
        "Diekirch",
        "Esch",
        "Dudelange",
        "Hesperange",
    ),
}
TRADES: dict[str, tuple[str, ...]] = {
    "HR": (
        "IT",
        "Soft",
        "Tech",
        "Trade",
        "Net",
        "Data",
        "Print",
        "Energija",
        "Servis",
        "Grupa",
        "Consulting",
        "Logistika",
        "Media",
        "Studio",
        "Nekretnine",
        "Ured",
        "Promet",
    ),
    "DE": (
        "Bürotechnik",
        "Software",
        "Systeme",
        "Handel",
        "Logistik",
        "Medien",
        "Beratung",
        "Energie",
        "Immobilien",
        "Reinigung",
        "Druck",
        "IT-Service",
        "Consulting",
        "Technik",
    ),
    "": (
        "Software",
        "Systems",
        "Trading",
        "Logistics",
        "Media",
        "Consulting",
        "Energy",
        "Properties",
        "Services",
        "Digital",
        "Networks",
        "Solutions",
        "Labs",
        "Supplies",
        "Cloud",
        "Data",
        "Print",
        "Office",
    ),
}
LEGAL_FORMS: dict[str, tuple[str, ...]] = {
    "HR": ("d.o.o.", "d.o.o.", "d.o.o.", "j.d.o.o.", "d.d."),
    "DE": ("GmbH", "GmbH", "GmbH", "AG", "GmbH & Co. KG", "e.K.", "UG (haftungsbeschränkt)"),
    "LU": ("S.à r.l.", "S.à r.l.", "S.A.", "SARL-S"),
    "AT": ("GmbH", "GmbH", "AG"),
    "SI": ("d.o.o.",),
    "IT": ("S.r.l.", "S.p.A."),
    "FR": ("SAS", "SARL"),
    "NL": ("B.V.",),
    "IE": ("Ltd", "DAC"),
    "PL": ("Sp. z o.o.",),
    "CZ": ("s.r.o.",),
    "HU": ("Kft.",),
    "SE": ("AB",),
    "DK": ("ApS",),
    "ES": ("S.L.",),
    "BE": ("BV", "SRL"),
    "US": ("Inc.", "LLC", "Corp."),
    "GB": ("Ltd", "PLC"),
    "CH": ("AG", "GmbH", "SA"),
    "RS": ("d.o.o.",),
    "BA": ("d.o.o.",),
    "NO": ("AS",),
    "IN": ("Pvt. Ltd.",),
    "CA": ("Inc.", "Ltd."),
}
# What suppliers of a category call themselves: local words at home, English abroad.
_TRADE_WORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    # category: (Croatian, German, English)
    "merchandise": (
        ("IT", "Računala", "Trade"),
        ("Computer", "Systemhaus", "IT-Handel"),
        ("Computers", "IT Trading", "Systems"),
    ),
    "subcontracting": (
        ("Soft", "Razvoj", "Digital"),
        ("Software", "Entwicklung", "Digital"),
        ("Software", "Development", "Digital"),
    ),
    "rent": (
        ("Nekretnine", "Poslovni centar"),
        ("Immobilien", "Grundbesitz"),
        ("Properties", "Real Estate"),
    ),
    "service_charges": (
        ("Nekretnine", "Upravljanje"),
        ("Hausverwaltung", "Immobilien"),
        ("Facility Management", "Properties"),
    ),
    "electricity": (("Energija", "Elektro"), ("Energie", "Stadtwerke"), ("Energy", "Power")),
    "gas": (("Plin", "Energija"), ("Gas", "Energie"), ("Gas", "Energy")),
    "water_waste": (("Vodovod", "Komunalac"), ("Wasser", "Entsorgung"), ("Water", "Utilities")),
    "phone": (("Telekom", "Mobil"), ("Telekom", "Mobilfunk"), ("Telecom", "Mobile")),
    "internet": (("Net", "Telekom"), ("Netz", "Telekom"), ("Networks", "Telecom")),
    "software": (("Soft", "Cloud"), ("Software", "Cloud"), ("Software", "Cloud", "Apps")),
    "hosting": (("Cloud", "Data"), ("Rechenzentrum", "Cloud"), ("Cloud", "Hosting", "Data")),
    "office_supplies": (("Ured", "Papir"), ("Bürobedarf", "Papier"), ("Office Supplies", "Paper")),
    "small_equipment": (("IT", "Trade"), ("Computer", "Technik"), ("Electronics", "Computers")),
    "books": (("Knjige", "Nakladništvo"), ("Verlag", "Buchhandlung"), ("Books", "Publishing")),
    "travel_hotel": (("Hotel", "Turist"), ("Hotel", "Reisen"), ("Hotels", "Travel")),
    "travel_transport": (("Putovanja", "Turist"), ("Reisen", "Touristik"), ("Travel", "Airways")),
    "vehicle_fuel": (("Petrol", "Auto"), ("Tankstelle", "Mineralöl"), ("Fuel", "Petroleum")),
    "vehicle_service": (("Auto", "Autoservis"), ("Autohaus", "Kfz-Service"), ("Motors", "Auto")),
    "vehicle_lease": (("Leasing",), ("Leasing",), ("Leasing", "Fleet")),
    "insurance": (("Osiguranje",), ("Versicherung",), ("Insurance", "Assurance")),
    "legal": (
        ("Savjetovanje", "Pravo"),
        ("Rechtsanwälte", "Steuerberatung"),
        ("Legal", "Tax Advisors"),
    ),
    "bookkeeping": (
        ("Računovodstvo", "Knjigovodstvo"),
        ("Buchhaltung", "Lohnbüro"),
        ("Accounting", "Bookkeeping"),
    ),
    "audit": (("Revizija",), ("Wirtschaftsprüfung",), ("Audit", "Assurance")),
    "marketing": (("Media", "Marketing"), ("Werbung", "Medien"), ("Media", "Marketing", "Ads")),
    "catering": (("Restoran", "Catering"), ("Gastronomie", "Catering"), ("Catering", "Dining")),
    "training": (("Edukacija", "Akademija"), ("Akademie", "Seminare"), ("Academy", "Training")),
    "cleaning": (("Čišćenje", "Servis"), ("Gebäudereinigung", "Reinigung"), ("Cleaning",)),
    "courier": (("Express", "Dostava"), ("Kurier", "Express"), ("Express", "Couriers")),
    "it_maintenance": (
        ("IT Servis", "Informatika"),
        ("IT-Service", "Systembetreuung"),
        ("IT Services", "Support"),
    ),
}


def trade_words(category: str, country: str, home: str) -> tuple[str, ...] | None:
    """Words a supplier of ``category`` in ``country`` puts in its name, if any fit."""
    words = _TRADE_WORDS.get(category)
    if words is None:
        return None
    if country == home == "HR":
        return words[0]
    if country == home == "DE" or (country in ("DE", "AT") and home != "HR"):
        return words[1]
    return words[2]


EU_ABROAD = (
    "DE",
    "AT",
    "SI",
    "IT",
    "FR",
    "NL",
    "IE",
    "PL",
    "CZ",
    "HU",
    "SE",
    "DK",
    "ES",
    "BE",
    "LU",
    "HR",
    "GB",
)
"""EU partner countries (GB until 2020; a company's own country is skipped)."""
NON_EU = ("US", "CH", "RS", "BA", "NO", "IN", "CA", "GB")
"""Partner countries outside the EU (GB counts from 2021 on)."""

# VAT identification numbers: (prefix, digits) per country; None where businesses have none.
VAT_FORMATS: dict[str, tuple[str, int] | None] = {
    "HR": ("HR", 11),
    "DE": ("DE", 9),
    "LU": ("LU", 8),
    "AT": ("ATU", 8),
    "SI": ("SI", 8),
    "IT": ("IT", 11),
    "FR": ("FR", 11),
    "NL": ("NL", 9),
    "IE": ("IE", 8),
    "PL": ("PL", 10),
    "CZ": ("CZ", 8),
    "HU": ("HU", 8),
    "SE": ("SE", 12),
    "DK": ("DK", 8),
    "ES": ("ES", 9),
    "BE": ("BE0", 9),
    "GB": ("GB", 9),
    "CH": ("CHE", 9),
    "NO": ("NO", 9),
    "RS": ("RS", 9),
    "BA": ("BA", 12),
    "US": None,
    "IN": None,
    "CA": None,
}
