"""Bank statement files as a bank writes them, for the tests and drivers that pay by statement:
ISO 20022 camt.053.001.08, valid against its official XSD."""

from __future__ import annotations

OUR_IBAN = "DE89370400440532013000"


def camt_entry(reference: str, amount: str, *, currency: str = "EUR", credit: bool = True, structured: str | None = None,
           text: str | None = None, name: str = "ACME SA", reason: str | None = None,
           iban: str = "FR1420041010050500013M02606", on: str = "2026-12-02",
           end_to_end_id: str = "NOTPROVIDED") -> str:
    remittance = ""
    if structured:
        remittance = (f"<RmtInf><Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp><Ref>{structured}"
                      "</Ref></CdtrRefInf></Strd></RmtInf>")
    elif text:
        remittance = f"<RmtInf><Ustrd>{text}</Ustrd></RmtInf>"
    returned = f"<RtrInf><Rsn><Cd>{reason}</Cd></Rsn></RtrInf>" if reason else ""
    party = "Dbtr" if credit else "Cdtr"
    indicator = "CRDT" if credit else "DBIT"
    return f"""<Ntry><Amt Ccy="{currency}">{amount}</Amt><CdtDbtInd>{indicator}</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
<BookgDt><Dt>{on}</Dt></BookgDt><ValDt><Dt>{on}</Dt></ValDt><AcctSvcrRef>{reference}</AcctSvcrRef>
<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>
<NtryDtls><TxDtls><Refs><EndToEndId>{end_to_end_id}</EndToEndId></Refs><Amt Ccy="{currency}">{amount}</Amt>
<RltdPties><{party}><Pty><Nm>{name}</Nm></Pty></{party}><{party}Acct><Id><IBAN>{iban}</IBAN>
</Id></{party}Acct></RltdPties>{remittance}{returned}</TxDtls></NtryDtls></Ntry>"""


def camt053(statement_id: str, *entries: str, iban: str = OUR_IBAN) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>
<GrpHdr><MsgId>MSG-{statement_id}</MsgId><CreDtTm>2026-12-02T08:00:00</CreDtTm></GrpHdr>
<Stmt><Id>{statement_id}</Id><CreDtTm>2026-12-02T08:00:00</CreDtTm><Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>EUR</Ccy>
</Acct><Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">0.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>
<Dt><Dt>2026-12-01</Dt></Dt></Bal>{"".join(entries)}</Stmt></BkToCstmrStmt></Document>""".encode()
