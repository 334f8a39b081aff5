"""Publishing: the editor's publish request, and publish to last delivery, in one run.

    .venv/bin/python benchmarks/bench_publish.py            # full run (about 2 minutes)
    .venv/bin/python benchmarks/bench_publish.py --quick    # smaller numbers, for a smoke test

Everything is real and runs on this machine, as an operator would run it: a redis-server,
the messenger sandbox, a Zope instance made by ``mkwsgiinstance`` with a FileStorage and a
Plone site with the add-on (built by ``publish_site.py`` through ``zconsole run``), served by
``runwsgi`` (waitress) in its own process, and ``messenger-worker run`` processes.

1. Publish request: ``POST <item>/@workflow/publish`` (plone.restapi) with basic auth as a
   Manager, timed at the client. It includes what the publication does in the request: the
   outbox entry, the recipients snapshot, the commit and, after the commit, the hand-over of
   the post and its batches to Redis. The items' topics have 0, 10,000 and 100,000 active
   subscribers (one store, nested topics); one publication per size first warms the Zope
   up (reported as "first"), then 5 rounds publish one item of each size, in a rotating
   order. No worker runs: the queued batches are emptied after each publication.
2. Publish to last delivery: 10,000 Telegram recipients, the sandbox capped at 1,000 msg/s,
   the site's Telegram rate set to 1,000, two worker processes waiting; the time from
   sending the publish request to the last message the sandbox accepted. For comparison, the
   same workers then deliver 10,000 more without any cap: what the machine allows right now.

The machines are shared and noisy: compare the ratios, and run it twice. Nothing passes or fails.
"""

import argparse
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import requests
from rq import Queue
from rq import Worker
from rq.serializers import JSONSerializer

from messenger_sandbox.process import SandboxProcess
from messenger_worker import keys
from messenger_worker import settings
from messenger_worker.fanout import enqueue_post
from messenger_worker.ledger import post_key
from messenger_worker.ledger import read_stats
from messenger_worker.payload import Post
from messenger_worker.payload import Recipient
from messenger_worker.testing import descendants
from messenger_worker.testing import free_port
from messenger_worker.testing import RedisServer

HERE = os.path.dirname(os.path.abspath(__file__))
SITE_ID = "plone"
ADMIN = (
    "admin",
    "bench-Passw0rd",
)  # a Manager in the Zope root, made by mkwsgiinstance
ZODB_CACHE_SIZE = 30000  # objects per connection: plone.recipe.zope2instance's default
RUNS = 5
ADDED_TARGET_MS = 300.0
DELIVERY_RATE = 1000  # msg/s: the sandbox's cap and the site's Telegram rate
DELIVERY_TARGET = 1.2  # times the minimum (recipients / rate)
DELIVERY_ROUNDS = (
    2  # capped, uncapped, capped, uncapped: side by side on a noisy machine
)
WORKERS = 2
# Topic ids by size; subscriber n follows every topic whose size is above n.
TOPIC_FOR_SIZE = {0: "freibad", 10_000: "baustellen-verkehr", 100_000: "warnungen"}
QUICK_TOPIC_FOR_SIZE = {0: "freibad", 1_000: "baustellen-verkehr", 10_000: "warnungen"}


def _bin(name):
    return os.path.join(os.path.dirname(sys.executable), name)


def _tail(path, lines=30):
    try:
        with open(path, encoding="utf-8", errors="replace") as log:
            return "".join(log.readlines()[-lines:])
    except OSError:
        return ""


# -- the stack ------------------------------------------------------------------------------


