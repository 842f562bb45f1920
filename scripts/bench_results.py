"""``bench/results.json``: the parts of ``make bench``, and merging a subset run into the file.

JSON schema (``bench/results.json``)::

    {
      "schema": 1,
      "commit": "<git commit of the measured tree, '+dirty' if modified>",
      "date": "<UTC ISO time>",
      "parts": {"<part>": {"commit": "...", "date": "...", "seconds": s}, ...},
      "config": {"<part>": {<what was measured: geometry, lanes, traffic, sample counts>}},
      "figures": {"<part>.<figure key>": <number or null>, ...},     # one flat key per figure
      "goals": {"<figure key>": "<goal from the issues, or what bounds the figure>", ...}
    }
"""

from __future__ import annotations

PARTS = ("popularity_table", "banked_table", "micro_batch_scheduler", "gather_engine",
         "hotline_top", "sim_speed", "native_speed", "software", "hotline_host", "distributed",
         "criteo_files")


def part_of(key: str) -> str:
    return key.split(".", 1)[0]


def ordered(mapping: dict) -> dict:
    """Keys grouped by part (``PARTS`` order), insertion order within a part."""
    rank = {part: n for n, part in enumerate(PARTS)}
    return dict(sorted(mapping.items(), key=lambda item: rank.get(part_of(item[0]), len(rank))))


def merge_results(old: dict | None, new: dict, parts) -> dict:
    """``new`` (a run of ``parts`` only) merged into ``old`` (the file's previous contents):
    the figures, goals and config entries of ``parts`` come from ``new``, the rest from
    ``old``; ``parts`` keeps each part's provenance. An old file of another schema is
    replaced."""
    if not old or old.get("schema") != new["schema"]:
        return new
    parts = set(parts)
    provenance = dict(old.get("parts") or {part: {"commit": old.get("commit"),
                                                  "date": old.get("date")}
                                           for part in {part_of(k) for k in old["figures"]}})
    provenance.update(new["parts"])
    merged = {"schema": new["schema"], "commit": new["commit"], "date": new["date"],
              "parts": {p: provenance[p] for p in PARTS if p in provenance}}
    for section in ("config", "figures", "goals"):
        kept = {k: v for k, v in old.get(section, {}).items() if part_of(k) not in parts}
        merged[section] = ordered({**kept, **new[section]})
    return merged


def format_value(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()
                                  and abs(value) >= 1000):
        return f"{int(value):,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"

