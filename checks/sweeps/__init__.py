"""Width sweeps: specs, hashed tasks, a resumable SQLite store, local and Dask executors.

``sublevel sweep SPEC`` counts sublevel components for every (family, width, seed) of a TOML
spec (:mod:`sublevel.checks.sweeps.spec`), runs the tasks a store does not hold yet
(:mod:`sublevel.checks.sweeps.runner`) on a process pool or a Dask cluster
(:mod:`sublevel.checks.sweeps.executors`), batching the descent of all seeds of one width
(:mod:`sublevel.checks.sweeps.descent`), and keeps one row per finished task
(:mod:`sublevel.checks.sweeps.store`). ``sublevel plot`` draws the rows (:mod:`sublevel.figures.width_sweep`).
"""
