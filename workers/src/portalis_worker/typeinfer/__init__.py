"""Types for untyped Python, for the translator: usage-based rules, docstring examples, the model.

`typings(source, limit)` gives the typed versions of a module to try, best first; the caller
translates each and keeps the first that rustc accepts (a bounded number of tries per unit).
"""

from portalis_worker.typeinfer.inference import ModuleTypes, Typing, annotate, infer, typings
from portalis_worker.typeinfer.slots import RETURN, Candidate, Evidence, Slot

__all__ = ["RETURN", "Candidate", "Evidence", "ModuleTypes", "Slot", "Typing", "annotate", "infer", "typings"]
