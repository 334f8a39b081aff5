"""``messenger-worker``: run delivery workers and look at their state."""

import argparse
import logging
import sys

from rq import Worker
from rq.worker_pool import WorkerPool

from messenger_worker import connection as redis_connection
from messenger_worker import health
from messenger_worker import keys
from messenger_worker import settings

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
        pool = WorkerPool(list(keys.QUEUES), connection=conn, num_workers=args.processes)
        pool.start(burst=args.burst, logging_level=args.log_level)
        return 0
    worker = Worker(list(keys.QUEUES), connection=conn)
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
            [[q["name"], q["queued"], q["started"], q["scheduled"], q["failed"]]
             for q in state["queues"]],
            ["queue", "queued", "running", "scheduled", "failed"],
        )
    )
    print()
    if state["workers"]:
        print(
            _table(
                [[w["name"], w["hostname"], w["state"], ",".join(w["queues"])]
                 for w in state["workers"]],
                ["worker", "host", "state", "queues"],
            )
        )
    else:
        print("No workers are running.")
    return 0


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
        "--processes", type=_positive_int, default=1, help="worker processes (default 1)"
    )
    run_parser.add_argument("--burst", action="store_true", help="stop when queues are empty")
    run_parser.add_argument("--log-level", default="INFO")
    run_parser.set_defaults(handler=run)
    status_parser = commands.add_parser("status", help="queues, workers and settings")
    status_parser.set_defaults(handler=status)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=getattr(args, "log_level", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
