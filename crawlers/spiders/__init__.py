"""Spiders: one per source kind, `name` the same as the file name."""
