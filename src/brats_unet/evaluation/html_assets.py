# ruff: noqa: E501  (HTML, CSS and JavaScript text, kept in the shape a browser shows it)
"""The HTML report's page template: inline CSS and JavaScript, no external resource (works offline)."""

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 24px auto; max-width: 1100px; color: #222; }}
h1 {{ font-size: 22px; }} h2 {{ font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; }}
table {{ border-collapse: collapse; margin: 8px 0; }} td, th {{ border: 1px solid #ccc; padding: 3px 8px; text-align: right; }}
th {{ background: #f3f3f3; }} th.sortable {{ cursor: pointer; }} th.sortable:after {{ content: " \\21C5"; color: #999; }}
td:first-child, th:first-child {{ text-align: left; }} img.figure {{ max-width: 100%; }}
.viewer {{ display: inline-block; margin: 10px 18px 18px 0; vertical-align: top; }}
.viewer canvas {{ image-rendering: pixelated; border: 1px solid #999; width: 360px; }}
.legend span {{ display: inline-block; width: 10px; height: 10px; margin: 0 3px 0 10px; }}
.note {{ color: #666; }}
</style></head>
<body>
<h1>{title}</h1>
{body}
<script>
"use strict";
const CASES = {cases_json};
function sortTable(th) {{
  const table = th.closest("table"), col = th.cellIndex, body = table.tBodies[0];
  const dir = th.dataset.dir === "desc" ? "asc" : "desc";
  for (const h of table.tHead.rows[0].cells) delete h.dataset.dir;
  th.dataset.dir = dir;
  const key = r => {{ const v = parseFloat(r.cells[col].dataset.v ?? r.cells[col].textContent); return isNaN(v) ? -Infinity : v; }};
  const rows = Array.from(body.rows).sort((a, b) => dir === "asc" ? key(a) - key(b) : key(b) - key(a));
  rows.forEach(r => body.appendChild(r));
}}
document.querySelectorAll("th.sortable").forEach(th => th.addEventListener("click", () => sortTable(th)));

function loadImage(src) {{
  return new Promise((ok, fail) => {{ const im = new Image(); im.onload = () => ok(im); im.onerror = fail; im.src = src; }});
}}
class Viewer {{
  constructor(root, data) {{
    this.data = data; this.root = root; this.cache = {{}};
    this.canvas = root.querySelector("canvas"); this.ctx = this.canvas.getContext("2d");
    this.slider = root.querySelector("input[type=range]"); this.label = root.querySelector(".z");
    this.slider.addEventListener("input", () => this.draw());
    root.querySelectorAll("input[type=checkbox]").forEach(c => c.addEventListener("change", () => this.draw()));
  }}
  async layer(kind, i) {{
    const key = kind + i;
    if (!this.cache[key]) this.cache[key] = loadImage("data:image/png;base64," + this.data[kind][i]);
    return this.cache[key];
  }}
  async draw() {{
    const i = Number(this.slider.value), token = (this.token = {{}});
    const layers = [await this.layer("flair", i)];
    for (const c of this.root.querySelectorAll("input[type=checkbox]")) if (c.checked) layers.push(await this.layer(c.value, i));
    if (token !== this.token) return;  // a newer draw started meanwhile
    this.canvas.width = layers[0].width; this.canvas.height = layers[0].height;
    layers.forEach((im, k) => {{ this.ctx.globalAlpha = k ? 0.6 : 1; this.ctx.drawImage(im, 0, 0); }});
    this.ctx.globalAlpha = 1;
    this.label.textContent = "axial slice " + this.data.z[i];
    this.root.dataset.drawn = String(i);
  }}
}}
const viewers = Array.from(document.querySelectorAll(".viewer")).map((el, k) => new Viewer(el, CASES[k]));
Promise.all(viewers.map(v => v.draw())).then(() => {{ window.viewerReady = true; }});
if (!viewers.length) window.viewerReady = true;
</script>
</body></html>
"""

VIEWER = """<div class="viewer" id="case-{index}"><b>{case}</b> <span class="note">Dice WT {wt} / TC {tc} / ET {et}</span><br>
<canvas width="{w}" height="{h}"></canvas><br>
<input type="range" min="0" max="{last}" value="{start}" step="1" style="width:360px"> <span class="z"></span><br>
<label><input type="checkbox" value="ref"> reference</label>
<label><input type="checkbox" value="pred" checked> prediction</label>
<label><input type="checkbox" value="err"> errors (FP red, FN blue)</label>
<label><input type="checkbox" value="unc"> uncertainty (whole tumour; brighter = less sure)</label>
<div class="legend"><span style="background:#e61a1a"></span>core<span style="background:#1acc1a"></span>edema
<span style="background:#ffd900"></span>enhancing</div></div>"""
