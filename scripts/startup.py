#!/usr/bin/env python3
"""Start-up time of `tern serve` to its first answer on /health, polled in-process every 0.5 ms
(no process per poll), and idle memory a second later. Ends the relay by its pid.
Usage: startup.py TERN DATA_DIR [runs] [port]"""
import socket
import subprocess
import sys
import time

tern, data = sys.argv[1], sys.argv[2]
runs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
port = int(sys.argv[4]) if len(sys.argv) > 4 else 17782


def healthy():
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


for _ in range(runs):
    t0 = time.perf_counter()
    relay = subprocess.Popen([tern, "serve", "--listen", f"127.0.0.1:{port}", "--data", data, "--log-level", "warning"])
    while not healthy():
        if relay.poll() is not None:
            sys.exit("relay exited")
        time.sleep(0.0005)
    elapsed = (time.perf_counter() - t0) * 1000
    time.sleep(1)
    status = dict(line.split(":", 1) for line in open(f"/proc/{relay.pid}/status") if ":" in line)
    mb = lambda key: int(status[key].split()[0]) / 1024
    print(f"startup_to_health_ms {elapsed:.1f}  VmRSS {mb('VmRSS'):.1f} MB  RssAnon {mb('RssAnon'):.1f} MB  "
          f"RssFile {mb('RssFile'):.1f} MB")
    relay.terminate()
    relay.wait()
