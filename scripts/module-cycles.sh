#!/usr/bin/env bash
# Prints the top-level module -> module edges of src/ (from `crate::X` paths) and every import cycle among
# top-level modules (strongly connected components of more than one module), and every edge that goes up the
# layers src/lib.rs writes down (values < crowdsec < sources < scrape < metrics < web < the top). Exit 1 when
# there is a cycle or an upward edge.
set -euo pipefail
cd "$(dirname "$0")/../src"
edges=$(find . -name '*.rs' | while read -r f; do
  top=$(echo "$f" | sed 's|^\./||; s|/.*||; s|\.rs$||')
  { grep -v '^[[:space:]]*//' "$f" | grep -o 'crate::[a-z_]*' || true; } | sed 's/crate:://' | sort -u | while read -r t; do
    if [ -n "$t" ] && [ "$t" != "$top" ]; then echo "$top $t"; fi
  done
done | sort -u)
echo "$edges" | python3 -c '
import sys, collections
g = collections.defaultdict(set)
for line in sys.stdin:
    if line.strip():
        a, b = line.split(); g[a].add(b)
nodes = set(g) | {b for s in g.values() for b in s}
index, low, stack, on, out, n = {}, {}, [], set(), [], [0]
def visit(v):
    index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
    for w in sorted(g.get(v, ())):
        if w not in index: visit(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: out.append(sorted(comp))
for v in sorted(nodes):
    if v not in index: visit(v)
print(sum(len(s) for s in g.values()), "edges among", len(nodes), "top-level modules")
for c in out:
    print("cycle:", " <-> ".join(c), "|", "; ".join(f"{a}->{b}" for a in c for b in sorted(g[a]) if b in c))
# The layers of src/lib.rs; a module not listed is in the top layer, which may import any layer below it.
LAYER = {"values": 1, "crowdsec": 2, "sources": 3, "scrape": 4, "metrics": 5, "web": 6}
up = [(a, b) for a in sorted(g) for b in sorted(g[a]) if LAYER.get(a, 7) < LAYER.get(b, 7)]
for a, b in up:
    print(f"upward: {a} (layer {LAYER.get(a, 7)}) imports {b} (layer {LAYER.get(b, 7)})")
sys.exit(1 if out or up else 0)
'
