#!/usr/bin/env python3
# The smallest strfry write-policy plugin: accepts every event (for measuring a plugin's cost).
import json
import sys

for line in sys.stdin:
    req = json.loads(line)
    print(json.dumps({"id": req["event"]["id"], "action": "accept"}), flush=True)
