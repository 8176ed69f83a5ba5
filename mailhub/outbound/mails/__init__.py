"""One module per family of mail, each a maker per kind of notification: pages, receipts and
moderation, forms, account, digest, rejection. What they share is in parts.py."""
