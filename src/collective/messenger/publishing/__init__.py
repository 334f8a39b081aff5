"""Publishing: an item entering a public state becomes a post for its topics' subscribers.

``events`` reacts to workflow transitions and edits, ``outbox`` keeps every post in the
ZODB (written in the publishing transaction, so it cannot get lost), ``snapshot`` turns an
item into the worker's ``Post`` and the recipients, ``dispatch`` hands posts to Redis after
the transaction committed, and drains what could not be handed over, ``sending`` holds the
editor's actions ("Send update", "Send again"), ``gone`` brings the workers' reports of
unreachable recipients into the subscriber store.
"""
