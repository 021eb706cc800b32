"""A radial distribution network: its file format, its loading and its validation.

A network is one transformer (MV/LV, or HV/MV) and the lines below it, all at the
transformer's secondary nominal voltage. Electrical data are in physical units, not per unit:
line resistance and reactance in ohm (the whole line, not per km), ampacity in A, the
transformer's rating in kVA and its impedance as the short-circuit voltages ``vk_percent``
(total) and ``vkr_percent`` (resistive part) of IEC 60076-5 (pandapower's convention).
Capacitance of lines and the transformer's magnetising branch are not modelled (on a
few hundred metres of LV cable both are far below a kVA; ``benchmarks/bench_network.py``).

Files are JSON or YAML, e.g.::

    name: two-bus example
    nominal_voltage_kv: 0.4
    slack_voltage_pu: 1.0
    buses: [mv, busbar, house]
    transformer: {name: t1, hv_bus: mv, lv_bus: busbar, rated_kva: 250, vk_percent: 4,
                  vkr_percent: 1.2}
    lines: [{name: l1, from_bus: busbar, to_bus: house, r_ohm: 0.02, x_ohm: 0.008,
             max_current_a: 270}]

The network must be radial and connected: the transformer's ``hv_bus`` (the slack, the upstream
grid at ``slack_voltage_pu``) carries only the transformer, and every other bus is reached from
it by exactly one path. Every bad value raises a ``ValueError`` naming the element and field.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from evgrid_gym.data.bundled import BUNDLED, data_path

BUNDLED_NETWORKS = tuple(name for name, path in BUNDLED.items() if path.startswith("networks/"))
"""Names of the bundled network descriptions (``data/bundled/NOTICE.md``)."""


class StrictModel(BaseModel):
    """Strict types: unknown keys, NaN, infinities, booleans or strings as numbers are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]


class Transformer(StrictModel):
    name: str
    hv_bus: str
    """The upstream (slack) bus; it carries nothing but this transformer."""
    lv_bus: str
    rated_kva: Positive
    vk_percent: Positive
    """Short-circuit voltage, % of the rated voltage: the impedance ``vk/100 * Vn^2 / Sn``."""
    vkr_percent: NonNegative
    """Its resistive part, % (``vkr <= vk``): copper losses at rated current."""

    @model_validator(mode="after")
    def _vkr_below_vk(self):
        if self.vkr_percent > self.vk_percent:
            raise ValueError(
                f"transformer ({self.name!r}).vkr_percent: got {self.vkr_percent}; must be <= "
                f"vk_percent ({self.vk_percent})"
            )
        return self


class Line(StrictModel):
    name: str
    from_bus: str
    to_bus: str
    r_ohm: Positive
    """Resistance of the whole line, ohm."""
    x_ohm: NonNegative
    """Reactance of the whole line, ohm."""
    max_current_a: Positive
    """Ampacity (thermal current limit), A."""


class NetworkDescription(StrictModel):
    """A radial network under one transformer (module docstring)."""

    name: str
    source: str = ""
    """Where the data come from (citation, licence)."""
    nominal_voltage_kv: Positive
    """Line-to-line nominal voltage of the lines (the transformer's secondary), kV."""
    slack_voltage_pu: Annotated[float, Field(gt=0.5, lt=1.5)] = 1.0
    """Voltage of the upstream grid at the transformer's hv bus, pu."""
    buses: Annotated[list[str], Field(min_length=2)]
    transformer: Transformer
    lines: list[Line] = []

    @model_validator(mode="after")
    def _radial(self):
        tree_order(self)  # raises on a bad topology
        return self


def tree_order(description: NetworkDescription) -> tuple[list[str], list[int], list[str]]:
    """Buses in topological order with their feeding branch.

    Returns:
        ``(buses, parent, branch)``: bus names, root (the transformer's hv bus) first and
        every bus after its upstream bus; the index of each bus's upstream bus (-1 for the
        root); and the name of the branch (line or transformer) that feeds it ("" for the root).

    Raises:
        ValueError: a repeated bus or branch name, an element on an unknown bus, a line on the
            hv bus, a loop, or a bus not connected to the transformer.
    """
    d = description
    _check_unique("buses", d.buses)
    t = d.transformer
    _check_unique("transformer and lines", [t.name] + [line.name for line in d.lines])
    known = set(d.buses)
    for field in ("hv_bus", "lv_bus"):
        _check_bus(f"transformer ({t.name!r}).{field}", getattr(t, field), known)
    if t.hv_bus == t.lv_bus:
        raise ValueError(f"transformer ({t.name!r}): hv_bus and lv_bus are both {t.hv_bus!r}")
    edges: dict[str, list[tuple[str, int]]] = {bus: [] for bus in d.buses}
    for i, line in enumerate(d.lines):
        where = f"lines[{i}] ({line.name!r})"
        for field in ("from_bus", "to_bus"):
            _check_bus(f"{where}.{field}", getattr(line, field), known)
        if t.hv_bus in (line.from_bus, line.to_bus):
            raise ValueError(
                f"{where}: ends on the transformer's hv_bus {t.hv_bus!r}; the network is what "
                "lies below the transformer, so only the transformer may touch that bus"
            )
        if line.from_bus == line.to_bus:
            raise ValueError(f"{where}: from_bus and to_bus are both {line.from_bus!r}")
        edges[line.from_bus].append((line.to_bus, i))
        edges[line.to_bus].append((line.from_bus, i))
    buses, parent, branch = [t.hv_bus, t.lv_bus], [-1, 0], ["", t.name]
    index = {t.hv_bus: 0, t.lv_bus: 1}
    position = 1
    while position < len(buses):  # breadth first: ``buses`` grows as buses are reached
        bus = buses[position]
        for neighbour, i in edges[bus]:
            name = d.lines[i].name
            if name == branch[position]:
                continue
            if neighbour in index:
                raise ValueError(
                    f"lines[{i}] ({name!r}): closes a loop through buses {bus!r} and "
                    f"{neighbour!r}; the network must be radial (one path from the transformer "
                    "to every bus)"
                )
            index[neighbour] = len(buses)
            buses.append(neighbour)
            parent.append(position)
            branch.append(name)
        position += 1
    unreached = [bus for bus in d.buses if bus not in index]
    if unreached:
        raise ValueError(
            f"buses: {unreached[:5]}{' ...' if len(unreached) > 5 else ''} not connected to the "
            f"transformer ({len(unreached)} bus(es)); every bus must be reached by lines"
        )
    return buses, parent, branch


def _check_unique(field: str, names: list[str]) -> None:
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"{field}: names must be unique; repeated: {repeated}")


def _check_bus(where: str, bus: str, known: set[str]) -> None:
    if bus not in known:
        raise ValueError(f"{where}: got {bus!r}; not one of the network's buses")


def read_description(value: Any) -> Any:
    """A network given by bundled name or file path, as the mapping of its file.

    Mappings (inline descriptions) and descriptions pass unchanged.

    Raises:
        ValueError: an unknown name, a missing file, or a file that is not a JSON or YAML
            mapping.
    """
    if not isinstance(value, str):
        return value
    path = data_path(value)
    if value not in BUNDLED_NETWORKS and (value in BUNDLED or not path.is_file()):
        raise ValueError(
            f"got {value!r}; must be a bundled network {list(BUNDLED_NETWORKS)}, a path to a "
            "JSON or YAML network description, or the description itself"
        )
    try:
        text = path.read_text()
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as err:
        raise ValueError(f"{path}: malformed {path.suffix or 'YAML'} file: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(
            f"{path}: must hold a mapping of network fields, got {type(data).__name__}"
        )
    return data
