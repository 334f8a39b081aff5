"""Simulated citizens: a message (or a block) from a phone becomes the platform's webhook call.

``POST /_sandbox/citizen`` {channel, address, text?, photo?, action?: "block"|"unblock",
name?, ago?} records the message on the phone, updates what the platform would remember
(the WhatsApp 24 h window, a Telegram block) and posts the platform's payload, signed as
the platform signs it, to the configured ``webhook_url``. The answer reports that call.
"""

import secrets
import time

from messenger_sandbox import config as sandbox_config
from messenger_sandbox import inbound
from messenger_sandbox.httpserver import Response
from messenger_sandbox.state import normalize
from messenger_sandbox.telegram import bot_user
from messenger_sandbox.webhooks import encode
from messenger_sandbox.webhooks import whatsapp_signature

ACTIONS = ("block", "unblock")


def from_request(sandbox, data):
    try:
        arguments = validate(data)
    except ValueError as error:
        return Response.json({"error": str(error)}, status=400)
    return _answer(sandbox, arguments)


async def _answer(sandbox, arguments):
    return Response.json(await play(sandbox, **arguments))


def validate_address(channel, address):
    """The normalized address of a phone on ``channel``; raises ValueError when it cannot be one."""
    if channel not in sandbox_config.CHANNELS:
        raise ValueError(f"channel must be one of {', '.join(sandbox_config.CHANNELS)}")
    address = normalize(channel, address or "")
    if not address or address == "+":
        raise ValueError("address is required")
    if channel == "telegram" and not address.lstrip("-").isdigit():
        raise ValueError("a Telegram address is a numeric chat id")
    if channel == "whatsapp" and len(address) < 6:
        raise ValueError("a WhatsApp address is a phone number (wa_id)")
    return address


def validate(data):
    channel = data.get("channel")
    address = validate_address(channel, data.get("address"))
    text = str(data.get("text") or "")
    photo = str(data.get("photo") or "") or None
    action = data.get("action") or None
    if action is not None and action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}")
    if action is None and not text and not photo:
        raise ValueError("give text, photo or action")
    ago = float(data.get("ago") or 0)
    return {
        "channel": channel,
        "address": address,
        "text": text,
        "photo": photo,
        "action": action,
        "name": str(data.get("name") or ""),
        "ago": ago,
    }


async def play(
    sandbox, channel, address, text="", photo=None, action=None, name="", ago=0.0
):
    state = sandbox.state
    settings = state.config[channel]
    phone = state.phone(channel, address, name)
    when = time.time() - ago
    headers = {}
    payload = None
    if action:
        state.set_listed(channel, "blocked", address, action == "block")
        entry = state.record(
            channel,
            address,
            "event",
            "Blockiert" if action == "block" else "Nicht mehr blockiert",
            message_id=state.next_id(channel, "event"),
            direction="in",
            action=action,
        )
        if channel == "telegram":
            payload = inbound.telegram_member_update(
                state.next_id("telegram-update"),
                int(address),
                phone.name,
                bot_user(settings),
                "kicked" if action == "block" else "member",
            )
        # WhatsApp, Signal and Threema tell the sender nothing when they are blocked.
    else:
        kind = "photo" if photo else "text"
        if channel == "telegram":
            message_id = state.next_id(channel, address)
            payload = inbound.telegram_message_update(
                state.next_id("telegram-update"),
                message_id,
                int(address),
                phone.name,
                text,
                photo,
            )
        elif channel == "whatsapp":
            message_id = inbound.whatsapp_wamid(address)
            phone.last_inbound = when  # opens the 24 h customer service window
            payload = inbound.whatsapp_message(
                settings, address, phone.name, message_id, when, text, photo
            )
        elif channel == "signal":
            message_id = int(when * 1000)
            payload = inbound.signal_envelope(
                settings["number"], address, phone.name, message_id, text, photo
            )
            state.signal_inbox[settings["number"]].append(payload)
        else:
            # Threema Gateway's basic mode receives nothing; the message only shows on the phone.
            message_id = state.next_id(channel, "inbound")
        entry = state.record(
            channel,
            address,
            kind,
            text,
            message_id=message_id,
            direction="in",
            image=photo,
        )
        entry["time"] = when
    webhook = {"url": None, "status": None}
    if payload is not None:
        body = encode(payload)
        if channel == "telegram" and settings["webhook_secret"]:
            headers["X-Telegram-Bot-Api-Secret-Token"] = settings["webhook_secret"]
        if channel == "whatsapp" and settings["app_secret"]:
            headers["X-Hub-Signature-256"] = whatsapp_signature(
                settings["app_secret"], body
            )
        if settings["webhook_url"]:
            webhook = await sandbox.webhooks.post(
                settings["webhook_url"], body, headers
            )
        else:
            webhook["error"] = f"no webhook_url configured for {channel}"
    return {
        "channel": channel,
        "address": address,
        "message": entry,
        "payload": payload,
        "webhook": webhook,
    }


async def verify_whatsapp_webhook(sandbox):
    """Meta's subscription handshake: GET webhook_url?hub.mode=subscribe&hub.verify_token=&hub.challenge=.

    The webhook passes when it answers 200 with the challenge as its body.
    """
    settings = sandbox.state.config["whatsapp"]
    if not settings["webhook_url"]:
        return Response.json(
            {"error": "no webhook_url configured for whatsapp"}, status=400
        )
    challenge = str(secrets.randbelow(10**9))
    result = await sandbox.webhooks.get(
        settings["webhook_url"],
        {
            "hub.mode": "subscribe",
            "hub.verify_token": settings["verify_token"],
            "hub.challenge": challenge,
        },
    )
    result["verified"] = (
        result.get("status") == 200 and result.get("body", "").strip() == challenge
    )
    return Response.json(result)
