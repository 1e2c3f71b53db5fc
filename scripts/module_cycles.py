#!/usr/bin/env python3
"""Fails when the modules of one crate import each other in a cycle.

Usage: python3 scripts/module_cycles.py crates/core/src [module-to-print-edges-of]

A module is a file (`a/b.rs` or `a/b/mod.rs` is `a::b`); it depends on every module its code names
through `crate::…` or `super::…`, and a parent on the child items it uses (declaring `mod x;` is
not a use). Test modules and comments are ignored. Approximate by design (it reads paths, not
types), and enough to keep the layering of docs/ARCHITECTURE.md honest.
"""
import re, os, sys
root=sys.argv[1]
mods={}
for dp,_,fs in os.walk(root):
    for f in fs:
        if not f.endswith('.rs'): continue
        p=os.path.join(dp,f); rel=os.path.relpath(p,root)[:-3]
        parts=rel.split('/')
        if parts[-1] in ('mod','lib','main'): parts=parts[:-1]
        mods['::'.join(parts)]=p
def resolve(path):
    # longest prefix that is a module
    parts=path.split('::')
    for i in range(len(parts),0,-1):
        k='::'.join(parts[:i])
        if k in mods: return k
    return None
edges={m:set() for m in mods}
for m,p in mods.items():
    s=open(p).read()
    s=re.sub(r'#\[cfg\(test\)\]\s*mod tests\s*\{.*','',s,flags=re.S)
    s=re.sub(r'//.*','',s)
    # expand use crate::a::{b, c::d}
    for mm in re.finditer(r'crate::([\w:]+)(::\{([^}]*)\})?',s):
        base=mm.group(1).rstrip(':')
        targets=[base]
        if mm.group(3):
            targets=[base+'::'+x.strip().split(' ')[0] for x in mm.group(3).split(',') if x.strip()]
        for t in targets:
            r=resolve(t)
            if r and r!=m: edges[m].add(r)
    parent='::'.join(m.split('::')[:-1])
    for mm in re.finditer(r'\bsuper::\{([^}]*)\}',s):
        for x in mm.group(1).split(','):
            x=x.strip().split(' ')[0]
            if not x: continue
            r=resolve((parent+'::' if parent else '')+x)
            if r is None and parent in mods: r=parent
            if r and r!=m: edges[m].add(r)
    for mm in re.finditer(r'\bsuper::([\w:]+)(::\{([^}]*)\})?',s):
        base=(parent+'::' if parent else '')+mm.group(1).rstrip(':')
        targets=[base]
        if mm.group(3):
            targets=[base+'::'+x.strip().split(' ')[0] for x in mm.group(3).split(',') if x.strip()]
        for t in targets:
            r=resolve(t)
            if r is None and parent in mods: r=parent
            if r and r!=m: edges[m].add(r)
# A parent (mod.rs) that uses a child (`child::item`, beyond declaring it) depends on it.
for m,p in mods.items():
    s=open(p).read()
    s=re.sub(r'#\[cfg\(test\)\]\s*mod tests\s*\{.*','',s,flags=re.S)
    s=re.sub(r'^\s*(pub(\([^)]*\))? )?mod \w+;\s*$','',s,flags=re.M)
    s=re.sub(r'//.*','',s)
    for c in mods:
        if c.startswith(m+'::' if m else '') and c.count('::')==(m.count('::')+1 if m else 0):
            name=c.split('::')[-1]
            for mm in re.finditer(r'(?<![\w:])'+name+r'::([\w:]+)(::\{([^}]*)\})?',s):
                base=c+'::'+mm.group(1).rstrip(':')
                targets=[base]
                if mm.group(3):
                    targets=[base+'::'+x.strip().split(' ')[0] for x in mm.group(3).split(',') if x.strip()]
                for t in targets:
                    r=resolve(t)
                    if r and r!=m: edges[m].add(r)
# tarjan
idx={};low={};st=[];on=set();out=[];c=[0]
sys.setrecursionlimit(10000)
def sc(v):
    idx[v]=low[v]=c[0];c[0]+=1;st.append(v);on.add(v)
    for w in edges[v]:
        if w not in idx: sc(w);low[v]=min(low[v],low[w])
        elif w in on: low[v]=min(low[v],idx[w])
    if low[v]==idx[v]:
        comp=[]
        while True:
            w=st.pop();on.discard(w);comp.append(w)
            if w==v:break
        if len(comp)>1: out.append(comp)
for v in edges:
    if v not in idx: sc(v)
for comp in out:
    print('import cycle between modules of', root + ':', sorted(comp))
    for a in comp:
        print('   ',a,'->',sorted(x for x in edges[a] if x in comp))
print(len(out), "import cycles in", root)
if len(sys.argv)>2: print(sorted(edges[sys.argv[2]]))
sys.exit(1 if out else 0)
