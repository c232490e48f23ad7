"""seqlab: measure what a rollup's sequencer does to a derivatives protocol's users.

The public Python API mirrors the command line, so notebooks can do what the CLI does:

    import seqlab
    result = seqlab.run("default", seed=1)
    result.summary["ledger_residual"]
"""
from seqlab.errors import SeqlabError

__all__ = ["SeqlabError", "run", "compare", "sweep", "price", "load", "rerender",
           "load_scenario", "bench_fcfs_reference"]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("seqlab")
    except PackageNotFoundError:  # a bare source tree on PYTHONPATH
        return "0.0.0+unknown"


__version__ = _version()


def __getattr__(name: str):
    # Lazy imports keep `import seqlab` cheap and free of import cycles.
    if name == "run":
        from seqlab.experiments.run import run
        return run
    if name == "load_scenario":
        from seqlab.scenario.loader import load_scenario
        return load_scenario
    if name == "compare":
        from seqlab.experiments.compare import compare
        return compare
    if name == "sweep":
        from seqlab.experiments.sweep import sweep
        return sweep
    if name == "price":
        from seqlab.experiments.price import price
        return price
    if name == "load":
        from seqlab.experiments.load import load
        return load
    if name == "rerender":
        from seqlab.experiments.rerender import rerender
        return rerender
    if name == "bench_fcfs_reference":
        from seqlab.experiments.bench import bench_fcfs_reference
        return bench_fcfs_reference
    raise AttributeError(name)
