"""Webhooks: credential events sent to customers' endpoints, signed (Standard Webhooks).

``models`` (storage), ``catalog`` (event types), ``outbox`` (events written with the change),
``items`` (what an event says about its credential), ``secrets`` (signing and receiver secrets,
encrypted at rest), ``addresses`` (the outbound-address rule), ``sender`` (one HTTP attempt),
``schedule`` (retries), ``queue`` (claims and outcomes), ``leases``, ``scheduler`` (expiry
events), ``endpoints`` (the management service) and ``worker`` (the delivery loop).
Nothing here imports Flask.
"""
