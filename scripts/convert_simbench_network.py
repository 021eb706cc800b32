"""Converts a SimBench LV grid into evgrid_gym's network description (run once, offline).

The bundled ``simbench_lv_semiurb4`` network was made with::

    pip install simbench
    python scripts/convert_simbench_network.py 1-LV-semiurb4--0-sw \
        evgrid_gym/data/bundled/networks/simbench_1-LV-semiurb4--0-sw.json

It keeps the buses, lines (r and x of the whole line in ohm, ampacity in A), the one
transformer (rating, vk, vkr) and the external grid's voltage setpoint; loads, generators,
profiles, line capacitance and the transformer's magnetising branch are left out (the runtime
does not model them). The grid must be radial with every switch closed and every element in
service; the script checks this. SimBench (Meinecke et al., Energies 13 (2020) 3290) is under
the Open Database License 1.0: the file it writes is a derived database under the same licence.
"""

from __future__ import annotations

import argparse
import json

import simbench

from evgrid_gym.grid.description import NetworkDescription

SIGNIFICANT_DIGITS = 6


def _round(value: float) -> float:
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def convert(code: str) -> dict:
    """The description (a JSON-ready dict) of SimBench grid ``code``."""
    net = simbench.get_simbench_net(code)
    if len(net.trafo) != 1 or len(net.ext_grid) != 1:
        raise SystemExit(f"{code}: needs one transformer and one external grid")
    if not (net.switch.closed.all() and net.line.in_service.all() and net.bus.in_service.all()):
        raise SystemExit(f"{code}: has open switches or elements out of service")
    trafo = net.trafo.iloc[0]
    if trafo.tap_pos != trafo.tap_neutral:
        raise SystemExit(f"{code}: the transformer's tap is off its neutral position")
    lv_kv = float(trafo.vn_lv_kv)
    if not (net.bus.vn_kv.drop(trafo.hv_bus) == lv_kv).all():
        raise SystemExit(f"{code}: the lines are not all at the transformer's {lv_kv} kV")
    ext_grid = net.ext_grid.iloc[0]
    if ext_grid.bus != trafo.hv_bus:
        raise SystemExit(f"{code}: the external grid is not at the transformer's hv bus")
    name = net.bus.name.to_dict()
    lines = [
        {
            "name": line["name"],
            "from_bus": name[line.from_bus],
            "to_bus": name[line.to_bus],
            "r_ohm": _round(line.r_ohm_per_km * line.length_km / line.parallel),
            "x_ohm": _round(line.x_ohm_per_km * line.length_km / line.parallel),
            "max_current_a": _round(1000.0 * line.max_i_ka * line.df * line.parallel),
        }
        for _, line in net.line.iterrows()
    ]
    description = {
        "name": f"SimBench {code}",
        "source": (
            f"SimBench {code} (simbench {simbench.__version__}; Meinecke et al., Energies 13 "
            "(2020) 3290), converted by scripts/convert_simbench_network.py; ODbL 1.0"
        ),
        "nominal_voltage_kv": lv_kv,
        "slack_voltage_pu": float(ext_grid.vm_pu),
        "buses": [name[b] for b in net.bus.index],
        "transformer": {
            "name": trafo["name"],
            "hv_bus": name[trafo.hv_bus],
            "lv_bus": name[trafo.lv_bus],
            "rated_kva": _round(1000.0 * trafo.sn_mva * trafo.parallel),
            "vk_percent": float(trafo.vk_percent),
            "vkr_percent": float(trafo.vkr_percent),
        },
        "lines": lines,
    }
    NetworkDescription.model_validate(description)  # radial, connected, valid values
    return description


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("code", help="SimBench code, e.g. 1-LV-semiurb4--0-sw")
    parser.add_argument("out", help="JSON file to write")
    args = parser.parse_args()
    description = convert(args.code)
    with open(args.out, "w") as f:
        json.dump(description, f, indent=1)
        f.write("\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
