"""Dotted paths into a run config: the one grammar shared by the sweep's axes (``[sweep]``) and
:func:`harmosync.config.replace`.

A path names one config entry: ``table.key`` followed, for list entries, by entry numbers
from 1 (for ``[probes]`` lists the probe number) or ``[*]`` for every entry:
``"chain.g"``, ``"probes.sites[2]"``, ``"probes.strengths[*]"``, ``"graph.edges[3][2]"``. Arrays
of tables (``[[baths]]``) are numbered too: ``"baths[1].rate"``.

The grammar works on plain dicts and does not import the config: :func:`parse_path` is given
the root model (``config.RunConfig``) whose table and key names it checks. ``what`` starts every
message and says where the path came from (``"sweep error"``, ``"config error"``).
"""

from __future__ import annotations

import re
from typing import Any

from .errors import HarmosyncError, suggest

#: Tables that are arrays of tables in the config ([[baths]]): paths number them, table[k].key.
ARRAY_TABLES = ("baths",)
NAME = r"[A-Za-z_]\w*"
_PATH = re.compile(rf"^({NAME})(\[(?:\d+|\*)\])?\.({NAME})((?:\[(?:\d+|\*)\])*)$")
PATH_HELP = ("write a dotted path like \"chain.g\" or \"probes.sites[2]\" (probe numbers start at 1, "
             "[*] sets every entry)")


def is_key(segment) -> bool:
    """A segment that names a table or key (not an entry number or ``"*"``)."""
    return isinstance(segment, str) and segment != "*"


def path_segments(path: str, *, what: str = "config error") -> tuple:
    """The grammar alone: ``"probes.sites[2]"`` → ``("probes", "sites", 1)``,
    ``"baths[1].rate"`` → ``("baths", 0, "rate")``. Entry numbers are 1-based in the path,
    0-based in the segments; ``[*]`` stays ``"*"``. Does not look at the config."""
    m = _PATH.match(path.replace(" ", "")) if isinstance(path, str) else None
    if not m:
        raise HarmosyncError(f"{what}: '{path}' is not a config path; {PATH_HELP}")
    table, table_idx, key, idx = m.groups()
    numbers = re.findall(r"\[(\d+|\*)\]", (table_idx or "") + idx)
    if any(t != "*" and int(t) < 1 for t in numbers):
        raise HarmosyncError(f"{what}: '{path}': entries are numbered from 1 (probe 1, probe 2, ...)")
    segs = [("*" if t == "*" else int(t) - 1) for t in numbers]
    head = [table] + (segs[:1] if table_idx else []) + [key]
    return tuple(head + segs[1 if table_idx else 0:])


def table_fields(schema, table: str) -> list[str]:
    """The keys of ``table`` in the root pydantic model ``schema`` ([] for a table of no model)."""
    ann = schema.model_fields[table].annotation
    models = [a for a in getattr(ann, "__args__", (ann,)) if isinstance(a, type) and hasattr(a, "model_fields")]
    return list(models[0].model_fields) if models else []


def parse_path(path: str, schema, *, what: str = "config error") -> tuple:
    """``"probes.sites[2]"`` → ``("probes", "sites", 1)`` (see :func:`path_segments`), checking
    the table and key names against ``schema`` (the root model, ``config.RunConfig``)."""
    segs = path_segments(path, what=what)
    table = segs[0]
    tables = list(schema.model_fields)
    if table not in tables:
        raise HarmosyncError(f"{what}: '{path}': unknown table '{table}'{suggest(table, tables)}; "
                             f"tables are {', '.join(tables)}")
    if table in ARRAY_TABLES:  # [[baths]]: baths[k].key, tables numbered from 1
        if is_key(segs[1]):
            raise HarmosyncError(f"{what}: '{path}': [[{table}]] is an array of tables; number the "
                                 f"table, e.g. '{table}[1].{segs[1]}' (tables count from 1)")
        key = segs[2]
    elif not isinstance(segs[1], str) or segs[1] == "*":
        raise HarmosyncError(f"{what}: '{path}': [{table}] is one table, not an array of tables "
                             f"[[{table}]]; drop the number after '{table}'")
    else:
        key = segs[1]
    fields = table_fields(schema, table)
    if key not in fields:
        raise HarmosyncError(f"{what}: '{path}': unknown key '{key}' in [{table}]{suggest(key, fields)}; "
                             f"valid keys: {', '.join(fields)}")
    return segs


def set_path(data: dict, segments: tuple, value) -> dict:
    """A copy of ``data`` with ``value`` at ``segments``; containers along the path are copied,
    everything else shared. A missing table or key is created (the schema checks it later)."""
    head, rest = segments[0], segments[1:]
    if is_key(head):
        out = dict(data)
        out[head] = value if not rest else set_path(out.get(head, {}), rest, value)
        return out
    out = list(data)
    idx = range(len(out)) if head == "*" else [head]
    for i in idx:
        out[i] = value if not rest else set_path(out[i], rest, value)
    return out


def check_target(base: dict, path: str, segments: tuple, *, what: str = "config error") -> None:
    """The entry at ``segments`` must exist in the config dict ``base`` (lists cannot grow),
    except for a plain ``table.key`` whose key has a default."""
    if all(is_key(s) for s in segments):
        return
    node: Any = base
    where, first = "", True
    for s in segments:
        if is_key(s):
            node = node.get(s) if isinstance(node, dict) else None
            if node is None and first and s in ARRAY_TABLES:
                node = []  # an absent array of tables has 0 entries (a closed run has no [[baths]])
            where = f"{where}.{s}" if where else s
            continue
        if not isinstance(node, list):
            raise HarmosyncError(f"{what}: '{path}': {where} is not a list in the config; give the full "
                                 f"list in [{segments[0]}] first, then set one entry")
        if s != "*" and s >= len(node):
            noun = "entry"
            if first:
                noun = "probe" if segments[0] == "probes" else "table" if segments[0] in ARRAY_TABLES else noun
            raise HarmosyncError(f"{what}: '{path}': {where} has {len(node)} "
                                 f"{'entry' if len(node) == 1 else 'entries'}; {noun} {s + 1} does not exist")
        node = node[0] if s == "*" else node[s]
        where += "[*]" if s == "*" else f"[{s + 1}]"
        first = False
