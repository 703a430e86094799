"""Execute notebooks headless with a Jupyter kernel and export one static HTML page each (codecllm report).

Called by src/report/report.ts; prints one JSON object per notebook on stdout (the TypeScript side words the
messages). Uses nbclient (execution) and nbconvert's HTMLExporter with templates/codecllm (the "lab" page minus
everything it would fetch from a CDN).

Charts: an output carrying application/vnd.vegalite.v5+json and image/svg+xml becomes one text/html output
<div class="codecllm-chart"> holding the SVG inline (visible without JS; the browser test counts its marks) and
the spec as JSON; with --vega-js, vega + vega-lite are inlined once per page and re-render each chart
interactively in place.

usage: execute.py --kernel NAME --out DIR [--timeout S] [--vega-js FILE ...] NOTEBOOK...
"""
import argparse
import json
import os
import re
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.util import run_sync
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbconvert import HTMLExporter

VEGALITE = "application/vnd.vegalite.v5+json"
HERE = os.path.dirname(os.path.abspath(__file__))

RENDER_JS = """
(function () {
  if (typeof vega === 'undefined' || typeof vegaLite === 'undefined') return;
  document.querySelectorAll('.codecllm-chart').forEach(function (el) {
    var script = el.querySelector('script[type="application/json"]');
    if (!script) return;
    var target = document.createElement('div');
    try {
      var spec = JSON.parse(script.textContent);
      var view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'svg', container: target, hover: true });
      view.runAsync().then(function () {
        var old = el.querySelector('.codecllm-static');
        if (old) old.replaceWith(target); else el.appendChild(target);
        el.setAttribute('data-rendered', 'vega');
      }).catch(function (e) { el.setAttribute('data-render-error', String(e)); });
    } catch (e) { el.setAttribute('data-render-error', String(e)); }
  });
})();
"""


def chart_html(spec, svg):
    # JSON inside <script>: only "</" can end it early.
    js = json.dumps(spec).replace("</", "<\\/")
    return (
        '<div class="codecllm-chart">'
        f'<div class="codecllm-static">{svg}</div>'
        f'<script type="application/json">{js}</script>'
        "</div>"
    )


def inline_charts(nb):
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data")
            if data and VEGALITE in data and "image/svg+xml" in data:
                svg = data["image/svg+xml"]
                if isinstance(svg, list):
                    svg = "".join(svg)
                data["text/html"] = chart_html(data[VEGALITE], svg)


ERROR_LINE = re.compile(r"^(?:[A-Za-z_$][\w$]*(?:Error|Exception)|Error)(?: \[[\w]+\])?: ")


def stderr_detail(cell):
    """The error line of a failed cell: the kernel's `error` output ("Error: message", "CodecLLMError: message
    [E_CODE]", or for type errors just the first diagnostic "2:5 - Cannot find name 'x'."); for other kernels
    that print errors on stderr, the first line that looks like one."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            if out.get("ename") == "TypeScript":
                return out.get("evalue", "")
            return f"{out.get('ename', 'Error')}: {out.get('evalue', '')}".strip()
    lines = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream" and out.get("name") == "stderr":
            lines += [l.strip() for l in "".join(out.get("text", "")).splitlines() if l.strip()]
    for line in lines:
        if ERROR_LINE.match(line):
            return line
    return lines[0] if lines else ""


def wait_until_ready(client, timeout):
    """The CodecLLM kernel answers kernel_info at once and loads the library and TypeScript afterwards (~10 s); a
    silent empty execute returns when that is done, so the per-cell timeout measures the cells, not the start."""
    mid = client.kc.execute("", silent=True, store_history=False)
    deadline = time.time() + timeout
    while True:
        reply = run_sync(client.kc.get_shell_msg)(timeout=max(0.1, deadline - time.time()))
        if reply["parent_header"].get("msg_id") == mid:
            return


def title_of(nb, fallback):
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def run_one(path, args, extra_js):
    name = os.path.splitext(os.path.basename(path))[0]
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name=args.kernel,
        timeout=args.timeout,
        allow_errors=False,
        record_timing=True,
        resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}},
    )
    result = {"notebook": path, "name": name, "ok": True, "title": title_of(nb, name)}
    t0 = time.time()
    try:
        with client.setup_kernel():
            wait_until_ready(client, max(120, args.timeout))
            for index, cell in enumerate(nb.cells):
                try:
                    client.execute_cell(cell, index)
                except CellTimeoutError:
                    result.update(ok=False, kind="timeout", cell=index + 1)
                    break
                except CellExecutionError as e:
                    detail = stderr_detail(cell) or (str(e).strip().splitlines() or ["error"])[-1]
                    result.update(ok=False, kind="error", cell=index + 1, detail=detail)
                    break
                except DeadKernelError:
                    result.update(ok=False, kind="error", cell=index + 1, detail="the kernel died")
                    break
    except Exception as e:  # kernel failed to start, etc.
        result.update(ok=False, kind="error", cell=0, detail=f"{type(e).__name__}: {e}".splitlines()[0])
    result["seconds"] = round(time.time() - t0, 3)

    os.makedirs(args.out, exist_ok=True)
    nbformat.write(nb, os.path.join(args.out, name + ".ipynb"))
    inline_charts(nb)
    exporter = HTMLExporter(template_name="codecllm", extra_template_basedirs=[os.path.join(HERE, "templates")])
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": result["title"]}})
    if extra_js:
        body = body.replace("</body>", extra_js + "\n</body>", 1)
    page = os.path.join(args.out, name + ".html")
    with open(page, "w", encoding="utf-8") as f:
        f.write(body)
    result["html"] = page
    result["charts"] = body.count('class="codecllm-chart"')
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("--vega-js", action="append", default=[])
    ap.add_argument("notebooks", nargs="+")
    args = ap.parse_args()
    extra_js = ""
    if args.vega_js:
        parts = []
        for p in args.vega_js:
            with open(p, encoding="utf-8") as f:
                parts.append("<script>" + f.read().replace("</script", "<\\/script") + "</script>")
        parts.append("<script>" + RENDER_JS + "</script>")
        extra_js = "\n".join(parts)
    ok = True
    for path in args.notebooks:
        r = run_one(path, args, extra_js)
        ok = ok and r["ok"]
        print(json.dumps(r), flush=True)
        if not r["ok"]:
            break
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
