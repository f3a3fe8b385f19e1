"""The project's settings (dbt vars), declared once in settings.yml: read, checked and written out from here.

settings.yml holds every var's type, default, allowed values and meaning. From it this module
  * generates the `vars:` block of dbt_project.yml (so `var('x')` works everywhere with its default),
    macros/settings/settings_declared.sql (the declarations the compile-time check `check_settings` reads) and
    docs/settings.md: `python -m clvlayer.settings --write`, and `--check` fails when any of them is stale;
  * gives the Python side its defaults (`defaults`) and the same checks dbt runs at compile (`problems`), with the
    same messages: an undeclared var names the closest declared one and lists them all, a bad value names the var,
    the value and what is allowed, and inconsistent dates say which rule they break.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from clvlayer.project import PROJECT_ROOT

DECLARATIONS = PROJECT_ROOT / "settings.yml"
DBT_PROJECT = PROJECT_ROOT / "dbt_project.yml"
MACRO = PROJECT_ROOT / "macros" / "settings" / "settings_declared.sql"
DOCS = PROJECT_ROOT / "docs" / "settings.md"
GENERATOR = "python -m clvlayer.settings --write"
DATE_PATTERN = re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
MESSAGE_PREFIX = "Vars (dbt_project.yml, --vars) cannot be used: "
MESSAGE_SUFFIX = ". The settings, their allowed values and meanings: settings.yml (docs/settings.md)."


class SettingsError(ValueError):
    """Vars that cannot be used; the message lists every problem."""


@dataclass(frozen=True)
class Group:
    name: str
    title: str
    names: tuple[str, ...]


@cache
def _document() -> dict[str, Any]:
    return yaml.safe_load(DECLARATIONS.read_text())


@cache
def declarations() -> dict[str, dict[str, Any]]:
    """Every var's declaration, in file order, each with its group and its requirement text."""
    found: dict[str, dict[str, Any]] = {}
    for group, body in _document().items():
        for name, spec in body["vars"].items():
            if name in found:
                raise SettingsError(f"settings.yml: var {name} is declared twice")
            found[name] = {**spec, "group": group, "requirement": requirement(spec)}
    return found


def groups() -> list[Group]:
    return [Group(name, body["title"], tuple(body["vars"])) for name, body in _document().items()]


def project_default(name: str) -> Any:
    """The default as dbt_project.yml holds it (an environment variable's template where the var has one)."""
    spec = declarations()[name]
    if "env" in spec:
        return "{{ env_var('%s', %s) }}" % (spec["env"], _sql_quote(spec["default"]))
    return spec["default"]


def defaults() -> dict[str, Any]:
    """Every var with its default, as dbt_project.yml declares them."""
    return {name: project_default(name) for name in declarations()}


def default(name: str) -> Any:
    return declarations()[name]["default"]


def _sql_quote(text: str) -> str:
    return "'" + str(text).replace("'", "\\'") + "'"


# --- what is allowed ----------------------------------------------------------------------------------------------

def _shown(value: Any) -> str:
    text = str(value)
    return text if re.fullmatch(r"[A-Za-z0-9_]+", text) else json.dumps(text)


def _bounds(spec: dict[str, Any]) -> str:
    low = ("min", spec["min"]) if "min" in spec else ("above", spec["above"]) if "above" in spec else None
    high = ("max", spec["max"]) if "max" in spec else ("below", spec["below"]) if "below" in spec else None
    if low and high:
        strict = low[0] == "above" and high[0] == "below"
        if strict or (low[0] == "min" and high[0] == "max"):
            return f" {'strictly between' if strict else 'from'} {low[1]} {'and' if strict else 'to'} {high[1]}"
        return f" {'>' if low[0] == 'above' else '>='} {low[1]} and {'<' if high[0] == 'below' else '<='} {high[1]}"
    if low:
        return f" {'>' if low[0] == 'above' else '>='} {low[1]}"
    if high:
        return f" {'<' if high[0] == 'below' else '<='} {high[1]}"
    return ""


