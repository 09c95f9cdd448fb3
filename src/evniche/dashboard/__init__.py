"""``evniche dashboard``: a local web app to explore runs, models, the knowledge base and
the scenario catalog (Dash, on 127.0.0.1 by default).

:mod:`.data` holds the pure functions that turn runs, models and records into tables and
series; :mod:`.jobs` runs simulations and scenarios in a background worker so that a long
run never blocks the page; :mod:`.app` lays out the views and wires them.
"""
