"""verdict.json: the verdict itself, rewritten canonically (indent 2, sorted keys).

Rendering it again from the loaded dict changes no content, only the layout, so a
re-render diffs cleanly against the audit's own file and the golden file. ASCII-only output
keeps the file valid UTF-8 even when evidence quotes a lone surrogate an infiltrator sent.
"""

from __future__ import annotations

import json

from exodus2045.reports.formats import RenderContext, ReportFormat


class VerdictJson(ReportFormat):
    name = "json"
    filename = "verdict.json"

    def render(self, ctx: RenderContext) -> str:
        return json.dumps(ctx.verdict, indent=2, sort_keys=True, ensure_ascii=True) + "\n"


FORMAT = VerdictJson()
