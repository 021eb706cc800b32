"""The live web dashboard: an episode played tick by tick in the browser.

``evgrid-gym dashboard --scenario default --policy edf`` serves it (FastAPI + uvicorn, extra
``[dashboard]``); :mod:`~evgrid_gym.viz.dashboard.player` plays the episodes,
:mod:`~evgrid_gym.viz.dashboard.app` is the web app, ``static/`` the page (Plotly.js comes
from the installed ``plotly`` package; nothing loads from the internet).
"""
