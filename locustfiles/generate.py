"""The plan of a swarm: evacuee number n -> exactly what that evacuee sends.

Pure (no Locust, no gevent): the audit imports :func:`plan_wish` to recompute the body of
every ledger line from ``(seed, run_id, n)``, so the ledger never has to copy bodies.

Everything about evacuee n comes from one keyed hash of ``(seed, run_id, n)``: its wish id,
kind, destination, user agent and which pooled name and message it uses. A hash per n (not a
shared random stream) is what keeps the Mars and infiltrator shares true however the n are
split across Locust workers, and it is cheap enough for the hot path (a few microseconds).
Faker is slow (~30-70 us a call), so names and messages are drawn once, up front, into
:class:`Pools` by :func:`build_pools`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import struct
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from exodus2045.app_under_test.errors import ConfigError
from exodus2045.app_under_test.wish import EVACUEE_MAX, MESSAGE_MAX
from exodus2045.locustfiles.payloads import (
    FAMILIES,
    INVALID_KINDS,
    JSON_TYPE,
    dump_json,
    render_invalid,
    render_payload,
)

KINDS = ("evacuee", "infiltrator")
FAKER_LOCALES = (
    "en_US", "fr_FR", "de_DE", "es_ES", "ja_JP", "pt_BR", "pl_PL", "hi_IN", "it_IT", "sv_SE",
)  # fmt: skip

#: The 2019 demo's ``ua-500`` flaw answered 500 to Android user agents after enqueueing.
ANDROID_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Mobile Safari/537.36"
)
OTHER_UAS = (
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
)
_OPENERS = (
    "Tell my sister", "Water the lemon tree, and", "Forgive me:", "Keep the lights on.",
    "Dear Earth,", "Feed the cat twice on Sundays.", "I left the key under the stone.",
    "Someone finish my book:", "Remember the sea.", "Plant something.",
)  # fmt: skip
#: Prefixed to every 17th message, which is then sent decomposed (NFD): accents that NFC
#: must compose, so a pipeline that skips NFC on messages (``skip-nfc``) is caught.
_FAREWELL = "Adieu, chère Terre, ô mère déçue:"
POOL_SIZE = 1000  # the swarm and the audit must draw the same pools: keep one default
_UNIT = 1.0 / 2**32
_TWELVE = struct.Struct(">12I")
_MARKER_STRIDE = 0x9E3779B1  # odd, so n -> marker is a bijection mod 2**32: markers never repeat


class _Thresholds(NamedTuple):
    """A plan's shares as 32-bit integer cut-offs (see :func:`_uniforms`)."""

    mars: int
    recased: int
    android: int
    infiltrator: int
    invalid: int
    name_payload: int


