"""Scrapy settings profiles: `base` (tests, demo) and `production` (polite)."""
