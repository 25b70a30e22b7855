#!/usr/bin/env python3
# Renders Home Assistant MQTT value templates with real Jinja2, as Home Assistant does: `value` is
# the payload text, `value_json` the payload parsed as JSON (absent when it is not JSON). Reads
# one JSON object per line ({"template": ..., "payload": ...}) and writes one JSON line each:
# {"ok": rendered text} or {"error": message}.
import json
import sys

import jinja2

env = jinja2.Environment(undefined=jinja2.Undefined)
cache = {}
for line in sys.stdin:
    job = json.loads(line)
    try:
        t = cache.get(job["template"])
        if t is None:
            t = cache[job["template"]] = env.from_string(job["template"])
        variables = {"value": job["payload"]}
        try:
            variables["value_json"] = json.loads(job["payload"])
        except ValueError:
            pass
        out = {"ok": t.render(**variables).strip()}
    except Exception as e:  # noqa: BLE001 - every failure is reported to the test
        out = {"error": f"{type(e).__name__}: {e}"}
    sys.stdout.write(json.dumps(out) + "\n")
