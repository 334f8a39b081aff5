"""``messenger-worker``: run delivery workers and look at their state."""

import argparse
import logging
import sys

import requests
from rq.serializers import JSONSerializer
from rq.worker_pool import WorkerPool

from messenger_worker import connection as redis_connection
from messenger_worker import health
from messenger_worker import keys
from messenger_worker import settings
from messenger_worker.channels import channel_class
from messenger_worker.pauses import ChannelPauses
from messenger_worker.worker import MessengerWorker

log = logging.getLogger("messenger_worker")


def run(args):
    conn = redis_connection.connect(args.redis_url)
    cache = settings.SettingsCache(conn)
    document = cache.current()
    if document is None:
        log.warning(
            "No settings published in %s yet. Open Site Setup > Messenger and save, "
            "or press 'Publish settings to workers'. Waiting for jobs anyway.",
            redis_connection.display_url(args.redis_url),
        )
    else:
        log.info("Settings version %s loaded.", cache.version)
    if args.processes > 1:
        pool = WorkerPool(
            list(keys.QUEUES),
            connection=conn,
            num_workers=args.processes,
            worker_class=MessengerWorker,
            serializer=JSONSerializer,
        )
        pool.start(burst=args.burst, logging_level=args.log_level)
        return 0
    worker = MessengerWorker(list(keys.QUEUES), connection=conn)
    worker.work(burst=args.burst, with_scheduler=True, logging_level=args.log_level)
    return 0


def _table(rows, headers):
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows)]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(headers, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)


def status(args):
    url = args.redis_url or redis_connection.redis_url()
    shown = redis_connection.display_url(url)
    state = health.collect(redis_connection.connect(url, timeout=2))
    if not state["reachable"]:
        print(f"Redis at {shown} is not reachable: {state['error']}")
        return 1
    print(f"Redis {state['redis_version']} at {shown}")
    version = state["settings_version"]
    print(f"Settings: version {version}" if version else "Settings: none published yet")
    print()
    print(
        _table(
            [
                [q["name"], q["queued"], q["started"], q["scheduled"], q["failed"]]
                for q in state["queues"]
            ],
            ["queue", "queued", "running", "scheduled", "failed"],
        )
    )
    print()
    if state["workers"]:
        print(
            _table(
                [
                    [w["name"], w["hostname"], w["state"], ",".join(w["queues"])]
                    for w in state["workers"]
                ],
                ["worker", "host", "state", "queues"],
            )
        )
    else:
        print("No workers are running.")
    paused = ChannelPauses(redis_connection.connect(url, timeout=2)).all()
    print()
    if paused:
        print(
            _table(
                [[c, p["reason"]] for c, p in paused.items()],
                ["paused channel", "reason"],
            )
        )
    else:
        print("No channel is paused.")
    return 0


def test_channel(args):
    """Check one channel's credentials against its platform, with the published settings."""
    conn = redis_connection.connect(args.redis_url)
    document = settings.SettingsCache(conn).current()
    if document is None:
        print("No settings published yet: save the Messenger control panel first.")
        return 2
    channel_settings = document.get("channels", {}).get(args.channel, {})
    missing = settings.missing_fields(document, args.channel)
    if missing:
        print(f"{args.channel}: settings missing: {', '.join(missing)}")
        return 1
    with requests.Session() as session:
        result = channel_class(args.channel)(channel_settings, session).check()
    print(f"{args.channel}: {'OK' if result.ok else 'FAILED'}: {result.detail}")
    return 0 if result.ok else 1


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def build_parser():
    parser = argparse.ArgumentParser(
        prog="messenger-worker", description="Delivery worker for collective.messenger."
    )
    parser.add_argument(
        "--redis-url",
        help=f"Redis URL (default: ${redis_connection.REDIS_URL_VARIABLE} "
        f"or {redis_connection.DEFAULT_REDIS_URL})",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="work on the messenger queues")
    run_parser.add_argument(
        "--processes",
        type=_positive_int,
        default=1,
        help="worker processes (default 1)",
    )
    run_parser.add_argument(
        "--burst", action="store_true", help="stop when queues are empty"
    )
    run_parser.add_argument("--log-level", default="INFO")
    run_parser.set_defaults(handler=run)
    status_parser = commands.add_parser("status", help="queues, workers and settings")
    status_parser.set_defaults(handler=status)
    check_parser = commands.add_parser(
        "test-channel", help="check a channel's credentials against its platform"
    )
    check_parser.add_argument("channel", choices=settings.CHANNELS)
    check_parser.set_defaults(handler=test_channel)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(args, "log_level", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
