#!/usr/bin/env python3
"""Prints the object kinds holding the most memory in a V8 .heapsnapshot
(self size summed by type and constructor name): python3 bench/heap_top.py FILE [N]."""
import collections, json, sys

snap = json.load(open(sys.argv[1]))
top = int(sys.argv[2]) if len(sys.argv) > 2 else 30
meta = snap["snapshot"]["meta"]
fields = meta["node_fields"]
types = meta["node_types"][0]
strings = snap["strings"]
nodes = snap["nodes"]
width = len(fields)
t_i, n_i, s_i = fields.index("type"), fields.index("name"), fields.index("self_size")
size = collections.Counter()
count = collections.Counter()
for i in range(0, len(nodes), width):
    kind = types[nodes[i + t_i]]
    name = strings[nodes[i + n_i]] if kind in ("object", "closure", "native", "hidden") else ""
    key = f"{kind} {name[:60]}"
    size[key] += nodes[i + s_i]
    count[key] += 1
total = sum(size.values())
for key, s in size.most_common(top):
    print(f"{s / 1048576:9.1f} MiB {count[key]:9d}  {key}")
print(f"{total / 1048576:9.1f} MiB total")
