"""MkDocs hooks: the docstrings' Sphinx roles as links, and the observables' table.

`<!-- observables-registry -->` on a page becomes a table of ``harmosync.observables.REGISTRY``
(name, units, long name, probes, needs), read from the registry itself, so the reference never
keeps a second list of names.

The docstrings cite other objects the Sphinx way; mkdocstrings renders those as ":func:" plus
code. This hook, run on each rendered page, resolves the name the way Sphinx would (relative to
the object being documented, then its parents; a leading "~" shows only the last part) and
turns it into an optional cross-reference, which autorefs links when the target has a page and
leaves as plain code otherwise (never a warning).
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from pathlib import Path

ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|attr|data|exc|obj):<code>([^<]+)</code>")
ANCHOR = re.compile(r'id="(harmosync(?:\.[A-Za-z_][A-Za-z0-9_]*)*)"')
SRC = Path(__file__).resolve().parents[2] / "src"


@lru_cache(maxsize=1)
def _package():
    import griffe

    return griffe.load("harmosync", search_paths=[str(SRC)], resolve_aliases=False)


def _exists(path: str) -> str | None:
    """The canonical path of ``path`` (aliases followed), or None."""
    try:
        obj = _package()[path.removeprefix("harmosync.")] if path != "harmosync" else _package()
        return obj.final_target.path if obj.is_alias else obj.path
    except Exception:  # noqa: BLE001 - an unknown name stays plain code
        return None


def _resolve(name: str, context: str) -> str | None:
    name = name.strip().rstrip("()")
    if name.startswith("harmosync"):
        return _exists(name)
    parts = context.split(".")
    if name.startswith("."):  # relative to the documented object's module (package)
        dots = len(name) - len(name.lstrip("."))
        base = parts[: max(1, len(parts) - dots + 1)]
        for k in range(len(base), 0, -1):
            found = _exists(".".join(base[:k]) + "." + name.lstrip("."))
            if found:
                return found
        return None
    for k in range(len(parts), 0, -1):  # the object, then each parent, as Sphinx searches
        found = _exists(".".join(parts[:k]) + "." + name)
        if found:
            return found
    return None


def _registry_table() -> str:
    import sys

    if str(SRC) not in sys.path:
        sys.path.insert(0, str(SRC))
    from harmosync.observables import REGISTRY

    rows = ["| name | units | long name | probes | needs |", "|---|---|---|---|---|"]
    for o in REGISTRY.values():
        cells = [f"`{o.name}`", o.units, o.long_name, o.probes, o.needs]
        rows.append("| " + " | ".join(html.escape(str(c)).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows)


def on_page_markdown(markdown: str, page, config, files) -> str:
    marker = "<!-- observables-registry -->"
    return markdown.replace(marker, _registry_table()) if marker in markdown else markdown


def on_page_content(content: str, page, config, files) -> str:
    if ":<code>" not in content:
        return content
    anchors = [(m.start(), m.group(1)) for m in ANCHOR.finditer(content)]

    def replace(match: re.Match) -> str:
        raw = html.unescape(match.group(1))
        shown = raw.lstrip("~").split(".")[-1] if raw.startswith("~") else raw
        context = next((a for pos, a in reversed(anchors) if pos < match.start()), "harmosync")
        target = _resolve(raw.lstrip("~"), context)
        code = f"<code>{html.escape(shown)}</code>"
        return f'<autoref identifier="{target}" optional>{code}</autoref>' if target else code

    return ROLE.sub(replace, content)
