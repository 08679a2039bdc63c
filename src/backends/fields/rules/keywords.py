"""Keyword tables the rules match receipt lines against, as data.

Patterns are regular expressions searched (case-insensitive) in a line after ``clean_line``. They
tolerate the OCR confusions that are common on thermal paper (``T0TAL``, ``Tota]``, ``TotaI``) and
cover the languages receipts are printed in most often. Order and weights matter; the rules that
use them are in ``total.py``, ``date.py`` and ``merchant.py``.
"""

from __future__ import annotations

import re

_TOTAL = r"(?:\b|(?<=\d))(?:[tj]?[o0]t[a4@][l1i|\]!]|t[o0]t[a4@]\b|t[o0]t[l1]\b)"  # "T0TAL", "Tota]", "otal", "TOTL"

#: Lines that state the amount to pay, strongest first: (pattern, weight).
TOTAL_KEYWORDS: tuple[tuple[str, float], ...] = (
    # what is due after rounding / in the end
    (r"amount\s*(?:due|payable|to\s*(?:be\s*)?pa(?:y|id))|total\s*(?:amt\s*)?(?:due|payable|to\s*pay)", 5.0),
    (r"\ba[mn]t\.?\s*due\b", 5.0),
    (r"balance\s*due|grand\s*" + _TOTAL + r"|" + _TOTAL + r"\s*(?:amt\s*)?(?:rounded|after\s*(?:rounding|adj))", 5.0),
    (r"round(?:ed|ing)\s*" + _TOTAL + r"|net[t]?\s*" + _TOTAL + r"|" + _TOTAL + r"\s*ttc|net\s*[àa]\s*payer", 4.5),
    (r"zu\s*zahlen|gesamtbetrag|[àa]\s*payer|montant\s*total|importe\s*total|totale\s*(?:euro|eur)?", 4.5),
    (r"zahlbetrag|endbetrag|rechnungsbetrag|bruttosumme|brutto\s*-?\s*(?:betrag|summe)|gesamtsumme|endsumme", 4.5),
    (r"(?:summe|gesamt|total|betrag)\s*(?:\(?\s*)?brutto|rechnungssumme|gesamtpreis", 4.5),
    (r"te\s*betalen|totaalbedrag|totale\s*complessivo|importo\s*(?:totale|dovuto)|da\s*pagare", 4.5),
    (r"(?:total|importe)?\s*a\s*pagar|total\s*factura|importe\s*total|montant\s*(?:ttc|d[ûu])", 4.5),
    (r"jumlah\s*(?:besar|bayaran|perlu\s*dibayar|keseluruhan)", 4.5),
    # to pay, in Nordic, Baltic, Slavic and Greek receipts and invoices
    (
        r"att\s*betala|at\s*betale|å\s*betale|maksettava|viso\s*mok[ėée]ti|do\s*zap[łl]aty|nale[żz]no[śs]ci\s*og[óo][łl]em",
        4.5,
    ),
    (r"k\s*(?:úhradě|uhrade|zaplacen[íi])|za\s*platiti|za\s*pla[čc]ilo|πληρωτ[έε]ο|celkem\s*k", 4.5),  # noqa: RUF001 (Greek)
    # a line that starts with the word (in a table heading it names a column)
    (r"^\W*(?:kokku|totalt|i\s*alt|yhteens[äa]|celkem|ukupno|razem|σ[ύυ]νολο|viso)\b", 3.0),  # noqa: RUF001 (Greek)
    # a hotel folio's sum of charges (the payments that settle it follow, and a balance of 0.00)
    (r"summe\s*belastungen|saldo\s*leistungen|summe\s*leistungen|total\s*charges|total\s*des\s*d[ée]bits", 4.5),
    # the total, tax included
    (_TOTAL + r"\s*(?:sales\s*)?\(?\s*(?:incl|inc\b|inc\.|including|inclusive|with\s*(?:gst|tax|vat))", 4.0),
    (_TOTAL + r"\s*(?:rm|myr|eur|usd|sgd|gbp|chf)?\s*(?:incl|inc\b|inc\.|including|inclusive)", 4.0),
    (_TOTAL + r"\s*(?:sales|amount|amt|price|bill|purchase|payment)\b", 3.5),
    (r"\bsumme\b|\bbetrag\b|\bgesamt\b|\bendsumme\b|\bbrutto\b|\btotaal\b|\bjumlah\b|\bimporte\b|\bmontant\b", 3.0),
    (r"\btotale\b|\bimporto\b|\bsuma\b|\bbedrag\b|\bsumma\b|\bsum\b|\bsu[mn]{2}i?e\b", 3.0),
    (_TOTAL, 3.0),
    (r"^\W*tl\b", 3.0),  # "TL $28.31", the abbreviation US tills print
)

