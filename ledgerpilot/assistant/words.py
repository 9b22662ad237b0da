"""The words the assistant knows, in the languages of the charts: English, Croatian, German.

A question names a *kind* of document ("supplier invoice", "ulazni račun",
"Eingangsrechnung"), sometimes only a side ("from a supplier", "kupcu"), and a *topic*:
what was bought or sold ("phone bill", "najam ureda", "Miete"). Topics map to the
categories of the synthetic catalog (:mod:`ledgerpilot.synth.catalog`), whose English item
descriptions are the lines the history holds; words a question shares with the history's own
line descriptions or with the chart's account names count too
(:mod:`~ledgerpilot.assistant.history`). Everything else is either a stop word ("how",
"kako", "wie") or a word the history has never seen.

Croatian and German inflect: a word of five letters or more also matches its forms with up
to three more letters ("telefon" -> "telefona", "telefonski"); shorter forms are listed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from ledgerpilot.ledger import documents as kinds

SUPPLIER_KINDS = (kinds.SUPPLIER_INVOICE, kinds.SUPPLIER_CREDIT_NOTE, kinds.BANK_PAYMENT)
CUSTOMER_KINDS = (kinds.SALES_INVOICE, kinds.SALES_CREDIT_NOTE, kinds.BANK_RECEIPT)
INVOICE_KINDS = (kinds.SUPPLIER_INVOICE, kinds.SALES_INVOICE)
CREDIT_KINDS = (kinds.SUPPLIER_CREDIT_NOTE, kinds.SALES_CREDIT_NOTE)
PAYMENT_KINDS = (kinds.BANK_PAYMENT, kinds.BANK_RECEIPT)
LINE_KINDS = frozenset(INVOICE_KINDS + CREDIT_KINDS)
"""Kinds whose document lines say what was bought or sold: a line's description decides
its account."""

# What a phrase says about the kind: a group of kinds it allows. Longer phrases are matched
# first, so "incoming payment" wins over "payment".
KIND_PHRASES: dict[tuple[str, ...], tuple[str, ...]] = {
    # English
    ("supplier invoice", "purchase invoice", "vendor invoice", "incoming invoice"): (
        kinds.SUPPLIER_INVOICE,
    ),
    ("sales invoice", "customer invoice", "outgoing invoice", "invoice to a customer"): (
        kinds.SALES_INVOICE,
    ),
    ("supplier credit note", "credit note from a supplier", "vendor credit note"): (
        kinds.SUPPLIER_CREDIT_NOTE,
    ),
    ("sales credit note", "customer credit note", "credit note to a customer"): (
        kinds.SALES_CREDIT_NOTE,
    ),
    ("invoice", "invoices", "bill", "bills"): INVOICE_KINDS,
    ("credit note", "credit notes", "credit memo", "refund note"): CREDIT_KINDS,
    ("bank payment", "outgoing payment", "payment to"): (kinds.BANK_PAYMENT,),
    ("incoming payment", "payment received", "customer payment", "payment from a customer"): (
        kinds.BANK_RECEIPT,
    ),
    ("payment", "payments", "bank transfer", "transfer"): PAYMENT_KINDS,
    ("payroll", "salary", "salaries", "wages"): (kinds.PAYROLL,),
    ("depreciation", "amortisation", "amortization"): (kinds.DEPRECIATION,),
    # Croatian
    ("ulazni račun", "ulaznog računa", "ulazna faktura", "račun dobavljača", "ulazni racun"): (
        kinds.SUPPLIER_INVOICE,
    ),
    ("izlazni račun", "izlaznog računa", "izlazna faktura", "račun kupcu", "izlazni racun"): (
        kinds.SALES_INVOICE,
    ),
    ("ulazno odobrenje", "odobrenje dobavljača"): (kinds.SUPPLIER_CREDIT_NOTE,),
    ("izlazno odobrenje", "odobrenje kupcu"): (kinds.SALES_CREDIT_NOTE,),
    ("račun", "računa", "računu", "računi", "faktura", "fakturu", "fakture", "racun"): (
        INVOICE_KINDS
    ),
    ("odobrenje", "odobrenja", "knjižno odobrenje", "storno"): CREDIT_KINDS,
    ("plaćanje", "plaćanja", "isplata", "isplatu", "isplate", "placanje"): (kinds.BANK_PAYMENT,),
    ("uplata", "uplatu", "uplate", "naplata", "naplatu", "naplate", "primitak"): (
        kinds.BANK_RECEIPT,
    ),
    ("plaća", "plaće", "plaću", "obračun plaća", "obračun plaće", "placa", "place"): (
        kinds.PAYROLL,
    ),
    ("amortizacija", "amortizacije", "amortizaciju"): (kinds.DEPRECIATION,),
    # German
    ("eingangsrechnung", "eingangsrechnungen", "lieferantenrechnung"): (kinds.SUPPLIER_INVOICE,),
    ("ausgangsrechnung", "ausgangsrechnungen", "kundenrechnung"): (kinds.SALES_INVOICE,),
    ("lieferantengutschrift", "gutschrift des lieferanten"): (kinds.SUPPLIER_CREDIT_NOTE,),
    ("kundengutschrift", "gutschrift an den kunden"): (kinds.SALES_CREDIT_NOTE,),
    ("rechnung", "rechnungen"): INVOICE_KINDS,
    ("gutschrift", "gutschriften"): CREDIT_KINDS,
    ("zahlung", "zahlungen", "überweisung", "bezahlung"): PAYMENT_KINDS,
    ("zahlungseingang", "geldeingang"): (kinds.BANK_RECEIPT,),
    ("lohn", "löhne", "gehalt", "gehälter", "lohnabrechnung", "gehaltsabrechnung"): (
        kinds.PAYROLL,
    ),
    ("abschreibung", "abschreibungen", "afa"): (kinds.DEPRECIATION,),
}
"""Phrases (lower case) that name a kind, or a group of kinds the history decides between."""

SIDE_WORDS: dict[str, tuple[str, ...]] = {
    "supplier": (
        "supplier", "suppliers", "vendor", "purchase", "purchases", "purchased", "bought",
        "incoming", "dobavljač", "dobavljača", "dobavljaču", "dobavljac", "ulazni", "ulazna",
        "ulaznog", "kupnja", "kupnju", "kupnje", "nabava", "nabavu", "nabave", "lieferant",
        "lieferanten", "einkauf", "kauf", "eingang", "gekauft",
    ),
    "customer": (
        "customer", "customers", "client", "clients", "sales", "sale", "sold", "outgoing",
        "kupac", "kupca", "kupcu", "izlazni", "izlazna", "izlaznog", "prodaja", "prodaju",
        "prodaje", "kunde", "kunden", "verkauf", "verkauft", "ausgang",
    ),
}  # fmt: skip
"""Words that say on which side of trade the document is, without naming its kind."""

BASIS_WORDS: dict[str, tuple[str, ...]] = {
    "net": ("net", "netto", "neto", "nett", "before vat", "bez pdv", "bez pdv-a", "ohne mwst"),
    "gross": (
        "gross", "brutto", "bruto", "total", "ukupno", "including vat", "incl vat",
        "s pdv-om", "sa pdv-om", "inkl mwst", "gesamt",
    ),
}  # fmt: skip
"""Words that say whether an amount is the net or the gross."""

CURRENCY_WORDS = frozenset(
    {"eur", "euro", "euros", "eura", "€", "usd", "hrk", "kn", "kuna", "chf", "gbp"}
)

STOP_WORDS = frozenset(
    [
        "how",
        "do",
        "does",
        "did",
        "i",
        "we",
        "you",
        "should",
        "would",
        "could",
        "can",
        "shall",
        "will",
        "post",
        "posts",
        "posted",
        "posting",
        "book",
        "books",
        "booked",
        "booking",
        "record",
        "recorded",
        "enter",
        "entered",
        "account",
        "accounts",
        "accounting",
        "for",
        "the",
        "a",
        "an",
        "of",
        "from",
        "to",
        "in",
        "on",
        "at",
        "by",
        "with",
        "what",
        "which",
        "is",
        "are",
        "was",
        "were",
        "it",
        "its",
        "if",
        "and",
        "or",
        "about",
        "scheme",
        "schemes",
        "entry",
        "entries",
        "journal",
        "please",
        "this",
        "that",
        "these",
        "those",
        "our",
        "my",
        "me",
        "us",
        "be",
        "when",
        "where",
        "there",
        "here",
        "then",
        "as",
        "like",
        "get",
        "give",
        "show",
        "tell",
        "need",
        "want",
        "new",
        "year",
        "month",
        "monthly",
        "amount",
        "total",
        "vat",
        "tax",
        "taxes",
        "rate",
        "percent",
        "same",
        "again",
        "instead",
        "also",
        "too",
        "now",
        "only",
        "per",
        "each",
        "say",
        "let",
        "lets",
        "s",
        "t",
        "one",
        "two",
        "our",
        "their",
        "them",
        "they",
        "he",
        "she",
        "his",
        "her",
        "than",
        "any",
        "some",
        "all",
        "kako",
        "da",
        "se",
        "je",
        "su",
        "li",
        "što",
        "sto",
        "šta",
        "sta",
        "ako",
        "za",
        "od",
        "do",
        "u",
        "na",
        "s",
        "sa",
        "i",
        "a",
        "ili",
        "koji",
        "koja",
        "koje",
        "kojem",
        "knjižiti",
        "knjiži",
        "knjižim",
        "knjižimo",
        "knjizim",
        "knjiziti",
        "proknjižiti",
        "proknjižim",
        "proknjizim",
        "knjiženje",
        "knjiženja",
        "knjizenje",
        "shema",
        "shemu",
        "sheme",
        "konto",
        "konta",
        "moram",
        "trebam",
        "treba",
        "molim",
        "mi",
        "ja",
        "nam",
        "ovaj",
        "ova",
        "ovo",
        "taj",
        "ta",
        "to",
        "iznos",
        "iznosom",
        "godini",
        "godina",
        "godine",
        "godinu",
        "mjesečni",
        "mjesečno",
        "po",
        "bez",
        "kod",
        "kada",
        "gdje",
        "onda",
        "isto",
        "još",
        "također",
        "pdv",
        "pdva",
        "stopa",
        "stopom",
        "stopi",
        "wie",
        "buche",
        "buchen",
        "bucht",
        "gebucht",
        "verbuche",
        "verbuchen",
        "kontiere",
        "kontieren",
        "buchungssatz",
        "buchung",
        "buchungen",
        "ich",
        "wir",
        "man",
        "muss",
        "soll",
        "eine",
        "einen",
        "ein",
        "einer",
        "eines",
        "dem",
        "den",
        "der",
        "die",
        "das",
        "des",
        "für",
        "fur",
        "von",
        "vom",
        "zu",
        "zum",
        "zur",
        "im",
        "in",
        "mit",
        "und",
        "oder",
        "was",
        "wenn",
        "es",
        "ist",
        "bei",
        "an",
        "auf",
        "aus",
        "bitte",
        "diese",
        "dieser",
        "dieses",
        "betrag",
        "jahr",
        "jahre",
        "monatlich",
        "mwst",
        "ust",
        "steuer",
        "satz",
        "prozent",
        "dann",
        "wäre",
        "waere",
        "über",
        "ueber",
        "unsere",
        "unser",
        "meine",
        "koliko",
        "iznosi",
        "much",
        "many",
        "wieviel",
        "viel",
    ]
)
"""Words that carry no topic in a question about posting."""

TOPIC_WORDS: dict[str, tuple[str, ...]] = {
    "rent": (
        "rent", "rental", "office rent", "parking", "ured", "ureda", "uredu", "najam", "najma", "najmu", "najamnina",
        "najamninu", "najamnine", "zakup", "zakupa", "zakupnina", "zakupninu", "parking",
        "parkirno", "miete", "büromiete", "raummiete", "stellplatz",
    ),
    "service_charges": (
        "service charges", "common areas", "building maintenance", "režije", "pričuva",
        "pričuvu", "nebenkosten", "hausgeld",
    ),
    "electricity": (
        "electricity", "power", "electric", "struja", "struje", "struju", "električna",
        "električne", "električnu", "elektrika", "strom", "stromrechnung", "elektrizität",
    ),
    "gas": ("gas", "heating", "plin", "plina", "plinu", "grijanje", "erdgas", "heizung"),
    "water_waste": (
        "water", "sewerage", "waste", "garbage", "voda", "vode", "vodu", "kanalizacija",
        "otpad", "otpada", "smeće", "wasser", "abwasser", "müll", "abfall",
    ),
    "phone": (
        "phone", "phones", "telephone", "telephony", "mobile", "cell", "tariff", "roaming",
        "landline", "fixed line", "telefon", "telefonija", "mobitel", "mobilni", "mobilnog",
        "mobilne", "mobilna", "telefonie", "handy", "handys", "mobilfunk", "festnetz",
    ),
    "internet": (
        "internet", "broadband", "fibre", "fiber", "leased line", "optika", "breitband",
        "glasfaser", "standleitung",
    ),
    "software": (
        "software", "licence", "licences", "license", "licenses", "subscription",
        "subscriptions", "saas", "softver", "softvera", "licenca", "licence", "licencu",
        "pretplata", "pretplatu", "pretplate", "lizenz", "lizenzen", "abonnement", "abo",
    ),
    "hosting": (
        "hosting", "cloud", "server", "servers", "domain", "certificate", "poslužitelj",
        "poslužitelja", "domena", "domene", "oblak", "rechenzentrum",
    ),
    "merchandise": (
        "merchandise", "goods for resale", "resale", "laptop", "laptops", "monitor",
        "monitors", "printer", "printers", "roba", "robe", "robu", "trgovačka roba",
        "handelsware", "waren", "ware",
    ),
    "small_equipment": (
        "small equipment", "mouse", "headset", "webcam", "keyboard", "charger", "sitni inventar",
        "tipkovnica", "slušalice", "kleingeräte", "tastatur",
    ),
    "office_supplies": (
        "office supplies", "stationery", "paper", "toner", "pens", "envelopes", "folders",
        "uredski materijal", "uredskog materijala", "papir", "olovke", "kuverte",
        "büromaterial", "bürobedarf", "papier",
    ),
    "books": (
        "book", "books", "handbook", "literature", "knjiga", "knjige", "knjigu", "literatura",
        "literaturu", "buch", "bücher", "fachliteratur", "zeitschrift",
    ),
    "travel_hotel": (
        "hotel", "hotels", "accommodation", "smještaj", "smještaja", "noćenje", "noćenja",
        "übernachtung", "unterkunft",
    ),
    "travel_transport": (
        "flight", "flights", "airfare", "rental car", "travel", "avionska karta",
        "putovanje", "putovanja", "službeni put", "flug", "flugticket", "reise", "reisekosten",
        "mietwagen",
    ),
    "vehicle_fuel": (
        "fuel", "diesel", "petrol", "gasoline", "gorivo", "goriva", "dizel", "benzin",
        "kraftstoff", "tanken", "sprit",
    ),
    "vehicle_service": (
        "car service", "tyre", "tyres", "tire", "tires", "car wash", "servis vozila",
        "servis auta", "gume", "werkstatt", "inspektion", "reifen", "autowäsche",
    ),
    "vehicle_lease": ("vehicle lease", "car lease", "leasing", "lizing"),
    "insurance": (
        "insurance", "premium", "osiguranje", "osiguranja", "polica", "versicherung",
        "versicherungen",
    ),
    "legal": (
        "legal", "lawyer", "lawyers", "attorney", "tax advice", "tax advisory",
        "contract review", "odvjetnik", "odvjetnika", "pravni", "pravne", "porezni savjetnik",
        "rechtsanwalt", "anwalt", "rechtsberatung", "steuerberatung", "steuerberater",
    ),
    "bookkeeping": (
        "bookkeeping", "accounting services", "payroll accounting", "knjigovodstvo",
        "računovodstvo", "računovodstvene", "knjigovodstvene", "buchhaltung", "buchführung",
        "lohnbuchhaltung",
    ),
    "audit": (
        "audit", "auditor", "revizija", "revizije", "reviziju", "wirtschaftsprüfung",
        "jahresabschlussprüfung",
    ),
    "marketing": (
        "marketing", "advertising", "ads", "advert", "brochure", "brochures", "trade fair",
        "promotional", "reklama", "reklame", "reklamu", "oglašavanje", "oglas", "promocija",
        "sajam", "werbung", "anzeigen", "messe", "prospekte",
    ),
    "catering": (
        "lunch", "dinner", "catering", "restaurant", "entertainment", "business meal",
        "reprezentacija", "reprezentacije", "reprezentaciju", "ručak", "večera", "restoran",
        "bewirtung", "geschäftsessen",
    ),
    "training": (
        "training", "course", "conference", "seminar", "certification", "edukacija",
        "edukacije", "edukaciju", "obuka", "obuku", "tečaj", "konferencija", "schulung",
        "fortbildung", "konferenz", "weiterbildung",
    ),
    "cleaning": (
        "cleaning", "čišćenje", "čišćenja", "reinigung", "gebäudereinigung",
    ),
    "courier": (
        "courier", "delivery", "parcel", "postage", "shipping", "kurir", "dostava", "dostavu",
        "paket", "poštarina", "kurier", "porto", "versand",
    ),
    "it_maintenance": (
        "it support", "maintenance", "server maintenance", "održavanje", "održavanja",
        "informatička podrška", "wartung", "systembetreuung",
    ),
    "subcontracting": (
        "subcontracting", "subcontractor", "freelance", "freelancer", "developer",
        "development services", "testing services", "podugovaranje", "vanjski suradnik",
        "programer", "subunternehmer", "fremdleistung", "entwickler",
    ),
    "consulting": (
        "consulting", "consultancy", "project management", "workshop", "savjetovanje",
        "konzalting", "beratung",
    ),
    "development": (
        "development", "programming", "integration", "razvoj", "razvoja", "programiranje",
        "entwicklung", "programmierung",
    ),
    "support": (
        "support", "maintenance contract", "operations", "podrška", "podršku", "podrške",
        "održavanje", "wartungsvertrag",
    ),
    "hardware": ("hardware", "equipment", "laptop", "laptops", "hardver", "oprema", "opremu"),
    "training_sales": (
        "training day", "online course", "course seat", "edukacija", "obuka", "schulung",
    ),
    "books_sales": ("manual", "manuals", "user manual", "priručnik", "priručnika", "handbuch"),
}  # fmt: skip
"""Words and phrases per catalog category (:data:`ledgerpilot.synth.catalog.CATEGORIES`)."""

LEGAL_FORMS = frozenset(
    [
        "d",
        "o",
        "j",
        "dd",
        "doo",
        "jdoo",
        "gmbh",
        "ag",
        "kg",
        "co",
        "ltd",
        "plc",
        "llc",
        "inc",
        "corp",
        "sa",
        "sarl",
        "srl",
        "spa",
        "sas",
        "bv",
        "ab",
        "aps",
        "as",
        "sl",
        "kft",
        "sro",
        "ug",
        "ek",
        "haftungsbeschränkt",
        "pvt",
        "dac",
        "zrt",
        "oy",
        "nv",
        "se",
        "spzoo",
    ]
)
"""Tokens of a partner's name that say its legal form, not who it is."""

