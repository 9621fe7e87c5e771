#!/usr/bin/env python3
# A strfry write-policy plugin written the way strfry's docs/plugins.md shows (its whitelist
# example, in Python): one JSON request per line on stdin, one JSON answer per line on stdout.
# tern's tests run it unchanged. Extras for the tests: content "shadow" is shadow-rejected,
# content "crash" makes it exit, and a request missing strfry's fields is rejected.
import json
import os
import sys

white_list = set(os.environ.get("WHITELIST", "003ba9b2c5bd8afeed41a4ce362a8b7fc3ab59c25b6a1359cae9093f296dac01").split(","))

for line in sys.stdin:
    req = json.loads(line)

    if req["type"] != "new":
        print("unexpected request type", file=sys.stderr)  # will appear in the relay's log
        continue

    res = {"id": req["event"]["id"]}  # must echo the event's id

    if req.get("sourceType") not in ("IP4", "IP6", "Import", "Stream", "Sync") or not req.get("sourceInfo") \
            or not isinstance(req.get("receivedAt"), int):
        res["action"] = "reject"
        res["msg"] = "error: request without strfry's fields"
    elif req["event"]["content"] == "crash":
        sys.exit(3)
    elif req["event"]["content"] == "shadow":
        res["action"] = "shadowReject"
    elif req["event"]["pubkey"] in white_list:
        res["action"] = "accept"
    else:
        res["action"] = "reject"
        res["msg"] = "blocked: not on white-list"

    print(json.dumps(res), flush=True)
