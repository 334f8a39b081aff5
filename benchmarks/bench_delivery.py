"""Delivery throughput, rate fidelity and footprint, all measured in one run.

    .venv/bin/python benchmarks/bench_delivery.py            # full run (about 3-4 minutes)
    .venv/bin/python benchmarks/bench_delivery.py --quick    # smaller numbers, for a smoke test

Everything runs on this machine: a real redis-server, the sandbox in its own process, and
worker processes started as an operator would (``messenger-worker run``). The machines are
shared and noisy, so what matters are the ratios measured side by side in the same run.
"""

import argparse
import os
import random
import signal
import subprocess
import sys
import time

import requests

from messenger_sandbox.process import SandboxProcess
from messenger_worker import fanout
from messenger_worker import settings
from messenger_worker.channels import channel_class
from messenger_worker.ledger import read_stats
from messenger_worker.payload import Post
from messenger_worker.payload import Recipient
from messenger_worker.testing import RedisServer

POST = dict(
    content_uid="uid",
    kind="news",
    title="Feinstaubalarm in Stuttgart",
    url="https://www.stuttgart.de/feinstaubalarm",
    teaser="Bitte lassen Sie das Auto stehen.",
    templates={"default": "{title}\n\n{teaser}\n\n{url}"},
)


def publish(client, sandbox, rate):
    document = {
        "schema": 1,
        "channels": {c: sandbox.channel_settings(c) for c in settings.CHANNELS},
        "topics": [],
        "templates": {},
        "phone_region": "DE",
    }
    document["channels"]["telegram"]["rate"] = rate
    settings.publish(client, document)


def addresses(count, seed=7):
    """Telegram-like chat ids and subscriber ids, random so that RQ's compression of job data
    sees what it would see in production, not a neat sequence."""
    rng = random.Random(seed)
    return [
        (f"{rng.getrandbits(64):016x}", str(rng.randrange(10**8, 8 * 10**9)))
        for _ in range(count)
    ]


def enqueue(client, post_id, count, rate):
    people = [Recipient(sid, "telegram", chat) for sid, chat in addresses(count)]
    fanout.enqueue_post(client, Post(id=post_id, **POST), people, {"telegram": rate})


