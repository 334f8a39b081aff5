"""Names shared by Plone and the workers: queues and Redis keys.

Every key the project writes starts with ``messenger:`` so an operator can find them with
``redis-cli --scan --pattern 'messenger:*'``. RQ keeps its own ``rq:`` keys, so ``rq info``
and rq-dashboard work unchanged.
"""

# Workers take queues in this order: urgent alerts before ordinary posts before replies
# and housekeeping.
QUEUE_HIGH = "messenger-high"
QUEUE_DEFAULT = "messenger"
QUEUE_LOW = "messenger-low"
QUEUES = (QUEUE_HIGH, QUEUE_DEFAULT, QUEUE_LOW)

# Hash with the fields ``version`` (integer, increases with every publication),
# ``digest`` (sha256 of ``json``) and ``json`` (the settings document).
SETTINGS_KEY = "messenger:settings"

# Subscribers who left the fan-out (sorted set: id -> when), written by Plone after commit;
# split_post drops them from posts handed over before they left (scheduled posts).
LEFT_KEY = "messenger:left"
