"""Who decides where secrets travel: the API base URLs.

A channel's token goes with every request to its API base URL, so whoever sets that URL can
receive the token. A Manager may set any address. Everybody else who may edit the settings
(Site Administrators) may only choose the platform's own host over HTTPS, or this machine
(loopback: the sandbox, a signal-cli-rest-api beside Zope), and may keep what is set.
Every setting whose name ends in ``_api_url`` counts, including ones added later.
"""

import ipaddress
from urllib.parse import urlsplit

from zope.schema import getFieldNamesInOrder

from collective.messenger import _
from collective.messenger.settings.access import may_read_secrets
from collective.messenger.settings.schema import IMessengerSettings

DESTINATION_SUFFIX = "_api_url"

# The real platforms; Signal has none (signal-cli-rest-api is run by the site's owner).
PLATFORM_HOSTS = {
    "telegram_api_url": "api.telegram.org",
    "whatsapp_api_url": "graph.facebook.com",
    "threema_api_url": "msgapi.threema.ch",
}


def destination_fields():
    return tuple(
        name
        for name in getFieldNamesInOrder(IMessengerSettings)
        if name.endswith(DESTINATION_SUFFIX)
    )


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_for_everyone(name, url):
    """Whether ``url`` is the platform's own HTTPS host or a loopback address."""
    try:
        parts = urlsplit(url or "")
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return False
    if is_loopback(host):
        return True
    return (
        parts.scheme == "https"
        and host == PLATFORM_HOSTS.get(name)
        and port in (None, 443)
    )


def refusal(name, value, current):
    """None when the current user may set ``name`` to ``value``, else the message why not."""
    if value == current or may_read_secrets() or allowed_for_everyone(name, value):
        return None
    platform = PLATFORM_HOSTS.get(name)
    if platform is None:
        return _(
            "error_token_destination_local",
            default="Only a Manager may send messages and tokens to ${url}: this setting "
            "decides where they go. Ask a Manager, or use an address on this machine "
            "(localhost or 127.0.0.1).",
            mapping={"url": value},
        )
    return _(
        "error_token_destination",
        default="Only a Manager may send this channel's token to ${url}: the token goes "
        "with every request to this address. Ask a Manager, or use https://${platform} "
        "or an address on this machine (localhost or 127.0.0.1).",
        mapping={"url": value, "platform": platform},
    )
