"""The WhatsApp Cloud API (Graph API) as the sandbox plays it: ``/whatsapp/{version}/...``.

``POST /{version}/{phone_number_id}/messages`` with a Bearer token sends text, image and
template messages; ``GET /{version}/{phone_number_id}`` describes the business number.
Errors have Graph's shape ``{"error": {"message", "type", "code", "error_data": {"messaging_product",
"details"}, "fbtrace_id"}}`` and the HTTP status Meta's error-code table gives the code.

The real Cloud API reports some refusals (131026, 131047, 131050) later, in a "failed"
status webhook; the sandbox answers them at once so a worker can classify them in one
step (see the "Sandbox" section of worker/README.md).
"""

import json
import re
import secrets
import time

from messenger_sandbox import inbound
from messenger_sandbox.httpserver import BadRequest
from messenger_sandbox.httpserver import Response
from messenger_sandbox.webhooks import encode
from messenger_sandbox.webhooks import whatsapp_signature

CHANNEL = "whatsapp"
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
TEMPLATE_BODY_LIMIT = 1024

# code -> (HTTP status, title, type, default details)
ERRORS = {
    1: (
        400,
        "API Unknown",
        "OAuthException",
        "Invalid request or possible server error.",
    ),
    100: (400, "Invalid parameter", "OAuthException", ""),
    190: (
        401,
        "Invalid OAuth access token - Cannot parse access token",
        "OAuthException",
        "Invalid OAuth access token - Cannot parse access token",
    ),
    130429: (
        400,
        "Rate limit hit",
        "OAuthException",
        "Cloud API message throughput has been reached.",
    ),
    131000: (500, "Something went wrong", "OAuthException", "Something went wrong"),
    131008: (400, "Required parameter is missing", "OAuthException", ""),
    131009: (400, "Parameter value is not valid", "OAuthException", ""),
    131026: (
        400,
        "Message Undeliverable",
        "OAuthException",
        "Unable to deliver message. Reasons can include: the recipient phone number is not a WhatsApp "
        "phone number; the recipient has not accepted the new Terms of Service and Privacy Policy; "
        "the recipient is using an old WhatsApp version.",
    ),
    131047: (
        400,
        "Re-engagement message",
        "OAuthException",
        "Message failed to send because more than 24 hours have passed since the customer last "
        "replied to this number.",
    ),
    131050: (
        400,
        "Unable to deliver the message. This recipient has chosen to stop receiving marketing "
        "messages on WhatsApp from your business",
        "OAuthException",
        "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages "
        "on WhatsApp from your business.",
    ),
    131056: (
        400,
        "(Business Account, Consumer Account) pair rate limit hit",
        "OAuthException",
        "Message failed to send because there were too many messages sent from this phone number to the "
        "same phone number in a short period of time.",
    ),
    132000: (
        400,
        "Number of parameters does not match the expected number of params",
        "OAuthException",
        "",
    ),
    132001: (
        404,
        "Template name does not exist in the translation",
        "OAuthException",
        "",
    ),
    132005: (400, "Translated text too long", "OAuthException", ""),
    132012: (
        400,
        "Parameter format does not match format in the created template",
        "OAuthException",
        "",
    ),
}


def error(code, details=None, status=None, error_type=None, message=None):
    default_status, title, default_type, default_details = ERRORS[code]
    body = {
        "message": message or f"(#{code}) {title}",
        "type": error_type or default_type,
        "code": code,
        "error_data": {
            "messaging_product": "whatsapp",
            "details": details or default_details or title,
        },
        "fbtrace_id": "A" + secrets.token_urlsafe(16),
    }
    if code == 190:
        del body["error_data"]
    return Response.json({"error": body}, status=status or default_status)


def server_error():
    return error(131000)


class Refusal(Exception):
    def __init__(self, response, bucket):
        self.response = response
        self.bucket = bucket


def invalid(code, details):
    return Refusal(error(code, details), "validation_errors")


def refused(code, details=None):
    return Refusal(error(code, details), "refused")


def handle(sandbox, request, path):
    settings = sandbox.state.config[CHANNEL]
    match = re.match(r"^/(v[0-9]+\.[0-9]+)/([^/]+)(/messages)?/?$", path)
    if not match:
        return Response.json(
            {
                "error": {
                    "message": f"Unknown path components: {path}",
                    "type": "OAuthException",
                    "code": 2500,
                    "fbtrace_id": "A" + secrets.token_urlsafe(16),
                }
            },
            status=400,
        )
    _, object_id, messages = match.groups()
    token = request.headers.get("authorization", "")
    token = (
        token[7:].strip()
        if token.lower().startswith("bearer ")
        else request.query().get("access_token", "")
    )
    stats = sandbox.state.stats[CHANNEL]
    if token != settings["access_token"] or settings["bad_token"]:
        stats.refused += 1
        return error(190)
    if object_id != settings["phone_number_id"]:
        stats.refused += 1
        return Response.json(
            {
                "error": {
                    "message": f"Unsupported {'post' if request.method == 'POST' else 'get'} request. Object with ID "
                    f"'{object_id}' does not exist, cannot be loaded due to missing permissions, or does not "
                    "support this operation. Please read the Graph API documentation at "
                    "https://developers.facebook.com/docs/graph-api",
                    "type": "GraphMethodException",
                    "code": 100,
                    "error_subcode": 33,
                    "fbtrace_id": "A" + secrets.token_urlsafe(16),
                }
            },
            status=400,
        )
    if not messages:
        if request.method not in ("GET", "HEAD"):
            return error(100, "Unsupported request on the phone number object.")
        return phone_number(settings, request)
    if request.method != "POST":
        return error(100, "Only POST is supported on the messages edge.")
    try:
        return send(sandbox, settings, _body(request))
    except Refusal as refusal:
        setattr(stats, refusal.bucket, getattr(stats, refusal.bucket) + 1)
        return refusal.response


