"""What each platform posts to a webhook when a citizen writes: the payloads, nothing else.

Telegram: an Update (https://core.telegram.org/bots/api#update); WhatsApp: a
``whatsapp_business_account`` change with ``messages``; Signal: a signal-cli envelope as
signal-cli-rest-api hands it out (``/v1/receive``).
"""

import base64
import hashlib
import time
import uuid

PHOTO_SIZES = (
    (90, 60, 1480),
    (320, 213, 21304),
    (800, 533, 84210),
)  # width, height, bytes


def telegram_photo_sizes(unique):
    """The PhotoSize list Telegram gives for one picture: a few scaled copies."""
    return [
        {
            "file_id": f"AgACAgIAAxkBAAI{unique}-{width}",
            "file_unique_id": f"AQAD{unique}{width}",
            "file_size": size,
            "width": width,
            "height": height,
        }
        for width, height, size in PHOTO_SIZES
    ]


def telegram_message_update(update_id, message_id, chat_id, name, text="", photo=None):
    user = {"id": chat_id, "is_bot": False, "first_name": name, "language_code": "de"}
    message = {
        "message_id": message_id,
        "from": user,
        "chat": {"id": chat_id, "first_name": name, "type": "private"},
        "date": int(time.time()),
    }
    if photo:
        message["photo"] = telegram_photo_sizes(
            hashlib.sha1(photo.encode("utf-8")).hexdigest()[:12]
        )
        if text:
            message["caption"] = text
    else:
        message["text"] = text
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            length = len(command.encode("utf-16-le")) // 2
            message["entities"] = [
                {"offset": 0, "length": length, "type": "bot_command"}
            ]
    return {"update_id": update_id, "message": message}


def telegram_member_update(update_id, chat_id, name, bot, status):
    """``my_chat_member``: the citizen blocked ("kicked") or unblocked ("member") the bot."""
    user = {"id": chat_id, "is_bot": False, "first_name": name, "language_code": "de"}
    old, new = ("member", "kicked") if status == "kicked" else ("kicked", "member")
    new_member = {"user": bot, "status": new}
    if new == "kicked":
        new_member["until_date"] = 0
    return {
        "update_id": update_id,
        "my_chat_member": {
            "chat": {"id": chat_id, "first_name": name, "type": "private"},
            "from": user,
            "date": int(time.time()),
            "old_chat_member": {"user": bot, "status": old},
            "new_chat_member": new_member,
        },
    }


def whatsapp_wamid(wa_id):
    """An id shaped like Meta's: "wamid." and base64 of a small binary record holding the wa_id."""
    number = wa_id.encode("ascii")
    raw = b"\x1c\x18" + bytes([len(number)]) + number + b"\x15\x02\x00\x11\x18\x12"
    raw += uuid.uuid4().hex[:18].upper().encode("ascii") + b"\x00"
    return "wamid." + base64.b64encode(raw).decode("ascii")


def _whatsapp_envelope(settings, value):
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": settings["waba_id"],
                "changes": [
                    {
                        "value": dict(
                            {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": settings[
                                        "business_number"
                                    ].lstrip("+"),
                                    "phone_number_id": settings["phone_number_id"],
                                },
                            },
                            **value,
                        ),
                        "field": "messages",
                    }
                ],
            }
        ],
    }


def whatsapp_message(settings, wa_id, name, message_id, timestamp, text="", photo=None):
    message = {"from": wa_id, "id": message_id, "timestamp": str(int(timestamp))}
    if photo:
        message["type"] = "image"
        message["image"] = {
            "mime_type": "image/jpeg",
            "sha256": base64.b64encode(
                hashlib.sha256(photo.encode("utf-8")).digest()
            ).decode("ascii"),
            "id": str(int(hashlib.sha1(photo.encode("utf-8")).hexdigest()[:14], 16)),
        }
        if text:
            message["image"]["caption"] = text
    else:
        message["type"] = "text"
        message["text"] = {"body": text}
    return _whatsapp_envelope(
        settings,
        {
            "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
            "messages": [message],
        },
    )


def whatsapp_status(settings, wamid, wa_id, status, timestamp, category="marketing"):
    entry = {
        "id": wamid,
        "status": status,
        "timestamp": str(int(timestamp)),
        "recipient_id": wa_id,
    }
    if status in ("sent", "delivered"):
        entry["conversation"] = {
            "id": hashlib.md5(wa_id.encode()).hexdigest(),
            "origin": {"type": category},
        }
        entry["pricing"] = {
            "billable": True,
            "pricing_model": "PMP",
            "category": category,
            "type": "regular",
        }
    return _whatsapp_envelope(settings, {"statuses": [entry]})


def signal_envelope(account, number, name, timestamp_ms, text="", attachment=None):
    data_message = {
        "timestamp": timestamp_ms,
        "message": text or None,
        "expiresInSeconds": 0,
        "viewOnce": False,
    }
    if attachment:
        data_message["attachments"] = [
            {
                "contentType": "image/jpeg",
                "filename": attachment.rsplit("/", 1)[-1] or "image.jpg",
                "id": hashlib.sha1(attachment.encode("utf-8")).hexdigest()[:20]
                + ".jpg",
                "size": 84210,
            }
        ]
    return {
        "envelope": {
            "source": number,
            "sourceNumber": number,
            "sourceUuid": str(uuid.uuid5(uuid.NAMESPACE_URL, "signal:" + number)),
            "sourceName": name,
            "sourceDevice": 1,
            "timestamp": timestamp_ms,
            "serverReceivedTimestamp": timestamp_ms + 40,
            "serverDeliveredTimestamp": timestamp_ms + 60,
            "dataMessage": data_message,
        },
        "account": account,
    }
