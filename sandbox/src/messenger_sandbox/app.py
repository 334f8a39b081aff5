"""The sandbox application: one port, the platforms under path prefixes, control under /_sandbox.

Fault injection that every platform shares (a share of 5xx answers, added latency) happens
here, before and after the platform module answers.
"""

import asyncio
import importlib
import inspect
import logging

from messenger_sandbox import httpserver
from messenger_sandbox.state import SandboxState
from messenger_sandbox.webhooks import WebhookSender

log = logging.getLogger("messenger_sandbox")

PLATFORM_MODULES = {
    "telegram": "messenger_sandbox.telegram",
    "whatsapp": "messenger_sandbox.whatsapp",
    "signal": "messenger_sandbox.signal_cli",
    "threema": "messenger_sandbox.threema",
}


class Sandbox:
    def __init__(self, base_url, initial_config=None):
        self.base_url = base_url.rstrip("/")
        self.state = SandboxState(initial_config)
        self.webhooks = WebhookSender()
        self.platforms = {
            name: importlib.import_module(module)
            for name, module in PLATFORM_MODULES.items()
        }
        from messenger_sandbox import control

        self.control = control

    def __call__(self, request):
        prefix, _, rest = request.path[1:].partition("/")
        module = self.platforms.get(prefix)
        if module is None:
            if prefix == "_sandbox":
                return self.control.handle(self, request, "/" + rest)
            if request.path == "/":
                return httpserver.Response.redirect("/_sandbox/")
            return httpserver.Response(404, "Not Found")
        settings = self.state.config[prefix]
        if (
            settings["error_rate"]
            and self.state.random.random() < settings["error_rate"]
        ):
            self.state.stats[prefix].injected_errors += 1
            response = module.server_error()
        else:
            response = module.handle(self, request, "/" + rest)
        if settings["latency_ms"]:
            return _delayed(response, settings["latency_ms"] / 1000.0)
        return response


async def _delayed(response, seconds):
    # The platform has done its work already; only the answer is late, as when a reply is
    # lost to a timeout after the message went out.
    if inspect.isawaitable(response):
        response = await response
    await asyncio.sleep(seconds)
    return response


async def run(host="127.0.0.1", port=8099, initial_config=None, ready=None):
    """Serve until cancelled. ``ready`` (optional) is called with the bound (host, port)."""
    base_url = f"http://{host}:{port}"
    sandbox = Sandbox(base_url, initial_config)
    server = await httpserver.serve(sandbox, host, port)
    bound = server.sockets[0].getsockname()[:2]
    if port == 0:
        sandbox.base_url = f"http://{host}:{bound[1]}"
    if ready:
        ready(bound)
    try:
        async with server:
            await server.serve_forever()
    finally:
        sandbox.webhooks.shutdown()
