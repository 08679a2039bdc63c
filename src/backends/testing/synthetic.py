"""Synthetic receipts with known truth, for tests, the sample, chaos drills and benchmarks.

``ReceiptSpec`` holds what a receipt says (merchant, address, date, items, how it is paid) and
how it looks (``Style``); ``render_receipt`` draws it; ``random_receipt(rng)`` makes a varied,
realistic one from the locale tables in ``LOCALES`` (Malaysia, the US, Germany, France, the UK,
Singapore, Switzerland: their date formats, decimal marks, currency marks, tax and total labels).
Everything is deterministic given the ``random.Random`` passed in. Fonts are DejaVu where
installed, else Pillow's built-in font.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONTS = {"mono": "DejaVuSansMono", "sans": "DejaVuSans", "serif": "DejaVuSerif", "condensed": "DejaVuSansCondensed"}
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Locale:
    """How receipts of one country print things."""

    code: str
    currency: str  # ISO 4217
    mark: str  # printed before amounts ("RM", "$") or after them (mark_after)
    mark_after: bool
    decimal_comma: bool
    date_formats: tuple[str, ...]
    labels: dict[str, tuple[str, ...]]  # subtotal, tax, total, cash, change, date, title, thanks
    tax_rate: Decimal
    tax_included: bool  # prices include tax (EU) or tax is added on top (US)
    cash_rounding: Decimal | None  # rounding step of cash payments, if any
    merchants: tuple[str, ...]
    addresses: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Item:
    name: str
    quantity: int
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return (self.unit_price * self.quantity).quantize(CENT)


@dataclass(frozen=True)
class Style:
    """How the receipt looks: font, size, paper width, and mild degradation."""

    font: str = "mono"
    size: int = 22
    width: int = 620
    blur: float = 0.0
    rotation: float = 0.0
    speckle: float = 0.0  # share of pixels flipped to dark grey
    ink: int = 20  # 0 black .. 255 white


@dataclass(frozen=True)
class ReceiptSpec:
    """One receipt: what it says (the truth) and how it looks."""

    locale: Locale
    merchant: str
    address: tuple[str, ...]
    date: dt.date
    date_format: str
    time: str
    items: tuple[Item, ...]
    cash: Decimal | None = None  # amount handed over; None = paid by card
    labels: dict[str, str] = field(default_factory=dict)  # one label per key, drawn from the locale
    receipt_no: str = "000123"
    style: Style = field(default_factory=Style)

    @property
    def subtotal(self) -> Decimal:
        return sum((item.amount for item in self.items), Decimal("0"))

    @property
    def tax(self) -> Decimal:
        rate = self.locale.tax_rate
        if self.locale.tax_included:
            return (self.subtotal * rate / (1 + rate)).quantize(CENT, ROUND_HALF_UP)
        return (self.subtotal * rate).quantize(CENT, ROUND_HALF_UP)

    @property
    def gross(self) -> Decimal:
        return self.subtotal if self.locale.tax_included else self.subtotal + self.tax

    @property
    def total(self) -> Decimal:
        """What is due: the gross amount, cash-rounded where the locale rounds cash."""
        step = self.locale.cash_rounding
        if step is None or self.cash is None:
            return self.gross
        return ((self.gross / step).quantize(Decimal("1"), ROUND_HALF_UP) * step).quantize(CENT)

    @property
    def date_raw(self) -> str:
        printed = self.date.strftime(self.date_format)
        return printed.upper() if "%b" in self.date_format else printed

    def truth(self) -> dict[str, str]:
        """The fields a reader should return for this receipt."""
        return {
            "merchant": self.merchant,
            "date": self.date.isoformat(),
            "date_raw": self.date_raw,
            "total": str(self.total),
            "currency": self.locale.currency,
        }

    def label(self, key: str) -> str:
        return self.labels.get(key) or self.locale.labels[key][0]

    def money(self, value: Decimal, *, mark: bool = False) -> str:
        """An amount as this locale prints it: ``1,234.50``, ``1.234,50``, ``RM 9.00``, ``9,00 €``."""
        text = f"{abs(value):,.2f}"
        if self.locale.decimal_comma:
            text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
        text = f"-{text}" if value < 0 else text
        if not mark:
            return text
        return f"{text} {self.locale.mark}" if self.locale.mark_after else f"{self.locale.mark} {text}"


def render_receipt(spec: ReceiptSpec) -> Image.Image:
    """Draw the receipt as an RGB image."""
    style = spec.style
    regular, bold = _font(style.font, style.size), _font(style.font, style.size, bold=True)
    rows = _rows(spec)
    line_height = int(style.size * 1.45)
    margin = style.size
    image = Image.new("L", (style.width, margin * 2 + line_height * len(rows)), 255)
    draw = ImageDraw.Draw(image)
    for number, (left, right, emphasis) in enumerate(rows):
        font = bold if emphasis else regular
        y = margin + number * line_height
        if right is None:  # centred
            x = max(margin, (style.width - int(draw.textlength(left, font=font))) // 2)
            draw.text((x, y), left, fill=style.ink, font=font)
            continue
        draw.text((margin, y), left, fill=style.ink, font=font)
        draw.text((style.width - margin - int(draw.textlength(right, font=font)), y), right, fill=style.ink, font=font)
    return _degrade(image, style, spec).convert("RGB")


def _rows(spec: ReceiptSpec) -> list[tuple[str, str | None, bool]]:
    """The receipt's lines: (left text, right-aligned text or None to centre, bold)."""
    rule = ("-" * 32, None, False)
    rows: list[tuple[str, str | None, bool]] = [(spec.merchant, None, True)]
    rows += [(line, None, False) for line in spec.address]
    rows += [(spec.label("title"), None, False), rule]
    rows += [(f"{spec.label('date')} {spec.date_raw}", spec.time, False), (f"No: {spec.receipt_no}", "", False), rule]
    for item in spec.items:
        name = item.name if item.quantity == 1 else f"{item.quantity} x {item.name}"
        rows.append((name, spec.money(item.amount), False))
    rows.append(rule)
    rows += _totals(spec)
    rows += [rule, (spec.label("thanks"), None, False)]
    return rows


