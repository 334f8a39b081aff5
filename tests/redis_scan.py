"""Everything Redis holds, as bytes, for tests that prove a secret is not kept there.

Every key of every type (strings, hashes, lists, sets, sorted sets, streams), RQ's job
hashes with their compressed ``data`` field unpacked, results streams and registries.
"""

import json
import zlib


def _unpacked(value):
    """``value`` and, if it is zlib data (RQ compresses job arguments), its inflated form."""
    if value[:1] == b"\x78":
        try:
            return [value, zlib.decompress(value)]
        except zlib.error:
            pass
    return [value]


def _values(client, key):
    kind = client.type(key).decode()
    if kind == "string":
        return [client.get(key) or b""]
    if kind == "hash":
        return [
            part
            for field, value in client.hgetall(key).items()
            for part in (field, value)
        ]
    if kind == "list":
        return client.lrange(key, 0, -1)
    if kind == "set":
        return list(client.smembers(key))
    if kind == "zset":
        return [member for member, _score in client.zrange(key, 0, -1, withscores=True)]
    if kind == "stream":
        return [
            part
            for _id, fields in client.xrange(key)
            for item in fields.items()
            for part in item
        ]
    return []


def redis_contents(client):
    """{key: [bytes, ...]} of the whole database."""
    return {
        key: [key]
        + [unpacked for value in _values(client, key) for unpacked in _unpacked(value)]
        for key in client.scan_iter(count=1000)
    }


def keys_holding(client, *secrets):
    """{secret: [keys whose name or content contains it]} for each secret found; {} if none."""
    found = {}
    contents = redis_contents(client)
    for secret in secrets:
        needle = secret.encode("utf-8") if isinstance(secret, str) else secret
        # JSON may escape non-ASCII text: look for that form too.
        escaped = (
            json.dumps(secret)[1:-1].encode() if isinstance(secret, str) else needle
        )
        holders = [
            key.decode("utf-8", "replace")
            for key, values in contents.items()
            if any(needle in value or escaped in value for value in values)
        ]
        if holders:
            found[secret] = holders
    return found
