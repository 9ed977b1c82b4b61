"""What every lab report is made of: the page style, HTML tables, embedded PNG plots, files.

A report is one self-contained HTML page (no network, plots as base64 PNGs), written
atomically beside its CSV and JSON files. :mod:`reglab.lab.study.report` (a study) and
:mod:`reglab.lab.tune.outputs` (a tuning run) build their pages from these parts.

Example:
    >>> html_table(["recipe", "acc"], [["baseline", "91.2"]])
    '<table><thead><tr><th>recipe</th><th>acc</th></tr></thead><tbody><tr><td>baseline</td><td>91.2</td></tr></tbody></table>'
    >>> clip01(1.02), clip01(-0.1)
    (1.0, 0.0)
"""

from __future__ import annotations

import base64
import csv
import html
import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "CSS",
    "IMG_CHECK",
    "atomic_write",
    "clip01",
    "csv_text",
    "figure_html",
    "html_page",
    "html_table",
    "png",
    "pyplot",
]

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;
color:#222;line-height:1.45;padding:0 1rem}
h1{margin-bottom:.2rem}.sub{color:#666;margin-top:0}
table{border-collapse:collapse;margin:1rem 0;font-size:.92rem}
th,td{border-bottom:1px solid #ddd;padding:.35rem .7rem;text-align:right}
th:first-child,td:first-child{text-align:left}
.verdict{background:#f3f7ff;border-left:4px solid #3a6fd8;padding:.8rem 1rem;margin:1rem 0}
figure{margin:1.5rem 0}figcaption{color:#555;font-size:.9rem}img{max-width:100%;height:auto}
.warn{color:#a33}
"""

# Counts images that decoded, so a headless browser (and a person) can check the page rendered.
IMG_CHECK = """
window.addEventListener("load",function(){var im=document.images,ok=0,s=[];
for(var i=0;i<im.length;i++){if(im[i].complete&&im[i].naturalWidth>0){ok++;}
s.push(im[i].naturalWidth+"x"+im[i].naturalHeight);}
document.body.setAttribute("data-images",ok+"/"+im.length);
document.body.setAttribute("data-image-sizes",s.join(","));});
"""


def clip01(v: float) -> float:
    """``v`` clipped to [0, 1] (an accuracy or its interval end); NaN stays NaN."""
    return v if math.isnan(v) else min(1.0, max(0.0, v))


def html_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table: ``head`` is plain text (escaped here), ``rows`` hold ready HTML cells."""
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    tr = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{tr}</tbody></table>"


def html_page(title: str, heading: str, body: str) -> str:
    """A whole page: ``body`` (ready HTML) under an ``<h1>``, with the style and image check."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><style>{CSS}</style></head>
<body><h1>{heading}</h1>{body}
<script>{IMG_CHECK}</script></body></html>
"""


def figure_html(title: str, caption: str, b64: str) -> str:
    """An embedded PNG with its heading and caption (both plain text, escaped here)."""
    t, c = html.escape(title), html.escape(caption)
    return (
        f'<figure><h2>{t}</h2><img alt="{t}" src="data:image/png;base64,{b64}">'
        f"<figcaption>{c}</figcaption></figure>"
    )


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png(fig: Any) -> str:
    """A matplotlib figure as base64 PNG text (the figure is closed)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    pyplot().close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def csv_text(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    """CSV with a header; each row gives the values of ``columns`` (other keys are ignored)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return buf.getvalue()


def atomic_write(path: str | os.PathLike[str], text: str) -> None:
    """Write via a temporary file and rename, so a crash never leaves half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