def _totals(spec: ReceiptSpec) -> list[tuple[str, str | None, bool]]:
    rate = f"{(spec.locale.tax_rate * 100).normalize():f}%"
    rows: list[tuple[str, str | None, bool]] = [(spec.label("subtotal"), spec.money(spec.subtotal), False)]
    rows.append((f"{spec.label('tax')} {rate}", spec.money(spec.tax), False))
    if spec.total != spec.gross:
        rows.append((spec.label("rounding"), spec.money(spec.total - spec.gross), False))
    label = spec.label("total")
    rows.append((label, spec.money(spec.total, mark=spec.locale.mark not in label), True))
    if spec.cash is not None:
        rows.append((spec.label("cash"), spec.money(spec.cash), False))
        rows.append((spec.label("change"), spec.money(spec.cash - spec.total), False))
    else:
        rows.append((spec.label("card"), spec.money(spec.total), False))
    return rows


def _degrade(image: Image.Image, style: Style, spec: ReceiptSpec) -> Image.Image:
    if style.speckle:
        rng = random.Random(f"{spec.receipt_no}{spec.merchant}")
        pixels = image.load()
        assert pixels is not None
        for _ in range(int(style.speckle * image.width * image.height)):
            pixels[rng.randrange(image.width), rng.randrange(image.height)] = 90
    if style.blur:
        image = image.filter(ImageFilter.GaussianBlur(style.blur))
    if style.rotation:
        image = image.rotate(style.rotation, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=255)
    return image


