"""Outgoing webhooks: endpoints a business registers, and the signed, retried deliveries of
what happened (DESIGN.md §2, Outgoing webhooks)."""