#: Column headings that name what is charged only where a heading row stands over a single row of
#: values ("Invoice Number  Invoice Date  Charges" / "34278587  6/18/2017  $56,651.49"): over an
#: item table they name each item's amount, and after a tax word the tax ("VAT Amount").
HEADING_TOTALS: tuple[tuple[str, float], ...] = ((r"\bcharges\b|\bamount\b", 3.0),)

#: Amounts carried into what is due but not part of this document's total: a prepayment or deposit
#: taken off it, or an earlier balance added to it.
CARRIED = (
    r"a\s*cuenta|anzahlung|vorauszahlung|acompte|already\s*paid|prepa(?:id|yment)|advance\s*payment"
    r"|previous\s*(?:unpaid\s*)?balance|balance\s*(?:forward|brought)|vortrag|saldo\s*anterior"
)
#: A settled balance: a folio that ends with it lists its payments as negative amounts.
SETTLED = (
    r"(?:balance|saldo|offener\s*betrag|restbetrag|rechnungsbetrag|solde)\b[^\d\n]{0,30}(?<![\d.,])0[.,]00(?![\d.,])"
)

#: Lines whose amount is not the total, whatever else they say.
NOT_TOTAL: str = "|".join(
    (
        r"sub\s*-?\s*" + _TOTAL,
        r"\bsub\s*-?\s*tota",
        r"zwischensumme|sous[\s-]*total|subtotale|subtotaal",
        r"excl|exclud|before\s*(?:tax|gst|vat)|\bex\b|\(ex\)|w/o|ohne\s*mwst|\bht\b|netto",
        _TOTAL + r"\s*(?:no\.?\s*of\s*)?(?:qty|quantity|items?|item\(s\)|[l1]tems|count|pcs|units?|articles?)\b",
        r"^\W*(?:qty|quantity|items?|item\(s\)|item\s*count|no\.?\s*of\s*items|anzahl)\b(?!.*t[o0]tal)",
        r"\b(?:item\s*count|(?:no\.?|number)\s*of\s*items)\b",
        r"\bsav(?:e|ed|ing|ings)\b|discount|\bdisc\b|rabatt|remise|descuento",
        r"chang|\bchg\b|kembalian|r[üu]ckgeld|wechselgeld|rendu|monnaie|cambio|\bresto\b|vuelto",
        r"tender|cash\b|(?<!be )(?<!to )\bpaid\b|received|bezahlt|gegeben|^\W*bar\b|esp[èe]ces|efectivo|contant",
        r"\bincluded\b|\bincludes\b|enthalten|enth[äa]lt|inclus\b",
        r"\w*[wv]ertsteuer|umsatzsteuer",  # "Mehrwertsteuer", as OCR reads it too ("Hehrvertsteuer")
        r"^\W*(?:gst|tax|vat|mwst|ust|tva|iva|sst|steuer)\b",
        r"\b" + _TOTAL + r"\s*(?:gst|tax|vat|mwst|tva)\b|\btax\s*" + _TOTAL,
        r"supplies|summary|zusammenfassung|analysis",
        # a page's own sum, carried to the next: not the document's total
        r"page\s*" + _TOTAL + r"|" + _TOTAL + r"\s*(?:this|per)\s*page|seitensumme|summe\s*seite|[üu]bertrag"
        r"|carried\s*(?:forward|over)|c/f\b|a\s*reporter|report\s*[àa]",
        r"service\s*(?:charge|chg)|\btips?\b|trinkgeld|pourboire",
        r"\bpoints?\b|\bpts\b|loyalty|bonus",
        r"round(?:ing)?\s*(?:adj|adjustment)?\s*[:\-]?\s*-?\s*\d|rounding\s*adj|round\s*adj",
        r"deposit|pfand|refund",
        CARRIED,
        r"\bzahlungen\b|\bpayments\b|\bcredits\b|\bpaiements\b|\bpagos\b",
        r"zuschl[äa]g|surcharge|suppl[ée]ment|recargo|supplemento|toeslag|zuzahlung",
        r"nettobetrag|netto\s*-?\s*summe|summe\s*netto|base\s*imponible|imponibile|total\s*h\.?t|excl\.?\s*btw",
        r"\b(?:mwst|ust|steuer|tax|vat|tva|iva|btw|gst)\s*-?\s*(?:betrag|summe|amount|total|montant|importe|bedrag)",
        r"^\W*(?:btw|iva|tva)\b|\bvorsteuer\b",
    )
)

