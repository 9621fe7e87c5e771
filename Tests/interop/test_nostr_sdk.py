"""tern against rust-nostr's nostr-sdk (PyPI `nostr-sdk`): NIP-77 negentropy sync both ways,
with a filter, and NIP-45 COUNT. Starts the real `tern serve` on an ephemeral loopback port
with a store prepared by `tern import`, and stops it (only that process) at the end.

Run: TERN=path/to/tern python3 Tests/interop/test_nostr_sdk.py   (`make interop`)
"""

import asyncio
import datetime
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import nostr_sdk as n

TERN = os.environ.get("TERN", ".build/debug/tern")
TIMEOUT = datetime.timedelta(seconds=10)


def note(keys, content, created_at, kind=1, tags=()):
    builder = n.EventBuilder(n.Kind(kind), content).custom_created_at(n.Timestamp.from_secs(created_at))
    if tags:
        builder = builder.tags(list(tags))
    return builder.finalize(keys)


class Relay:
    """`tern serve` on 127.0.0.1:0 over `data`; its port read from its log."""

    def __init__(self, data):
        self.process = subprocess.Popen(
            [TERN, "serve", "--listen", "127.0.0.1:0", "--data", data],
            stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        self.port = None
        while self.port is None:
            line = self.process.stderr.readline()
            if not line or time.monotonic() > deadline:
                raise RuntimeError("tern serve did not start")
            found = re.search(r"address=127\.0\.0\.1:(\d+)", line)
            if found:
                self.port = int(found.group(1))
        # Keep draining its log so that it never blocks on a full pipe.
        self.drain = threading.Thread(target=self.process.stderr.read, daemon=True)
        self.drain.start()

    @property
    def url(self):
        return n.RelayUrl.parse(f"ws://127.0.0.1:{self.port}")

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


class NostrSdkInterop(unittest.TestCase):
    # Not IsolatedAsyncioTestCase: its loop runs in debug mode, which refuses the calls nostr-sdk
    # makes into it from its own threads (its database callbacks).
    def run_async(self, scenario):
        async def whole():
            await self.prepare()
            try:
                await scenario()
            finally:
                await self.client.shutdown()
                self.relay.stop()
        try:
            asyncio.run(whole())
        finally:
            shutil.rmtree(self.work, ignore_errors=True)

    async def prepare(self):
        self.work = tempfile.mkdtemp(prefix="tern-interop-")
        self.alice = n.Keys.generate()
        self.bob = n.Keys.generate()
        now = int(time.time())
        # Events only the relay has, both have, and only the client has; many share a second.
        self.relay_only = [note(self.bob, f"relay {i}", now - 1000 + i // 4) for i in range(120)]
        self.shared = [note(self.alice, f"shared {i}", now - 900 + i // 4) for i in range(300)]
        self.client_only = [note(self.alice, f"client {i}", now - 800 + i, kind=7) for i in range(45)]
        self.target = self.shared[0]
        self.reactions = [
            note(n.Keys.generate(), "+", now - 700 + i, kind=7, tags=[n.Tag.event(self.target.id())])
            for i in range(30)
        ]
        data = os.path.join(self.work, "relay")
        lines = "\n".join(e.as_json() for e in self.relay_only + self.shared + self.reactions) + "\n"
        imported = subprocess.run([TERN, "import", "-", "--data", data], input=lines, text=True, capture_output=True)
        self.assertEqual(imported.returncode, 0, imported.stderr)
        self.relay = Relay(data)
        # nostr-sdk calls the database back from its own threads: they need this test's loop.
        n.uniffi_set_event_loop(asyncio.get_running_loop())
        self.database = await n.NostrLmdb.open(os.path.join(self.work, "client"))
        for event in self.shared + self.client_only:
            await self.database.save_event(event)
        self.client = n.ClientBuilder().database(self.database).build()
        await self.client.add_relay(self.relay.url)
        await self.client.connect()

    def ids(self, events):
        return {e.id().to_hex() for e in events}

    def test_sync_both_ways_moves_exactly_the_difference(self):
        self.run_async(self.sync_both_ways)

    def test_sync_down_with_a_filter(self):
        self.run_async(self.sync_down_with_a_filter)

    def test_count(self):
        self.run_async(self.count)

    async def sync_both_ways(self):
        options = n.SyncOptions().direction(n.SyncDirection.BOTH)
        output = await self.client.sync(n.Filter().kinds([n.Kind(1), n.Kind(7)]), opts=options)
        self.assertEqual(output.failed, {})
        report = output.report
        self.assertEqual({i.to_hex() for i in report.local}, self.ids(self.client_only), "only the client had them")
        self.assertEqual({i.to_hex() for i in report.remote}, self.ids(self.relay_only + self.reactions),
                         "only the relay had them")
        self.assertEqual({i.to_hex() for i in report.received}, self.ids(self.relay_only + self.reactions))
        self.assertEqual({i.to_hex() for i in report.sent}, self.ids(self.client_only))
        everything = n.Filter().kinds([n.Kind(1), n.Kind(7)])
        total = len(self.relay_only) + len(self.shared) + len(self.client_only) + len(self.reactions)
        self.assertEqual(await self.database.count(everything), total)
        relay = await self.client.relay(self.relay.url)
        self.assertEqual(await relay.count_events(everything, TIMEOUT), total)

    async def sync_down_with_a_filter(self):
        options = n.SyncOptions().direction(n.SyncDirection.DOWN)
        output = await self.client.sync(n.Filter().author(self.bob.public_key()), opts=options)
        report = output.report
        self.assertEqual({i.to_hex() for i in report.remote}, self.ids(self.relay_only))
        self.assertEqual({i.to_hex() for i in report.received}, self.ids(self.relay_only))
        self.assertEqual(report.local, [])
        self.assertEqual(await self.database.count(n.Filter().author(self.bob.public_key())), len(self.relay_only))

    async def count(self):
        relay = await self.client.relay(self.relay.url)
        self.assertEqual(await relay.count_events(n.Filter().kind(n.Kind(1)), TIMEOUT),
                         len(self.relay_only) + len(self.shared))
        reactions = n.Filter().kind(n.Kind(7)).event(self.target.id())
        self.assertEqual(await relay.count_events(reactions, TIMEOUT), len(self.reactions))
        self.assertEqual(await relay.count_events(n.Filter().author(self.bob.public_key()), TIMEOUT),
                         len(self.relay_only))


if __name__ == "__main__":
    unittest.main(verbosity=2)
