"""``python -m dialer.cli``."""

from dialer.cli import main

main()
