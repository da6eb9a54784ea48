"""One module per `kubectl portalis` command: `add(subparsers, common)` declares it, `run(args)` does it."""
