"""``/_sandbox/...``: configure the sandbox, look at what it received, play the citizens.

JSON in, JSON out; the HTML pages live in ``pages``.
"""

from urllib.parse import unquote

from messenger_sandbox import citizens
from messenger_sandbox import config as sandbox_config
from messenger_sandbox import pages
from messenger_sandbox.httpserver import BadRequest
from messenger_sandbox.httpserver import Response
from messenger_sandbox.worker_settings import channel_settings
from messenger_sandbox.worker_settings import settings_document


def problem(message, status=400):
    return Response.json({"error": message}, status=status)


def _json_object(request):
    if not request.body:
        return {}
    try:
        data = request.json()
    except BadRequest as error:
        raise _Problem(str(error)) from None
    if not isinstance(data, dict):
        raise _Problem("Expected a JSON object")
    return data


class _Problem(Exception):
    pass


def handle(sandbox, request, path):
    method = request.method
    try:
        if path in ("", "/") and method in ("GET", "HEAD"):
            return pages.index(sandbox)
        if path == "/health":
            return Response.json({"ok": True, "url": sandbox.base_url})
        if path == "/config":
            if method == "POST":
                try:
                    sandbox.state.configure(_json_object(request))
                except sandbox_config.ConfigError as error:
                    return problem(str(error))
            return Response.json(sandbox.state.config)
        if path == "/reset" and method == "POST":
            data = _json_object(request)
            sandbox.state.reset(keep_config=bool(data.get("keep_config")))
            return Response.json({"ok": True})
        if path == "/messages":
            query = request.query()
            channel = query.get("channel") or None
            direction = query.get("direction") or "out"
            if direction not in ("out", "in", "all"):
                return problem("direction is out, in or all")
            limit = int(query["limit"]) if query.get("limit", "").isdigit() else None
            found = sandbox.state.find_messages(
                channel, query.get("recipient") or None, direction, limit
            )
            return Response.json(found)
        if path == "/stats":
            return Response.json({
                c: s.as_dict() for c, s in sandbox.state.stats.items()
            })
        if path == "/settings":
            query = request.query()
            if query.get("channel"):
                return Response.json(
                    channel_settings(
                        query["channel"], sandbox.base_url, sandbox.state.config
                    )
                )
            return Response.json(
                settings_document(sandbox.base_url, sandbox.state.config)
            )
        if path == "/citizen" and method == "POST":
            return citizens.from_request(sandbox, _json_object(request))
        if path == "/whatsapp/verify-webhook" and method == "POST":
            return citizens.verify_whatsapp_webhook(sandbox)
        if path == "/phones" and method == "POST":
            return pages.new_phone(sandbox, request)
        if path.startswith("/phone/"):
            parts = path.split("/")  # "", "phone", channel, address[, action]
            if len(parts) < 4 or parts[2] not in sandbox_config.CHANNELS:
                return Response(404, "No such phone")
            channel, address = parts[2], unquote(parts[3])
            action = parts[4] if len(parts) > 4 else ""
            return pages.phone_route(sandbox, request, channel, address, action)
    except _Problem as error:
        return problem(str(error))
    except ValueError as error:
        return problem(str(error))
    return Response(404, "Not Found")
