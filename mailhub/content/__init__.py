"""Turning raw mail into safe, readable content: parse, trim quotes, sanitize."""
