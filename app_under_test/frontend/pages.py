"""The HTML pages: join form, "your wish is queued", errors, and the wall.

Hand-built with :func:`html.escape` on every value rather than a template engine: the pages
are few and small, and one visible ``esc()`` per value is easy to audit. Nothing a visitor
wrote is ever rendered as markup -- except on the wall under the ``raw-wall`` flaw, whose
one raw line sits next to the escaped one it replaces. No page carries script or inline
style, so the CSP can forbid both.
"""

from __future__ import annotations

import html
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from exodus2045.app_under_test.frontend.display import for_display
from exodus2045.app_under_test.wish import EVACUEE_MAX, MESSAGE_MAX

DESTINATION_NAMES = {"mars": "Mars", "jupiter": "Europa, Jupiter"}
TRIP = {"mars": "9 months", "jupiter": "72 months"}


def esc(value: Any) -> str:
    """Escape for HTML text and double-quoted attributes; lone surrogates become U+FFFD."""
    text = value if isinstance(value, str) else str(value)
    return html.escape(text.encode("utf-8", "replace").decode("utf-8"), quote=True)


def page(title: str, body: str, *, refresh_s: int | None = None) -> str:
    refresh = (
        f'<meta http-equiv="refresh" content="{int(refresh_s)}">\n' if refresh_s else ""
    )
    return (
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"{refresh}<title>{esc(title)} · Exodus 2045</title>\n"
        '<link rel="icon" href="data:,">\n'
        '<link rel="stylesheet" href="/static/exodus.css">\n'
        f"</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def join_page(wish_id: str | None = None) -> str:
    """The mobile-first form; the hidden wish_id makes a double submit one wish."""
    wish_id = wish_id or str(uuid.uuid4())
    body = f"""<h1>Exodus 2045</h1>
<p class="lede">Earth is dying. Choose your ship and leave one last wish for those who stay.</p>
<form method="post" action="/api/wishes" accept-charset="utf-8">
<input type="hidden" name="wish_id" value="{esc(wish_id)}">
<label for="evacuee">Your name</label>
<input id="evacuee" name="evacuee" type="text" required maxlength="{EVACUEE_MAX}" autocomplete="name">
<fieldset>
<legend>Where are you going?</legend>
<label class="choice"><input type="radio" name="destination" value="mars" checked required>
Mars <small>{TRIP["mars"]}</small></label>
<label class="choice"><input type="radio" name="destination" value="jupiter">
Europa, Jupiter <small>{TRIP["jupiter"]}</small></label>
</fieldset>
<label for="message">Your last wish</label>
<textarea id="message" name="message" required maxlength="{MESSAGE_MAX}" rows="5"></textarea>
<button type="submit">Send my wish</button>
</form>
<p class="links"><a href="/wall">See the wall</a></p>"""
    return page("Leave a last wish", body)


def queued_page(wish_id: str) -> str:
    body = f"""<h1>Your wish is queued</h1>
<p class="lede">It will reach the wall once it has been read and stored.</p>
<p>Wish id <code>{esc(wish_id)}</code>
(<a href="/api/wishes/{esc(quote(wish_id, safe=''))}">status</a>)</p>
<p class="links"><a href="/">Send another wish</a> · <a href="/wall">See the wall</a></p>"""
    return page("Your wish is queued", body)


def error_page(problem: Mapping[str, Any]) -> str:
    """A problem (RFC 9457 body) for a person: what went wrong and a way back."""
    field = problem.get("field")
    about = f"<p>Field: <code>{esc(field)}</code></p>\n" if field else ""
    body = f"""<h1>{esc(problem.get("title", "Error"))}</h1>
<p class="lede">{esc(problem.get("detail", ""))}</p>
{about}<p class="links"><a href="/">Start a new wish</a></p>"""
    return page(str(problem.get("title", "Error")), body)


def _when(stored_at: Any) -> str:
    if not isinstance(stored_at, (int, float)):
        return ""
    return time.strftime("%H:%M:%S UTC", time.gmtime(stored_at))


def wall_item(wish: Mapping[str, Any], *, raw: bool = False) -> str:
    dest = str(wish.get("destination", ""))
    if raw:  # the raw-wall flaw: the visitor's text goes out as markup
        message, evacuee = str(wish.get("message", "")), str(wish.get("evacuee", ""))
    else:  # escaped, and isolated from its neighbours (exodus2045...frontend.display)
        message = esc(for_display(str(wish.get("message", ""))))
        evacuee = esc(for_display(str(wish.get("evacuee", ""))))
    css = "wish wish-" + (dest if dest in DESTINATION_NAMES else "other")
    return (
        f'<li class="{css}">\n<p class="message"><bdi>{message}</bdi></p>\n'
        f'<p class="by"><bdi>{evacuee}</bdi> · {esc(DESTINATION_NAMES.get(dest, dest))}'
        f' · <time>{esc(_when(wish.get("stored_at")))}</time></p>\n</li>'
    )


def wall_page(
    wishes: Iterable[Mapping[str, Any]], tally: Mapping[str, int], *, raw: bool = False
) -> str:
    """The projector view: tally on top, newest wishes first, refreshed without script."""
    items = "\n".join(wall_item(w, raw=raw) for w in wishes)
    counts = " ".join(
        f'<span class="count count-{d}">{esc(DESTINATION_NAMES[d])}: '
        f"<strong>{int(tally.get(d, 0))}</strong></span>"
        for d in DESTINATION_NAMES
    )
    body = f"""<h1>The wall</h1>
<p class="tally">{counts}</p>
<ol class="wall">
{items or '<li class="empty">No wishes yet.</li>'}
</ol>
<p class="links"><a href="/">Leave your own wish</a></p>"""
    return page("The wall", body, refresh_s=5)
