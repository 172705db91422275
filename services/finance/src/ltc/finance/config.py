"""Finance settings beyond the ones every service has: the scheduled run's interval, and the ERP
account codes a deployment starts with (version 0 of the `account-codes` policy an admin then keeps)."""

from __future__ import annotations

from functools import cache

from pydantic_settings import BaseSettings, SettingsConfigDict

from ltc.finance.domain.journal import AccountCodes


class FinanceSettings(BaseSettings):
    """`LTC_FINANCE_ACCOUNT_RECEIVABLE=1200`, ...: the ERP's chart of accounts decides the codes, until
    an admin sets them through `PUT /config/account-codes`."""

    model_config = SettingsConfigDict(env_prefix="LTC_FINANCE_", extra="ignore")

    account_receivable: str = "1100"
    account_revenue: str = "4000"
    account_cash: str = "1000"
    account_unapplied_cash: str = "2150"
    # How often the worker runs billing on dates and dunning, as of the current UTC date.
    scheduled_run_seconds: float = 3600.0

    def account_codes(self) -> AccountCodes:
        return AccountCodes(receivable=self.account_receivable, revenue=self.account_revenue,
                            cash=self.account_cash, unapplied_cash=self.account_unapplied_cash)


@cache
def finance_settings() -> FinanceSettings:
    return FinanceSettings()
