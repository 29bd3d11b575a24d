"""What one scrape of ``/metrics`` answers for, on a real stack (supervisor + processes).

With ``--frontends N`` (N > 1) a scrape is the whole frontend: every scrape, whichever
process takes the connection, reports all N processes' counts (prometheus-client's
multiprocess mode, under the state dir). With one frontend, the accept latency histogram
carries the wish's trace id as an OpenMetrics exemplar; with N > 1 there are none
(prometheus-client keeps no exemplars in multiprocess mode: whole-frontend numbers win).
"""

from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from exodus2045.app_under_test.frontend.metrics import MULTIPROC_DIR
from tests.frontend_fixtures import signed_post, wish
from tests.stack_fixtures import running_stack

OPENMETRICS = "application/openmetrics-text; version=1.0.0, text/plain; version=0.0.4; q=0.5"
_ACCEPTED = re.compile(r'^exodus_frontend_wishes_total\{outcome="accepted"\} ([0-9.e+]+)', re.M)
_EXEMPLAR = re.compile(r'^exodus_frontend_enqueue_seconds_bucket\{[^}]*\} [0-9.e+]+ '
                       r'# \{trace_id="([0-9a-f]{32})"\}', re.M)


def accepted(text: str) -> int:
    match = _ACCEPTED.search(text)
    assert match, "no accepted counter in the scrape"
    return int(float(match.group(1)))


def scrape(url: str, accept: str | None = None) -> httpx.Response:
    """A fresh connection each time, so the N processes take turns answering."""
    headers = {"accept": accept} if accept else {}
    with httpx.Client(base_url=url, timeout=10.0) as client:
        answer = client.get("/metrics", headers=headers)
    assert answer.status_code == 200
    return answer


def traceparent() -> tuple[str, str]:
    trace_id = uuid.uuid4().hex
    return trace_id, f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"


def test_with_two_frontends_every_scrape_reports_the_whole_frontend(tmp_path: Path) -> None:
    k = 60
    with running_stack(tmp_path / "state", frontends=2) as stack:
        url = stack.url

        def send(n: int) -> int:
            with httpx.Client(base_url=url, timeout=10.0) as client:  # a new connection each
                return client.post("/api/wishes", json=wish(n)).status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(send, range(k)))
        assert statuses == [202] * k, statuses
        texts = [scrape(url).text for _ in range(12)]
        counts = [accepted(text) for text in texts]
        open_metrics = [scrape(url, OPENMETRICS) for _ in range(4)]
        pids = [c.pid for c in stack.components if c.kind == "frontend"]
        shared = tmp_path / "state" / MULTIPROC_DIR
        files = {p.name for p in shared.iterdir()} if shared.is_dir() else set()
    assert counts == [k] * len(counts), f"scrapes disagree: {counts}"
    assert all('exodus_queue_depth{queue="wishes",state="visible"}' in t for t in texts)
    for answer in open_metrics:
        assert answer.headers["content-type"].startswith("application/openmetrics-text")
        assert answer.text.rstrip().endswith("# EOF")
        assert accepted(answer.text) == k
        assert _EXEMPLAR.search(answer.text) is None, "no exemplars in multiprocess mode"
    assert all(pid and any(f.endswith(f"_{pid}.db") for f in files) for pid in pids), files


def test_with_one_frontend_the_accept_histogram_carries_trace_exemplars(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with running_stack(state, frontends=1) as stack, \
            httpx.Client(base_url=stack.url, timeout=10.0) as client:
        sent = set()
        for n in range(5):
            trace_id, header = traceparent()
            answer = signed_post(client, state, "run-exemplar", wish(n), traceparent=header)
            assert answer.status_code == 202, answer.text
            sent.add(trace_id)
        plain = client.get("/metrics")
        open_metrics = client.get("/metrics", headers={"accept": OPENMETRICS})
    assert not (state / MULTIPROC_DIR).exists(), "one frontend: its own registry"
    assert plain.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert accepted(plain.text) == 5 and "# {" not in plain.text, "text format: no exemplars"
    assert open_metrics.headers["content-type"].startswith("application/openmetrics-text")
    shown = set(_EXEMPLAR.findall(open_metrics.text))
    assert shown and shown <= sent, (shown, sent)
