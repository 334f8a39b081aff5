"""Delivery worker for collective.messenger.

This distribution must never import Zope or Plone: workers scale out on hosts that have
neither, and the ZODB is not shared with them. Everything it needs from the site arrives
through Redis (see ``keys`` for the names and ``settings`` for the settings contract).
"""
