"""`portalis-operator`: validate the settings, then run kopf with our handlers."""

from __future__ import annotations

import logging
import sys

from pydantic import ValidationError

from portalis_operator.settings import Settings


def main() -> int:
    # kopf imports the synchronous `kubernetes` client, where it is installed (this distribution installs
    # it for its tools), only to offer it as a fallback login; handlers.login is used instead. Loading
    # that client's modules (about 220) cost the operator about 7 MB of resident memory, and nothing in
    # the operator uses it (quantity.py parses quantities): in this process it counts as not installed.
    sys.modules.setdefault("kubernetes", None)  # type: ignore[arg-type]
    import kopf

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
        clusterwide=not settings.namespaces,
        namespaces=settings.namespaces,
        # No kopf peering: kopf watches nothing here (the controller's informers do), and the one Lease
        # (leadership.py) decides which replica writes. Probes are served by health.HealthServer.
        standalone=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
