"""Load hardware profiles: built-in names or user files, ``base`` inheritance, one clear error per problem."""

from __future__ import annotations

import json
import reprlib
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from nas_edge.errors import NasEdgeError, first_line
from nas_edge.hardware import technology
from nas_edge.hardware.schema import DigitalProfile, HardwareProfile, IMCProfile

Profile = IMCProfile | DigitalProfile
_ADAPTER: TypeAdapter[Profile] = TypeAdapter(HardwareProfile)
_MAX_FILE_BYTES = 1 << 20
_MAX_NODES = 20_000  # a profile has ~100 values; anchors/aliases must not expand into millions
_REPR = reprlib.Repr()
_REPR.maxstring, _REPR.maxother, _REPR.maxlist, _REPR.maxdict, _REPR.maxlevel = 60, 60, 4, 4, 2


class ProfileError(NasEdgeError, ValueError):
    """An invalid hardware profile. ``str()`` names the file, the field path and what was expected."""

    def __init__(self, source: str, message: str, field: str = "") -> None:
        self.source, self.field, self.message = source, field, message
        where = f"{source}: {field}: " if field else f"{source}: "
        super().__init__(where + message)


def _builtin_dir() -> Any:
    return resources.files("nas_edge.hardware_profiles")


def builtin_names() -> list[str]:
    """Names of the profiles shipped with nas-edge."""
    return list(_builtins())


@lru_cache(maxsize=1)
def _builtins() -> tuple[str, ...]:
    """The shipped profiles' names, read from the package once (``estimate(w, "name")`` asks on every call)."""
    return tuple(sorted(p.name[:-5] for p in _builtin_dir().iterdir() if p.name.endswith(".yaml")))


def _read_yaml(text: str, source: str) -> dict[str, Any]:
    if not text.strip():
        raise ProfileError(source, "the file is empty; expected a YAML mapping of profile fields")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or first_line(exc)
        raise ProfileError(source, f"malformed YAML{where}: {problem}") from None
    except RecursionError:
        raise ProfileError(source, "malformed YAML: nesting too deep") from None
    if not isinstance(data, dict):
        raise ProfileError(source, f"expected a YAML mapping of profile fields, got {type(data).__name__}")
    _check_size(data, source)
    return data


def _check_size(data: Any, source: str) -> None:
    """Refuse documents that expand (through YAML aliases) into more nodes than any profile has."""
    count, stack = 0, [data]
    while stack:
        node = stack.pop()
        count += 1
        if count > _MAX_NODES:
            raise ProfileError(source, f"document expands to more than {_MAX_NODES} values; not a hardware profile")
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


_PROFILE_SUFFIXES = (".yaml", ".yml")


def _locate(ref: str, relative_to: Path | None) -> tuple[str, str]:
    """(source label, text) for a built-in name or a file path. A ``base:`` (``relative_to`` given: the folder
    of the file that names it) is a built-in or a ``.yaml``/``.yml`` file, relative to that folder, never to
    the working directory; any other file (``base: /etc/shadow``) is refused before it is read, so no message
    can quote it."""
    if ref in _builtins():
        return f"<built-in {ref}>", (_builtin_dir() / f"{ref}.yaml").read_text(encoding="utf-8")
    path = Path(ref).expanduser()
    if relative_to is not None:
        if not path.is_absolute():
            path = relative_to / path
        if path.suffix.lower() not in _PROFILE_SUFFIXES or path.resolve().suffix.lower() not in _PROFILE_SUFFIXES:
            raise ProfileError(ref, "a base is a built-in name or a profile file ending in .yaml or .yml")
    if not path.is_file():
        names = ", ".join(builtin_names())
        raise ProfileError(ref, f"no such profile file, and not a built-in name (built-ins: {names})")
    if path.stat().st_size > _MAX_FILE_BYTES:
        raise ProfileError(str(path), f"file is larger than {_MAX_FILE_BYTES} bytes; not a hardware profile")
    try:
        return str(path), path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(str(path), f"cannot read the file: {exc}") from None


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _resolve(data: dict[str, Any], source: str, relative_to: Path | None, seen: tuple[str, ...]) -> dict[str, Any]:
    base = data.get("base")
    if base is None:
        return _scale_own(dict(data), source)
    if not isinstance(base, str) or not base:
        raise ProfileError(source, f"expected a profile name or file path, got {base!r}", "base")
    if base in seen or len(seen) > 16:
        raise ProfileError(source, f"cyclic base chain: {' -> '.join((*seen, base))}", "base")
    try:
        base_source, text = _locate(base, relative_to)
    except ProfileError as exc:
        raise ProfileError(source, f"unknown base profile {base!r}: {exc.message}", "base") from None
    base_data = _read_yaml(text, base_source)
    base_dir = Path(base_source).parent if not base_source.startswith("<") else None
    merged_base = _resolve(base_data, base_source, base_dir, (*seen, base))
    own = {k: v for k, v in data.items() if k != "base"}
    merged_base = _scale_base(merged_base, own, source)
    merged = _deep_merge(merged_base, _scale_own(own, source, merged_base))
    merged["base"] = base
    if "provenance" not in data:
        merged["provenance"] = f"{merged_base.get('provenance', '')} (extended from {base})".strip()
    return merged