_TOKEN = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*", re.UNICODE)


def normalize(text: str) -> str:
    """Lower case, Unicode NFC, typographic quotes and dashes made plain."""
    text = unicodedata.normalize("NFC", text).lower()
    return text.replace("\u2019", "'").replace("\u2013", "-").replace("\u2014", "-")


def tokens(text: str) -> list[str]:
    """The words of ``text`` (lower case; hyphenated words kept whole)."""
    return _TOKEN.findall(normalize(text))


def same_word(asked: str, known: str) -> bool:
    """Whether a word of a question is ``known`` or one of its inflected forms.

    Equal words match; a known word of five letters or more also matches a form with up to
    three more letters ("telefon": "telefona", "telefonski"), and the plural or genitive of a
    shorter one with one more ("ured": "ureda").
    """
    if asked == known:
        return True
    if len(known) >= 5:
        return asked.startswith(known) and len(asked) - len(known) <= 3
    return len(known) >= 4 and asked.startswith(known) and len(asked) - len(known) == 1


def phrase_positions(words: list[str], phrase: str) -> list[int]:
    """Where the words of ``phrase`` stand in ``words`` in a row (each word as
    :func:`same_word` matches it)."""
    parts = phrase.split()
    found = []
    for start in range(len(words) - len(parts) + 1):
        if all(same_word(words[start + n], part) for n, part in enumerate(parts)):
            found.append(start)
    return found


def longest_first(phrases: Iterable[str]) -> list[str]:
    """Phrases by number of words, then length, longest first (stable for equal ones)."""
    return sorted(phrases, key=lambda p: (-len(p.split()), -len(p)))
