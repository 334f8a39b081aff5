"""Everything the sandbox remembers: configuration, simulated phones, messages, counters."""

import collections
import random
import time

from messenger_sandbox import config as sandbox_config
from messenger_sandbox.ratelimit import TokenBucket

RUN_GAP = 2.0  # seconds without an accepted message that end a "run" for the stats
PHONE_HISTORY = 500  # messages a simulated phone shows
LISTS = ("blocked", "deactivated", "unknown", "undeliverable", "marketing_opt_out")


class ChannelStats:
    __slots__ = (
        "accepted",
        "injected_errors",
        "rate_limited",
        "refused",
        "run_count",
        "run_first",
        "run_last",
        "validation_errors",
    )

    def __init__(self):
        self.accepted = self.rate_limited = self.injected_errors = 0
        self.validation_errors = self.refused = 0
        self.run_first = self.run_last = -1e9
        self.run_count = 0

    def count_accepted(self, now):
        self.accepted += 1
        if now - self.run_last > RUN_GAP:
            self.run_first, self.run_count = now, 0
        self.run_count += 1
        self.run_last = now

    def as_dict(self):
        span = self.run_last - self.run_first
        rate = (self.run_count - 1) / span if self.run_count > 1 and span > 0 else 0.0
        return {
            "accepted": self.accepted,
            "rate_limited": self.rate_limited,
            "injected_errors": self.injected_errors,
            "validation_errors": self.validation_errors,
            "refused": self.refused,
            "last_run": {
                "messages": self.run_count,
                "seconds": round(max(span, 0.0), 3),
                "per_second": round(rate, 1),
            },
        }


class Phone:
    """One simulated citizen's device: an address on one channel and its chat."""

    __slots__ = (
        "address",
        "channel",
        "last_inbound",
        "last_outbound",
        "messages",
        "name",
    )

    def __init__(self, channel, address, name=""):
        self.channel = channel
        self.address = address
        self.name = name or f"Bürger:in {address[-4:]}"
        self.messages = collections.deque(maxlen=PHONE_HISTORY)
        self.last_inbound = (
            None  # time.time() of the citizen's last message (WhatsApp window)
        )
        self.last_outbound = (
            None  # time.monotonic() of the last accepted message (pair rate)
        )


class SandboxState:
    def __init__(self, initial_config=None):
        self.random = random.Random()
        self.reset()
        if initial_config:
            self.configure(initial_config)

    def reset(self, keep_config=False):
        if not keep_config:
            self.config = sandbox_config.defaults()
        self.messages = collections.deque(maxlen=self.config["max_messages"])
        self.phones = {}
        self.stats = {channel: ChannelStats() for channel in sandbox_config.CHANNELS}
        self.counters = collections.defaultdict(int)
        self.buckets = {}
        self.signal_inbox = collections.defaultdict(
            list
        )  # account -> envelopes for /v1/receive
        self.threema_credits = self.config["threema"]["credits"]
        self._rebuild()

    def configure(self, changes):
        sandbox_config.merge(self.config, changes)
        if "threema" in changes and "credits" in changes["threema"]:
            self.threema_credits = self.config["threema"]["credits"]
        if self.messages.maxlen != self.config["max_messages"]:
            self.messages = collections.deque(
                self.messages, maxlen=self.config["max_messages"]
            )
        self._rebuild()
        return self.config

    def _rebuild(self):
        """Derived lookups, rebuilt at every change: sets of addresses, rate buckets."""
        self.lists = {}
        old_buckets = getattr(self, "buckets", {})
        self.buckets = {}
        for channel in sandbox_config.CHANNELS:
            settings = self.config[channel]
            self.lists[channel] = {
                name: {
                    normalize(channel, address) for address in settings.get(name, ())
                }
                for name in LISTS
            }
            rate, burst = settings.get("rate_limit"), settings.get("burst")
            bucket = old_buckets.get(channel)
            if not rate:
                bucket = None
            elif bucket is None or (bucket.rate, bucket.burst) != (float(rate), burst):
                bucket = TokenBucket(
                    rate, burst
                )  # a changed cap starts full; an unchanged one keeps its state
            self.buckets[channel] = bucket

    # -- lookups ---------------------------------------------------------------------------

    def listed(self, channel, name, address):
        return address in self.lists[channel][name]

    def set_listed(self, channel, name, address, on=True):
        values = [
            a for a in self.config[channel][name] if normalize(channel, a) != address
        ]
        if on:
            values.append(address)
        self.config[channel][name] = values
        self._rebuild()

    def take_token(self, channel):
        """0.0, or the seconds the platform would ask the sender to wait."""
        bucket = self.buckets[channel]
        return bucket.take() if bucket is not None else 0.0

    def next_id(self, *key):
        self.counters[key] += 1
        return self.counters[key]

    def phone(self, channel, address, name=""):
        key = (channel, address)
        phone = self.phones.get(key)
        if phone is None:
            phone = self.phones[key] = Phone(channel, address, name)
        elif name:
            phone.name = name
        return phone

    # -- recording -------------------------------------------------------------------------

    def record(
        self, channel, recipient, kind, text="", *, message_id, direction="out", **extra
    ):
        """Keep one message for inspection and show it on the recipient's phone."""
        now = time.time()
        entry = {
            "channel": channel,
            "recipient": recipient,
            "direction": direction,
            "kind": kind,
            "text": text,
            "image": extra.pop("image", None),
            "buttons": extra.pop("buttons", []),
            "message_id": str(message_id),
            "time": now,
        }
        entry.update(extra)
        self.phone(channel, recipient).messages.append(entry)
        if direction == "out":
            self.messages.append(entry)
            self.stats[channel].count_accepted(time.monotonic())
        return entry

    def find_messages(self, channel=None, recipient=None, direction="out", limit=None):
        if direction == "out":
            source = self.messages
        else:
            source = sorted(
                (
                    m
                    for phone in self.phones.values()
                    for m in phone.messages
                    if direction == "all" or m["direction"] == direction
                ),
                key=lambda m: m["time"],
            )
        if recipient is not None and channel is not None:
            recipient = normalize(channel, recipient)
        found = [
            m
            for m in source
            if (channel is None or m["channel"] == channel)
            and (recipient is None or m["recipient"] == recipient)
        ]
        return found[-limit:] if limit else found


def normalize(channel, address):
    """The form an address has in the sandbox: chat id as text, wa_id digits, +E.164, ID."""
    address = str(address).strip()
    if channel == "whatsapp":
        return "".join(ch for ch in address if ch.isdigit())
    if channel == "signal":
        digits = "".join(ch for ch in address if ch.isdigit())
        return "+" + digits if address.startswith("+") or digits == address else address
    if channel == "threema" and len(address) == 8 and "@" not in address:
        return address.upper()
    return address