@dataclass(frozen=True)
class SwarmPlan:
    """Who the swarm is: enough to recompute every wish it sends.

    ``invalid_share`` is the share of infiltrators that send a request which must be rejected
    (the rest send XSS inside legal wishes); ``name_payload_share`` the share of XSS
    infiltrators that put a (short enough) payload in their name as well.
    """

    seed: int
    run_id: str
    evacuees: int = 500
    mars_share: float = 0.6
    infiltrator_share: float = 0.05
    invalid_share: float = 0.35
    android_share: float = 0.1
    name_payload_share: float = 0.25
    recased_share: float = 0.05  # "Mars" instead of "mars": legal, stored lower-case
    #: 16 secret bytes the wish ids come from (empty: from the seed, as the audit re-plans);
    #: with one, nobody who knows the public run id and guesses the seed can claim the run's
    #: future ids first. Bodies still come from the seed, so ``--seed`` repeats them.
    id_secret: bytes = b""

    def __post_init__(self) -> None:
        if self.evacuees < 0:
            raise ConfigError(f"evacuees={self.evacuees} must not be negative")
        for name in ("mars_share", "infiltrator_share", "invalid_share", "android_share",
                     "name_payload_share", "recased_share"):  # fmt: skip
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name}={value} must be between 0 and 1")
        if not self.run_id or len(self.run_id) > 100:
            raise ConfigError("run_id must be 1-100 characters")

    @functools.cached_property
    def _key(self) -> bytes:
        return f"exodus2045|{self.seed}|{self.run_id}|".encode()

    @functools.cached_property
    def _hasher(self) -> Any:
        """BLAKE2b over :attr:`_key` already: each n copies it and hashes only its digits."""
        return hashlib.blake2b(self._key, digest_size=64)

    @functools.cached_property
    def _thresholds(self) -> _Thresholds:
        def cut(share: float) -> int:
            return round(share * 2**32)

        return _Thresholds(
            mars=cut(self.mars_share),
            recased=cut(self.recased_share),
            android=cut(self.android_share),
            infiltrator=cut(self.infiltrator_share),
            invalid=cut(self.invalid_share),
            name_payload=cut(self.name_payload_share),
        )

    @functools.cached_property
    def probe_n(self) -> int:
        """The evacuee who always sends a request that must be rejected (-1: none).

        Each evacuee's part is drawn on its own, so a short run (120 evacuees, 8% of them
        infiltrators) plans no bad input at all in about 1 run of 25 -- and a run that sent
        none cannot prove the pipeline refuses it (``bad-input`` is skipped: unproven). A run
        expected to hold at least one infiltrator therefore always holds this one probe,
        drawn from the plan like everything else (the audit re-plans it alike)."""
        expected = self.evacuees * self.infiltrator_share
        if expected < 1 or self.invalid_share <= 0:
            return -1
        digest = hashlib.blake2b(self._key + b"probe", digest_size=8).digest()
        return int.from_bytes(digest, "big") % self.evacuees

    @functools.cached_property
    def _marker_base(self) -> int:
        return int.from_bytes(hashlib.blake2b(self._key, digest_size=4).digest(), "big")


@dataclass(frozen=True)
class Pools:
    """Names and messages drawn from Faker once, so the hot path only indexes tuples."""

    seed: int
    names: tuple[str, ...]
    messages: tuple[str, ...]

    @functools.cached_property
    def encoded(self) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
        """Each name and message as its JSON string, encoded once (see :func:`_plain_body`)."""
        as_json = lambda text: json.dumps(text, ensure_ascii=False).encode()  # noqa: E731
        return tuple(map(as_json, self.names)), tuple(map(as_json, self.messages))


@dataclass(frozen=True, slots=True)
class PlannedWish:
    """Everything evacuee n sends, and what the pipeline must answer.

    ``raw`` and ``content_type`` are the exact request; ``body`` is the JSON value ``raw``
    encodes (None when it is not valid JSON). ``destination`` is lower-case when legal.
    ``family`` is the XSS family or invalid kind (None for a plain evacuee).
    """

    n: int
    wish_id: str
    kind: str
    destination: str
    body: Any
    raw: bytes
    content_type: str
    payload: str | None
    family: str | None
    expect: str
    user_agent: str


def marker_for(plan: SwarmPlan, n: int) -> str:
    """Evacuee n's marker: unique within a run, different across runs and seeds."""
    return f"XM{(n * _MARKER_STRIDE + plan._marker_base) & 0xFFFFFFFF:08x}"


def build_pools(seed: int, size: int = POOL_SIZE) -> Pools:
    """Draw ``size`` names and messages from Faker, repeatably for ``seed``.

    Ten locales give the pipeline accents, CJK and Devanagari to normalise; a few names and
    a few messages are sent decomposed (NFD) so NFC normalisation is exercised, and a few
    messages span lines.
    """
    if size < 1:
        raise ConfigError(f"pool size {size} must be at least 1")
    return _build_pools(int(seed), int(size))


