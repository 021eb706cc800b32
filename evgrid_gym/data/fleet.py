"""The Dutch EV fleet: EV models with their registrations, and a sampler weighted by them.

Source: RVO (Netherlands Enterprise Agency) registration counts with model specs, as shipped
in ``ev2gym==2.0.0`` (``ev_specs.json``, ``ev_specs_v2g_enabled2024.json``; MIT).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from evgrid_gym.data.errors import DataFileError

FLEET_COLUMNS = (
    "model",
    "registrations",
    "battery_kwh",
    "max_ac_kw",
    "max_dc_kw",
    "max_v2g_kw",
)
_REQUIRED = ("number_of_registrations", "battery_capacity", "max_ac_charge_power",
             "max_dc_charge_power")  # fmt: skip


def load_ev_specs(path) -> pd.DataFrame:
    """Loads an EV spec list (``{model: {number_of_registrations, battery_capacity, ...}}``).

    V2G: ``max_v2g_kw`` is ``max_ac_discharge_power`` where the model is V2G capable (its
    ``ac_v2g`` flag is ``"yes"``, or the file has no flags and the discharge power is > 0),
    else 0.

    Returns:
        One row per model, columns :data:`FLEET_COLUMNS` (kW, kWh, registrations >= 0).

    Raises:
        DataFileError: missing or invalid JSON, no models, a missing field or a negative,
            NaN or non-numeric value (naming the model as row and the field as column).
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError(path, "no such file")
    try:
        specs = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise DataFileError(path, f"not valid JSON: {err}") from None
    if not isinstance(specs, dict) or not specs:
        raise DataFileError(path, "must be a non-empty mapping of model name -> specs")
    rows = []
    for number, (model, spec) in enumerate(specs.items(), start=1):
        values = {}
        for key in (*_REQUIRED, "max_ac_discharge_power"):
            raw = spec.get(key, 0.0 if key == "max_ac_discharge_power" else None)
            if raw is None:
                raise DataFileError(path, f"model {model!r}: missing field", row=number, column=key)
            if not isinstance(raw, (int, float)) or isinstance(raw, bool) or not raw >= 0:
                raise DataFileError(
                    path, f"model {model!r}: got {raw!r}; must be a number >= 0",
                    row=number, column=key,
                )  # fmt: skip
            values[key] = float(raw)
        capable = (
            spec["ac_v2g"] == "yes" if "ac_v2g" in spec else values["max_ac_discharge_power"] > 0
        )
        rows.append(
            {
                "model": model,
                "registrations": values["number_of_registrations"],
                "battery_kwh": values["battery_capacity"],
                "max_ac_kw": values["max_ac_charge_power"],
                "max_dc_kw": values["max_dc_charge_power"],
                "max_v2g_kw": values["max_ac_discharge_power"] if capable else 0.0,
            }
        )
    return pd.DataFrame(rows, columns=FLEET_COLUMNS)


class FleetSampler:
    """Draws EV models with probability proportional to their registrations.

    Attributes:
        specs: battery kWh, max AC kW, max DC kW, max V2G kW per model, shape (4, M).
        cdf: cumulative model shares, shape (M,), last entry 1.

    Raises:
        ValueError: the registrations do not add up to a positive number.
    """

    def __init__(self, fleet: pd.DataFrame):
        weights = fleet["registrations"].to_numpy(float)
        if not weights.sum() > 0:
            raise ValueError(f"fleet: registrations add up to {weights.sum()}; must be > 0")
        self.specs = fleet[["battery_kwh", "max_ac_kw", "max_dc_kw", "max_v2g_kw"]].to_numpy().T
        self.cdf = np.cumsum(weights) / weights.sum()
        self.cdf[-1] = 1.0  # rounding must not leave a draw past the last model

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Specs of ``n`` EVs, shape (4, n): battery kWh, max AC kW, max DC kW, max V2G kW."""
        return self.specs[:, np.searchsorted(self.cdf, rng.random(n), side="right")]