def requirement(spec: dict[str, Any]) -> str:
    """What a value must be, in words (the same words in the Python and the dbt messages)."""
    kind = spec["type"]
    if "allowed" in spec:
        text = "one of " + ", ".join(_shown(v) for v in spec["allowed"])
        if spec.get("case_insensitive"):
            text += " (any case)"
    elif kind == "integer":
        text = "a whole number" + _bounds(spec)
    elif kind == "number":
        text = "a number" + _bounds(spec)
    elif kind == "date":
        text = "a date (YYYY-MM-DD)"
    elif kind == "boolean":
        text = "true or false"
    elif kind == "list":
        text = "a list, each item " + requirement(spec["items"])
    elif kind == "mapping":
        parts = []
        if "required_keys" in spec:
            parts.append("keys " + ", ".join(spec["required_keys"]))
        if "keys" in spec and spec.get("keys") != spec.get("required_keys"):
            parts.append("keys among " + ", ".join(spec["keys"]))
        if "values" in spec:
            parts.append("each value " + requirement(spec["values"]))
        text = "a mapping" + (" (" + "; ".join(parts) + ")" if parts else "")
    else:
        text = "a string"
    if spec.get("optional"):
        text = f"empty ({spec['empty']}) or {text}"
    return text


def valid(value: Any, spec: dict[str, Any]) -> bool:
    """Whether `value` satisfies a declaration (the rules of macros/settings/check_settings.sql)."""
    if spec.get("optional") and value == "":
        return True
    kind = spec["type"]
    if kind in ("integer", "number"):
        ok = isinstance(value, int) if kind == "integer" else isinstance(value, (int, float))
        return ok and not isinstance(value, bool) and _within(value, spec)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "date":
        return not isinstance(value, (bool, int, float)) and bool(DATE_PATTERN.match(str(value)))
    if kind == "list":
        return isinstance(value, list) and all(valid(item, spec["items"]) for item in value)
    if kind == "mapping":
        return (isinstance(value, dict) and all(k in value for k in spec.get("required_keys", []))
                and all(k in spec.get("keys", [k]) for k in value)
                and all(valid(v, spec["values"]) for v in value.values() if "values" in spec))
    if not isinstance(value, str):
        return False
    if "allowed" in spec:
        if spec.get("case_insensitive"):
            return value.upper() in [a.upper() for a in spec["allowed"]]
        return value in spec["allowed"]
    return True


def _within(value: float, spec: dict[str, Any]) -> bool:
    return (value >= spec.get("min", value) and value <= spec.get("max", value)
            and ("above" not in spec or value > spec["above"]) and ("below" not in spec or value < spec["below"]))


def distance(a: str, b: str) -> int:
    """Levenshtein distance (the same algorithm as the macro _settings_distance)."""
    previous = list(range(len(b) + 1))
    for i, char in enumerate(a):
        current = [i + 1]
        for j, other in enumerate(b):
            current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (char != other)))
        previous = current
    return previous[-1]


def closest(name: str) -> str:
    names = list(declarations())
    return min(names, key=lambda candidate: (distance(name, candidate), names.index(candidate)))


# --- the checks ---------------------------------------------------------------------------------------------------

def problems(values: dict[str, Any]) -> list[str]:
    """Every problem of a set of vars (declared defaults overridden by the user's), one sentence each."""
    declared = declarations()
    found = [f"var {name} is not a setting of this project (did you mean {closest(name)}?); the settings are: "
             + ", ".join(declared) for name in values if name not in declared]
    for name, spec in declared.items():
        if name in values and not valid(values[name], spec):
            found.append(f"var {name} must be {spec['requirement']}, got {json.dumps(values[name], default=str)}")
    if valid(values.get("input_time_zone"), declared["input_time_zone"]):
        found += _time_zone_problems(values)
    return found or combination_problems(values)