@functools.lru_cache(maxsize=4)
def _build_pools(seed: int, size: int) -> Pools:
    from faker import Faker  # here, not at import: the audit needs plan_wish, not Faker

    fake = Faker(list(FAKER_LOCALES))
    fake.seed_instance(seed)
    names = []
    for i in range(size):
        name = fake.name()[:EVACUEE_MAX]
        names.append(unicodedata.normalize("NFD", name) if i % 17 == 0 else name)
    messages = []
    for i in range(size):
        opener = _OPENERS[i % len(_OPENERS)]
        if i % 13 == 0:
            text = f"{opener}\n{fake.paragraph(nb_sentences=6)}\n\n{fake.sentence()}"
        else:
            text = f"{opener} {fake.sentence(nb_words=12)}"
        if i % 17 == 8:
            text = unicodedata.normalize("NFD", f"{_FAREWELL} {text}")
        messages.append(text[:MESSAGE_MAX])
    return Pools(seed=seed, names=tuple(names), messages=tuple(messages))


def _uniforms(plan: SwarmPlan, n: int) -> tuple[str, tuple[int, ...]]:
    """A version-4 UUID and twelve uniform 32-bit integers, all from one hash of (plan, n).

    Integers, not floats: a share is compared as ``u < share * 2**32`` (thresholds computed
    once per plan) and a choice among k is ``u * k >> 32``, which keeps the hot path short.
    """
    h = plan._hasher.copy()  # == blake2b(plan._key + str(n).encode(), digest_size=64)
    h.update(str(n).encode())
    digest = h.digest()
    return _id_of(plan, n, digest), _TWELVE.unpack_from(digest, 16)


def _id_of(plan: SwarmPlan, n: int, digest: bytes) -> str:
    """Evacuee n's wish id: from the plan's secret when it has one, else from ``digest``."""
    if plan.id_secret:
        return _wish_id(hashlib.blake2b(str(n).encode(), key=plan.id_secret,
                                        digest_size=16).digest())
    return _wish_id(digest)


def _wish_id(digest: bytes) -> str:
    """The UUID in the first 16 bytes of ``digest``, stamped version 4, RFC 4122 variant.

    The same text as setting the version and variant bits in a copy of the bytes and then
    formatting it: the version nibble (hex digit 12) becomes ``4``, the top two bits of hex
    digit 16 become ``10``.
    """
    x = digest[:16].hex()
    return f"{x[:8]}-{x[8:12]}-4{x[13:16]}-{_VARIANT_DIGIT[digest[8] >> 4]}{x[17:20]}-{x[20:]}"


_VARIANT_DIGIT = "89ab" * 4  # high nibble h of byte 8 -> hex digit of (h & 0x3) | 0x8


def plan_wish(plan: SwarmPlan, n: int, pools: Pools) -> PlannedWish:
    """What evacuee number ``n`` (0-based) sends, deterministic for (seed, run_id, n)."""
    if not 0 <= n < plan.evacuees:
        raise ConfigError(f"evacuee {n} is outside 0..{plan.evacuees - 1}")
    wish_id, u = _uniforms(plan, n)
    t = plan._thresholds
    destination = "mars" if u[0] < t.mars else "jupiter"
    sent_destination = destination.capitalize() if u[1] < t.recased else destination
    user_agent = ANDROID_UA if u[2] < t.android else OTHER_UAS[u[3] * len(OTHER_UAS) >> 32]
    name_i = u[4] * len(pools.names) >> 32
    message_i = u[5] * len(pools.messages) >> 32
    name = pools.names[name_i]
    message = pools.messages[message_i]
    body = {
        "wish_id": wish_id,
        "evacuee": name,
        "destination": sent_destination,
        "message": message,
    }
    probe = n == plan.probe_n  # always bad input (SwarmPlan.probe_n)
    if u[6] >= t.infiltrator and not probe:
        names_json, messages_json = pools.encoded
        raw = _PLAIN % (
            wish_id.encode(), names_json[name_i], sent_destination.encode(),
            messages_json[message_i],
        )  # fmt: skip
        return PlannedWish(
            n, wish_id, "evacuee", destination, body, raw, JSON_TYPE,
            None, None, "accept", user_agent,
        )  # fmt: skip
    marker = marker_for(plan, n)
    if probe or u[7] < t.invalid:
        kind = INVALID_KINDS[u[8] * len(INVALID_KINDS) >> 32]
        bad = render_invalid(kind, body, marker)
        if kind == "unknown-destination":
            destination = "venus"
        return PlannedWish(
            n, wish_id, "infiltrator", destination, bad.body, bad.raw, bad.content_type,
            marker, kind, "reject", user_agent,
        )  # fmt: skip
    family = _FAMILY_NAMES[u[8] * len(_FAMILY_NAMES) >> 32]
    payload = render_payload(family, marker)
    body["message"] = _place(payload, message, u[9] * _UNIT)
    if len(payload) <= EVACUEE_MAX and u[10] < t.name_payload:
        body["evacuee"] = payload
    return PlannedWish(
        n, wish_id, "infiltrator", destination, body, dump_json(body), JSON_TYPE,
        marker, family, "accept", user_agent,
    )  # fmt: skip


