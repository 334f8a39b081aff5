"""Signing up and leaving: what the signup portlet, page, REST API and webhooks share.

``offer`` (what the site offers), ``phones`` (numbers), ``links`` (deep links and QR codes),
``ratelimit`` (Redis limits per client and number), ``flow`` (signup and code confirmation),
``replies`` (messages to one citizen, queued after commit) and ``commands`` (what a citizen
writes to the bot).
"""
