"""Which ConfigMaps (a ConfigMap output's, manifests.output_config_maps) this operator created, and for
which job. Pure: worker_namespace.py asks it before each create and tells it what was created.

A job whose spec.output.configMap names a ConfigMap that another job's create made gets a 409 for it: the
ConfigMap exists, owned by that job, until the garbage collector deletes it with its owner. While the
owner lives, that create can only be refused, so it is not sent (and the job's worker refuses the output,
exit 5, as before: its writers annotation names the other job's pods). Once the owner is gone, its entries
are forgotten and the create is sent again. A ConfigMap deleted by hand while its owner lives is not
known here; the only create skipped then is one for another job, which the old ConfigMap's owner blocks
anyway in the usual case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

Live = Callable[[str, str], bool]
"""live(namespace, uid): a TranslationJob with this uid exists in the namespace (the watch cache)."""


@dataclass
class MadeConfigMaps:
    """(namespace, name) -> the uid of the job it was created for; forgotten once that job is gone."""

    _owner: dict[tuple[str, str], str] = field(default_factory=dict)
    _prune_at: int = 1024

    def record(self, namespace: str, name: str, owner_uid: str, live: Live) -> None:
        self._owner[(namespace, name)] = owner_uid
        if len(self._owner) >= self._prune_at:
            self.prune(live)
            self._prune_at = max(1024, 2 * len(self._owner))  # amortised: the table at most doubles

    def owned_elsewhere(self, namespace: str, name: str, uid: str, live: Live) -> bool:
        """This operator created the ConfigMap for another job, which still exists: a create for job
        `uid` would get 409."""
        owner = self._owner.get((namespace, name))
        if owner is None or owner == uid:
            return False
        if live(namespace, owner):
            return True
        del self._owner[(namespace, name)]
        return False

    def prune(self, live: Live) -> None:
        """Forget the ConfigMaps whose job is gone (the garbage collector deletes them with it)."""
        self._owner = {k: uid for k, uid in self._owner.items() if live(k[0], uid)}

    def __len__(self) -> int:
        return len(self._owner)
