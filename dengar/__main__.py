"""``python -m dengar``."""

from dengar.cli.main import main

main()
