"""Execute every analysis notebook on a report and render it to HTML beside the report.

Used by `manage.py render_notebooks` (`make notebooks`) and by beat once a day
(`notebooks.tasks.render_notebooks_task`), so each report folder can carry
`notebooks/<name>.ipynb` (executed, with outputs) and `notebooks/<name>.html`.

The notebooks show chat titles, which users typed. They build their Markdown with
`formatting.markdown_text`, and the HTML page is sanitised besides (`exporter`): nbconvert's
`sanitize_html` passes every Markdown cell and every HTML or Markdown output through an
allowlist of tags, so a title that reached one unescaped would still show as text, never run.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from notebooks.analysis import reading

if TYPE_CHECKING:
    from nbconvert import HTMLExporter

NOTEBOOKS_DIR = Path(__file__).resolve().parent
PAGE_TEMPLATE = NOTEBOOKS_DIR / "templates" / "as_typed.html.j2"  # the lab page, no MathJax
KERNEL_NAME = "python3"
CELL_TIMEOUT_SECONDS = 600
log = logging.getLogger(__name__)


# What the notebooks' pages are made of (Markdown, highlighted code, pandas tables with their
# <style>); any other tag is shown as text (strip=False), and no attribute but these survives:
# no event handler, no style attribute, no javascript: link (bleach's http, https, mailto).
PAGE_TAGS = [
    *("h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "hr", "blockquote"),
    *("a", "strong", "em", "b", "i", "code", "pre", "span", "div", "ul", "ol", "li"),
    *("table", "thead", "tbody", "tr", "th", "td", "style"),
]
PAGE_ATTRIBUTES = {
    "*": ["class", "id"],
    "a": ["href", "title"],
    "th": ["colspan", "rowspan"],
    "td": ["colspan", "rowspan"],
}


class RenderError(RuntimeError):
    """One or more notebooks failed; their HTML (with the traceback) was still written."""


def notebook_paths() -> list[Path]:
    """The analysis notebooks, in name order."""
    return sorted(NOTEBOOKS_DIR.glob("*.ipynb"))


def check_kernel() -> None:
    """Fail early unless the `python3` kernel runs this interpreter (the venv with the project).

    jupyter_client starts `python` kernel specs with `sys.executable`; a user-level spec named
    python3 pointing at another Python would run the notebooks without pandas or the project.
    """
    from jupyter_client.manager import KernelManager

    command = KernelManager(kernel_name=KERNEL_NAME).format_kernel_cmd()
    if Path(command[0]).resolve() != Path(sys.executable).resolve():
        raise RenderError(
            f"kernel {KERNEL_NAME!r} runs {command[0]}, not {sys.executable}: remove that "
            f"kernel spec (jupyter kernelspec list) or run from the project's .venv"
        )


def exporter() -> HTMLExporter:
    """nbconvert's HTML exporter, sanitising: its `clean_html` filter (which `sanitize_html`
    applies to Markdown and HTML) is nbconvert's SanitizeHTML with the page's allowlist; the
    default one also escapes headings, paragraphs and table headers."""
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors.sanitize import SanitizeHTML

    sanitizer = SanitizeHTML(tags=PAGE_TAGS, attributes=PAGE_ATTRIBUTES, strip=False)
    return HTMLExporter(
        template_file=str(PAGE_TEMPLATE),
        sanitize_html=True,
        filters={"clean_html": sanitizer.sanitize_html_tags},
    )


def render(report_dir: str | Path, start: str = "", end: str = "") -> list[Path]:
    """Execute each notebook on `report_dir` with papermill and write .ipynb + .html into
    `<report>/notebooks/`. Returns the HTML paths. Raises RenderError after rendering all of
    them if any failed, so one broken notebook does not hide the others.
    """
    import nbformat
    import papermill

    check_kernel()
    report = reading.resolve_report_dir(report_dir)
    out_dir = report / "notebooks"
    out_dir.mkdir(exist_ok=True)
    html_exporter = exporter()
    rendered: list[Path] = []
    failed: list[str] = []
    for source in notebook_paths():
        executed = out_dir / source.name
        try:
            papermill.execute_notebook(
                str(source),
                str(executed),
                parameters={"report_dir": str(report), "start": start, "end": end},
                kernel_name=KERNEL_NAME,
                cwd=str(NOTEBOOKS_DIR),
                progress_bar=False,
                execution_timeout=CELL_TIMEOUT_SECONDS,
            )
        except Exception as error:  # papermill still wrote the notebook up to the failing cell
            log.error("notebook %s failed on %s: %s", source.name, report, error)
            failed.append(f"{source.stem}: {type(error).__name__}: {str(error)[-500:]}")
            if not executed.exists():
                continue
        body, _ = html_exporter.from_notebook_node(nbformat.read(executed, as_version=4))
        html = out_dir / f"{source.stem}.html"
        partial = html.with_suffix(".html.partial")
        partial.write_text(body, encoding="utf-8")
        os.replace(partial, html)  # a reader never sees half a page
        rendered.append(html)
    if failed:
        raise RenderError("; ".join(failed))
    return rendered


def render_latest(start: str = "", end: str = "") -> list[Path]:
    """Render every notebook on REPORTS_DIR/latest (the newest complete report), and publish the
    renders at REPORTS_DIR/notebooks too: reports come every few minutes, renders once a day, so
    that stable folder is where the newest rendered notebooks always are."""
    report = reading.resolve_report_dir("")
    rendered = render(report, start=start, end=end)
    publish(report / "notebooks", report.parent / "notebooks", source=report.name)
    return rendered


def publish(renders: Path, target: Path, source: str) -> None:
    """Replace `target` with a copy of `renders` in two renames: never half a folder."""
    staging = target.parent / f".tmp-notebooks-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(renders, staging)
    (staging / "REPORT").write_text(f"{source}\n", encoding="utf-8")  # which report they show
    retired = target.parent / f".tmp-notebooks-old-{os.getpid()}"
    if target.exists():
        os.replace(target, retired)
    os.replace(staging, target)
    shutil.rmtree(retired, ignore_errors=True)
