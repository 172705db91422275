"""Controls every service applies where money moves: segregation of duties and dates of record.

Plain rules with stable names, so the API documents them and later steps (write-offs, refunds)
reuse them rather than invent their own.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from ltc.shared.rules import Forbidden, RuleViolation

# --- segregation of duties ---------------------------------------------------------------------

# Whoever wrote a contract's terms (drafted, edited or amended them) does not also check them.
REVIEWER_IS_AUTHOR = "reviewer-is-author"
# Nobody approves a contract whose terms they wrote.
APPROVER_IS_AUTHOR = "approver-is-author"
# Finance's corrections of receivables: the clerk who records a write-off or a refund does not
# approve it (for the cash-application steps that add them).
WRITE_OFF_SELF_APPROVED = "write-off-self-approved"
REFUND_SELF_APPROVED = "refund-self-approved"

SEGREGATION_RULES = (REVIEWER_IS_AUTHOR, APPROVER_IS_AUTHOR, WRITE_OFF_SELF_APPROVED, REFUND_SELF_APPROVED)


def require_other_person(rule: str, actor: str, doers: Iterable[str], doing: str) -> None:
    """Refuse `actor` checking a step that they also did (user ids compared case-insensitively)."""
    if actor.casefold() in {d.casefold() for d in doers}:
        raise Forbidden(rule, f"{doing} is done by someone other than who wrote or recorded it")


# --- dates of record ---------------------------------------------------------------------------

# A date saying that something happened (a signing, an acceptance, a value date, the day a
# dunning run judges by) may be today in the customer's time zone, which can be a day ahead of
# the service's UTC date; anything later has not happened yet.
FUTURE_TOLERANCE = timedelta(days=1)
DATE_IN_FUTURE = "date-in-future"


def require_happened(field: str, on: date, today: date) -> date:
    """`on` as given, unless it lies after today (plus the tolerance): then a 422 naming the field."""
    latest = today + FUTURE_TOLERANCE
    if on > latest:
        raise RuleViolation(DATE_IN_FUTURE, f"{field} {on} has not happened yet: it is at most {latest}",
                            errors=[{"field": field, "message": f"may not be after {latest} (today + 1 day)",
                                     "type": DATE_IN_FUTURE}])
    return on
