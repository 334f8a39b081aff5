"""Housekeeping without cron: a clock inside Zope runs the site's periodic work.

``sweep`` says what one round does on one site (expire unconfirmed signups, erase who left
N days ago, drain the outbox); ``clock`` runs it every few minutes in a daemon thread of
each Zope instance, with a Redis lock so that one instance sweeps per period.
"""
