"""`portalis-operator`: validate the settings, then run kopf with our handlers."""

from __future__ import annotations

import logging
import random
import sys

import kopf
from pydantic import ValidationError

from portalis_operator.settings import Settings


def main() -> int:
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"portalis-operator: invalid settings (PORTALIS_OPERATOR_*):\n{exc}", file=sys.stderr)
        return 2
    levels = {
        "quiet": logging.WARNING,
        "info": logging.INFO,
        "verbose": logging.DEBUG,
        "debug": logging.DEBUG,
    }
    logging.basicConfig(
        level=levels[settings.log_level], format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    kopf.configure(verbose=settings.log_level == "verbose", debug=settings.log_level == "debug")
    import portalis_operator.handlers  # noqa: F401  (registers the handlers)

    kopf.run(
        # Peers compare priorities: a random one per replica means exactly one is active (equal ones
        # would pause each other).
        priority=random.randint(1, 2**31 - 1),
        clusterwide=not settings.namespaces,
        namespaces=settings.namespaces,
        # Probes are served by health.HealthServer (started with the operator): liveness that does not
        # depend on the API server, readiness that follows the Lease.
        standalone=settings.peering is None,
        peering_name=settings.peering,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