def start_workers(url, count):
    return [
        subprocess.Popen(
            [sys.executable, "-m", "messenger_worker.cli", "--redis-url", url, "run"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(count)
    ]


def stop_workers(workers):
    for worker in workers:
        try:
            os.killpg(worker.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        worker.wait()


def group_rss_kib(pgid):
    """Resident memory of each process in a process group (worker and its work horse)."""
    sizes = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.getpgid(int(pid)) != pgid:
                continue
            with open(f"/proc/{pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        sizes.append(int(line.split()[1]))
        except (ProcessLookupError, FileNotFoundError, PermissionError):
            continue
    return sizes


def run_post(client, server, sandbox, post_id, count, workers, rate, watch_rss=False):
    enqueue(client, post_id, count, rate)
    started = time.monotonic()
    processes = start_workers(server.url, workers)
    peak = 0
    try:
        while True:
            stats = read_stats(client, post_id).get("telegram", {})
            if (
                stats.get("sent", 0) + stats.get("failed", 0) + stats.get("gone", 0)
                >= count
            ):
                break
            if watch_rss:
                for process in processes:
                    peak = max([peak, *group_rss_kib(process.pid)])
            time.sleep(0.2)
    finally:
        stop_workers(processes)
    wall = time.monotonic() - started
    stats = read_stats(client, post_id)["telegram"]
    busy = stats["last_sent"] - stats["first_sent"]
    return {
        "sent": stats["sent"],
        "wall": wall,
        "rate": (stats["sent"] - 1) / busy,
        "peak_kib": peak,
    }


def ceiling(sandbox, count):
    """A bare requests.Session loop posting the same payloads: the most one process can do.

    The payloads are the ones the Telegram channel sends (HTML text and the button), made
    once beforehand, so the loop does nothing but HTTP.
    """
    config = sandbox.channel_settings("telegram")
    url = f"{config['api_url']}/bot{config['bot_token']}/sendMessage"
    post = Post(id="ceiling", **POST)
    with requests.Session() as session:
        channel = channel_class("telegram")(config, session)
        payloads = [
            channel.requests_for(post, chat)[0][1]
            for _sid, chat in addresses(count, seed=11)
        ]
        started = time.perf_counter()
        for payload in payloads:
            session.post(url, json=payload, timeout=10).raise_for_status()
        return count / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    scale = 0.2 if args.quick else 1.0
    throughput_n = int(10000 * scale)
    fidelity_seconds = 5 if args.quick else 22
    big_n = int(100000 * scale)

    server = RedisServer().start()
    client = server.client()
    rows = []
    try:
        with SandboxProcess() as sandbox:
            publish(client, sandbox, rate=100000)
            top = ceiling(sandbox, throughput_n // 2)
            rows.append((
                "ceiling: bare requests.Session loop",
                f"{top:,.0f} msg/s",
                "",
            ))
            sandbox.reset()
            one = run_post(client, server, sandbox, "one", throughput_n, 1, 100000)
            rows.append((
                "one worker process",
                f"{one['rate']:,.0f} msg/s",
                f"{one['rate'] / top:.2f} of ceiling (target >= 0.80)",
            ))
            sandbox.reset()
            two = run_post(client, server, sandbox, "two", throughput_n, 2, 100000)
            rows.append((
                "two worker processes",
                f"{two['rate']:,.0f} msg/s",
                f"{two['rate'] / one['rate']:.2f} x one worker",
            ))

            # Rate fidelity: the platform allows 200/s, the settings say 200/s, two workers.
            cap = 200
            sandbox.reset()
            sandbox.configure(telegram={"rate_limit": cap})
            publish(client, sandbox, rate=cap)
            fidelity = run_post(
                client, server, sandbox, "cap", cap * fidelity_seconds, 2, cap
            )
            limited = sandbox.stats()["telegram"]["rate_limited"]
            rows.append((
                f"rate fidelity, cap {cap}/s, two workers, {fidelity['wall']:.0f} s",
                f"{fidelity['rate']:,.1f} msg/s",
                f"achieved/cap {fidelity['rate'] / cap:.2f} ({fidelity['rate'] / cap:.4f}; "
                "target 0.97-1.00), "
                f"{limited} answers 429 (target 0)",
            ))

            sandbox.reset()
            sandbox.configure(telegram={"rate_limit": None})
            publish(client, sandbox, rate=100000)
            used_before = client.info("memory")["used_memory"]
            enqueue(client, "big-probe", big_n, 100000)
            per_recipient = (client.info("memory")["used_memory"] - used_before) / big_n
            client.flushall()
            publish(client, sandbox, rate=100000)
            sandbox.reset()
            big = run_post(
                client, server, sandbox, "big", big_n, 2, 100000, watch_rss=True
            )
            rows.append((
                f"{big_n:,} recipients, two workers",
                f"{big['wall']:.1f} s wall",
                f"{big['rate']:,.0f} msg/s, peak RSS per worker process "
                f"{big['peak_kib'] / 1024:.0f} MB (target <= 150)",
            ))
            rows.append((
                "Redis memory per queued recipient",
                f"{per_recipient:.0f} bytes",
                "",
            ))
    finally:
        server.remove()

    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    print(f"\n{'measure'.ljust(width)}  {'figure'.ljust(value_width)}  ratio / note")
    print(f"{'-' * width}  {'-' * value_width}  {'-' * 40}")
    for name, value, note in rows:
        print(f"{name.ljust(width)}  {value.ljust(value_width)}  {note}")


if __name__ == "__main__":
    main()
