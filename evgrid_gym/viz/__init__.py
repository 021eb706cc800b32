"""Pictures of an EVGrid episode: ``render()`` frames and the live web dashboard.

- :mod:`evgrid_gym.viz.state`: :func:`~evgrid_gym.viz.state.frame_state` reads what is drawn
  from an env (the only code here that reads an env), the flows of a tick and their history;
- :mod:`evgrid_gym.viz.frame`: :class:`~evgrid_gym.viz.frame.FrameDrawer` draws a frame with
  PIL (laid out by :mod:`evgrid_gym.viz.layout`);
- :mod:`evgrid_gym.viz.renderer`: the envs' ``render_mode`` (``"rgb_array"``, ``"human"``);
- :mod:`evgrid_gym.viz.market`, :mod:`evgrid_gym.viz.events`: the market of a tick and what
  happened in it (reservations, outages), for the dashboard;
- :mod:`evgrid_gym.viz.dashboard`: the live web dashboard (``evgrid-gym dashboard``, extra
  ``[dashboard]``);
- :mod:`evgrid_gym.viz.plots`: the figures of ``evgrid-gym plot`` from episode logs
  (:mod:`evgrid_gym.eventlog`) and benchmarks.

Nothing is imported here, so ``import evgrid_gym`` stays free of PIL and matplotlib.
"""
