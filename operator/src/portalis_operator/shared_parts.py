"""Equal parts of the cached jobs' specs, held once.

Each TranslationJob in the cache is a validated model, and most of its spec's parts (capacity, model,
translation, checkpoint, recovery; often source, output and target too) equal those of other jobs:
tenants leave them at their defaults or submit from one template. A parsed part costs a few hundred
bytes of Python objects however small its JSON, so at 5,000 jobs the copies cost about 16 MB. Here a
part equal to one a cached job already holds (same type, same values, same fields set) is replaced by
that one, so equal parts exist once while some job holds them (a weak table: a part no job holds any
more is dropped with it).

Safe because nothing changes a cached job's spec: plans replace status fields of a copy (jobs.py), and
the spec is only read.
"""

from __future__ import annotations

import weakref

from pydantic import BaseModel

from portalis_operator.api import TranslationJob

PartKey = tuple[type, str, frozenset[str]]


class SharedParts:
    def __init__(self) -> None:
        self._held: weakref.WeakValueDictionary[PartKey, BaseModel] = weakref.WeakValueDictionary()

    def share(self, job: TranslationJob) -> TranslationJob:
        """`job`, its spec's parts replaced by the equal ones held already (the job is equal to before)."""
        fields = job.spec.__dict__
        for name, part in list(fields.items()):
            if isinstance(part, BaseModel):
                key = (type(part), part.model_dump_json(), frozenset(part.model_fields_set))
                held = self._held.setdefault(key, part)
                if held is not part:
                    fields[name] = held
        return job

    def __len__(self) -> int:
        return len(self._held)
