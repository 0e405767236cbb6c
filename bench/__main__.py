"""``python -m bench`` (used by ``accelerate launch -m bench``)."""

from bench.cli.main import main

main()
