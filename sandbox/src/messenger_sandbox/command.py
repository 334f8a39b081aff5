"""``messenger-sandbox`` and ``python -m messenger_sandbox``: run the sandbox (its own console
script: the production worker's command line has no sandbox in it)."""

import argparse
import asyncio
import json
import logging
import signal
import sys

from messenger_sandbox import app
from messenger_sandbox import config as sandbox_config

DEFAULT_PORT = 8099


def add_arguments(parser):
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port (default {DEFAULT_PORT}; 0: any free port)",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="JSON file with settings, merged over the defaults "
        "(same shape as POST /_sandbox/config)",
    )
    parser.add_argument("--log-level", default="INFO")


def load_config(path):
    if not path:
        return None
    with open(path, encoding="utf-8") as file:
        data = json.load(file)
    sandbox_config.merge(sandbox_config.defaults(), data)  # fail early on unknown keys
    return data


def run_command(args):
    try:
        initial = load_config(args.config)
    except (OSError, ValueError) as error:
        print(f"Cannot read sandbox config {args.config}: {error}", file=sys.stderr)
        return 2

    def ready(bound):
        host, port = bound
        print(
            f"Messenger sandbox listening on http://{host}:{port}  (phones: http://{host}:{port}/_sandbox/)",
            flush=True,
        )
        for channel in sandbox_config.CHANNELS:
            print(f"  {channel:9} api_url = http://{host}:{port}/{channel}", flush=True)

    try:
        asyncio.run(app.run(args.host, args.port, initial, ready))
    except KeyboardInterrupt:
        pass
    except OSError as error:
        print(f"Cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="messenger-sandbox",
        description="Serve loopback imitations of the Telegram Bot API, WhatsApp Cloud API, "
        "signal-cli-rest-api and Threema Gateway on one port, with simulated phones at /_sandbox/.",
    )
    add_arguments(parser)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    # Stop quietly on SIGTERM (SandboxProcess.stop, docker stop) as on Ctrl-C.
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(0))
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    return run_command(args)