#: A heading after which amounts belong to a tax table, not to the bill.
TAX_TABLE_HEADING = r"(?:gst|tax|vat|mwst|tva|iva)\s*[-_ ]*(?:su[mn]+ary|analysis|breakdown)|summar|zusammenfassung"

#: A rounding line: either the rounding adjustment or the rounded total.
ROUNDING = r"\bround|\brndg\b|rundung|arrondi|redondeo|pembundaran"

#: A line that names an amount, and only that: the last fallback ("AMOUNT $41.45" over a blank
#: "TIP" and "TOTAL" a restaurant guest did not fill in).
AMOUNT = r"^\W*amount\b"
#: A subtotal line: the fallback when no line says it holds the total.
SUBTOTAL = (
    r"sub\s*-?\s*t[o0]t|zwischensumme|sous[\s-]*total|subtotale|subtotaal|nettobetrag|summe\s*netto|netto\s*summe"
    r"|total\s*h\.?t|base\s*imponible|imponibile|jumlah\s*kecil"
)
#: A line that says its amount includes the tax.
TAX_INCLUDED = r"\bincl|\binkl|\binc\b|inclus|\bttc\b|with\s*(?:gst|tax|vat)|\bmit\s*mwst"
#: A tax line: the amount of VAT, GST, sales tax (not the rate table's other columns).
TAX = r"\b(?:tax|vat|gst|sst|mwst|ust|tva|iva|btw|steuer|pajak|cukai)\b|mehrwertsteuer|umsatzsteuer"
#: The invoice's grand total, as opposed to what is still due after prepayments.
GRAND_TOTAL = r"grand\s*total|invoice\s*total|gesamtbetrag|rechnungsbetrag|bruttosumme|total\s*ttc|totaalbedrag"
#: An amount still to pay after prepayments or deposits: the document's total is the grand total.
AMOUNT_DUE = r"amount\s*due|balance\s*due|zahlbetrag|zu\s*zahlen|offener\s*betrag|restbetrag|net\s*[àa]\s*payer"

#: What paying looks like: the amount handed over, and what came back.
PAYMENT = (
    r"\bcash\b|tender|\bpaid\b|payment|received|visa|master\s*card|credit|debit|\bcard\b|bezahlt|gegeben|\bbar\b"
    r"|^\W*pay\b"
    r"|esp[èe]ces|efectivo|contant"
)
CHANGE = r"chang|\bchg\b|kembalian|r[üu]ckgeld|wechselgeld|rendu|monnaie|cambio|\bresto\b|vuelto|balance"

#: A currency mark printed next to an amount.
CURRENCY_MARK = r"(?:(?<![A-Za-z])(?:RM|MYR|USD|EUR|SGD|GBP|CHF|AUD|CAD|Rp\.?|Rs\.?|Fr\.)|[A-Z]{0,2}\$|€|£|¥|₹)"

#: Signs of an American receipt (month-first dates): a state code and ZIP code, or US dollars.
US_MARKERS = (
    r"\b(?:AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM"
    r"|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY),?\s+\d{5}(?:-\d{4})?\b|\bUSD\b|US\$"
)

#: Weaker signs of an American document, two of which make numeric dates month-first: a US phone
#: number, a dollar amount, a tip or gratuity line, "sales tax".
US_HINTS = (
    r"\(\d{3}\)\s?\d{3}-\d{4}|\$\s?\d+\.\d\d|\btip\b|gratuity|sales\s*tax|\bst\.?\s*tax\b"
    r"|(?<!\d)(?:1[0-2]|0?[1-9]):[0-5]\d\s?[ap](?:\.?m\.?)?(?![a-z])"  # a 12-hour clock: "11:23a", "2:44 PM"
)