def _time_zone_problems(values: dict[str, Any]) -> list[str]:
    """input_time_zone must be a zone DuckDB (ICU) knows: a check dbt's Jinja cannot make."""
    import duckdb

    zone = str(values.get("input_time_zone", default("input_time_zone"))).strip() or "UTC"
    if zone.upper() in ("UTC", "Z"):
        return []
    with duckdb.connect() as connection:
        known = connection.execute("select count(*) from pg_timezone_names() where name = ?", [zone]).fetchone()
    if known and known[0]:
        return []
    return [f"var input_time_zone must be a time zone name (e.g. UTC, Europe/Warsaw), got {json.dumps(zone)}"]


def combination_problems(values: dict[str, Any]) -> list[str]:
    """Settings that are valid one by one but not together (the same rules as check_settings.sql)."""
    found = []
    as_of, clv_as_of = str(values.get("as_of_date", "")), str(values.get("clv_as_of_date", ""))
    split = str(values.get("clv_holdout_split_date", ""))
    calibration_end = clv_as_of or as_of
    if as_of and clv_as_of and clv_as_of > as_of:
        found.append(f"var clv_as_of_date ({clv_as_of}) is after as_of_date ({as_of}): the predictive models "
                     "cannot be calibrated on orders the customer metrics leave out")
    if split and calibration_end and split >= calibration_end:
        found.append(f"var clv_holdout_split_date ({split}) must be before the calibration end ({calibration_end}, "
                     f"{'clv_as_of_date' if clv_as_of else 'as_of_date'}): the holdout lies between them")
    medium, high = (values.get(name, default(name)) for name in ("churn_risk_medium_from", "churn_risk_high_from"))
    if medium > high:
        found.append(f"var churn_risk_medium_from ({medium}) must not exceed churn_risk_high_from ({high}): the "
                     "medium churn-risk band lies between them")
    tiers = values.get("value_tier_shares", default("value_tier_shares"))
    vip = values.get("cvm_vip_value_tier", default("cvm_vip_value_tier"))
    if isinstance(tiers, dict) and vip not in tiers:
        found.append(f"var cvm_vip_value_tier must be one of the tiers of value_tier_shares ({', '.join(tiers)}), "
                     f"got {json.dumps(vip)}")
    shares = list(tiers.values()) if isinstance(tiers, dict) else []
    if shares and all(isinstance(share, (int, float)) for share in shares) and max(shares) != 1:
        found.append(f"var value_tier_shares must end at 1 (its largest cumulative share is {max(shares)}): "
                     "every ranked customer needs a tier, e.g. {top: 0.1, high: 0.3, medium: 0.6, low: 1.0}")
    return found


def check(values: dict[str, Any]) -> None:
    """Raise SettingsError listing every problem of `values` (see `problems`)."""
    found = problems(values)
    if found:
        raise SettingsError(MESSAGE_PREFIX + "; ".join(found) + MESSAGE_SUFFIX)


def user_vars(dbt_args: list[str] | None) -> dict[str, Any]:
    """The vars a dbt argument list sets with --vars (as dbt parses them: YAML)."""
    values: dict[str, Any] = {}
    args = list(dbt_args or [])
    for index, arg in enumerate(args):
        text = None
        if arg == "--vars" and index + 1 < len(args):
            text = args[index + 1]
        elif arg.startswith("--vars="):
            text = arg.split("=", 1)[1]
        if text:
            loaded = yaml.safe_load(text)
            if isinstance(loaded, dict):
                values.update(loaded)
    return values


# --- generated files ----------------------------------------------------------------------------------------------

def _flow(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6, sort_keys=False, allow_unicode=True)
    return text.removesuffix("\n...\n").strip()  # a plain scalar's document-end marker


def _yaml_var(name: str, value: Any) -> list[str]:
    line = f"  {name}: {_flow(value)}"
    if isinstance(value, str) and value.startswith("{{"):
        line = f'  {name}: "{value}"'
    if len(line) <= 118:
        return [line]
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return [f"  {name}:"] + [f"    - {_flow(item)}" for item in value]
    if isinstance(value, dict):
        return [f"  {name}:"] + [f"    {key}: {_flow(item)}" for key, item in value.items()]
    items, lines, current = [_flow(item) for item in value], [], f"  {name}: ["
    for item in items:
        if len(current) + len(item) + 2 > 118:
            lines.append(current.rstrip())
            current = "    "
        current += item + ", "
    return lines + [current[:-2] + "]"]


