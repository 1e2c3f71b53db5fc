#!/usr/bin/env python3
"""Fails when the modules of one crate import each other in a cycle.

Usage: python3 scripts/module_cycles.py crates/core/src [module-whose-edges-to-print]

A module is a file (`a/b.rs` or `a/b/mod.rs` is `a::b`). It depends on every module its code
names through `crate::…` or `super::…`, and a parent on the child items it uses (declaring
`mod x;` is not a use). Test modules and comments are ignored. Approximate by design (it reads
paths, not types), and enough to keep the layering of docs/ARCHITECTURE.md honest.
"""

import os
import re
import sys


def modules(root):
    """Module path → file."""
    found = {}
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith(".rs"):
                path = os.path.join(folder, name)
                parts = os.path.relpath(path, root)[:-3].split("/")
                if parts[-1] in ("mod", "lib", "main"):
                    parts = parts[:-1]
                found["::".join(parts)] = path
    return found


def code_of(path):
    text = open(path).read()
    text = re.sub(r"#\[cfg\(test\)\]\s*mod tests\s*\{.*", "", text, flags=re.S)
    text = re.sub(r"^\s*(pub(\([^)]*\))? )?mod \w+;\s*$", "", text, flags=re.M)
    return re.sub(r"//.*", "", text)


def paths_after(text, prefix):
    """Every path written as `prefix::a::b` or `prefix::a::{b, c}` or `prefix::{b, c}`."""
    pattern = r"(?<![\w:])" + prefix + r"::(?:([\w:]*\w)(?:::)?)?(?:\{([^}]*)\})?"
    for match in re.finditer(pattern, text):
        base = match.group(1) or ""
        names = [n.strip().split(" ")[0] for n in (match.group(2) or "").split(",")]
        names = [n for n in names if n]
        if not names:
            yield base
        for name in names:
            yield f"{base}::{name}" if base else name


def join(*parts):
    return "::".join(p for p in parts if p)


def parent_of(module):
    return module.rsplit("::", 1)[0] if "::" in module else ""


def dependencies(mods):
    def resolve(path):
        """The longest module the path starts with."""
        parts = path.split("::")
        for end in range(len(parts), -1, -1):
            candidate = "::".join(parts[:end])
            if candidate in mods:
                return candidate
        return None

    edges = {m: set() for m in mods}
    for module, path in mods.items():
        code = code_of(path)
        named = list(paths_after(code, "crate"))
        named += [join(parent_of(module), p) for p in paths_after(code, "super")]
        for child in mods:
            if child and parent_of(child) == module:
                local = child.rsplit("::", 1)[-1]
                named += [join(child, p) for p in paths_after(code, local)]
        for target in map(resolve, named):
            if target is not None and target != module:
                edges[module].add(target)
    return edges


def cycles(edges):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
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
                found.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in edges:
        if v not in index:
            visit(v)
    return found


def main():
    root = sys.argv[1]
    edges = dependencies(modules(root))
    found = cycles(edges)
    for component in found:
        print(f"import cycle between modules of {root}: {component}")
        for module in component:
            print(f"    {module or 'lib'} -> {sorted(t for t in edges[module] if t in component)}")
    print(len(found), "import cycles in", root)
    if len(sys.argv) > 2:
        print(sys.argv[2], "->", sorted(edges[sys.argv[2]]))
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
