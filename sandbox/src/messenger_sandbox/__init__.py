"""Loopback imitations of the messenger platforms, for tests, benchmarks and the demo.

One asyncio HTTP server on one port serves the Telegram Bot API (``/telegram``), the
WhatsApp Cloud API (``/whatsapp``), signal-cli-rest-api (``/signal``) and the Threema
Gateway (``/threema``), answering as the real ones do, including their errors, rate limits
and signed webhooks; ``/_sandbox/`` configures it, shows what arrived and plays the citizens.

    from messenger_sandbox.process import SandboxProcess
    from messenger_sandbox.worker_settings import channel_settings

See the "Sandbox" section of worker/README.md. Nothing here imports Zope or Plone.
"""

from messenger_sandbox.config import CHANNELS  # noqa: F401
from messenger_sandbox.worker_settings import channel_settings  # noqa: F401
from messenger_sandbox.worker_settings import settings_document  # noqa: F401
