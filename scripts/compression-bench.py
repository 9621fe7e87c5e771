#!/usr/bin/env python3
"""Bytes on the wire and relay CPU for REQ answers, with and without permessage-deflate.

Usage: compression-bench.py HOST:PORT RELAY_PID [--reqs N] [--limit L]
(scripts/compression-bench.sh prepares a store and a relay and calls this.)

A client from the `websockets` package (which offers permessage-deflate by default) talks to
the relay through a counting TCP proxy on loopback; the relay's CPU comes from /proc/PID/stat.
"""
import argparse
import asyncio
import json
import os

import websockets


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(host, port, pid, reqs, limit, compress):
    counted = {"to_client": 0}

    async def pipe(reader, writer, key):
        try:
            while data := await reader.read(65536):
                if key:
                    counted[key] += len(data)
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    async def handle(client_reader, client_writer):
        relay_reader, relay_writer = await asyncio.open_connection(host, port)
        await asyncio.gather(pipe(client_reader, relay_writer, None), pipe(relay_reader, client_writer, "to_client"))

    proxy = await asyncio.start_server(handle, "127.0.0.1", 0)
    proxy_port = proxy.sockets[0].getsockname()[1]
    options = {} if compress else {"compression": None}
    async with websockets.connect(f"ws://127.0.0.1:{proxy_port}/", max_size=2**24, **options) as ws:
        agreed = ws.response.headers.get("Sec-WebSocket-Extensions")
        await ws.recv()  # AUTH challenge
        events = 0
        start_bytes = counted["to_client"]
        start_cpu = cpu_seconds(pid)
        for i in range(reqs):
            await ws.send(json.dumps(["REQ", f"q{i}", {"kinds": [1], "limit": limit}]))
            while True:
                message = json.loads(await ws.recv())
                if message[0] == "EOSE":
                    break
                events += 1
            await ws.send(json.dumps(["CLOSE", f"q{i}"]))
        cpu = cpu_seconds(pid) - start_cpu
        wire = counted["to_client"] - start_bytes
    proxy.close()
    return {"compressed": bool(agreed), "agreed": agreed, "events_per_req": events // reqs,
            "wire_bytes_per_req": wire // reqs, "relay_cpu_ms_per_req": cpu / reqs * 1000}


def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])


async def memory(host, port, pid, connections, compress):
    """Relay RSS growth for `connections` open connections that each got a 50-event answer."""
    options = {} if compress else {"compression": None}
    before = rss_kb(pid)
    sockets = []
    for i in range(connections):
        ws = await websockets.connect(f"ws://{host}:{port}/", max_size=2**24, **options)
        await ws.recv()
        await ws.send(json.dumps(["REQ", "m", {"kinds": [1], "limit": 50}]))
        while json.loads(await ws.recv())[0] != "EOSE":
            pass
        sockets.append(ws)
    after = rss_kb(pid)
    for ws in sockets:
        await ws.close()
    return {"compressed": compress, "connections": connections, "rss_growth_kb_per_connection": (after - before) / connections}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("address")
    parser.add_argument("pid", type=int)
    parser.add_argument("--reqs", type=int, default=100)
    parser.add_argument("--limit", type=int, default=500)
    parser.add_argument("--connections", type=int, default=0, help="measure memory per connection instead")
    args = parser.parse_args()
    host, port = args.address.rsplit(":", 1)
    if args.connections:
        for compress in (False, True):
            print(json.dumps(asyncio.run(memory(host, int(port), args.pid, args.connections, compress))))
        return
    for compress in (False, True, False, True):
        result = asyncio.run(run(host, int(port), args.pid, args.reqs, args.limit, compress))
        print(json.dumps(result))


if __name__ == "__main__":
    main()
