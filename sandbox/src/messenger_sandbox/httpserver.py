"""A small HTTP/1.1 server on asyncio.Protocol: keep-alive, Content-Length and chunked bodies.

http.server answers a few hundred requests a second; the sandbox has to outpace several
workers that each send with one keep-alive ``requests.Session``, so it parses requests itself.
It understands what the platform clients send and no more: one request at a time per
connection (pipelined requests wait their turn), bodies by Content-Length or chunked,
``Expect: 100-continue``, ``Connection: close``.

``handler(request)`` returns a ``Response`` or an awaitable of one (for added latency or
outbound webhooks); the protocol never blocks the event loop itself.
"""

import asyncio
import email.parser
import email.policy
import email.utils
import inspect
import json
import logging
import time
from http import HTTPStatus
from urllib.parse import parse_qsl

log = logging.getLogger("messenger_sandbox")

MAX_HEAD = 64 * 1024
MAX_BODY = 32 * 1024 * 1024
SERVER_NAME = "messenger-sandbox"

_REASONS = {status.value: status.phrase for status in HTTPStatus}


class BadRequest(Exception):
    """The request cannot be read; answered with ``status`` and a plain-text ``message``."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


class Request:
    __slots__ = (
        "_form",
        "_query",
        "body",
        "headers",
        "keep_alive",
        "method",
        "path",
        "query_string",
        "target",
        "version",
    )

    def __init__(self, method, target, version, headers, body=b""):
        self.method = method
        self.target = target
        path, _, query = target.partition("?")
        self.path = path
        self.query_string = query
        self.version = version
        self.headers = headers  # lower-case names
        self.body = body
        connection = headers.get("connection", "").lower()
        if version == "HTTP/1.0":
            self.keep_alive = "keep-alive" in connection
        else:
            self.keep_alive = "close" not in connection
        self._query = None
        self._form = None

    @property
    def content_type(self):
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    def query(self):
        if self._query is None:
            self._query = dict(parse_qsl(self.query_string, keep_blank_values=True))
        return self._query

    def json(self):
        """The body as JSON; raises BadRequest when it is not."""
        try:
            return json.loads(self.body or b"null")
        except ValueError as error:
            raise BadRequest(f"Body is not JSON: {error}") from None

    def form(self):
        """Fields of a form-urlencoded or multipart body (files as bytes)."""
        if self._form is None:
            if self.content_type == "multipart/form-data":
                self._form = _parse_multipart(
                    self.headers.get("content-type", ""), self.body
                )
            else:
                try:
                    text = self.body.decode("utf-8")
                except UnicodeDecodeError:
                    raise BadRequest("Form body is not UTF-8") from None
                self._form = dict(parse_qsl(text, keep_blank_values=True))
        return self._form

    def params(self):
        """Query string, then form or JSON body: how the Telegram Bot API reads its parameters."""
        params = dict(self.query())
        if not self.body:
            return params
        if self.content_type == "application/json":
            data = self.json()
            if not isinstance(data, dict):
                raise BadRequest("JSON body must be an object")
            params.update(data)
        else:
            params.update(self.form())
        return params


def _parse_multipart(content_type, body):
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise BadRequest("Malformed multipart body")
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        if part.get_filename():
            fields[name] = payload
        else:
            fields[name] = payload.decode(
                part.get_content_charset() or "utf-8", "replace"
            )
    return fields


class Response:
    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(
        self,
        status=200,
        body=b"",
        content_type="text/plain; charset=utf-8",
        headers=None,
    ):
        self.status = status
        self.body = body if isinstance(body, bytes) else body.encode("utf-8")
        self.content_type = content_type
        self.headers = headers or ()

    @classmethod
    def json(cls, data, status=200, headers=None):
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode(
            "utf-8"
        )
        return cls(status, body, "application/json", headers)

    @classmethod
    def html(cls, text, status=200, headers=None):
        return cls(status, text, "text/html; charset=utf-8", headers)

    @classmethod
    def redirect(cls, location, status=303):
        return cls(status, b"", "text/plain; charset=utf-8", (("Location", location),))


class _Clock:
    """The Date header, formatted once a second instead of once a request."""

    second = 0
    value = b""

    @classmethod
    def date(cls):
        now = int(time.time())
        if now != cls.second:
            cls.second = now
            cls.value = email.utils.formatdate(now, usegmt=True).encode("ascii")
        return cls.value


def serialize(response, keep_alive, head_only=False):
    reason = _REASONS.get(response.status, "Unknown")
    lines = [
        f"HTTP/1.1 {response.status} {reason}\r\n".encode("ascii"),
        b"Server: "
        + SERVER_NAME.encode("ascii")
        + b"\r\nDate: "
        + _Clock.date()
        + b"\r\n",
        f"Content-Type: {response.content_type}\r\nContent-Length: {len(response.body)}\r\n".encode(
            "latin-1"
        ),
    ]
    for name, value in response.headers:
        lines.append(f"{name}: {value}\r\n".encode("latin-1"))
    if not keep_alive:
        lines.append(b"Connection: close\r\n")
    lines.append(b"\r\n")
    if not head_only:
        lines.append(response.body)
    return b"".join(lines)


def _decode_chunked(buffer, start):
    """(body, end) of a chunked body beginning at ``start``, or None when more data is needed."""
    body = []
    position = start
    while True:
        line_end = buffer.find(b"\r\n", position)
        if line_end < 0:
            return None
        size_text = buffer[position:line_end].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise BadRequest("Malformed chunk size") from None
        position = line_end + 2
        if size == 0:
            # Skip trailers up to the empty line.
            while True:
                line_end = buffer.find(b"\r\n", position)
                if line_end < 0:
                    return None
                if line_end == position:
                    return b"".join(body), line_end + 2
                position = line_end + 2
        if len(buffer) < position + size + 2:
            return None
        body.append(buffer[position : position + size])
        position += size + 2
        if sum(map(len, body)) > MAX_BODY:
            raise BadRequest("Body too large", 413)


class HttpProtocol(asyncio.Protocol):
    def __init__(self, handler):
        self.handler = handler
        self.transport = None
        self.buffer = bytearray()
        self.busy = False  # a handler is awaiting; further requests wait in the buffer
        self.head = (
            None  # parsed request line and headers while the body is still arriving
        )
        self.task = None
        self.closed = False

    def connection_made(self, transport):
        self.transport = transport

    def connection_lost(self, exc):
        self.closed = True
        if self.task is not None:
            self.task.cancel()

    def data_received(self, data):
        self.buffer += data
        if not self.busy:
            self._process()

    def _process(self):
        while not self.closed and not self.busy:
            try:
                request = self._next_request()
            except BadRequest as error:
                self._write(Response(error.status, str(error)), keep_alive=False)
                return
            if request is None:
                return
            try:
                result = self.handler(request)
            except Exception:
                log.exception(
                    "Sandbox handler failed for %s %s", request.method, request.target
                )
                result = Response(500, "Internal sandbox error")
            if inspect.isawaitable(result):
                self.busy = True
                self.task = asyncio.ensure_future(self._finish(request, result))
                return
            self._write(result, request.keep_alive, request.method == "HEAD")

    async def _finish(self, request, awaitable):
        try:
            response = await awaitable
        except asyncio.CancelledError:
            return
        except Exception:
            log.exception(
                "Sandbox handler failed for %s %s", request.method, request.target
            )
            response = Response(500, "Internal sandbox error")
        self.task = None
        self.busy = False
        if self.closed:
            return
        self._write(response, request.keep_alive, request.method == "HEAD")
        self._process()

    def _write(self, response, keep_alive, head_only=False):
        if self.closed:
            return
        self.transport.write(serialize(response, keep_alive, head_only))
        if not keep_alive:
            self.closed = True
            self.transport.close()

    def _next_request(self):
        buffer = self.buffer
        if self.head is None:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_HEAD:
                    raise BadRequest("Request head too large", 431)
                return None
            self.head = self._parse_head(bytes(buffer[:end])) + (end + 4,)
        method, target, version, headers, start = self.head
        if "transfer-encoding" in headers:
            if "chunked" not in headers["transfer-encoding"].lower():
                raise BadRequest("Only chunked transfer coding is understood", 501)
            decoded = _decode_chunked(buffer, start)
            if decoded is None:
                return None
            body, end = decoded
        else:
            length_text = headers.get("content-length", "0")
            try:
                length = int(length_text)
            except ValueError:
                raise BadRequest("Malformed Content-Length") from None
            if length < 0:
                raise BadRequest("Malformed Content-Length")
            if length > MAX_BODY:
                raise BadRequest("Body too large", 413)
            end = start + length
            if len(buffer) < end:
                if (
                    headers.get("expect", "").lower() == "100-continue"
                    and len(buffer) == start
                ):
                    self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    headers["expect"] = ""
                return None
            body = bytes(buffer[start:end])
        del buffer[:end]
        self.head = None
        return Request(method, target, version, headers, body)

    @staticmethod
    def _parse_head(head):
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise BadRequest("Malformed request line")
        headers = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon:
                raise BadRequest("Malformed header line")
            name = name.strip().lower()
            value = value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        return parts[0], parts[1], parts[2], headers


async def serve(handler, host="127.0.0.1", port=8099):
    """Start listening; returns the asyncio Server."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: HttpProtocol(handler), host, port, backlog=1024, reuse_address=True
    )
