"""Start Locust untouched by the user's own Locust configuration, and say what was ignored.

Besides its command line, Locust (2.47, ``locust/argument_parser.py``) reads three default
config files -- ``~/.locust.conf``, then ``locust.conf`` and the ``[tool.locust]`` table of
``pyproject.toml`` in the working directory -- and a ``LOCUST_*`` environment variable for
most options. Any of them would quietly change an audited run (its tags, a ``--processes``
fork, an extra ``--html`` write, a broken ``pyproject.toml`` that stops Locust altogether),
and the run folder would not say so. ``--config FILE`` only adds a file; nothing switches
the defaults off. So the swarm runs with a working directory and a ``HOME`` of its own
(empty) and without ``LOCUST_*`` variables, and everything it ignored is named: one line on
stderr, the first line of ``locust.log``, and ``locust_config_ignored`` in ``run.json``.

Every path the runner passes Locust is absolute, so the working directory does not matter to
the run. The user's ``site`` directory stays importable (``PYTHONUSERBASE`` is kept), since a
new ``HOME`` would otherwise hide packages installed with ``pip install --user``.
"""

from __future__ import annotations

import os
import site
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from exodus2045.app_under_test.errors import ExodusError

#: Locust's ``DEFAULT_CONFIG_FILES``, in its order (tests/test_locust_isolation.py reads
#: Locust's own copy and fails if they differ). Relative names are read from the working
#: directory; ``pyproject.toml`` only through its ``[tool.locust]`` table.
LOCUST_CONFIG_FILES = ("~/.locust.conf", "locust.conf", "pyproject.toml")
ENV_PREFIX = "LOCUST_"


@dataclass(frozen=True)
class Isolation:
    """How to start Locust: this working directory and environment; what that left out."""

    cwd: Path
    env: dict[str, str]
    ignored: tuple[str, ...]

    def summary(self) -> str:
        """One line for stderr and locust.log."""
        if not self.ignored:
            return "Locust ran isolated from user config (none found)"
        return "Locust ran isolated from user config; ignored: " + "; ".join(self.ignored)


def _locust_table_or_unreadable(path: Path) -> bool:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return True  # Locust would refuse to start on it
    return isinstance(doc.get("tool"), dict) and "locust" in doc["tool"]


def user_config(environ: Mapping[str, str], cwd: Path) -> list[str]:
    """What Locust started from ``cwd`` with ``environ`` would read besides its command line."""
    home = Path(environ["HOME"]) if environ.get("HOME") else Path.home()
    found = []
    for name in LOCUST_CONFIG_FILES:
        path = home / name[2:] if name.startswith("~/") else cwd / name
        if not path.is_file():
            continue
        if name == "pyproject.toml":
            if _locust_table_or_unreadable(path):
                found.append(f"[tool.locust] in {path}")
        else:
            found.append(str(path))
    names = sorted(k for k in environ if k.startswith(ENV_PREFIX))
    if names:
        found.append("environment " + ", ".join(names))
    return found


def isolate(clean_dir: Path, environ: Mapping[str, str] | None = None,
            cwd: Path | None = None) -> Isolation:
    """Locust's cwd and environment: ``clean_dir`` (empty, ours) as both cwd and ``HOME``.

    ``environ`` and ``cwd`` are where Locust would otherwise have started (default: this
    process's); what it would have read there is reported as ignored.
    """
    environ = dict(os.environ if environ is None else environ)
    ignored = user_config(environ, Path.cwd() if cwd is None else cwd)
    for stray in user_config({"HOME": str(clean_dir)}, clean_dir):
        raise ExodusError(f"{clean_dir} is not a clean folder for Locust: it holds {stray}")
    env = {k: v for k, v in environ.items() if not k.startswith(ENV_PREFIX)}
    env.setdefault("PYTHONUSERBASE", site.getuserbase())
    env["HOME"] = str(clean_dir)
    return Isolation(cwd=clean_dir, env=env, ignored=tuple(ignored))
