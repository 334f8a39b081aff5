"""Send a test post to sandbox phones: ``python -m messenger_sandbox.try_post``.

Points the published settings at a running sandbox (``messenger-sandbox``) and puts a
post for N simulated Telegram subscribers on the queue, so that ``messenger-worker run``
has something to deliver. It refuses to replace settings that point at real platforms.
"""

import argparse
import sys
import time
import uuid

from messenger_sandbox.worker_settings import settings_document
from messenger_worker import connection as redis_connection
from messenger_worker import fanout
from messenger_worker import settings
from messenger_worker.ledger import read_stats
from messenger_worker.payload import Post
from messenger_worker.payload import Recipient


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m messenger_sandbox.try_post")
    parser.add_argument(
        "--sandbox", default="http://127.0.0.1:8099", help="the sandbox's URL"
    )
    parser.add_argument("--redis-url", help="default: $MESSENGER_REDIS_URL")
    parser.add_argument("--recipients", type=int, default=10000)
    parser.add_argument(
        "--rate", type=float, default=1000.0, help="Telegram send rate, msg/s"
    )
    parser.add_argument(
        "--wait", action="store_true", help="wait and report until all are sent"
    )
    args = parser.parse_args(argv)

    connection = redis_connection.connect(args.redis_url)
    current = settings.SettingsCache(connection).current()
    sandbox_url = args.sandbox.rstrip("/")
    if current and not all(
        str(channel.get("api_url", "")).startswith(sandbox_url)
        for channel in current.get("channels", {}).values()
        if channel.get("enabled")
    ):
        print(
            "The published settings point at real platforms; not replacing them.",
            file=sys.stderr,
        )
        return 2
    document = settings_document(sandbox_url)
    document["channels"]["telegram"]["rate"] = args.rate
    settings.publish(connection, document)

    post = Post(
        id=f"try-{uuid.uuid4().hex[:8]}",
        content_uid="try",
        kind="construction_notice",
        title="Vollsperrung Hauptstraße",
        url="https://www.musterstadt.de/baustellen/hauptstrasse",
        teaser="Wegen Kanalarbeiten ist die Hauptstraße zwischen Markt und Bahnhof gesperrt.",
        start="2026-11-23T07:00:00+01:00",
        end="2026-11-27T17:00:00+01:00",
        location="Hauptstraße, zwischen Markt und Bahnhof",
        templates={
            "default": "{title}\n{location}\n{start} bis {end}\n\n{teaser}\n\n{url}"
        },
    )
    people = [
        Recipient(f"try-{n}", "telegram", str(200000000 + n))
        for n in range(args.recipients)
    ]
    jobs = fanout.enqueue_post(connection, post, people, {"telegram": args.rate})
    print(f"Post {post.id}: {args.recipients} recipients in {jobs} jobs on the queue.")
    if not args.wait:
        return 0
    started = time.monotonic()
    while True:
        stats = read_stats(connection, post.id).get("telegram", {})
        finished = sum(stats.get(k, 0) for k in ("sent", "gone", "failed"))
        print(
            f"\r{finished} of {args.recipients} done ({stats.get('sent', 0)} sent)",
            end="",
            flush=True,
        )
        if finished >= args.recipients:
            print(f"\nAll done in {time.monotonic() - started:.1f} s.")
            return 0
        time.sleep(0.5)


if __name__ == "__main__":
    sys.exit(main())
