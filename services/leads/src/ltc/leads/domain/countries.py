"""ISO 3166-1 alpha-2: the countries a billing address may name, as `pycountry` ships them.

Only officially assigned codes: user-assigned ones (XK, EU, ...) and the reserved ones (UK for
GB, EL for GR, which VAT numbers use) are not countries of an address.
"""

from __future__ import annotations

import pycountry

ISO_3166_ALPHA_2: frozenset[str] = frozenset(country.alpha_2 for country in pycountry.countries)
