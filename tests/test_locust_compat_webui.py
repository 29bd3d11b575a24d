"""The web-UI half of ``locustfiles/locust_compat.py`` against the installed Locust.

Each assertion is one thing the shim relies on; if a Locust or flask-cors upgrade changes it,
this fails with the versions in the message, before the console starts leaking a token or
serving its pages to any site. The script runs in its own interpreter: importing Locust
monkey-patches the process (gevent), which must not happen inside pytest.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from exodus2045.locustfiles.locust_compat import TESTED_WITH

REPO = Path(__file__).resolve().parents[1]

SCRIPT = r"""
import locust  # first, as in a Locust process: gevent patches before anything imports ssl
import json, re, sys
from importlib.metadata import version

from locust import User, events, task
from locust.argument_parser import get_parser
from locust.env import Environment

from exodus2045.locustfiles.locust_compat import hide_form_default, same_origin_only

SECRET, SHOWN = "s3cret-from-the-command-line", "shown-from-the-command-line"


@events.init_command_line_parser.add_listener
def _args(parser, **_):
    parser.add_argument("--hidden-secret", default=None, is_secret=True)
    parser.add_argument("--plain-option", default=None)


class Nobody(User):
    @task
    def idle(self):
        pass


sys.argv = ["locust", "--hidden-secret", SECRET, "--plain-option", SHOWN]
options = get_parser().parse_args(sys.argv[1:])
env = Environment(user_classes=[Nobody], events=events, parsed_options=options)
env.create_local_runner()
web_ui = env.create_web_ui("127.0.0.1", 0, delayed_start=True)
hide_form_default(web_ui, "hidden_secret")


@web_ui.app.route("/ours", methods=["GET", "POST"])
@same_origin_only
def ours():
    return {"ok": True}


client = web_ui.app.test_client()
page = client.get("/").get_data(as_text=True)
found = re.search(r"window\.templateArgs\s*=\s*(\{.*?\})\s*$", page, re.MULTILINE)
extra = json.loads(found.group(1))["extra_options"] if found else {}
evil = {"Origin": "http://evil.example"}
preflight = {**evil, "Access-Control-Request-Method": "POST"}
print(json.dumps({
    "versions": {name: version(name) for name in ("locust", "flask-cors", "flask")},
    "form_found": bool(found),
    "secret_in_page": SECRET in page,
    "shown_in_page": SHOWN in page,
    "hidden": extra.get("hidden_secret"),
    "plain": extra.get("plain_option"),
    "ours_get": client.get("/ours", headers=evil).headers.get("Access-Control-Allow-Origin"),
    "ours_preflight": client.options("/ours", headers=preflight).headers.get(
        "Access-Control-Allow-Origin"),
    "ours_status": client.get("/ours", headers=evil).status_code,
    "theirs": client.get("/stats/requests", headers=evil).headers.get(
        "Access-Control-Allow-Origin"),
}))
"""


def _probe() -> dict:
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_web_ui_shims_hold_on_the_installed_locust() -> None:
    seen = _probe()
    upgrade = f"installed {seen['versions']}, tested with {TESTED_WITH}"
    # The harness is real: Locust renders its start form, prefilled from the command line,
    # and its own routes allow every origin.
    assert seen["form_found"], f"no templateArgs on Locust's start page ({upgrade})"
    assert seen["shown_in_page"] and seen["plain"]["default_value"] is not None, upgrade
    assert seen["theirs"] == "http://evil.example", f"Locust's CORS changed ({upgrade})"
    # hide_form_default: the field stays on the form, masked, without its value.
    assert seen["hidden"] is not None, f"the custom argument left the form ({upgrade})"
    assert seen["hidden"]["is_secret"] is True and seen["hidden"]["default_value"] is None, \
        f"hide_form_default no longer blanks the value ({upgrade})"
    assert not seen["secret_in_page"], f"a command-line secret reaches the page ({upgrade})"
    # same_origin_only: our routes answer, with no CORS grant to a foreign origin.
    assert seen["ours_status"] == 200, upgrade
    assert seen["ours_get"] is None and seen["ours_preflight"] is None, \
        f"same_origin_only no longer overrides Locust's CORS ({upgrade})"
