"""Build the functions' zip: the pipeline's own code plus the wheels it needs beyond boto3.

AWS's Python runtimes ship boto3 and nothing else we use, so the zip carries
``exodus2045/app_under_test`` (the handlers, unchanged) and ``nh3`` (the markup detector, a
native wheel). The wheel must fit the runtime the template declares: an installed copy is
reused when its wheel tags fit (nh3 ships ``abi3`` wheels, good for every CPython 3.x >= its
floor), otherwise pip downloads the one for that platform and Python. The zip is
deterministic (sorted, fixed timestamps), so unchanged code gives the same key and an
unchanged stack.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import io
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from exodus2045.app_under_test.errors import ConfigError

#: What the handlers import beyond the standard library and boto3.
#: The trace context API (app_under_test/tracing.py) rides along: the handlers import it, the
#: Lambda runtime does not have it. Both are pure-Python ``py3-none-any`` wheels.
VENDORED = ("nh3", "opentelemetry-api", "typing-extensions")
#: With span export on (``exodus deploy --otlp-endpoint``): the SDK and the OTLP/HTTP
#: exporter, and what they need that the Lambda runtime lacks (it has boto3, so urllib3).
TRACING_VENDORED = (
    "opentelemetry-sdk", "opentelemetry-semantic-conventions",
    "opentelemetry-exporter-otlp-proto-http", "opentelemetry-exporter-otlp-proto-common",
    "opentelemetry-exporter-otlp-common", "opentelemetry-exporter-http-transport",
    "opentelemetry-proto", "protobuf", "googleapis-common-protos",
    "requests", "idna", "certifi",  # requests warns without a charset detector, and works
)
PLATFORM = "manylinux2014_x86_64"  # the template's functions are x86_64
_EPOCH = (2045, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class FunctionZip:
    data: bytes
    sha256: str
    files: tuple[str, ...]

    @property
    def key(self) -> str:
        """Content-addressed S3 key: a new zip means a new key, so CloudFormation updates."""
        return f"exodus-functions/{self.sha256[:24]}.zip"


def runtime_version(runtime: str) -> tuple[int, int]:
    match = re.fullmatch(r"python(\d)\.(\d+)", runtime)
    if not match:
        raise ConfigError(f"runtime {runtime!r}: expected pythonX.Y, e.g. python3.13")
    return int(match[1]), int(match[2])


def _tag_fits(tag: str, version: tuple[int, int]) -> bool:
    """Does a wheel tag (``cp39-abi3-manylinux2014_x86_64``) run on CPython ``version``?"""
    try:
        python, abi, platform = tag.split("-")
    except ValueError:
        return False
    if not (platform == "any" or (platform.startswith("manylinux") and platform.endswith("x86_64"))):
        return False
    floor = re.fullmatch(r"(?:cp|py)(\d)(\d*)", python)
    if not floor:
        return False
    wanted = (int(floor[1]), int(floor[2] or 0))
    if abi == "abi3" or abi == "none":
        return wanted[0] == version[0] and wanted <= version
    return wanted == version


def _package_files(package: str = "app_under_test") -> Iterator[tuple[str, Path]]:
    """The ``.py`` files of one subpackage of exodus2045 (found on disk, not imported: the
    pipeline packages what a deployer asks for, e.g. chaos's fault-reading entry, without
    depending on it)."""
    import exodus2045.app_under_test as app

    root = Path(app.__file__).parent.parent / package
    if not (root / "__init__.py").is_file():
        raise ConfigError(f"no package exodus2045.{package} to put in the functions' zip")
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" not in path.parts:
            yield f"exodus2045/{package}/{path.relative_to(root).as_posix()}", path


def _installed_files(name: str, version: tuple[int, int]) -> list[tuple[str, Path]] | None:
    """The installed distribution's files if its wheel fits the runtime, else None."""
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return None
    tags = [ln.split(":", 1)[1].strip() for ln in (dist.read_text("WHEEL") or "").splitlines()
            if ln.startswith("Tag:")]
    if not any(_tag_fits(t, version) for t in tags):
        return None
    out = []
    for f in dist.files or []:
        if "__pycache__" in f.parts or f.suffix == ".pyc" or str(f).startswith(".."):
            continue
        out.append((str(f), Path(str(dist.locate_file(f)))))
    return out


def _downloaded_files(name: str, version: tuple[int, int], into: Path) -> list[tuple[str, Path]]:
    """Fetch the wheel built for the runtime's platform and Python, and unpack it."""
    pinned = name
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        pinned = f"{name}=={importlib.metadata.version(name)}"
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
           "--only-binary=:all:", "--platform", PLATFORM, "--implementation", "cp",
           "--python-version", f"{version[0]}.{version[1]}", "--dest", str(into), pinned]
    done = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(into.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        raise ConfigError(f"cannot fetch a {PLATFORM} wheel of {pinned} for Python "
                          f"{version[0]}.{version[1]}: {done.stderr.strip()[-300:]}")
    unpacked = into / "unpacked"
    with zipfile.ZipFile(wheels[0]) as wheel:
        wheel.extractall(unpacked)
    return [(p.relative_to(unpacked).as_posix(), p) for p in sorted(unpacked.rglob("*"))
            if p.is_file()]


def build_zip(runtime: str, packages: tuple[str, ...] = ("app_under_test",),
              tracing: bool = False) -> FunctionZip:
    """The functions' zip for ``runtime`` (e.g. ``python3.13``) with ``packages`` of
    exodus2045 (the pipeline's own, plus any the deployer adds); ``tracing`` adds the span
    exporter (:data:`TRACING_VENDORED`)."""
    version = runtime_version(runtime)
    entries: dict[str, bytes] = {name: path.read_bytes() for package in packages
                                 for name, path in _package_files(package)}
    with tempfile.TemporaryDirectory(prefix="exodus-wheels-") as tmp:
        for name in VENDORED + (TRACING_VENDORED if tracing else ()):
            files = _installed_files(name, version) or _downloaded_files(name, version,
                                                                         Path(tmp) / name)
            entries.update({arc: path.read_bytes() for arc, path in files})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for arc in sorted(entries):
            info = zipfile.ZipInfo(arc, _EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, entries[arc])
    data = buf.getvalue()
    return FunctionZip(data, hashlib.sha256(data).hexdigest(), tuple(sorted(entries)))