def phone_number(settings, request):
    number = settings["business_number"]
    digits = number.lstrip("+")
    data = {
        "verified_name": settings["verified_name"],
        "code_verification_status": "VERIFIED",
        "display_phone_number": f"+{digits[:2]} {digits[2:4]} {digits[4:]}"
        if len(digits) > 6
        else number,
        "quality_rating": settings["quality_rating"],
        "platform_type": "CLOUD_API",
        "throughput": {"level": "STANDARD"},
        "id": settings["phone_number_id"],
    }
    fields = request.query().get("fields")
    if fields:
        wanted = {f.strip() for f in fields.split(",")} | {"id"}
        data = {k: v for k, v in data.items() if k in wanted}
    return Response.json(data)


def _body(request):
    """The message object from JSON or a form (Graph accepts both; form values may be JSON)."""
    try:
        if request.content_type == "application/json":
            data = request.json()
        else:
            data = {}
            for key, value in request.form().items():
                try:
                    data[key] = json.loads(value) if value[:1] in "{[" else value
                except ValueError:
                    data[key] = value
    except BadRequest:
        raise invalid(100, "Request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise invalid(100, "Request body must be a JSON object.")
    return data


def send(sandbox, settings, data):
    state = sandbox.state
    if data.get("messaging_product") != "whatsapp":
        raise invalid(100, "The parameter messaging_product is required.")
    to = str(data.get("to") or "").strip()
    if not to:
        raise invalid(100, "The parameter to is required.")
    wa_id = "".join(ch for ch in to if ch.isdigit())
    if len(wa_id) < 6 or len(wa_id) > 15 or re.search(r"[^0-9+\s()-]", to):
        raise invalid(100, f"Invalid parameter to: {to}")
    kind = data.get("type") or "text"
    if kind == "text":
        record = _text(data)
    elif kind == "image":
        record = _image(data)
    elif kind == "template":
        record = _template(settings, data)
    else:
        raise invalid(
            100, "Param type must be one of {TEXT, IMAGE, TEMPLATE} in this sandbox."
        )

    wait = state.take_token(CHANNEL)
    if wait:
        raise Refusal(error(130429), "rate_limited")
    for name in ("unknown", "undeliverable", "blocked", "deactivated"):
        if state.listed(CHANNEL, name, wa_id):
            raise refused(131026)
    phone = state.phone(CHANNEL, wa_id)
    now = time.time()
    if kind != "template":
        window = settings["window_hours"] * 3600
        if phone.last_inbound is None or now - phone.last_inbound > window:
            raise refused(131047)
    elif record["category"] == "MARKETING" and state.listed(
        CHANNEL, "marketing_opt_out", wa_id
    ):
        raise refused(131050)
    pair = settings["pair_interval"]
    monotonic = time.monotonic()
    if (
        pair
        and phone.last_outbound is not None
        and monotonic - phone.last_outbound < pair
    ):
        raise Refusal(error(131056), "rate_limited")
    phone.last_outbound = monotonic

    wamid = inbound.whatsapp_wamid(wa_id)
    category = record.pop("category", "service").lower()
    state.record(
        CHANNEL,
        wa_id,
        kind=record.pop("kind"),
        text=record.pop("text"),
        message_id=wamid,
        **record,
    )
    if settings["status_webhooks"] and settings["webhook_url"]:
        _send_statuses(sandbox, settings, wamid, wa_id, category)
    return Response.json({
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": wa_id}],
        "messages": [{"id": wamid, "message_status": "accepted"}],
    })


def _text(data):
    text = data.get("text")
    body = text.get("body") if isinstance(text, dict) else None
    if not isinstance(body, str) or not body:
        raise invalid(100, "The parameter text['body'] is required.")
    if len(body) > TEXT_LIMIT:
        raise invalid(
            100, f"Param text['body'] must be at most {TEXT_LIMIT} characters long."
        )
    return {"kind": "text", "text": body, "preview_url": bool(text.get("preview_url"))}


def _image(data):
    image = data.get("image")
    if not isinstance(image, dict) or not (image.get("link") or image.get("id")):
        raise invalid(131008, "The parameter image['link'] or image['id'] is required.")
    caption = str(image.get("caption") or "")
    if len(caption) > CAPTION_LIMIT:
        raise invalid(
            100,
            f"Param image['caption'] must be at most {CAPTION_LIMIT} characters long.",
        )
    return {
        "kind": "photo",
        "text": caption,
        "image": image.get("link") or f"media:{image['id']}",
    }


def _template(settings, data):
    template = data.get("template")
    if not isinstance(template, dict) or not template.get("name"):
        raise invalid(100, "The parameter template['name'] is required.")
    name = str(template["name"])
    language = template.get("language")
    code = language.get("code") if isinstance(language, dict) else None
    if not code:
        raise invalid(100, "The parameter template['language']['code'] is required.")
    known = settings["templates"].get(name)
    if (
        not known
        or code not in known.get("languages", ())
        or known.get("status", "APPROVED") != "APPROVED"
    ):
        raise invalid(132001, f"template name ({name}) does not exist in {code}")
    components = template.get("components") or []
    if not isinstance(components, list):
        raise invalid(100, "Param template['components'] must be an array.")
    by_type = {}
    for component in components:
        if not isinstance(component, dict) or not component.get("type"):
            raise invalid(100, "Each template component needs a type.")
        by_type.setdefault(str(component["type"]).lower(), []).append(component)

    image = None
    header = known.get("header")
    header_parameters = _parameters(by_type.get("header", [{}])[0])
    if header == "image":
        image_parameter = header_parameters[0] if header_parameters else {}
        media = (
            image_parameter.get("image")
            if image_parameter.get("type") == "image"
            else None
        )
        if not isinstance(media, dict) or not (media.get("link") or media.get("id")):
            received = str(image_parameter.get("type") or "UNKNOWN").upper()
            raise invalid(
                132012, f"header: Format mismatch, expected IMAGE, received {received}"
            )
        image = media.get("link") or f"media:{media['id']}"
    elif header_parameters:
        raise invalid(
            132000,
            f"header: number of localizable_params ({len(header_parameters)}) does not match "
            "the expected number of params (0)",
        )

    body_text = known.get("body", "")
    expected = _placeholders(body_text)
    values = [_text_value(p, "body") for p in _parameters(by_type.get("body", [{}])[0])]
    if len(values) != expected:
        raise invalid(
            132000,
            f"body: number of localizable_params ({len(values)}) does not match the expected "
            f"number of params ({expected})",
        )
    rendered = _fill(body_text, values)
    if len(rendered) > TEMPLATE_BODY_LIMIT:
        raise invalid(132005, "The hydrated body text is longer than 1024 characters.")

    buttons = []
    given = {str(c.get("index", "0")): c for c in by_type.get("button", [])}
    for index, button in enumerate(known.get("buttons", ())):
        component = given.get(str(index), {})
        url = button.get("url", "")
        expected = _placeholders(url)
        values = [_text_value(p, "button") for p in _parameters(component)]
        if len(values) != expected:
            raise invalid(
                132000,
                f"button: number of localizable_params ({len(values)}) does not match the "
                f"expected number of params ({expected})",
            )
        buttons.append({"text": button.get("text", ""), "url": _fill(url, values)})
    return {
        "kind": "template",
        "text": rendered,
        "image": image,
        "buttons": buttons,
        "template": name,
        "language": code,
        "footer": known.get("footer", ""),
        "category": known.get("category", "MARKETING"),
    }


def _parameters(component):
    parameters = component.get("parameters") or []
    if not isinstance(parameters, list):
        raise invalid(
            100, "Param template['components'][]['parameters'] must be an array."
        )
    return [p if isinstance(p, dict) else {} for p in parameters]


def _text_value(parameter, where):
    if parameter.get("type") != "text":
        raise invalid(
            132012,
            f"{where}: Format mismatch, expected TEXT, received {str(parameter.get('type')).upper()}",
        )
    value = parameter.get("text")
    if not isinstance(value, str) or not value.strip():
        raise invalid(131008, f"{where}: text parameter is missing or empty")
    return value


def _placeholders(text):
    return len(set(re.findall(r"\{\{\s*([0-9]+)\s*\}\}", text)))


def _fill(text, values):
    return re.sub(
        r"\{\{\s*([0-9]+)\s*\}\}", lambda m: values[int(m.group(1)) - 1], text
    )


def _send_statuses(sandbox, settings, wamid, wa_id, category):
    """sent, delivered (and read) webhooks after an accepted message, signed like Meta's."""
    statuses = ["sent", "delivered"] + (["read"] if settings["read_receipts"] else [])
    posts = []
    for status in statuses:
        body = encode(
            inbound.whatsapp_status(
                settings, wamid, wa_id, status, time.time(), category
            )
        )
        headers = {
            "X-Hub-Signature-256": whatsapp_signature(settings["app_secret"], body)
        }
        posts.append((settings["webhook_url"], body, headers))
    sandbox.webhooks.post_later(0.05, posts)