def vars_block() -> str:
    lines = ["vars:", f"  # Generated from settings.yml by `{GENERATOR}`: edit settings.yml, not this block.",
             "  # Types, allowed values and the checks: settings.yml; the list for readers: docs/settings.md."]
    for group in groups():
        lines.append(f"  # --- {group.name}: {group.title} " + "-" * max(3, 100 - len(group.name + group.title)))
        for name in group.names:
            lines.append(f"  # {declarations()[name]['meaning']}")
            lines += _yaml_var(name, project_default(name))
    return "\n".join(lines) + "\n"


def dbt_project_text() -> str:
    text = DBT_PROJECT.read_text()
    match = re.search(r"^vars:\n(?:[ #].*\n|\n)*?(?=^\S)", text, flags=re.M)
    if match is None:
        raise SettingsError("dbt_project.yml: no top-level vars: block followed by another key")
    return text[:match.start()] + vars_block() + "\n" + text[match.end():]


def macro_text() -> str:
    payload = {"order": list(declarations()), "vars": declarations()}
    return ("{#- Generated from settings.yml by `" + GENERATOR + "`: do not edit. The declarations of every var,\n"
            "    read by check_settings (macros/settings/check_settings.sql). -#}\n"
            "{% macro settings_declared() -%}\n"
            "{%- set text -%}{% raw %}" + json.dumps(payload, indent=1, default=str) + "{% endraw %}{%- endset -%}\n"
            "{{ return(fromjson(text)) }}\n"
            "{%- endmacro %}\n")


def _docs_value(value: Any) -> str:
    text = _flow(value) if not isinstance(value, str) else json.dumps(value)
    return "`" + text.replace("|", "\\|") + "`" if len(text) <= 60 else "see settings.yml"


def docs_text() -> str:
    lines = [f"<!-- Generated from settings.yml by `{GENERATOR}`: do not edit. -->", "", "# Settings", "",
             "Every setting of the project is a dbt var, declared once in `settings.yml` (type, default, allowed "
             "values, meaning).", "Set them with `--vars` (`clv build --vars '{as_of_date: 2024-06-30}'`, "
             "`dbt build --vars ...`). A misspelt or undeclared var, a", "value outside what is allowed and "
             "inconsistent dates stop the build before any model runs, naming the var and the fix.", ""]
    for group in groups():
        note = _document()[group.name].get("note")
        lines += [f"## {group.title}", "", *([note, ""] if note else []), "| var | default | allowed | meaning |",
                  "|---|---|---|---|"]
        for name in group.names:
            spec = declarations()[name]
            shown = f"env {spec['env']}, else {_docs_value(spec['default'])}" if "env" in spec \
                else _docs_value(spec["default"])
            lines.append(f"| `{name}` | {shown} | {spec['requirement'].replace('|', chr(92) + '|')} | "
                         f"{spec['meaning'].replace('|', chr(92) + '|')} |")
        lines.append("")
    return "\n".join(lines)


def generated() -> dict[Path, str]:
    """Each generated file with the text it must have."""
    return {DBT_PROJECT: dbt_project_text(), MACRO: macro_text(), DOCS: docs_text()}


def stale() -> list[Path]:
    return [path for path, text in generated().items() if not path.exists() or path.read_text() != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clvlayer.settings", description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write the generated files")
    parser.add_argument("--check", action="store_true", help="fail when a generated file is stale")
    args = parser.parse_args(argv)
    if args.write:
        for path, text in generated().items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(PROJECT_ROOT)}")
        return 0
    old = stale()
    for path in old:
        print(f"{path.relative_to(PROJECT_ROOT)} disagrees with settings.yml. Fix: {GENERATOR}")
    return 1 if old else 0


if __name__ == "__main__":
    sys.exit(main())
