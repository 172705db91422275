"""`ltc-finance serve|migrate|worker`."""

from ltc.finance.bootstrap import SPEC
from ltc.shared.service import main as service_main


def main() -> None:
    service_main(SPEC)


if __name__ == "__main__":
    main()
