#!/usr/bin/env python3
"""No import circle between files (issue 18): builds the graph of which
file of src/ names which (`use crate::…`, `super::…`, paths in code; test
modules left out), prints every strongly connected group of files, and
exits 1 if there is one."""
import os, re, sys
root = sys.argv[1] if len(sys.argv) > 1 else 'src'
files = {}
for d, _, fs in os.walk(root):
    for f in fs:
        if f.endswith('.rs'):
            p = os.path.join(d, f)
            rel = os.path.relpath(p, root)[:-3].split(os.sep)
            if rel[-1] == 'mod': rel = rel[:-1]
            if rel == ['lib'] or rel == ['main']: rel = []
            files[tuple(rel)] = p
def resolve(path):
    # longest prefix that is a file module
    for n in range(len(path), -1, -1):
        if tuple(path[:n]) in files: return tuple(path[:n])
    return None
edges = {}
tok = re.compile(r'\b((?:crate|super|self)(?:::(?:[A-Za-z_][A-Za-z0-9_]*|\{))+)')
for mod, p in files.items():
    src = open(p).read()
    # strip comments
    src = re.sub(r'//[^\n]*', '', src)
    # cut tests module
    i = src.find('#[cfg(test)]')
    if i >= 0: src = src[:i]
    tgt = set()
    # expand use groups roughly: crate::a::{b, c::d}
    for m in re.finditer(r'\buse\s+((?:crate|super|self)::[^;]+);', src, re.S):
        u = re.sub(r'\s+', '', m.group(1))
        def expand(s):
            j = s.find('{')
            if j < 0: return [s]
            # matching brace
            depth = 0
            for k in range(j, len(s)):
                if s[k] == '{': depth += 1
                elif s[k] == '}':
                    depth -= 1
                    if depth == 0: break
            inner = s[j+1:k]; parts=[]; depth=0; cur=''
            for ch in inner:
                if ch == ',' and depth == 0: parts.append(cur); cur=''; continue
                if ch == '{': depth += 1
                if ch == '}': depth -= 1
                cur += ch
            parts.append(cur)
            out=[]
            for part in parts:
                if part: out += expand(s[:j] + part + s[k+1:])
            return out
        for e in expand(u): tgt.add(e)
    for m in tok.finditer(src):
        tgt.add(m.group(1).rstrip(':{'))
    for t in tgt:
        segs = [s for s in t.split('::') if s and s not in ('*',)]
        segs = [s.split(' as ')[0] for s in segs]
        if segs[0] == 'crate': base = []; segs = segs[1:]
        else:
            base = list(mod)
            # a non-mod.rs file's self is itself; super is parent
            while segs and segs[0] in ('super', 'self'):
                if segs[0] == 'super': base = base[:-1]
                segs = segs[1:]
        r = resolve(base + segs)
        if r is not None and r != mod:
            edges.setdefault(mod, set()).add(r)
# cycles via Tarjan SCC
idx = {}; low = {}; stack = []; on = set(); sccs = []; c = [0]
sys.setrecursionlimit(10000)
def sc(v):
    idx[v] = low[v] = c[0]; c[0] += 1; stack.append(v); on.add(v)
    for w in edges.get(v, ()):
        if w not in idx: sc(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], idx[w])
    if low[v] == idx[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: sccs.append(comp)
for v in files:
    if v not in idx: sc(v)
for comp in sccs:
    print('cycle:', ' '.join('/'.join(x) or 'lib' for x in sorted(comp)))
    for a in comp:
        for b in edges.get(a, ()):
            if b in comp: print('   ', '/'.join(a) or 'lib', '->', '/'.join(b) or 'lib')
print(len(sccs), 'cycles')
sys.exit(1 if sccs else 0)
