"""A small HTTP/1.1 load generator on asyncio, run as its own process:

    python -m tests.benchmarks.loadgen --port 8000 --host alpha.localhost --path /health/ \
        --concurrency 8 --seconds 20 [--warmup 3]

Closed loop: each of ``concurrency`` workers sends a GET, reads the whole response, and sends
the next one, reusing its connection while the server keeps it open (gunicorn's sync workers
close it after each response, so then it reconnects, as a browser would). Prints one JSON
object: requests, errors, statuses, requests/s, latency percentiles in ms."""

import argparse
import asyncio
import json
import statistics
import sys
import time


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool, int]:
    """(status, server keeps the connection, body bytes)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    keep = headers.get("connection", "").lower() != "close"
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
        return status, keep, len(body)
    if headers.get("transfer-encoding", "").lower() == "chunked":
        size = 0
        while True:
            line = await reader.readuntil(b"\r\n")
            chunk = int(line.split(b";")[0], 16)
            if chunk == 0:
                await reader.readuntil(b"\r\n")
                return status, keep, size
            size += len(await reader.readexactly(chunk + 2)) - 2
    body = await reader.read()
    return status, False, len(body)


async def _worker(args, request: bytes, deadline: float, record_after: float, out: dict):
    reader = writer = None
    while True:
        started = time.perf_counter()
        if started >= deadline:
            break
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", args.port)
            writer.write(request)
            await writer.drain()
            status, keep, _size = await _read_response(reader)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            out["errors"] += 1
            if writer is not None:
                writer.close()
            reader = writer = None
            continue
        elapsed = time.perf_counter() - started
        if started >= record_after:
            out["latencies"].append(elapsed)
            out["statuses"][status] = out["statuses"].get(status, 0) + 1
        if not keep:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def _run(args) -> dict:
    request = (
        f"GET {args.path} HTTP/1.1\r\nHost: {args.host}\r\nUser-Agent: carebridge-loadgen\r\n"
        "Accept: text/html\r\nAccept-Encoding: identity\r\n\r\n"
    ).encode()
    out = {"errors": 0, "latencies": [], "statuses": {}}
    now = time.perf_counter()
    record_after = now + args.warmup
    deadline = record_after + args.seconds
    await asyncio.gather(
        *(_worker(args, request, deadline, record_after, out) for _ in range(args.concurrency))
    )
    latencies = sorted(out["latencies"])

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {
        "path": args.path,
        "host": args.host,
        "concurrency": args.concurrency,
        "seconds": args.seconds,
        "requests": len(latencies),
        "errors": out["errors"],
        "statuses": {str(k): v for k, v in sorted(out["statuses"].items())},
        "requests_per_s": len(latencies) / args.seconds,
        "mean_ms": statistics.fmean(latencies) * 1000 if latencies else None,
        "p50_ms": pct(0.50) if latencies else None,
        "p95_ms": pct(0.95) if latencies else None,
        "p99_ms": pct(0.99) if latencies else None,
        "max_ms": latencies[-1] * 1000 if latencies else None,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.loadgen")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", required=True, help="the Host header (the tenant's domain)")
    parser.add_argument("--path", required=True)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=3)
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(_run(args))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