# ---- technology scaling (rules in nas_edge.hardware.technology) ------------------------------------------

def _node(data: Mapping[str, Any], key: str, source: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ProfileError(source, f"expected a positive number of nanometres (got {_REPR.repr(value)})", key)
    return float(value)


def _figures(data: Mapping[str, Any], kind: str, memory: Any) -> list[tuple[str, str, Any]]:
    """(path, rule, value) of the scalable figures present in ``data``."""
    out = []
    for path in (technology.IMC_FIGURES if kind == "imc" else technology.DIGITAL_FIGURES):
        node: Any = data
        for part in path.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        rule = technology.figure_rule(path, kind, memory if isinstance(memory, str) else None)
        if node is not None and rule is not None:
            out.append((path, rule, node))
    return out


def _scaled_value(value: Any, rule: str, from_nm: float, to_nm: float, bits: int) -> Any:
    if isinstance(value, Mapping):  # a table ADC's per-bit figures
        return {k: _scaled_value(v, rule, from_nm, to_nm, int(k) if str(k).isdigit() else bits)
                for k, v in value.items()}
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value  # left for validation to refuse
    return float(value) * technology.factor(rule, from_nm, to_nm, bits=bits)


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node = data
    for part in parts[:-1]:
        node[part] = dict(node[part])
        node = node[part]
    node[parts[-1]] = value


def _check_nodes(source: str, *nodes: tuple[str, float]) -> None:
    for key, nm in nodes:
        try:
            technology.check_node(nm, key)
        except technology.TechnologyError as exc:
            raise ProfileError(source, str(exc), key) from None


def _scale(data: dict[str, Any], context: Mapping[str, Any], from_nm: float, to_nm: float, skip: set[str],
           source: str) -> tuple[dict[str, Any], dict[str, str]]:
    """``data`` with its scalable figures (but ``skip``) scaled; ``context`` gives kind, memory and ADC bits."""
    kind = str(context.get("kind", "imc"))
    array, adc = context.get("array"), context.get("adc")
    memory = array.get("memory") if isinstance(array, Mapping) else None
    bits = adc.get("bits", 4) if isinstance(adc, Mapping) else 4
    bits = bits if isinstance(bits, int) and bits >= 1 else 4
    out, done = dict(data), {}
    for path, rule, value in _figures(data, kind, memory):
        if path in skip:
            continue
        try:
            _set(out, path, _scaled_value(value, rule, from_nm, to_nm, bits))
        except technology.TechnologyError as exc:
            raise ProfileError(source, str(exc), path) from None
        done[path] = rule
    return out, done


def _scale_own(own: dict[str, Any], source: str, base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Figures written in this file at ``figures_nm`` scaled to the chip's ``technology_nm``."""
    at = _node(own, "figures_nm", source)
    own.pop("figures_nm", None)
    to = _node(own, "technology_nm", source)
    if to is None and base is not None:
        to = _node(base, "technology_nm", source)
    if at is None or to is None or at == to:
        return own
    _check_nodes(source, ("figures_nm", at), ("technology_nm", to))
    scaled, done = _scale(own, _deep_merge(base or {}, own), at, to, set(), source)
    if done:
        scaled["scaling"] = {"from_nm": at, "to_nm": to, "scaled": done, "explicit": []}
    return scaled


def _scale_base(base: dict[str, Any], own: Mapping[str, Any], source: str) -> dict[str, Any]:
    """The base's figures scaled to this file's ``technology_nm`` when it names another node; figures this file
    gives explicitly win (and are listed with both values)."""
    to, at = _node(own, "technology_nm", source), _node(base, "technology_nm", source)
    if to is None or at is None or to == at:
        return base
    _check_nodes(source, ("technology_nm", to), ("base technology_nm", at))
    context = _deep_merge(base, own)
    explicit = {path for path, _, _ in _figures(own, str(context.get("kind", "imc")),
                                                (context.get("array") or {}).get("memory"))}
    scaled, done = _scale(base, context, at, to, explicit, source)
    would, _ = _scale(base, context, at, to, set(), source)
    notes = []
    for path in sorted(explicit):
        old, new = _lookup(base, path), _lookup(would, path)
        given = _lookup(own, path)
        if old is not None and new != given:
            notes.append(f"{path}: the explicit {_REPR.repr(given)} wins over {_REPR.repr(new)}, the base's "
                         f"{_REPR.repr(old)} at {at:g} nm scaled to {to:g} nm")
    scaled["scaling"] = {"from_nm": at, "to_nm": to, "scaled": done, "explicit": notes}
    return scaled


def _lookup(data: Mapping[str, Any], path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def _field_name(part: Any) -> str:
    text = str(part)
    return text if text.isprintable() and len(text) <= 40 else _REPR.repr(text)


def _format_error(exc: ValidationError, source: str) -> ProfileError:
    first = exc.errors()[0]
    loc = [_field_name(p) for p in first["loc"]]
    if loc and loc[0] in ("imc", "digital"):  # discriminated union tag
        loc = loc[1:]
    field = ".".join(loc) or "(top level)"
    kind, msg = first["type"], first["msg"]
    if kind == "extra_forbidden":
        msg = "unknown field (check the spelling; `nas-edge hardware schema` lists the fields)"
    elif kind == "missing":
        msg = "required field is missing"
    elif kind == "string_pattern_mismatch":  # the one pattern: printable names
        msg = f"must be printable text without control characters (got {_REPR.repr(first['input'])})"
    elif kind == "union_tag_invalid" or kind == "union_tag_not_found":
        field, msg = "kind", "expected 'imc' or 'digital'"
    elif "input" in first and kind not in ("value_error",):
        msg = f"{msg} (got {_REPR.repr(first['input'])})"
    more = len(exc.errors()) - 1
    if more:
        msg += f" (and {more} more problem{'s' if more > 1 else ''})"
    return ProfileError(source, msg, field)


def _validate(data: dict[str, Any], source: str) -> Profile:
    data = dict(data)
    data.setdefault("kind", "imc")
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise _format_error(exc, source) from None


def profile_from_dict(data: Mapping[str, Any], *, source: str = "<dict>") -> Profile:
    """Validate a profile given as a mapping (``base`` is resolved against the built-ins)."""
    if not isinstance(data, Mapping):
        raise ProfileError(source, f"expected a mapping of profile fields, got {type(data).__name__}")
    _check_size(data, source)
    return _validate(_resolve(dict(data), source, None, ()), source)


def load_profile(ref: str | Path | Profile) -> Profile:
    """A profile from a built-in name, a YAML file path, or an already-built profile."""
    if isinstance(ref, (IMCProfile, DigitalProfile)):
        return ref
    ref = str(ref)
    if ref in _builtins():
        return _load_builtin(ref)
    source, text = _locate(ref, None)
    data = _read_yaml(text, source)
    return _validate(_resolve(data, source, Path(source).parent, (source,)), source)


@lru_cache(maxsize=64)
def _load_builtin(name: str) -> Profile:
    source, text = _locate(name, None)
    return _validate(_resolve(_read_yaml(text, source), source, None, (name,)), source)


def profile_to_dict(profile: Profile) -> dict[str, Any]:
    """JSON-safe dict of a profile (``base`` already applied)."""
    data: dict[str, Any] = json.loads(profile.model_dump_json())
    return data


def json_schema() -> dict[str, Any]:
    """JSON Schema of a profile file, for editors. A figure that scales with ``technology_nm`` carries
    ``x-scales-with`` (its rule in :mod:`nas_edge.hardware.technology`) and says so in its description."""
    schema = _ADAPTER.json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "nas-edge hardware profile"
    defs = schema["$defs"]

    def prop(top: str, path: str) -> dict[str, Any]:
        *sections, field = path.split(".")
        node = defs[top]
        for sec in sections:
            node = defs[node["properties"][sec]["$ref"].rsplit("/", 1)[-1]]
        return dict.__getitem__(node["properties"], field)

    def note(p: dict[str, Any], text: str) -> None:
        p["description"] = f"{p['description'].rstrip('.')}; {text}" if p.get("description") else text

    for top, figures in (("IMCProfile", technology.IMC_FIGURES), ("DigitalProfile", technology.DIGITAL_FIGURES)):
        for path, rule in figures.items():
            p = prop(top, path)
            p["x-scales-with"] = rule
            by_memory = technology.MEMORY_RULES.get(rule)
            note(p, "scales with technology_nm: " + (
                f"{by_memory[0]} if array.memory is 'sram', else {by_memory[1]}" if by_memory else rule))
    for path, why in technology.UNSCALED.items():
        note(prop("IMCProfile" if "." in path else "DigitalProfile", path), f"not scaled with technology_nm ({why})")
    # a file with `base` holds only what differs: the same fields, none of them required
    partial = {f"Partial{name}": _without_required(d) for name, d in defs.items()}
    defs.update(partial)
    full = {k: schema.pop(k) for k in ("oneOf", "discriminator") if k in schema}
    schema["if"] = {"required": ["base"]}
    schema["then"] = {"anyOf": [{"$ref": "#/$defs/PartialIMCProfile"}, {"$ref": "#/$defs/PartialDigitalProfile"}]}
    schema["else"] = full
    return schema


def _without_required(node: Any) -> Any:
    """A schema fragment with no ``required`` lists and its ``$defs`` references pointing at the partial defs."""
    if isinstance(node, dict):
        return {k: ("#/$defs/Partial" + v.rsplit("/", 1)[-1] if k == "$ref" else _without_required(v))
                for k, v in node.items() if k != "required"}
    if isinstance(node, list):
        return [_without_required(v) for v in node]
    return node
