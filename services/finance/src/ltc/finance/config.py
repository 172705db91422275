"""Finance settings beyond the ones every service has: the scheduled run's interval, the ERP
account codes a deployment starts with (version 0 of the `account-codes` policy an admin then keeps)
and the seller identity it starts with (version 0 of the `seller-identity` policy)."""

from __future__ import annotations

from functools import cache

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ltc.finance.domain.journal import DEFAULT_VAT_PAYABLE, DEFAULT_WRITE_OFF, AccountCodes
from ltc.finance.domain.parties import Address, SellerIdentity
from ltc.shared.rules import RuleViolation


class FinanceSettings(BaseSettings):
    """`LTC_FINANCE_ACCOUNT_RECEIVABLE=1200`, ...: the ERP's chart of accounts decides the codes, until
    an admin sets them through `PUT /config/account-codes`. The revenue and tax maps are JSON
    (`LTC_FINANCE_ACCOUNT_TAX_ACCOUNTS='{"S:7": "2210"}'`); most deployments leave them empty and
    let the admin keep them."""

    model_config = SettingsConfigDict(env_prefix="LTC_FINANCE_", extra="ignore")

    account_receivable: str = "1100"
    account_revenue: str = "4000"
    account_cash: str = "1000"
    account_unapplied_cash: str = "2150"
    account_vat_payable: str = DEFAULT_VAT_PAYABLE  # the VAT of a category and rate with no account of its own
    account_write_off: str = DEFAULT_WRITE_OFF  # the expense a written-off receivable is posted to
    account_tax_accounts: dict[str, str] = {}  # "<category>:<rate>" (S:19) -> account
    account_revenue_by_product: dict[str, str] = {}  # product or service code -> account
    account_revenue_by_category: dict[str, str] = {}  # VAT category (S, E, ...) -> account
    # How often the worker runs billing on dates and dunning, as of the current UTC date.
    scheduled_run_seconds: float = 3600.0
    # Who our invoices name as the seller until an admin sets it (`PUT /config/seller-identity`).
    # The defaults are a development placeholder, not a company: a deployment sets its own
    # (`LTC_FINANCE_SELLER_LEGAL_NAME=...`) or an admin does before the first invoice.
    seller_legal_name: str = "LTC Development Seller (placeholder)"
    seller_tax_id: str | None = "DE000000000"
    seller_registration_id: str | None = None
    seller_address_line1: str = "Placeholder street 1"
    seller_address_line2: str | None = None
    seller_postal_code: str | None = "10115"
    seller_city: str = "Berlin"
    seller_country: str = "DE"

    @model_validator(mode="after")
    def _codes_are_usable(self) -> FinanceSettings:
        # A deployment's codes are checked as an admin's are, at start-up: a typo in a tax key
        # would otherwise post that VAT to the default account unnoticed (and a VAT payable
        # default that is already another role's account is named here, not in the ledger).
        try:
            self.account_codes().require_distinct()
        except RuleViolation as refused:
            raise ValueError(f"LTC_FINANCE_ACCOUNT_*: {refused.detail}") from None
        return self

    def account_codes(self) -> AccountCodes:
        return AccountCodes(receivable=self.account_receivable, revenue=self.account_revenue,
                            cash=self.account_cash, unapplied_cash=self.account_unapplied_cash,
                            vat_payable=self.account_vat_payable, write_off=self.account_write_off,
                            tax_accounts=self.account_tax_accounts,
                            revenue_by_product=self.account_revenue_by_product,
                            revenue_by_category=self.account_revenue_by_category)

    def seller_identity(self) -> SellerIdentity:
        return SellerIdentity(legal_name=self.seller_legal_name, tax_id=self.seller_tax_id,
                              registration_id=self.seller_registration_id,
                              address=Address(line1=self.seller_address_line1, line2=self.seller_address_line2,
                                              postal_code=self.seller_postal_code, city=self.seller_city,
                                              country=self.seller_country.upper()))


@cache
def finance_settings() -> FinanceSettings:
    return FinanceSettings()