@cache
def _font(family: str, size: int, *, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    name = FONTS.get(family, FONTS["mono"]) + ("-Bold" if bold else "")
    path = FONT_DIR / f"{name}.ttf"
    if path.exists():
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


def random_receipt(rng: random.Random, *, locale: str | None = None, degrade: bool = True) -> ReceiptSpec:
    """A varied, realistic receipt; the same ``rng`` state always gives the same receipt."""
    country = LOCALES[locale] if locale else rng.choice(list(LOCALES.values()))
    items = tuple(
        Item(rng.choice(PRODUCTS), rng.choice((1, 1, 1, 2, 3)), Decimal(rng.randrange(80, 4500)) / 100)
        for _ in range(rng.randint(1, 6))
    )
    spec = ReceiptSpec(
        locale=country,
        merchant=rng.choice(country.merchants),
        address=rng.choice(country.addresses),
        date=dt.date(2015, 1, 1) + dt.timedelta(days=rng.randrange(3650)),
        date_format=rng.choice(country.date_formats),
        time=f"{rng.randint(7, 22):02d}:{rng.randint(0, 59):02d}",
        items=items,
        labels={key: rng.choice(options) for key, options in country.labels.items()},
        receipt_no=f"{rng.randrange(10**5, 10**7)}",
        style=_random_style(rng) if degrade else Style(),
    )
    return replace(spec, cash=_cash(spec, rng))


def _cash(spec: ReceiptSpec, rng: random.Random) -> Decimal | None:
    if rng.random() < 0.3:
        return None
    due = replace(spec, cash=Decimal("0")).total
    note = next(n for n in (Decimal(v) for v in (5, 10, 20, 50, 100, 200, 500, 1000, 10**6)) if n >= due)
    return rng.choice((due, note))


def _random_style(rng: random.Random) -> Style:
    return Style(
        font=rng.choice(("mono", "mono", "sans", "condensed", "serif")),
        size=rng.randint(20, 26),
        width=rng.randint(560, 700),
        blur=rng.choice((0.0, 0.0, 0.4, 0.7)),
        rotation=rng.choice((0.0, 0.0, -0.6, 0.5, 1.0)),
        speckle=rng.choice((0.0, 0.0, 0.0005, 0.001)),
        ink=rng.randint(0, 70),
    )


PRODUCTS = (
    "Coffee", "Espresso", "Green Tea", "Croissant", "Bagel", "Sandwich", "Chicken Rice", "Nasi Lemak",
    "Orange Juice", "Mineral Water", "Notebook A5", "Ball Pen Blue", "Batteries AA", "Light Bulb",
    "Paint Brush", "Screwdriver Set", "Tissue Box", "Shampoo", "Toothpaste", "Milk 1L", "Bread", "Apples",
    "Cheese", "Pasta", "Olive Oil", "Chocolate", "Baguette", "Salade", "Brezel", "Kaffee",
)  # fmt: skip

_ANGLO = {"date": ("Date:", "Date"), "thanks": ("THANK YOU", "Thank you! Please come again")}

LOCALES: dict[str, Locale] = {
    locale.code: locale
    for locale in (
        Locale(
            "MY", "MYR", "RM", False, False, ("%d/%m/%Y", "%d-%m-%y", "%d/%m/%y", "%d %b %Y"),
            {**_ANGLO, "title": ("TAX INVOICE", "CASH BILL"), "subtotal": ("Sub Total", "SUBTOTAL"),
             "tax": ("SST", "Service Tax"), "rounding": ("Rounding Adj",),
             "total": ("TOTAL", "Total Incl. SST", "Total Amount", "TOTAL RM"), "cash": ("CASH", "Cash"),
             "change": ("CHANGE", "Change"), "card": ("VISA", "Debit Card")},
            Decimal("0.06"), True, Decimal("0.05"),
            ("KEDAI BUKU CAHAYA SDN BHD", "RESTORAN SRI MELATI", "TAN HARDWARE TRADING",
             "PASARAYA SEGAR SDN BHD", "KOPITIAM LAMA S/B", "AIK SENG STATIONERY & BOOKS"),
            (("NO 12, JALAN MERANTI 3,", "TAMAN SRI BAYU,", "47300 PETALING JAYA, SELANGOR"),
             ("LOT 5, JALAN BESAR,", "81100 JOHOR BAHRU, JOHOR")),
        ),
        Locale(
            "US", "USD", "$", False, False, ("%m/%d/%Y", "%m/%d/%y", "%b %d, %Y"),
            {**_ANGLO, "title": ("SALES RECEIPT", "RECEIPT"), "subtotal": ("Subtotal", "SUBTOTAL"),
             "tax": ("Sales Tax", "Tax"), "rounding": ("Rounding",),
             "total": ("TOTAL", "Grand Total", "Amount Due", "Balance Due"), "cash": ("Cash", "CASH TEND"),
             "change": ("Change Due", "CHANGE"), "card": ("VISA", "MASTERCARD")},
            Decimal("0.0825"), False, None,
            ("Blue Bottle Market", "Main Street Hardware", "Golden Gate Deli LLC", "Sunrise Bakery Inc.",
             "Corner Pharmacy"),
            (("1234 Market St", "San Francisco, CA 94103"), ("88 Broadway Ave", "New York, NY 10012")),
        ),
        Locale(
            "DE", "EUR", "EUR", True, True, ("%d.%m.%Y", "%d.%m.%y"),
            {"date": ("Datum:", "Datum"), "title": ("Kassenbon", "Rechnung"), "subtotal": ("Zwischensumme",),
             "tax": ("enth. MwSt", "MwSt"), "rounding": ("Rundung",), "total": ("SUMME", "Summe", "Zu zahlen"),
             "cash": ("Gegeben Bar", "Bar"), "change": ("Rückgeld", "Wechselgeld"), "card": ("EC-Karte",),
             "thanks": ("Vielen Dank für Ihren Einkauf",)},
            Decimal("0.19"), True, None,
            ("Backstube Krause GmbH", "Cafe am Markt", "Buchhandlung Weber KG", "Eisenwaren Schmidt GmbH"),
            (("Hauptstraße 5", "10115 Berlin"), ("Marktplatz 12", "80331 München")),
        ),
        Locale(
            "FR", "EUR", "€", True, True, ("%d/%m/%Y", "%d/%m/%y"),
            {"date": ("Date :", "Le"), "title": ("TICKET DE CAISSE", "FACTURE"), "subtotal": ("Sous-total",),
             "tax": ("dont TVA", "TVA"), "rounding": ("Arrondi",), "total": ("TOTAL TTC", "Net à payer"),
             "cash": ("Espèces",), "change": ("Rendu", "Monnaie rendue"), "card": ("Carte Bancaire", "CB"),
             "thanks": ("Merci de votre visite", "A bientot")},
            Decimal("0.20"), True, None,
            ("Boulangerie Dupont SARL", "Librairie du Centre", "Café de la Gare SAS", "Pharmacie Lefèvre"),
            (("12 rue de la Paix", "75002 Paris"), ("3 place Bellecour", "69002 Lyon")),
        ),
        Locale(
            "UK", "GBP", "£", False, False, ("%d/%m/%Y", "%d/%m/%y", "%d %b %Y"),
            {**_ANGLO, "title": ("RECEIPT", "VAT RECEIPT"), "subtotal": ("Subtotal", "Sub-total"),
             "tax": ("VAT", "VAT included"), "rounding": ("Rounding",), "total": ("TOTAL", "Total to pay",
             "Balance Due"), "cash": ("Cash", "Cash tendered"), "change": ("Change",), "card": ("Contactless",)},
            Decimal("0.20"), True, None,
            ("Corner Cafe Ltd", "The Old Bookshop", "Hillside Hardware Ltd", "Green Grocers"),
            (("12 High Street", "London SW1A 1AA"), ("4 Castle Road", "Edinburgh EH1 2NG")),
        ),
        Locale(
            "SG", "SGD", "S$", False, False, ("%d/%m/%Y", "%d-%m-%Y", "%d %b %Y"),
            {**_ANGLO, "title": ("TAX INVOICE", "RECEIPT"), "subtotal": ("Sub-Total", "Subtotal"),
             "tax": ("GST",), "rounding": ("Rounding",), "total": ("TOTAL", "Grand Total", "Nett Total"),
             "cash": ("Cash", "CASH"), "change": ("Change",), "card": ("NETS", "VISA")},
            Decimal("0.09"), False, None,
            ("Lucky Noodle House Pte Ltd", "Orchard Books Pte. Ltd.", "Tiong Bahru Bakery", "Kopi Corner"),
            (("10 Anson Road #01-23", "Singapore 079903"), ("2 Orchard Turn", "Singapore 238801")),
        ),
        Locale(
            "CH", "CHF", "CHF", False, False, ("%d.%m.%Y", "%d.%m.%y"),
            {"date": ("Datum:", "Date:"), "title": ("Quittung", "Kassenbeleg"), "subtotal": ("Zwischentotal",),
             "tax": ("inkl. MWST",), "rounding": ("Rundung",), "total": ("Total CHF", "TOTAL", "Betrag"),
             "cash": ("Bar",), "change": ("Rückgeld",), "card": ("TWINT", "Maestro"),
             "thanks": ("Merci vielmal", "Besten Dank")},
            Decimal("0.081"), True, Decimal("0.05"),
            ("Confiserie Alpenblick AG", "Buchhandlung Seeblick GmbH", "Café Zytglogge"),
            (("Bahnhofstrasse 21", "8001 Zürich"), ("Marktgasse 7", "3011 Bern")),
        ),
    )
}  # fmt: skip
