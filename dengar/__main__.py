"""``python -m dengar``."""

from dengar.cli import main

main()
