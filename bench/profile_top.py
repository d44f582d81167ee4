#!/usr/bin/env python3
"""Prints the functions with the most self time in a V8 .cpuprofile (python3 bench/profile_top.py FILE [N])."""
import collections, json, sys

prof = json.load(open(sys.argv[1]))
top = int(sys.argv[2]) if len(sys.argv) > 2 else 40
nodes = {n["id"]: n for n in prof["nodes"]}
dt = collections.Counter()
deltas = prof.get("timeDeltas", [])
for sample, delta in zip(prof["samples"], deltas[1:] + [0]):
    dt[sample] += delta
self_time = collections.Counter()
for nid, us in dt.items():
    cf = nodes[nid]["callFrame"]
    url = cf["url"].split("/")[-1]
    self_time[f'{cf["functionName"] or "(anon)"} {url}:{cf["lineNumber"] + 1}'] += us
total = sum(self_time.values())
for name, us in self_time.most_common(top):
    print(f"{us / 1000:9.1f} ms {100 * us / total:5.1f}%  {name}")
print(f"{total / 1000:9.1f} ms total")
