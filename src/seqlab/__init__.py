"""seqlab: measure what a rollup's sequencer does to a derivatives protocol's users.

The public Python API mirrors the command line, so notebooks can do what the CLI does:

    import seqlab
    result = seqlab.run("default", seed=1)
    result.summary["ledger_residual"]
"""
from seqlab.errors import SeqlabError

__all__ = ["SeqlabError", "run", "compare", "sweep", "load", "load_scenario",
           "bench_fcfs_reference"]
__version__ = "0.1.0"


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
    if name == "load":
        from seqlab.experiments.sweep_store import load
        return load
    if name == "bench_fcfs_reference":
        from seqlab.experiments.bench import bench_fcfs_reference
        return bench_fcfs_reference
    raise AttributeError(name)
