"""The gallery's ``index.html``: one section per topic, each figure with its caption and numbers."""
import html
import os


def _figure(f, folder):
    numbers = "".join(f"<li>{html.escape(str(k))}: <b>{html.escape(str(v))}</b></li>" for k, v in f.numbers.items())
    code = (f'<details class="code"><summary>The code behind it</summary><pre><code>{html.escape(f.code)}'
            f"</code></pre></details>" if f.code else "")
    if f.notebook:
        link = os.path.relpath(f.notebook, folder)
        code += (f'<p class="lesson">Explained step by step in <a href="{html.escape(link)}">'
                 f"notebooks/{html.escape(os.path.basename(f.notebook))}</a>.</p>")
    return (f'<figure id="{html.escape(os.path.splitext(f.file)[0])}"><img src="{html.escape(f.file)}" '
            f'alt="{html.escape(f.title)}"><figcaption><h3>{html.escape(f.title)}</h3>'
            f"<p>{html.escape(f.caption)}</p><ul>{numbers}</ul>{code}</figcaption></figure>")


def write(path, title, summary, sections):
    """sections: list of (title, lectures, [Figure], [error lines]). Writes the page atomically; each
    figure shows its caption, its numbers, the library calls that made it and a link to its lesson."""
    folder = os.path.dirname(os.path.abspath(path))
    toc = "".join(f'<li><a href="#s{i}">{html.escape(t)}</a></li>' for i, (t, _, _, _) in enumerate(sections))
    body = []
    for i, (t, lectures, figures, errors) in enumerate(sections):
        errs = "".join(f'<p class="error">{html.escape(e)}</p>' for e in errors)
        body.append(f'<section id="s{i}"><h2>{html.escape(t)}</h2><p class="seed">{html.escape(lectures)}</p>'
                    f'{errs}{"".join(_figure(f, folder) for f in figures)}</section>')
    summary_html = "".join(f"<li>{html.escape(k)}: <b>{html.escape(str(v))}</b></li>" for k, v in summary.items())
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }}
h1 {{ margin-bottom: 0.2em; }} h2 {{ border-bottom: 2px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }}
figure {{ margin: 1.5em 0; }} img {{ max-width: 100%; border: 1px solid #eee; }}
figcaption h3 {{ margin: 0.4em 0 0.2em; font-size: 1.05em; }} figcaption p {{ margin: 0.2em 0; line-height: 1.4; }}
figcaption ul {{ margin: 0.2em 0; font-size: 0.9em; color: #444; }} .seed {{ color: #777; font-style: italic; }}
.error {{ color: #b2182b; }} ul.summary {{ columns: 2; }}
details.code summary {{ cursor: pointer; color: #2166ac; font-size: 0.9em; }}
details.code pre {{ background: #f6f6f6; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }}
.lesson {{ font-size: 0.9em; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Every figure below was computed on this machine by minigrad's own code, from networks it trained on
data it made or that ships with its dependencies.</p>
<ul class="summary">{summary_html}</ul>
<ol>{toc}</ol>
{"".join(body)}
<script>
// for automated checks: how many images the browser decoded, as data-decoded="k/n" on <body>
window.addEventListener("load", () => {{
  const imgs = Array.from(document.images);
  document.body.dataset.decoded = imgs.filter(i => i.complete && i.naturalWidth > 0).length + "/" + imgs.length;
}});
</script>
</body></html>
"""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(page)
    os.replace(tmp, path)
