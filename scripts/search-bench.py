#!/usr/bin/env python3
"""NIP-50 search against a running relay: REQs with a `search` filter, one after another on
each of C connections for D seconds; prints queries/s, the median and p99 time to EOSE, and the
relay's CPU per query (from /proc/PID/stat).

Usage: search-bench.py HOST:PORT RELAY_PID [--connections C] [--seconds D]
(scripts/search-bench.sh prepares a store of benchmark notes and a relay and calls this.)
"""
import argparse
import asyncio
import json
import os
import time

import websockets

# Words of the benchmark corpus (`tern bench corpus`), alone and together, and one absent.
QUERIES = ["nostr", "release", "quick brown fox", "テキスト", "emoji", "shipped release", "lazy dog",
           "backslash quoted", "gm", "absentword"]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def client(url, deadline, times, found, index):
    async with websockets.connect(url, max_size=1 << 24, compression=None) as ws:
        n = 0
        while time.monotonic() < deadline:
            query = QUERIES[(index + n) % len(QUERIES)]
            n += 1
            sub = f"s{n}"
            start = time.monotonic()
            await ws.send(json.dumps(["REQ", sub, {"search": query, "limit": 20}]))
            while True:
                message = json.loads(await ws.recv())
                if message[0] == "EVENT" and message[1] == sub:
                    found[0] += 1
                if message[0] in ("EOSE", "CLOSED") and message[1] == sub:
                    break
            times.append(time.monotonic() - start)
            await ws.send(json.dumps(["CLOSE", sub]))


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("address")
    parser.add_argument("pid", type=int)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    url = f"ws://{args.address}"
    times, found = [], [0]
    cpu0 = cpu_seconds(args.pid)
    begin = time.monotonic()
    deadline = begin + args.seconds
    await asyncio.gather(*(client(url, deadline, times, found, i) for i in range(args.connections)))
    elapsed = time.monotonic() - begin
    cpu = cpu_seconds(args.pid) - cpu0
    times.sort()
    print(f"search_queries {len(times)} in {elapsed:.1f} s: {len(times) / elapsed:.0f} queries/s, "
          f"median {times[len(times) // 2] * 1000:.2f} ms, p99 {times[int(len(times) * 0.99)] * 1000:.2f} ms, "
          f"{found[0] / max(1, len(times)):.1f} events per answer, relay CPU {cpu / max(1, len(times)) * 1e6:.0f} us/query")


asyncio.run(main())