#: Signs of a document from a day-first country: a currency or a legal form that is not American.
DAY_FIRST_MARKERS = (
    r"€|£|₹|\bEUR\b|\bGBP\b|\bINR\b|\bRM\s?\d|\bMYR\b|\bSGD\b|\bCHF\b|\bAUD\b|\bRs\.?\s?\d|\bsdn\.?\s*bhd\b"
    r"|\bgmbh\b|\bs\.?a\.?r\.?l\b|\bb\.v\.|\bmwst\b|\bust\b|\btva\b|\biva\b|\bbtw\b|\bvat\b|\bgst\b"
)

#: What a bare "$" means, by the legal forms and places printed on the receipt: (pattern, currency).
DOLLAR_HINTS: tuple[tuple[str, str], ...] = (
    (r"\bsdn\.?\s*bhd\b|\bbhd\b|\bs/b\b|malaysia|\bgst\s*(?:reg|id)|\bsst\b", "MYR"),
    (r"\bpte\.?\s*ltd\b|singapore|\buen\b", "SGD"),
    (r"\bpty\.?\s*ltd\b|australia|\babn\b", "AUD"),
    (r"\bcanada\b|\bhst\b|\bgst/hst\b", "CAD"),
    (r"hong\s*kong", "HKD"),
    (r"new\s*zealand", "NZD"),
)

#: Labels of the document date, and of dates that are something else.
DATE_LABELS = r"\bdate\b|\bdated\b|\btarikh\b|datum\b|\bfecha\b|\bdata\b|\bdt\b|\bbill\b|\binvoice\b|\bdate/time\b"
#: Labels of a hotel stay's (or a journey's) first day: not its bill's date.
ARRIVAL_LABELS = r"arriv|anreise|ankunft|llegada|aankomst|check[\s-]*in"
NOT_DOCUMENT_DATE = (
    r"expir|\bexp\b|valid|\bdue\b|birth|\bdob\b|until|\bbis\b|since|member\s*since|f[äa]llig|return\s*by|best\s*before|"
    + ARRIVAL_LABELS
)
#: Labels of the date a document was issued, stronger than a plain "date".
ISSUE_DATE_LABELS = (
    r"invoice\s*date|rechnungsdatum|belegdatum|date\s*of\s*issue|issue\s*date|tax\s*date|date\s*de\s*facture"
    r"|fecha\s*(?:de\s*)?(?:factura|emisi[óo]n)|factuurdatum|data\s*(?:della\s*)?fattura"
)
#: Labels of a hotel stay's last day: it dates the bill only where nothing else does (a folio is
#: often printed and settled before it, at check-in or the evening before).
DEPARTURE_LABELS = r"depart|abreise|d[ée]part|salida|vertrek|odlazak|check[\s-]*out"
#: Signs of a hotel bill, one pattern per sign: a document showing two of them is a folio.
STAY_CUES: tuple[str, ...] = (
    r"\broom\b|\bzimmer\b|\bchambre\b|habitaci[óo]n|\bcamera\b|\bkamar\b",
    r"\bguest\b|\bgast\b|\bh[ôo]te\b|\bhu[ée]sped\b",
    r"check[\s-]*(?:in|out)|\barriv|\bdepart|anreise|abreise",
    r"\bfolio\b",
    r"\bnights?\b|\bn[äa]chte\b|\bnuits?\b|\bnoches?\b",
)
TIME = r"(?<!\d)(?:[01]?\d|2[0-3])[:h][0-5]\d(?:[:.][0-5]\d)?(?:\s*[ap]\.?m\.?)?(?!\d)"

#: Legal forms of companies in several countries: a line that ends in one names a business.
LEGAL_FORMS = (
    r"\b(?:sdn\.?\s*bhd|s/b|bhd|berhad|pte\.?\s*ltd|pty\.?\s*ltd|ltd|limited|llc|l\.l\.c|inc|incorporated|corp"
    r"|corporation|co\.?,?\s*ltd|plc|gmbh|(?:handels)?ges\.?\s*m\.?\s*b\.?\s*h|spol\.?\s*s\s*r\.?\s*o|s\.\s*c"
    r"|ag|kg|ohg|e\.?\s*k|ug|sarl|s\.?a\.?r\.?l|sas|s\.a\.s|s\.?a|s\.?l|s\.?r\.?l"
    r"|s\.?p\.?a|b\.?v|n\.?v|bvba|sprl|oy|oü|ab|a/s|as|k\.?k|kft|ltda|pvt\.?\s*ltd|tbk|pt|cv|enterprise|enterprises|trading|company)\b\.?"
)

