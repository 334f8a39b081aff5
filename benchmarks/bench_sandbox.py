"""How fast is the messenger sandbox compared with one worker's way of sending?

    .venv/bin/python benchmarks/bench_sandbox.py [--seconds 3] [--processes 4] [--platform telegram]

(a) one ``requests.Session`` sending sequentially on one keep-alive connection: the way one
    worker process sends, so roughly the most one worker can ask of a platform;
(b) the sandbox's capacity: several client processes at once, each with its own keep-alive
    connection, first as raw HTTP/1.1 clients (cheap, so the sandbox is the bottleneck), then
    as requests.Session clients;
(c) the sandbox's own CPU time per message (from /proc), i.e. what it could answer with one
    whole core to itself. The machine is small (the clients compete with the sandbox for the
    same cores), so (c) is the fairer capacity figure when the clients are slow.

Prints figures and ratios, never pass/fail.
"""

import argparse
import json
import multiprocessing
import os
import socket
import time

import requests

from messenger_sandbox.process import SandboxProcess

TELEGRAM_TOKEN = "123456:SANDBOX-TOKEN"


def payloads(platform, count=64):
    """(path, content type, bodies) of realistic send requests for ``platform``."""
    if platform == "telegram":
        path = f"/telegram/bot{TELEGRAM_TOKEN}/sendMessage"
        bodies = [
            json.dumps({
                "chat_id": 100000 + i,
                "parse_mode": "HTML",
                "text": f"<b>Baustelle Hauptstraße {i}</b>\n\nVollsperrung ab Montag 7 Uhr.\n\nhttps://www.musterstadt.de/b/{i}",
                "reply_markup": {
                    "inline_keyboard": [
                        [
                            {
                                "text": "Weiterlesen",
                                "url": f"https://www.musterstadt.de/b/{i}",
                            }
                        ]
                    ]
                },
            })
            for i in range(count)
        ]
        return path, "application/json", bodies, {}
    if platform == "whatsapp":
        path = "/whatsapp/v23.0/100200300/messages"
        bodies = [
            json.dumps({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": f"49151{1000000 + i}",
                "type": "template",
                "template": {
                    "name": "musterstadt_post",
                    "language": {"code": "de"},
                    "components": [
                        {
                            "type": "header",
                            "parameters": [
                                {
                                    "type": "image",
                                    "image": {
                                        "link": "https://www.musterstadt.de/a.jpg"
                                    },
                                }
                            ],
                        },
                        {
                            "type": "body",
                            "parameters": [
                                {"type": "text", "text": f"Baustelle {i}"},
                                {"type": "text", "text": "Vollsperrung ab Montag"},
                            ],
                        },
                        {
                            "type": "button",
                            "sub_type": "url",
                            "index": "0",
                            "parameters": [{"type": "text", "text": f"b/{i}"}],
                        },
                    ],
                },
            })
            for i in range(count)
        ]
        return (
            path,
            "application/json",
            bodies,
            {"Authorization": "Bearer SANDBOX-WA-TOKEN"},
        )
    if platform == "signal":
        bodies = [
            json.dumps({
                "number": "+4915111111111",
                "recipients": [f"+49151{2000000 + i}"],
                "message": f"**Baustelle {i}**: Vollsperrung ab Montag",
                "text_mode": "styled",
            })
            for i in range(count)
        ]
        return "/signal/v2/send", "application/json", bodies, {}
    if platform == "threema":
        from urllib.parse import urlencode

        bodies = [
            urlencode({
                "from": "*MUSTER1",
                "to": f"AB{i:06d}",
                "secret": "SANDBOX-THREEMA",
                "text": f"Baustelle {i}: Vollsperrung ab Montag",
            })
            for i in range(count)
        ]
        return "/threema/send_simple", "application/x-www-form-urlencoded", bodies, {}
    raise SystemExit(f"unknown platform {platform}")


def requests_client(url, platform, seconds, start, results):
    path, content_type, bodies, headers = payloads(platform)
    session = requests.Session()
    headers = dict(headers, **{"Content-Type": content_type})
    session.post(
        url + path, data=bodies[0].encode(), headers=headers
    )  # connect before the clock starts
    start.wait()
    sent, deadline, index = 0, time.perf_counter() + seconds, 0
    began = time.perf_counter()
    while time.perf_counter() < deadline:
        answer = session.post(url + path, data=bodies[index].encode(), headers=headers)
        if answer.status_code >= 300:
            raise SystemExit(f"unexpected answer {answer.status_code}: {answer.text}")
        index = (index + 1) % len(bodies)
        sent += 1
    results.put((sent, time.perf_counter() - began))