def make_instance(directory, port):
    """``mkwsgiinstance`` with Plone's usual ZODB cache and the given HTTP port."""
    instance = os.path.join(directory, "instance")
    subprocess.run(
        [_bin("mkwsgiinstance"), "-d", instance, "-u", ":".join(ADMIN)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    conf = os.path.join(instance, "etc", "zope.conf")
    with open(conf, encoding="utf-8") as file:
        text = file.read()
    text = text.replace(
        "<zodb_db main>", f"<zodb_db main>\n   cache-size {ZODB_CACHE_SIZE}", 1
    )
    with open(conf, "w", encoding="utf-8") as file:
        file.write(text)
    ini = os.path.join(instance, "etc", "zope.ini")
    with open(ini, encoding="utf-8") as file:
        text = re.sub(r"(?m)^port\s*=.*$", f"port = {port}", file.read())
    with open(ini, "w", encoding="utf-8") as file:
        file.write(text)
    return conf, ini


def build_site(directory, conf, env, plan):
    """Run publish_site.py in ``zconsole``; returns the plan with what it made."""
    path = os.path.join(directory, "plan.json")
    with open(path, "w", encoding="utf-8") as file:
        json.dump(plan, file)
    log = os.path.join(directory, "build-site.log")
    with open(log, "wb") as output:
        result = subprocess.run(
            [_bin("zconsole"), "run", conf, os.path.join(HERE, "publish_site.py")],
            env=dict(env, BENCH_PUBLISH_PLAN=path),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    if result.returncode != 0:
        sys.exit(f"Building the site failed; the end of {log}:\n{_tail(log)}")
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def start_logged(command, log_path, env=None):
    # A file, not a pipe: nobody reads a pipe while the benchmark runs, and a full one blocks.
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process, timeout=15):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    for pid in [process.pid, *descendants(process.pid)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()


def wait_for(predicate, timeout, what, logs=()):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            tails = "".join(f"\n--- {log}:\n{_tail(log)}" for log in logs)
            sys.exit(f"Gave up waiting for {what} after {timeout} s.{tails}")
        time.sleep(0.1)


def site_answers(url):
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False


# -- measuring ------------------------------------------------------------------------------


def publish(session, base, item):
    """POST @workflow/publish; returns the seconds the request took, as the client sees it."""
    started = time.perf_counter()
    response = session.post(
        f"{base}{item['path']}/@workflow/publish", json={}, timeout=300
    )
    elapsed = time.perf_counter() - started
    if (
        response.status_code != 200
        or response.json().get("review_state") != "published"
    ):
        sys.exit(
            f"Publishing {item['path']} failed: HTTP {response.status_code} {response.text[:500]}"
        )
    return elapsed


def handed_over(client, item):
    """Recipients queued for the item's post in Redis (None: the post is not there)."""
    post_id = f"{item['uid']}-1"
    if not client.exists(post_key(post_id)):
        return None
    return read_stats(client, post_id).get("telegram", {}).get("queued", 0)


def empty_queues(client):
    """Drop the queued jobs and the recipient lists waiting to be split (no worker runs in
    part 1); the post and its counters stay, so the next publication's drain finds the post
    in Redis and does not hand it over again."""
    for name in keys.QUEUES:
        Queue(name, connection=client, serializer=JSONSerializer).empty()
    waiting = list(client.scan_iter("messenger:post:*:recipients"))
    if waiting:
        client.delete(*waiting)


def request_times(session, base, client, items_by_size):
    """One warm-up publication per size, then RUNS rounds in a rotating order."""
    sizes = sorted(items_by_size)
    first, times, memory = {}, {size: [] for size in sizes}, []

    def one(size, item):
        elapsed = publish(session, base, item)
        queued = handed_over(client, item)
        if queued != size:
            sys.exit(
                f"{item['path']}: Redis has {queued} recipients queued, expected {size}."
            )
        empty_queues(client)
        memory.append(client.info("memory")["used_memory"])
        return elapsed

    for size in sizes:
        first[size] = one(size, items_by_size[size][0])
    for run in range(RUNS):
        for size in sizes[run % len(sizes) :] + sizes[: run % len(sizes)]:
            times[size].append(one(size, items_by_size[size][1 + run]))
    return first, times, memory


def run_workers(client, redis_url, directory, name, count, trigger):
    """Start WORKERS workers, wait until they listen, ``trigger()`` a post of ``count``
    recipients and wait until all are done; returns (time sent, post id, request seconds)."""
    logs = [os.path.join(directory, f"{name}-worker-{n}.log") for n in range(WORKERS)]
    workers = [
        start_logged(
            [
                sys.executable,
                "-m",
                "messenger_worker.cli",
                "--redis-url",
                redis_url,
                "run",
            ],
            log,
        )
        for log in logs
    ]
    try:
        wait_for(
            lambda: Worker.count(connection=client) >= WORKERS, 60, "the workers", logs
        )
        sent_at = time.time()
        post_id, request = trigger()

        def done():
            stats = read_stats(client, post_id).get("telegram", {})
            return (
                stats.get("sent", 0) + stats.get("failed", 0) + stats.get("gone", 0)
                >= count
            )

        wait_for(done, 30 + 5 * count / DELIVERY_RATE, f"the delivery ({name})", logs)
    finally:
        for worker in workers:
            stop(worker)
    # Killed workers stay registered until RQ's maintenance notices; the next run must not count them.
    for worker in Worker.all(connection=client):
        worker.register_death()
    return sent_at, post_id, request


def delivered(client, sandbox, sent_at, post_id):
    stats = read_stats(client, post_id)["telegram"]
    messages = sandbox.messages(channel="telegram")
    telegram = sandbox.stats()["telegram"]
    first, last = messages[0]["time"], messages[-1]["time"]
    return {
        "total": last - sent_at,
        "to_first": first - sent_at,
        "span": last - first,
        "rate": (len(messages) - 1) / (last - first) if last > first else 0.0,
        "accepted": telegram["accepted"],
        "rate_limited": telegram["rate_limited"],
        "sent": stats.get("sent", 0),
        "failed": stats.get("failed", 0) + stats.get("gone", 0),
        "resent": stats.get("resent", 0),
    }


def delivery(session, base, client, sandbox, redis_url, item, count, directory, number):
    """Publish ``item`` with the workers waiting; times up to the sandbox's last message."""
    sandbox.reset()
    sandbox.configure(telegram={"rate_limit": DELIVERY_RATE})

    def trigger():
        request = publish(session, base, item)
        if handed_over(client, item) != count:
            sys.exit(
                f"{item['path']}: Redis has {handed_over(client, item)} recipients queued, "
                f"expected {count}."
            )
        return f"{item['uid']}-1", request

    sent_at, post_id, request = run_workers(
        client, redis_url, directory, f"capped-{number}", count, trigger
    )
    return dict(delivered(client, sandbox, sent_at, post_id), request=request)


def uncapped(client, sandbox, redis_url, template_post_id, count, directory, number):
    """The same workers without any cap (sandbox and settings), for comparison: what the
    machine can do right now. The post is the published one again, for new chat ids,
    enqueued as Plone enqueues it; the site's settings are overridden in Redis only, and
    put back afterwards."""
    site_document = json.loads(client.hget(keys.SETTINGS_KEY, "json"))
    document = json.loads(json.dumps(site_document))
    document["channels"]["telegram"]["rate"] = 100_000
    settings.publish(client, document)
    sandbox.reset()
    post = Post.from_json(client.get(post_key(template_post_id)))
    post = Post.from_dict(dict(post.to_dict(), id=f"uncapped-{number}"))
    rng = random.Random(9 + number)
    people = [
        Recipient(f"u{n}", "telegram", str(chat))
        for n, chat in enumerate(rng.sample(range(10**8, 8 * 10**9), count))
    ]

    def trigger():
        enqueue_post(client, post, people, {"telegram": 100_000})
        return post.id, 0.0

    sent_at, post_id, _request = run_workers(
        client, redis_url, directory, f"uncapped-{number}", count, trigger
    )
    settings.publish(client, site_document)
    return delivered(client, sandbox, sent_at, post_id)


# -- output ---------------------------------------------------------------------------------


def table(header, rows):
    widths = [
        max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))
    ]
    line = "  ".join("{:<%d}" % w for w in widths)
    print(line.format(*header))
    print(line.format(*("-" * w for w in widths)))
    for row in rows:
        print(line.format(*row))


def ms(seconds):
    return f"{seconds * 1000:,.0f} ms"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="0, 1,000 and 10,000 subscribers and 1,000 deliveries, for a smoke test",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the temporary directory (instance, logs) and print its path",
    )
    args = parser.parse_args()
    topic_for_size = QUICK_TOPIC_FOR_SIZE if args.quick else TOPIC_FOR_SIZE
    delivery_size = 1_000 if args.quick else 10_000
    delivery_topic = topic_for_size[delivery_size]
    command = " ".join(["benchmarks/bench_publish.py", *sys.argv[1:]])

    directory = tempfile.mkdtemp(prefix="bench-publish-")
    redis_server = RedisServer().start()
    client = redis_server.client()
    zope = None
    try:
        with SandboxProcess() as sandbox:
            port = free_port()
            conf, ini = make_instance(directory, port)
            env = dict(os.environ, MESSENGER_REDIS_URL=redis_server.url)
            items = [
                {"id": f"item-{size}-{n}", "topic": topic, "size": size}
                for size, topic in topic_for_size.items()
                for n in range(RUNS + 1)
            ]
            delivery_items = [
                {"id": f"delivery-{n}", "topic": delivery_topic, "size": delivery_size}
                for n in range(DELIVERY_ROUNDS)
            ]
            plan = {
                "site_id": SITE_ID,
                "sandbox_url": sandbox.url,
                "telegram_rate": DELIVERY_RATE,
                "topics": {topic: size for size, topic in topic_for_size.items()},
                "items": [*items, *delivery_items],
            }
            print(
                f"Building the site with {max(topic_for_size):,} subscribers in a FileStorage "
                f"(zconsole) ...",
                flush=True,
            )
            started = time.monotonic()
            plan = build_site(directory, conf, env, plan)
            made = plan["made"]
            print(
                f"built in {time.monotonic() - started:.0f} s (site {made['site_seconds']:.0f} s, "
                f"subscribers {made['subscribers']['seconds']:.0f} s); snapshot sizes "
                f"{made['subscribers']['snapshot_sizes']}",
                flush=True,
            )
            snapshot = made["subscribers"]["snapshot_sizes"]
            for size, topic in topic_for_size.items():
                if snapshot[topic] != size:
                    sys.exit(
                        f"Topic {topic} has {snapshot[topic]} active subscribers, not {size}."
                    )

            zope_log = os.path.join(directory, "zope.log")
            zope = start_logged([_bin("runwsgi"), ini], zope_log, env)
            base = f"http://127.0.0.1:{port}"
            wait_for(lambda: site_answers(f"{base}/{SITE_ID}"), 180, "Zope", [zope_log])

            session = requests.Session()
            session.auth = ADMIN
            session.headers["Accept"] = "application/json"
            made_items = {item["id"]: item for item in made["items"]}
            items_by_size = {
                size: [made_items[f"item-{size}-{n}"] for n in range(RUNS + 1)]
                for size in topic_for_size
            }
            print("Publishing ...", flush=True)
            first, times, memory = request_times(session, base, client, items_by_size)
            print(f"Delivering to {delivery_size:,} ...", flush=True)
            rounds = []
            for number in range(DELIVERY_ROUNDS):
                item = made_items[f"delivery-{number}"]
                sent = delivery(
                    session,
                    base,
                    client,
                    sandbox,
                    redis_server.url,
                    item,
                    delivery_size,
                    directory,
                    number,
                )
                free = uncapped(
                    client,
                    sandbox,
                    redis_server.url,
                    f"{item['uid']}-1",
                    delivery_size,
                    directory,
                    number,
                )
                rounds.append((sent, free))
            redis_version = client.info("server")["redis_version"]
    finally:
        if zope is not None:
            stop(zope)
        redis_server.remove()
        if args.keep:
            print(f"kept {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)

    print(f"\nReproduce: .venv/bin/python {command}")
    print(
        f"Zope {ZODB_CACHE_SIZE:,}-object ZODB cache, FileStorage (not DemoStorage), served by "
        f"runwsgi (waitress) in its own process; redis-server {redis_version}; Python "
        f"{sys.version.split()[0]}; {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} at the end.\n"
    )

    print(
        f"1. Publish request (POST @workflow/publish as Manager, timed at the client), "
        f"median of {RUNS}:"
    )
    sizes = sorted(times)
    base_median = statistics.median(times[sizes[0]])
    rows = []
    for size in sizes:
        median = statistics.median(times[size])
        added = median - base_median
        rows.append((
            f"{size:,} subscribers ({topic_for_size[size]})",
            ms(median),
            f"{ms(min(times[size]))} - {ms(max(times[size]))}",
            ms(first[size]),
            "" if size == sizes[0] else f"+{ms(added)}",
            "" if size == sizes[0] else f"{added * 1000 / ADDED_TARGET_MS:.2f}",
        ))
    table(
        (
            "item's topic",
            "median",
            "range",
            "first",
            "added vs 0",
            f"added ÷ {ADDED_TARGET_MS:.0f} ms target",
        ),
        rows,
    )
    print(
        f"(Redis memory after each publication, queues and recipient lists emptied: "
        f"{min(memory) / 1e6:.1f}-{max(memory) / 1e6:.1f} MB)\n"
    )

    minimum = delivery_size / DELIVERY_RATE
    print(
        f"2. Publish to last delivery, {delivery_size:,} Telegram recipients, sandbox capped at "
        f"{DELIVERY_RATE:,} msg/s, site rate {DELIVERY_RATE:,} msg/s, {WORKERS} worker processes:"
    )
    rows = []
    for number, (sent, free) in enumerate(rounds, start=1):
        rows += [
            (
                f"round {number}: publish request sent -> last message accepted",
                f"{sent['total']:.2f} s",
                f"{sent['total'] / minimum:.2f} × the {minimum:.0f} s minimum "
                f"(target <= {DELIVERY_TARGET:.1f})",
            ),
            ("  publish request", ms(sent["request"]), ""),
            (
                "  request sent -> first message accepted",
                f"{sent['to_first']:.2f} s",
                "",
            ),
            (
                "  first -> last message accepted",
                f"{sent['span']:.2f} s",
                f"{sent['rate']:,.0f} msg/s = {sent['rate'] / DELIVERY_RATE:.3f} of the cap",
            ),
            (
                "  sandbox accepted / answered 429",
                f"{sent['accepted']:,} / {sent['rate_limited']:,}",
                f"post stats: sent {sent['sent']:,}, failed or gone {sent['failed']:,}, "
                f"sent twice {sent['resent']:,}",
            ),
            (
                "  then the same without any cap: first -> last",
                f"{free['span']:.2f} s",
                f"{free['rate']:,.0f} msg/s; the capped run reached "
                f"{sent['rate'] / min(free['rate'], DELIVERY_RATE):.2f} of min(this, cap)",
            ),
        ]
    table(("measurement", "figure", "ratio / note"), rows)


if __name__ == "__main__":
    main()
