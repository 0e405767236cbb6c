"""Helpers the tests import: the command line, tiny models and files, reference metrics."""
