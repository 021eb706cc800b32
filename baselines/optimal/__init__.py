"""The perfect-foresight optimum (and a receding-horizon MPC): a Pyomo model of an episode,
solved with HiGHS, that maximises the env's own reward.

The model is built per component, one Pyomo block each, in the pattern of urbs'
``features/storage.py`` and adacharge's ``build_problem``: each component owns its variables
and constraints and returns its own objective terms (:class:`~baselines.optimal.reward.Terms`),
which :func:`build_model` adds up. All energies are in kWh at tick boundaries, powers in kW
averaged over a tick of ``dt`` hours; ``e`` is an EV, ``j`` one (EV, tick) pair it is plugged
in, ``s`` a station, ``t`` a tick. Each module's docstring gives its rules in full:

* :mod:`~baselines.optimal.ev` (block ``ev``): EV energy ``E`` and its dynamics with
  charging power ``p`` and V2G power ``q``, the CC-CV taper as linear rows
  (:mod:`~baselines.optimal.cccv`: the curve's pieces, an inner approximation, exact outside
  the short interval between the CC and CV stages), charging and V2G exclusive where that
  can pay, the V2G floor; chargers shared by their connectors (block ``charger``); tariff
  revenue, EV energy, unmet energy and V2G's battery wear in the reward.
* :mod:`~baselines.optimal.fallback` (block ``ev.fallback``): at a station whose link is
  down the env forces the fallback power; binaries pin the gain to the binding affine piece.
* :mod:`~baselines.optimal.bess` (block ``bess``): the station battery's energy ``B``,
  charging ``c`` and discharging ``d``; the worth of the stored energy, its battery wear and
  a throughput tie-break in the reward.
* :mod:`~baselines.optimal.station` (block ``station``): net import ``n = sum(p - q) + c - d``
  within the station's grid capacity (hard) or with penalised overload (soft).
* :mod:`~baselines.optimal.feeder` (block ``feeder``): households plus the net imports within
  the feeder, or penalised overload; the binary case of households alone above the feeder.
* :mod:`~baselines.optimal.market` (block ``market``): external energy ``x`` and surplus
  ``y`` of the community market, buying and selling exclusive where both would pay; a station
  whose link is down buys outside the market; energy cost and export revenue in the reward.
* :mod:`~baselines.optimal.reward`: the reward weights the model supports and the reward per
  unit of each quantity. Objective: the scenario's reward weights (``Scenario.reward_weights``)
  times the KPIs, summed over the episode; payments between community members are transfers
  and cancel. The model is an LP but where burning energy can pay or an EV starts below the
  V2G floor (and in the cases with binaries named above).

Build (:func:`build_model`, :mod:`~baselines.optimal.model`) and solve (:func:`solve`,
:mod:`~baselines.optimal.solve`: rounds that refine the CC-CV chords and add BESS binaries)
are separate; the schedule's actions are replayed through the env (:class:`OptimalPolicy`,
:mod:`~baselines.optimal.policies`), so its KPIs come from the same code as every other
policy's.

Inner restrictions (the model is exact otherwise): EVs that arrive above their target soc
only discharge (the env would let them recharge to the target after V2G); at a station whose
link is down, an EV whose CV power at the transition is below the fallback power is kept out
of the short energy window where its curved CC-CV gain would bind.

Numerics: shared limits (charger, station, feeder) are modelled 1e-6 kW tighter than the
env's, above HiGHS's feasibility tolerance (:mod:`~baselines.optimal.window`), and actions are
rounded to float32 towards zero, so the env never projects a replayed schedule; a 1e-6
EUR/kWh tie-break on BESS throughput and V2G energy (added back to the reported objective)
keeps the solver from charging and discharging a BESS (or an EV) at once where that costs
nothing. The replayed reward matches the objective to ~1e-7 relative (float32 actions).
"""

from baselines.optimal.model import OptimalModel, build_model
from baselines.optimal.policies import MPCPolicy, OptimalPolicy
from baselines.optimal.reward import SUPPORTED_KPIS, OptimalModelError, reward_weights
from baselines.optimal.solve import Schedule, solve

__all__ = [
    "SUPPORTED_KPIS",
    "MPCPolicy",
    "OptimalModel",
    "OptimalModelError",
    "OptimalPolicy",
    "Schedule",
    "build_model",
    "reward_weights",
    "solve",
]
