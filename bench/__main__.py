"""``python -m bench`` (used by ``accelerate launch -m bench``)."""

from bench.cli import main

main()
