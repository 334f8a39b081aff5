"""What the messenger platforms post to the site: verified, parsed, acted on.

``requestbody`` reads a request body within limits, ``verification`` checks the platforms'
secrets and signatures in constant time, ``telegram``, ``whatsapp`` and ``signal`` turn a
verified payload into ``events``, and ``dispatch`` acts on them (``signup.commands`` for
messages, Redis for WhatsApp delivery receipts). The REST services live in
``collective.messenger.services.webhooks``; README.md says how to register them.
"""
