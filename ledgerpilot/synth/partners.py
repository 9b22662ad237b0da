"""Partners and their trading profiles: who sells or buys what, how often, at what price.

Suppliers and customers are drawn by :class:`PartnerFactory` from the catalogue: a main
category (sometimes with related ones: a landlord also bills service charges), a country
(home, EU or beyond, by how often the category is bought abroad), a few items with their
prices, a pattern (monthly contract, regular, occasional, one-off), payment terms and
habits, and the look of their invoice numbers and bank texts.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass

from ledgerpilot.ledger import Partner

from . import catalog
from .catalog import CATEGORIES, Category, Item


@dataclass(frozen=True, slots=True)
class Offer:
    """An item as one partner sells it (or buys it from us): its category and base price."""

    category: Category
    item: Item
    price: float
    """Unit price in 2025 euros, before the price index and per-invoice jitter."""
    qty: int = 1
    """Fixed quantity on recurring invoices (licences, parking spaces)."""


@dataclass(slots=True)
class Profile:
    """A partner and how it trades with the company."""

    partner: Partner
    role: str
    """``supplier`` or ``customer``."""
    pattern: str
    """``recurring`` (monthly contract), ``regular``, ``occasional`` or ``one_off``."""
    since: dt.date
    until: dt.date | None
    weight: float
    offers: tuple[Offer, ...]
    monthly: tuple[Offer, ...] = ()
    """Lines of the monthly invoice of a recurring partner."""
    day: int = 1
    terms: int = 30
    lateness: int = 5
    partial_rate: float = 0.0
    credit_rate: float = 0.02
    number_format: str = "{y}-{n:04d}"
    number_gap: int = 3
    payment_text: str = "Payment of invoice {n}"
    utility: bool = False
    index: int = 0
    """Position in the plan's partner list (a stable key; never a hash)."""

    def active(self, day: dt.date) -> bool:
        """Whether the partner trades on ``day``."""
        return self.since <= day and (self.until is None or day <= self.until)

    @property
    def categories(self) -> tuple[str, ...]:
        """Keys of the categories this partner trades in, main one first."""
        seen: list[str] = []
        for offer in self.offers + self.monthly:
            if offer.category.key not in seen:
                seen.append(offer.category.key)
        return tuple(seen)


SUPPLIER_WEIGHTS: dict[str, float] = {
    "merchandise": 8,
    "subcontracting": 6,
    "office_supplies": 4,
    "small_equipment": 3,
    "books": 2,
    "travel_hotel": 5,
    "travel_transport": 4,
    "vehicle_fuel": 3,
    "vehicle_service": 3,
    "insurance": 2,
    "legal": 3,
    "bookkeeping": 1,
    "audit": 1,
    "marketing": 5,
    "catering": 6,
    "training": 4,
    "courier": 2,
    "it_maintenance": 3,
    "hosting": 2,
    "software": 3,
}
CUSTOMER_WEIGHTS: dict[str, float] = {
    "consulting": 5,
    "development": 5,
    "hardware": 4,
    "training_sales": 2,
    "books_sales": 1,
}


class Namer:
    """Unique partner names and VAT ids, drawn in a fixed order."""

    def __init__(self, rng: random.Random, home: str) -> None:
        self.rng = rng
        self.home = home
        self.names: set[str] = set()
        self.vats: set[str] = set()

    def name(self, country: str, words: tuple[str, ...] | None = None) -> str:
        rng = self.rng
        local = country == self.home and country in catalog.LOCAL_STEMS
        stems = catalog.LOCAL_STEMS[country] if local else catalog.STEMS
        trades = catalog.TRADES.get(country if local else "", catalog.TRADES[""])
        forms = catalog.LEGAL_FORMS.get(country, ("Ltd",))
        for attempt in range(40):
            word = rng.choice(words if words and attempt < 30 else trades)
            name = f"{rng.choice(stems)} {word} {rng.choice(forms)}"
            if name not in self.names:
                self.names.add(name)
                return name
        name = f"{rng.choice(stems)} {rng.choice(trades)} {len(self.names)} {rng.choice(forms)}"
        self.names.add(name)
        return name

    def vat(self, country: str) -> str | None:
        fmt = catalog.VAT_FORMATS.get(country)
        if fmt is None:
            return None
        prefix, digits = fmt
        while True:
            number = prefix + "".join(str(self.rng.randrange(10)) for _ in range(digits))
            if number not in self.vats:
                self.vats.add(number)
                return number


