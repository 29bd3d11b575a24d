"""``exodus locustfile``: print the path of the one locustfile, for ``locust -f``.

From a checkout it is ``locustfiles/exodus.py``; from an install it ships inside the
``exodus2045.locustfiles`` package, where nobody should have to look for it:
``locust -f "$(exodus locustfile)"`` works in both.
"""

from __future__ import annotations

import argparse

from exodus2045.locustfiles import LOCUSTFILE


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "locustfile",
        help='print the path of the Exodus locustfile (locust -f "$(exodus locustfile)")',
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print(LOCUSTFILE)
    return 0
