#!/usr/bin/env python3
"""Fails when the crate's modules import each other in a circle.

The edges come from two readers: the module graph `cargo modules dependencies` prints (its
`uses` edges are the crate's `use` declarations, each resolved by rust-analyzer to the
module that defines the item), and the paths written out in code (`crate::a::b::f()`,
`super::x::Y`), which that graph does not show, each taken to the longest module it names.
A module using its own submodules (a `mod.rs` re-exporting or routing them) is structure,
not a cycle: edges between a module and its ancestors or descendants are not counted.
`cargo modules dependencies --acyclic` itself checks items, where every type and its own
methods form a "cycle", so it cannot be used for this.

Usage: acyclic.py [CRATE_DIR]   (default: this crate)
"""
import pathlib
import re
import subprocess
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
dot = subprocess.run(
    ["cargo", "modules", "dependencies", "--lib", "--no-externs", "--no-sysroot",
     "--no-fns", "--no-types", "--no-traits", "--no-owns", "--layout", "dot",
     "--manifest-path", str(root)],
    check=True, capture_output=True, text=True,
).stdout
crate = re.search(r'label="crate\|(\w+)"', dot).group(1)
modules = set(re.findall(r'^\s*"([^"]+)" \[label="[^"]*mod\|', dot, re.M)) | {crate}
edges = {m: set() for m in modules}


def add(a, b):
    related = a == b or b.startswith(a + "::") or a.startswith(b + "::")
    if not related:
        edges.setdefault(a, set()).add(b)
        edges.setdefault(b, set())


for a, b in re.findall(r'^\s*"([^"]+)" -> "([^"]+)" \[label="uses"', dot, re.M):
    add(a, b)

# Paths written out in code, outside `#[cfg(test)]` modules.
for path in sorted((root / "src").rglob("*.rs")):
    parts = list(path.relative_to(root / "src").with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    if parts == [] and path.name == "main.rs":
        continue
    here = "::".join([crate] + parts)
    if here not in modules:
        continue
    text = re.split(r"#\[cfg\(test\)\]\s*mod \w+", path.read_text())[0]
    text = re.sub(r"//[^\n]*", "", text)
    for kind, rest in re.findall(r"\b(crate|super)((?:::\w+)+)", text):
        base = crate if kind == "crate" else "::".join(here.split("::")[:-1])
        names = rest.strip(":").split("::")
        target = None
        for i in range(len(names), 0, -1):
            candidate = "::".join([base] + names[:i])
            if candidate in modules:
                target = candidate
                break
        if target:
            add(here, target)

index, low, stack, on_stack, cycles, counter = {}, {}, [], set(), [], [0]


def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on_stack.add(v)
    for w in sorted(edges[v]):
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on_stack:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        component = []
        while True:
            w = stack.pop()
            on_stack.discard(w)
            component.append(w)
            if w == v:
                break
        if len(component) > 1:
            cycles.append(sorted(component))


sys.setrecursionlimit(10000)
for v in sorted(edges):
    if v not in index:
        visit(v)
for component in cycles:
    print("import cycle among:", ", ".join(component))
    for a in component:
        for b in sorted(edges[a] & set(component)):
            print(f"  {a} -> {b}")
if cycles:
    sys.exit(1)
count = sum(len(e) for e in edges.values())
if count == 0:
    sys.exit("acyclic: no edges found; is this the right crate?")
print(f"acyclic: {len(modules)} modules, {count} edges between them, no cycle")