def log_uniform(rng: random.Random, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def _weighted(rng: random.Random, weights: dict[str, float]) -> str:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def _country(rng: random.Random, home: str, abroad: float) -> str:
    if rng.random() >= abroad:
        return home
    pool = catalog.EU_ABROAD if rng.random() < 0.7 else catalog.NON_EU
    choices = [c for c in pool if c != home]
    return rng.choice(choices)


def _offers(rng: random.Random, categories: tuple[str, ...], scale: float) -> tuple[Offer, ...]:
    offers = []
    for key in categories:
        category = CATEGORIES[key]
        items = [i for i in category.items if not i.periodic] or list(category.items)
        count = min(len(items), 1 + (rng.random() < 0.6) + (rng.random() < 0.3))
        for item in rng.sample(items, count):
            price = log_uniform(rng, item.low, item.high) * scale
            offers.append(Offer(category, item, price))
    return tuple(offers)


def _monthly(rng: random.Random, categories: tuple[str, ...], size: float) -> tuple[Offer, ...]:
    offers = []
    for key in categories:
        category = CATEGORIES[key]
        periodic = [i for i in category.items if i.periodic] or list(category.items)
        count = min(len(periodic), 1 + (rng.random() < 0.35))
        if key in ("software", "hosting"):  # vendors sell different products
            chosen = rng.sample(periodic, count)
        else:  # the main service first (the supply, the tariff), then maybe an add-on
            chosen = periodic[:1] + rng.sample(periodic[1:], count - 1)
        for item in chosen:
            qty = 1
            if item.max_qty > 1:
                qty = max(
                    1,
                    min(item.max_qty, round(rng.uniform(0.3, 1.0) * item.max_qty * min(size, 1.0))),
                )
            price = log_uniform(rng, item.low, item.high)
            offers.append(Offer(category, item, price, qty))
    return tuple(offers)


def _bundle(
    rng: random.Random, main: str, bundles: tuple[tuple[str, ...], ...], chance: float
) -> tuple[str, ...]:
    if rng.random() < chance:
        fitting = [b for b in bundles if b[0] == main] or [b for b in bundles if main in b]
        if fitting:
            bundle = rng.choice(fitting)
            return (main, *[k for k in bundle if k != main])
    return (main,)


_SUPPLIER_NUMBERS = (
    "{y}-{n:04d}",
    "R{n:05d}/{y}",
    "INV-{y}{n:05d}",
    "{n:06d}",
    "F{y}/{n:04d}",
    "{n}-1-1",
    "RE{y}{n:04d}",
    "{y}/{n:05d}",
)
_SUPPLIER_TEXTS = (
    "Payment of invoice {n}",
    "Invoice {n}",
    "Inv. {n}",
    "Payment {n} {p}",
    "{p} invoice {n}",
)
_CUSTOMER_TEXTS = (
    "Payment of invoice {n}",
    "INV {n}",
    "Invoice no. {n}",
    "{n}",
    "Ref {n} thank you",
    "{p} payment {n}",
)
_LOCAL_TEXTS = {
    "HR": ("HR00 {n}", "Plaćanje računa {n}"),
    "DE": ("RE {n}", "Rechnung {n}"),
    "LU": ("Facture {n}", "Paiement facture {n}"),
}


def first_day(rng: random.Random, year: int, early: bool = True) -> dt.date:
    """A first trading day in ``year``; many partners start in January."""
    month = 1 if early and rng.random() < 0.3 else rng.randint(1, 12)
    return dt.date(year, month, rng.randint(1, 28))


class PartnerFactory:
    """Draws suppliers and customers with their profiles, in a fixed order."""

    def __init__(self, home: str, per_year: int, rng: random.Random) -> None:
        self.rng = rng
        self.home = home
        self.namer = Namer(rng, home)
        self.size = per_year / 2500
        self.count = {"supplier": 0, "customer": 0}

    def _partner(self, role: str, country: str, words: tuple[str, ...] | None = None) -> Partner:
        self.count[role] += 1
        prefix = "SUP" if role == "supplier" else "CUS"
        return Partner(
            id=f"{prefix}-{self.count[role]:05d}",
            name=self.namer.name(country, words),
            vat=self.namer.vat(country),
            country=country,
        )

    def supplier(
        self, pattern: str, since: dt.date, until: dt.date | None, main: str | None = None
    ) -> Profile:
        rng = self.rng
        if main is None:
            main = _weighted(rng, SUPPLIER_WEIGHTS)
        category = CATEGORIES[main]
        country = _country(rng, self.home, category.abroad)
        if pattern == "recurring":
            cats = _bundle(rng, main, catalog.SUPPLIER_BUNDLES, 0.4)
            cats = tuple(k for k in cats if CATEGORIES[k].recurring) or (main,)
            monthly = _monthly(rng, cats, self.size)
            offers = _offers(rng, cats, 1.0)
        else:
            cats = _bundle(rng, main, catalog.SUPPLIER_BUNDLES, 0.25)
            monthly = ()
            offers = _offers(rng, cats, rng.uniform(0.8, 1.25))
        weight = {
            "recurring": 0.0,
            "regular": rng.lognormvariate(0.0, 0.9) * 3.0,
            "occasional": rng.lognormvariate(0.0, 0.6) * 0.5,
            "one_off": 0.0,
        }[pattern]
        utility = main in catalog.UTILITIES
        terms = 15 if utility else rng.choice((8, 15, 15, 30, 30, 30, 45, 60))
        if country != self.home:
            terms = rng.choice((14, 30, 30))
        texts = _SUPPLIER_TEXTS + _LOCAL_TEXTS.get(self.home, ())
        profile = Profile(
            partner=self._partner(
                "supplier", country, catalog.trade_words(main, country, self.home)
            ),
            role="supplier",
            pattern=pattern,
            since=since,
            until=until,
            weight=weight,
            offers=offers,
            monthly=monthly,
            day=rng.choice((1, 1, 2, 3, 5, 10, 15, 28)),
            terms=terms,
            lateness=rng.choice((0, 3, 5, 10)),
            partial_rate=rng.choice((0.0, 0.0, 0.0, 0.04, 0.1)),
            credit_rate=rng.choice((0.0, 0.01, 0.02, 0.04)) if pattern != "recurring" else 0.0,
            number_format=rng.choice(_SUPPLIER_NUMBERS),
            number_gap=rng.choice((1, 2, 5, 20, 60)),
            payment_text=rng.choice(texts),
            utility=utility,
        )
        return profile

    def customer(self, pattern: str, since: dt.date, until: dt.date | None) -> Profile:
        rng = self.rng
        if pattern == "recurring":
            main = "support"
            cats: tuple[str, ...] = (
                ("support",) if rng.random() < 0.6 else ("support", "consulting")
            )
        else:
            main = _weighted(rng, CUSTOMER_WEIGHTS)
            cats = _bundle(rng, main, catalog.CUSTOMER_BUNDLES, 0.35)
        country = _country(rng, self.home, CATEGORIES[main].abroad)
        monthly = _monthly(rng, ("support",), self.size) if pattern == "recurring" else ()
        offers = _offers(rng, cats, rng.uniform(0.85, 1.2))
        weight = {
            "recurring": 0.0,
            "regular": rng.lognormvariate(0.0, 0.9) * 3.0,
            "occasional": rng.lognormvariate(0.0, 0.6) * 0.5,
            "one_off": 0.0,
        }[pattern]
        texts = _CUSTOMER_TEXTS + _LOCAL_TEXTS.get(self.home, ())
        return Profile(
            partner=self._partner("customer", country),
            role="customer",
            pattern=pattern,
            since=since,
            until=until,
            weight=weight,
            offers=offers,
            monthly=monthly,
            day=1,
            terms=rng.choice((15, 30, 30, 45, 60)),
            lateness=rng.choice((2, 5, 10, 20, 45)),
            partial_rate=rng.choice((0.0, 0.0, 0.0, 0.05, 0.15)),
            credit_rate=rng.choice((0.0, 0.01, 0.02, 0.05)),
            payment_text=rng.choice(texts),
        )