def raw_client(host, port, platform, seconds, start, results):
    """A minimal keep-alive HTTP/1.1 client: one request in flight, like a worker."""
    path, content_type, bodies, headers = payloads(platform)
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    requests_bytes = [
        (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {content_type}\r\n{extra}"
            f"Content-Length: {len(body.encode())}\r\n\r\n"
        ).encode()
        + body.encode()
        for body in bodies
    ]
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buffer = bytearray()

    def exchange(data):
        nonlocal buffer
        sock.sendall(data)
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end >= 0:
                head = bytes(buffer[:end]).lower()
                at = head.find(b"content-length:")
                length = (
                    int(
                        head[
                            at + 15 : head.find(b"\r\n", at)
                            if head.find(b"\r\n", at) > 0
                            else None
                        ]
                    )
                    if at >= 0
                    else 0
                )
                if len(buffer) >= end + 4 + length:
                    status = int(buffer[9:12])
                    del buffer[: end + 4 + length]
                    return status
            chunk = sock.recv(65536)
            if not chunk:
                raise SystemExit("sandbox closed the connection")
            buffer += chunk

    exchange(requests_bytes[0])
    start.wait()
    sent, index = 0, 0
    began = time.perf_counter()
    deadline = began + seconds
    while time.perf_counter() < deadline:
        status = exchange(requests_bytes[index])
        if status >= 300:
            raise SystemExit(f"unexpected status {status}")
        index = (index + 1) % len(requests_bytes)
        sent += 1
    results.put((sent, time.perf_counter() - began))
    sock.close()


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as file:
        fields = file.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(sandbox, kind, processes, platform, seconds):
    context = multiprocessing.get_context("fork")
    start, results = context.Event(), context.Queue()
    if kind == "raw":
        target, args = (
            raw_client,
            (sandbox.host, sandbox.port, platform, seconds, start, results),
        )
    else:
        target, args = requests_client, (sandbox.url, platform, seconds, start, results)
    workers = [context.Process(target=target, args=args) for _ in range(processes)]
    for worker in workers:
        worker.start()
    time.sleep(0.5)  # every client connected and warmed up
    sandbox.reset(keep_config=True)
    cpu_before = cpu_seconds(sandbox.process.pid)
    start.set()
    outcomes = [results.get(timeout=seconds + 60) for _ in workers]
    cpu_used = cpu_seconds(sandbox.process.pid) - cpu_before
    for worker in workers:
        worker.join()
    sent = sum(count for count, _ in outcomes)
    elapsed = max(took for _, took in outcomes)
    return {
        "sent": sent,
        "rate": sent / elapsed,
        "cpu_per_message": cpu_used / sent if sent else 0.0,
    }


def table(rows, headers):
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows)]

    def line(cells):
        return "  ".join(
            str(c).rjust(w) if i else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths))
        )

    return "\n".join(
        [line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows]
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seconds", type=float, default=3.0, help="length of each measurement"
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=4,
        help="client processes for the capacity runs",
    )
    parser.add_argument(
        "--platform",
        default="telegram",
        choices=["telegram", "whatsapp", "signal", "threema", "all"],
    )
    options = parser.parse_args()
    platforms = (
        ["telegram", "whatsapp", "signal", "threema"]
        if options.platform == "all"
        else [options.platform]
    )
    print(
        f"messenger sandbox benchmark: {os.cpu_count()} CPU cores, {options.seconds:g} s per run, "
        f"{options.processes} client processes for capacity\n"
    )
    rows, summary = [], []
    with SandboxProcess() as sandbox:
        for platform in platforms:
            single = run(sandbox, "requests", 1, platform, options.seconds)
            raw = run(sandbox, "raw", options.processes, platform, options.seconds)
            many = run(
                sandbox, "requests", options.processes, platform, options.seconds
            )
            per_core = (
                1.0 / raw["cpu_per_message"] if raw["cpu_per_message"] else float("nan")
            )
            for label, result, clients in (
                ("(a) one requests.Session, sequential", single, 1),
                ("(b) raw keep-alive clients, concurrent", raw, options.processes),
                ("(b) requests.Session clients, concurrent", many, options.processes),
            ):
                rows.append([
                    platform,
                    label,
                    clients,
                    result["sent"],
                    f"{result['rate']:.0f}",
                    f"{result['cpu_per_message'] * 1e6:.0f}",
                ])
            capacity = max(raw["rate"], many["rate"])
            summary.append([
                platform,
                f"{single['rate']:.0f}",
                f"{capacity:.0f}",
                f"{capacity / single['rate']:.1f}",
                f"{per_core:.0f}",
                f"{per_core / single['rate']:.1f}",
            ])
    print(
        table(
            rows,
            ["platform", "run", "clients", "messages", "msg/s", "sandbox CPU µs/msg"],
        )
    )
    print()
    print(
        table(
            summary,
            [
                "platform",
                "(a) one worker msg/s",
                "(b) measured capacity msg/s",
                "ratio b/a",
                "(c) capacity on one core msg/s",
                "ratio c/a",
            ],
        )
    )
    print("\nTarget: the sandbox keeps up with at least three workers (ratio >= 3).")


if __name__ == "__main__":
    main()
