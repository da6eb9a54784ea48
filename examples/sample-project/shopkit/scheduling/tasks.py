"""Task queues: priorities, assignment and deadlines."""

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple


@dataclass
class Task:
    name: str
    priority: int
    duration: int
    deadline: int
    done: bool = False

    def slack(self, now: int) -> int:
        return self.deadline - now - self.duration

    def is_late(self, now: int) -> bool:
        return not self.done and now + self.duration > self.deadline

    def complete(self) -> None:
        self.done = True


class TaskQueue:
    """Tasks ordered by priority (high first), then deadline, then name."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.names: List[str] = []
        self.priorities: Dict[str, int] = {}
        self.deadlines: Dict[str, int] = {}

    def push(self, name: str, priority: int, deadline: int) -> None:
        if name in self.priorities:
            raise ValueError(f"duplicate task {name}")
        self.names.append(name)
        self.priorities[name] = priority
        self.deadlines[name] = deadline

    def order(self) -> List[str]:
        return sorted(self.names, key=lambda n: (-self.priorities[n], self.deadlines[n], n))

    def pop(self) -> Optional[str]:
        if not self.names:
            return None
        first = sorted(self.names, key=lambda n: (-self.priorities[n], self.deadlines[n], n))[0]
        self.names.remove(first)
        self.priorities.pop(first)
        self.deadlines.pop(first)
        return first

    def size(self) -> int:
        return len(self.names)


def earliest_deadline_first(tasks: List[Tuple[str, int, int]]) -> Tuple[List[str], int]:
    """Run (name, duration, deadline) tasks by deadline; returns the order and the late count."""
    ordered = sorted(tasks, key=lambda t: (t[2], t[0]))
    now = 0
    late = 0
    order: List[str] = []
    for name, duration, deadline in ordered:
        now += duration
        if now > deadline:
            late += 1
        order.append(name)
    return (order, late)


def assign_round_robin(tasks: List[str], workers: List[str]) -> Dict[str, List[str]]:
    if not workers:
        raise ValueError("no workers")
    out: Dict[str, List[str]] = {w: [] for w in workers}
    for i, task in enumerate(tasks):
        out[workers[i % len(workers)]].append(task)
    return out


def balance_load(durations: List[int], workers: int) -> List[int]:
    """Longest-processing-time-first: each task to the least loaded worker; returns the loads."""
    if workers <= 0:
        raise ValueError("workers must be positive")
    loads = [0] * workers
    for d in sorted(durations, reverse=True):
        i = min(range(workers), key=lambda w: (loads[w], w))
        loads[i] += d
    return loads


def weighted_completion(tasks: List[Tuple[int, int]]) -> int:
    """Minimum sum of weight x completion time for (duration, weight) tasks (Smith's rule)."""
    ordered = sorted(tasks, key=lambda t: t[0] / t[1] if t[1] > 0 else float("inf"))
    now = 0
    total = 0
    for duration, weight in ordered:
        now += duration
        total += weight * now
    return total
