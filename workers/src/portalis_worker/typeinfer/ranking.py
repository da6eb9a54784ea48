"""From evidence to scored candidates per slot, and from those to whole assignments in score order.

Pure policy. A slot's evidence is grouped into clusters of terms that join (evidence for int and
for float is one cluster, float; evidence for str and for list is two); a cluster's share of the
total weight is its score. A cluster whose term still has an unknown part (`list[?]`) becomes one
candidate per common filling (int, then str, then float), its score shared out by `FILLS`. A slot
with no evidence at all gets `DEFAULTS`; one with evidence gets them too, far behind. Model
candidates, when there are any, are merged in with a weight, so the model ranks what the rules
leave open and cannot outvote strong evidence.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from portalis_worker.typeinfer.slots import Candidate, Evidence, Slot, Source
from portalis_worker.typeinfer.terms import FLOAT, INT, STR, Term, join, list_of

FILLS: tuple[tuple[Term, float], ...] = ((INT, 1.0), (STR, 0.6), (FLOAT, 0.4))
"""What an unknown element is tried as, in order, with the share of its cluster's score."""
KEY_FILLS: tuple[tuple[Term, float], ...] = ((STR, 1.0), (INT, 0.6))
DEFAULTS: tuple[tuple[Term, float], ...] = ((INT, 0.35), (STR, 0.3), (list_of(INT), 0.2), (FLOAT, 0.15))
"""Candidates for a slot nothing is known about (the most common parameter types first)."""
DEFAULT_AFTER_EVIDENCE = 0.1
MODEL_WEIGHT = 0.5
PER_SLOT = 4


@dataclass
class _Cluster:
    term: Term
    weight: float
    source: Source


def slot_candidates(evidence: Sequence[Evidence], limit: int = PER_SLOT) -> list[Candidate]:
    """Scored candidates for one slot, best first (at most `limit`)."""
    if not evidence:
        return [Candidate(term, score, "default") for term, score in DEFAULTS[:limit]]
    clusters: list[_Cluster] = []
    # Complete terms form the clusters first; evidence with an open part (`list[?]`: "a list of
    # something") then supports the heaviest cluster it fits, instead of whichever came first.
    specific = sorted((e for e in evidence if e.term.complete), key=lambda e: -e.weight)
    generic = sorted((e for e in evidence if not e.term.complete), key=lambda e: -e.weight)
    for item in [*specific, *generic]:
        fitting = [(c, join(c.term, item.term)) for c in clusters]
        fitting = [(c, j) for c, j in fitting if j is not None]
        if not fitting:
            clusters.append(_Cluster(item.term, item.weight, item.source))
            continue
        cluster, joined = max(fitting, key=lambda cj: cj[0].weight) if not item.term.complete else fitting[0]
        assert joined is not None
        cluster.term, cluster.weight = joined, cluster.weight + item.weight
        if cluster.source == "annotation" and item.source != "annotation":
            cluster.source = item.source  # what completed the written annotation
    total = sum(c.weight for c in clusters) or 1.0
    out: dict[str, Candidate] = {}
    for cluster in clusters:
        if cluster.term.kind == "unknown":
            continue
        for term, factor in fills(cluster.term):
            candidate = Candidate(term, cluster.weight / total * factor, cluster.source)
            key = term.render()
            if key not in out or out[key].score < candidate.score:
                out[key] = candidate
    ranked = sorted(out.values(), key=lambda c: -c.score)
    # The common types after what the evidence says, far behind it: something to try when rustc
    # rejects every typing the evidence supports.
    known = {c.text for c in ranked}
    ranked += [
        Candidate(term, score * DEFAULT_AFTER_EVIDENCE, "default")
        for term, score in DEFAULTS
        if term.render() not in known
    ]
    return ranked[:limit]


def fills(term: Term) -> list[tuple[Term, float]]:
    """Complete terms for `term` (unknown parts filled), with their share, best first."""
    if term.kind == "unknown":
        return list(FILLS)
    if term.complete:
        return [(term, 1.0)]
    options: list[list[tuple[Term, float]]] = []
    for i, arg in enumerate(term.args):
        if term.kind == "dict" and i == 0 and arg.kind == "unknown":
            options.append(list(KEY_FILLS))
        else:
            options.append(fills(arg))
    combos: list[tuple[tuple[Term, ...], float]] = [((), 1.0)]
    for choices in options:
        combos = [((*args, t), f * g) for args, f in combos for t, g in choices]
        combos = sorted(combos, key=lambda c: -c[1])[: len(FILLS)]
    return [(Term(term.kind, args, term.name), f) for args, f in combos]


def merge(rules: Sequence[Candidate], model: Sequence[Candidate], limit: int = PER_SLOT) -> list[Candidate]:
    """Rules and model candidates for one slot in one ranking: scores add, the model's weighted."""
    scored: dict[str, Candidate] = {}
    for candidate in rules:
        scored[candidate.text] = candidate
    for candidate in model:
        extra = candidate.score * MODEL_WEIGHT
        known = scored.get(candidate.text)
        if known is None:
            scored[candidate.text] = Candidate(candidate.term, extra, "model")
        else:
            # Agreeing with a guess the rules made without evidence, the model is what decided.
            source = "model" if known.source == "default" else known.source
            scored[candidate.text] = Candidate(known.term, known.score + extra, source)
    return sorted(scored.values(), key=lambda c: -c.score)[:limit]


Assignment = dict[Slot, Candidate]


def assignments(slots: Mapping[Slot, Sequence[Candidate]], limit: int) -> list[tuple[float, Assignment]]:
    """The `limit` best whole assignments (one candidate per slot), by the product of their scores.

    Best-first search over the index vectors, so the work is bounded by `limit` x slots, however
    many slots there are."""
    order = [s for s in slots if slots[s]]
    if not order:
        return [(1.0, {})]

    def score(idx: tuple[int, ...]) -> float:
        product = 1.0
        for slot, i in zip(order, idx, strict=True):
            product *= max(slots[slot][i].score, 1e-9)
        return product

    start = (0,) * len(order)
    heap = [(-score(start), start)]
    seen = {start}
    out: list[tuple[float, Assignment]] = []
    while heap and len(out) < limit:
        neg, idx = heapq.heappop(heap)
        out.append((-neg, {slot: slots[slot][i] for slot, i in zip(order, idx, strict=True)}))
        for k in range(len(order)):
            if idx[k] + 1 < len(slots[order[k]]):
                nxt = (*idx[:k], idx[k] + 1, *idx[k + 1 :])
                if nxt not in seen:
                    seen.add(nxt)
                    heapq.heappush(heap, (-score(nxt), nxt))
    return out
