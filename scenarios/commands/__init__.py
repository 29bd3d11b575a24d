"""One module per ``exodus`` subcommand; each defines ``register(subparsers)``."""