#: The fields of a :func:`plan_sends` row, in order: a :class:`PlannedWish` without ``body``
#: and ``family`` (what the sender and the ledger need, nothing the audit alone needs).
SEND_FIELDS = (
    "n", "wish_id", "kind", "destination", "raw", "content_type", "payload", "expect",
    "user_agent",
)  # fmt: skip


def plan_sends(plan: SwarmPlan, numbers: Iterable[int], pools: Pools) -> list[tuple[Any, ...]]:
    """:func:`plan_wish` for a batch of evacuees, as plain tuples of :data:`SEND_FIELDS`.

    The swarm's hot path: every value is the one :func:`plan_wish` gives for the same n
    (tests pin this field by field). A plain evacuee (most of them) is computed right here,
    without the body dict and the :class:`PlannedWish` the audit needs but the sender does
    not; an infiltrator goes through :func:`plan_wish` itself.
    """
    evacuees = plan.evacuees
    hasher = plan._hasher
    unpack = _TWELVE.unpack_from
    t = plan._thresholds
    mars, recased, android, infiltrator = t.mars, t.recased, t.android, t.infiltrator
    probe = plan.probe_n
    names_json, messages_json = pools.encoded
    names_k, messages_k, uas_k = len(pools.names), len(pools.messages), len(OTHER_UAS)
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    for n in numbers:
        if not 0 <= n < evacuees:
            raise ConfigError(f"evacuee {n} is outside 0..{evacuees - 1}")
        h = hasher.copy()
        h.update(str(n).encode())
        digest = h.digest()
        u = unpack(digest, 16)
        if u[6] < infiltrator or n == probe:
            w = plan_wish(plan, n, pools)
            append((n, w.wish_id, w.kind, w.destination, w.raw, w.content_type, w.payload,
                    w.expect, w.user_agent))  # fmt: skip
            continue
        wish_id = _id_of(plan, n, digest)
        destination = "mars" if u[0] < mars else "jupiter"
        sent_destination = destination.capitalize() if u[1] < recased else destination
        user_agent = ANDROID_UA if u[2] < android else OTHER_UAS[u[3] * uas_k >> 32]
        raw = _PLAIN % (
            wish_id.encode(), names_json[u[4] * names_k >> 32], sent_destination.encode(),
            messages_json[u[5] * messages_k >> 32],
        )  # fmt: skip
        append((n, wish_id, "evacuee", destination, raw, JSON_TYPE, None, "accept", user_agent))
    return rows


_FAMILY_NAMES = tuple(FAMILIES)
#: A plain evacuee's body, byte for byte what ``dump_json(body)`` gives, without the encoder
#: on the hot path (the pooled texts are JSON-encoded once, in :attr:`Pools.encoded`).
_PLAIN = b'{"wish_id":"%s","evacuee":%s,"destination":"%s","message":%s}'


def _place(payload: str, message: str, u: float) -> str:
    """Payload alone, after the text, or before it: where it lands changes what a page does."""
    if u < 1 / 3:
        return payload
    text = f"{message} {payload}" if u < 2 / 3 else f"{payload} {message}"
    return text if len(text) <= MESSAGE_MAX else payload