#: OCR misreadings of legal forms, repaired in a merchant's name: (pattern, replacement).
LEGAL_FORM_REPAIRS: tuple[tuple[str, str], ...] = (
    (r"\bS[DO0UIH][NM](\.?\s*)B(?:H|N|I|IL|L|E)[DO0]\b", r"SDN\1BHD"),  # "SON BHD", "SDN BILD"
    (r"(?<=\s)[S5§]/[B8](?=[^\w]*$)", "S/B"),  # "5/8" at the end of a name
    (r"\bGmb(?:II|Il|lI|ll|1I|I1)\b", "GmbH"),
    (r"\bL[T7][D0O]\b\.?", "LTD"),
)

#: Words that make a line look like a business name (shop types, in several languages).
BUSINESS_WORDS = (
    r"\b(?:restaurant|restoran|restaurante|ristorante|cafe|caf[ée]|coffee|kopitiam|bistro|bar|grill|kitchen|bakery"
    r"|bakeries|b[äa]ckerei|boulangerie|patisserie|pizza|pizzeria|hardware|stationery|bookstore|bookstores|books"
    r"|mart|market|supermarket|minimarket|hypermarket|pasaraya|kedai|perniagaan|syarikat|store|stores|shop|boutique"
    r"|pharmacy|farmasi|apotheke|pharmacie|farmacia|gallery|hotel|motel|station|petrol|marketing|services|centre"
    r"|center|healthcare|clinic|electrical|electronics|timber|optical|salon|laundry|florist|deli|foods?|fresh"
    r"|supermercado|tienda|magasin|markt|drogerie|tankstelle|cash\s*&\s*carry|cuisine|steak\s*house|steakhouse"
    r"|hamburgers?|burgers?|diner|tavern|pub|brewery|brewing|trattoria|taqueria|cantina|brasserie|sushi)\b"
)

#: A thank-you that names the store, the name after it ("Thank you for shopping at" / "TRADER JOE'S",
#: "Thank you for flying Norwegian", "Danke für Ihren Einkauf bei", "Merci d'avoir choisi").
THANKS_NAMING = (
    r"thanks?\s*(?:you)?\s*for\s*(?:shopping|dining|visiting|flying|choosing|staying|eating)\s*(?:at|with|in)?"
    r"|(?:danke|dank)\s*f[üu]r\s*ihren\s*(?:einkauf|besuch)\s*(?:bei|im|in\s*der)"
    r"|merci\s*(?:d'avoir\s*choisi|de\s*votre\s*visite\s*(?:chez|[àa]))"
    r"|gracias\s*por\s*(?:su\s*)?(?:compra|visita)\s*en|grazie\s*per\s*(?:aver\s*scelto|la\s*visita\s*da)"
    r"|bedankt\s*voor\s*uw\s*(?:aankoop|bezoek)\s*bij|terima\s*kasih\s*kerana\s*membeli\s*-?\s*belah\s*di"
)

#: Banks, named beside the IBAN: where the seller is paid, not the seller.
BANKS = r"bank\b|\bbanque\b|\bbanco\b|\bbanca\b|sparkasse"

#: Titles of an invoice (the seller is then found by ``merchant.find_seller``).
INVOICE_TITLES = (
    r"\binvoice\b|\brechnung\b|\bfacture\b|\bfactuur\b|\bfactura\b|\bfattura\b|\bfaktura\b|\binvois\b"
    r"|\bgutschrift\b|credit\s*note|\bavoir\b"
)
#: Labels of the seller's block, and the legal footer that belongs to the seller.
SELLER_CUES = (
    r"\bseller\b|\bvendor\b|\bsupplier\b|\bfrom\b|verk[äa]ufer|lieferant|\babsender\b|\bvon\b|vendeur"
    r"|fournisseur|[ée]metteur|vendedor|proveedor|fornitore|venditore|leverancier|verkoper|penjual|pembekal"
    r"|gesch[äa]ftsf[üu]hr|amtsgericht|handelsregister|\bhrb\b|\biban\b|\bkvk\b|\bsiret\b|\brcs\b"
    r"|registered\s*(?:office|in)|company\s*(?:no|number|reg)"
)
#: Labels of the buyer's block: a legal form printed there names the customer, not the seller.
BUYER_CUES = (
    r"bill(?:ed)?\s*to|ship(?:ped)?\s*to|sold\s*to|invoice\s*to|\bcustomer\b|\bbuyer\b|\bclient\b"
    r"|rechnungs(?:adresse|empf[äa]nger)|liefer(?:adresse|anschrift)|\bkunde\b|\bempf[äa]nger\b|\bk[äa]ufer\b"
    r"|factur[ée]\s*[àa]|adresse\s*de\s*(?:facturation|livraison)|\bacheteur\b|\bcliente\b|\bklant\b"
    r"|factuuradres|\bafnemer\b|\bdestinatario\b|\bcomprador\b|\bpelanggan\b|\bpembeli\b"
)

