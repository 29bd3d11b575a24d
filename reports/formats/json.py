"""verdict.json: the verdict itself, written by the model's one serialiser.

:meth:`exodus2045.reports.verdict.Verdict.dumps` is the only code that turns a verdict into
text (indent 2, sorted keys, ASCII only), so a re-render diffs cleanly against the audit's own
file and the golden file. A version-1 folder re-rendered comes out as version 2, with the
outcome its checks imply.
"""

from __future__ import annotations

from exodus2045.reports.formats import RenderContext, ReportFormat


class VerdictJson(ReportFormat):
    name = "json"
    filename = "verdict.json"

    def render(self, ctx: RenderContext) -> str:
        return ctx.verdict.dumps()


FORMAT = VerdictJson()
