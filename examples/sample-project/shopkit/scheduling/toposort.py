"""Dependency ordering of tasks."""

from typing import Dict, List, Optional, Set, Tuple


def topological_order(deps: Dict[str, List[str]]) -> Optional[List[str]]:
    """Kahn's algorithm with alphabetical tie-breaking; None when there is a cycle.

    `deps[a]` lists the tasks that must run before `a`.
    """
    nodes: Set[str] = set(deps.keys())
    for before in deps.values():
        nodes.update(before)
    indegree: Dict[str, int] = {n: 0 for n in nodes}
    followers: Dict[str, List[str]] = {}
    for n in nodes:
        followers[n] = []
    for task, before in deps.items():
        for b in before:
            indegree[task] += 1
            followers[b].append(task)
    ready = sorted(n for n in nodes if indegree[n] == 0)
    order: List[str] = []
    while ready:
        n = ready.pop(0)
        order.append(n)
        for f in followers[n]:
            indegree[f] -= 1
            if indegree[f] == 0:
                ready.append(f)
        ready.sort()
    return order if len(order) == len(nodes) else None


def critical_path(durations: Dict[str, int], deps: Dict[str, List[str]]) -> int:
    """Length of the longest dependency chain, summing durations (the DAG is assumed acyclic)."""
    finish: Dict[str, int] = {}
    remaining = sorted(durations.keys())
    while remaining:
        progressed = False
        for task in list(remaining):
            before = deps.get(task, [])
            if all(b in finish for b in before):
                start = max([finish[b] for b in before], default=0)
                finish[task] = start + durations[task]
                remaining.remove(task)
                progressed = True
        if not progressed:
            raise ValueError("dependency cycle")
    return max(finish.values(), default=0)


def reachable(edges: List[Tuple[str, str]], start: str) -> Set[str]:
    """Every node reachable from `start` (not including it unless on a cycle)."""
    graph: Dict[str, List[str]] = {}
    for a, b in edges:
        if a not in graph:
            graph[a] = []
        graph[a].append(b)
    seen: Set[str] = set()
    stack = list(graph.get(start, []))
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        for m in graph.get(n, []):
            stack.append(m)
    return seen


def levels(deps: Dict[str, List[str]]) -> Dict[str, int]:
    """Level 0 for tasks without dependencies, else 1 + the highest level among them."""
    out: Dict[str, int] = {}
    pending = sorted(deps.keys())
    rounds = 0
    while pending and rounds <= len(deps):
        rounds += 1
        still: List[str] = []
        for task in pending:
            before = deps[task]
            if all(b in out or b not in deps for b in before):
                level = 0
                for b in before:
                    level = max(level, out.get(b, 0) + 1)
                out[task] = level
            else:
                still.append(task)
        pending = still
    return out


def count_paths(n: int, edges: List[Tuple[int, int]], source: int, target: int) -> int:
    """Number of paths in a DAG on nodes 0..n-1 listed in topological order."""
    ways = [0] * n
    ways[source] = 1
    for node in range(n):
        for a, b in edges:
            if a == node:
                ways[b] += ways[a]
    return ways[target]


def hanoi_moves(disks: int, source: str, target: str, spare: str) -> List[Tuple[str, str]]:
    """The moves solving the Towers of Hanoi, recursively."""
    if disks == 0:
        return []
    return (
        hanoi_moves(disks - 1, source, spare, target)
        + [(source, target)]
        + hanoi_moves(disks - 1, spare, target, source)
    )