#: Lines near the top that are not the merchant's name.
NOT_MERCHANT = (
    r"tax\s*invoice|invoice|receipt|\bfolio\b|\bbill\b|quittung|rechnung|kassenbon|beleg|facture|ticket|recibo|factura"
    r"|welcome|thank|merci|danke|gracias|terima\s*kasih|\bwww\.|https?:|@|e-?mail"
    r"|\w\.(?:com|de|nl|fr|es|it|at|ch|be|eu|net|org|co\.uk|my)\b"
    r"|\btel\b|\bphone\b|\bfax\b|\bmobile\b|\bhp\b|telefon|\bt[ée]l\b|\bph\b"
    r"|\bgst\b|\bsst\b|\bvat\b|\bmwst\b|\bust\b|\btva\b|\btax\b|\babn\b|\bnpwp\b|\bsiret\b|\breg\b|registration"
    r"|\b(?:co|company|br|brn|roc|reg|regn|registration)\.?\s*(?:no|reg|number|#)|\broc\b|\bbrn\b|\bid\b|st\.?-?nr|steuer"
    r"|\bdate\b|\btime\b|\bcashier\b|\bcounter\b|\btable\b|\bserver\b|\border\b|\bstaff\b|\bterminal\b"
    r"|\bpurchase\b|\bsale\b|\bagain\b|your\s*card|\bguest\b|\bgast\b|\bdocument\b|\bdoc\b|\bslip\b|\btrans\b|\bcopy\b|\bduplicate\b|\bsimplified\b|\bcash\s*bill\b|\bcash\s*sale|\bhours\b|\bopen\b|opening|\bmember"
)

#: Address lines in several countries: street words that mark an address wherever they stand, a house
#: number before a street type ("1234 Market St", "12 rue de la Paix"), German-style street names
#: ("Hauptstrasse 5"), postcodes before or after a city.
ADDRESS_WORDS = "|".join(
    (
        r"\b(?:jalan|jln|lorong|lrg|taman|tmn|lot|blok|block|blk|level|lvl|floor|flr|suite|unit|bangunan|seksyen"
        r"|kawasan|bandar|kampung|persiaran|lebuh|lebuhraya|p\.?\s*o\.?\s*box|postfach)\b",
        r"\bno\.?\s*\d",
        r"\b\d+[a-z]?,?\s+(?:[\w.'-]+\s+){0,3}(?:st|street|rd|road|ave|avenue|blvd|boulevard|lane|ln|drive|dr|way"
        r"|highway|hwy|place|pl|square|sq|court|ct|terrace|crescent|parkway|pkwy)\b\.?",
        r"\b\d+[a-z]?,?\s+(?:rue|avenue|bd|boulevard|place|chemin|all[ée]e|quai|impasse|via|viale|piazza|calle|avenida"
        r"|plaza|carrer|paseo)\b",
        r"\w*(?:stra(?:ss|ß)e|str\.|platz|weg|gasse|allee|ring|damm|ufer)\s+\d+",
        r"^\W*\d{4,5}\s+[A-Za-zÀ-ÿ]{3,}",  # "10115 Berlin", "8001 Zürich"
        # "C. de Dom Juan, 35", "CL.BARON DE CARCER,19"
        r"^\W*(?:c|cl|av|avda|calle|carrer|via|viale|rua|pza|plaza|paseo)\.?\s*[^\W\d][^\d]{1,40},?\s*\d{1,4}\b",
        r"\b\d{5}(?:-\d{4})?\b|\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b|\bsingapore\s+\d{6}\b",
    )
)


def compile_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)
