"""The ``seqlab`` command: parse arguments, call the Python API, print.

Only parsing and printing live here. A user error (``SeqlabError``) becomes one line on
stderr and exit status 2; with ``--json`` stdout carries exactly one JSON object.
"""
from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from seqlab.errors import SeqlabError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="seqlab: measure what a rollup's sequencer does to derivatives users.")
out = Console()
if not out.is_terminal:  # logs and pipes: 100 columns (COLUMNS overrides; see _fit_console)
    out = Console(width=100)
err = Console(stderr=True)
BACKEND_HELP = "Executor of the runs: inline | process | ray."
WORKERS_HELP = "Parallel runs: processes or Ray CPUs (default: every core)."
ADDRESS_HELP = "Ray cluster address (default: start a local Ray)."
WIDE = 1000  # --wide: wide enough for every table, whatever the terminal


def _fit_console(wide: bool = False) -> None:
    """Size tables to COLUMNS when set, else the terminal (100 columns when not one);
    ``--wide`` lifts the limit so wide tables print whole."""
    columns = os.environ.get("COLUMNS", "")
    if wide:
        out.width = WIDE
    elif columns.isdigit() and int(columns) > 0:
        out.width = int(columns)
    else:
        out.width = None if out.is_terminal else 100  # None: ask the terminal


def _version(value: bool) -> None:
    if value:
        from seqlab import __version__

        sys.stdout.write(f"seqlab {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", is_eager=True, callback=_version,
                                       help="Print the version and exit.")) -> None:
    """seqlab: measure what a rollup's sequencer does to derivatives users."""
    _fit_console()


WIDE_HELP = "Print every column, however wide (default: fit the terminal)."


def _fail(exc: SeqlabError) -> None:
    err.print(f"error: {exc.line()}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _design_list(designs: str) -> list[str]:
    """``--designs a,b`` as names; an option given but empty is an error, not a default."""
    names = [d.strip() for d in designs.split(",") if d.strip()]
    if not names:
        raise SeqlabError(f"{designs!r} names no design", field="--designs",
                          allowed="comma-separated design names (seqlab designs)")
    return names


def _print_json(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, sort_keys=True, default=str) + "\n")


@contextmanager
def _progress(enabled: bool, label: str) -> Iterator[Any]:
    """A simulated-time progress bar on stderr (only on a terminal, never with --json)."""
    if not enabled or not err.is_terminal:
        yield None
        return
    with Progress(TextColumn(label), BarColumn(), TextColumn("{task.fields[sim]}"),
                  TimeRemainingColumn(), console=err, transient=True) as bar:
        task = bar.add_task(label, total=1.0, sim="")

        def update(t_us: int, horizon_us: int) -> None:
            bar.update(task, completed=t_us / max(horizon_us, 1),
                       sim=f"{t_us / 3.6e9:.2f}/{horizon_us / 3.6e9:.2f} h simulated")

        yield update


def _summary_table(summary: dict[str, Any], title: str) -> Table:
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right", overflow="fold")
    for key, value in summary.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            continue  # rows (one per rollup): their own table
        if isinstance(value, dict):
            value = "  ".join(f"{k}={v:,}" if isinstance(v, (int, float)) else f"{k}={v}"
                              for k, v in value.items())
        elif isinstance(value, float):
            value = f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.2f}"
        elif isinstance(value, int) and key != "seed":
            value = f"{value:,}"
        table.add_row(key, escape(str(value)))
    return table


def _rows_table(rows: list[dict], title: str) -> Table:
    """A list of flat dicts (one per rollup) as columns."""
    keys = [k for k in rows[0] if k != "digest"]
    table = Table(*keys, title=title)
    for row in rows:
        table.add_row(*(f"{row[k]:,}" if isinstance(row[k], (int, float))
                        and not isinstance(row[k], bool) else str(row[k]) for k in keys))
    return table


@app.command()
def run(scenario: Optional[str] = typer.Argument(None, help="Built-in name or TOML file "
                                                 "(default: the 'default' scenario)."),
        seed: Optional[int] = typer.Option(None, help="Override the scenario's seed."),
        design: Optional[str] = typer.Option(None, help="Override the scenario's "
                                             "sequencer.design (see seqlab designs)."),
        out_dir: Optional[Path] = typer.Option(None, "--out", help="Run folder for "
                                               "results.duckdb, summary.json, report.html."),
        no_report: bool = typer.Option(False, "--no-report", help="Skip the HTML report."),
        as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
        wide: bool = typer.Option(False, "--wide", help=WIDE_HELP)):
    """Run one scenario and report what happened."""
    from seqlab.experiments.run import run as run_scenario
    from seqlab.experiments.run import with_checked_design
    from seqlab.scenario.loader import load_scenario

    _fit_console(wide)
    try:
        loaded = load_scenario(scenario)
        if design is not None:
            loaded = with_checked_design(loaded, design)
        seed_ = loaded.scenario.seed if seed is None else seed
        folder = out_dir or _run_folder(loaded.scenario.name, design, seed_)
        with _progress(not as_json, "simulating") as progress:
            result = run_scenario(loaded, seed, folder, report=not no_report,
                                  progress=progress)
    except SeqlabError as exc:
        _fail(exc)
    if as_json:
        _print_json(result.summary)
        return
    out.print(_summary_table(result.summary, f"seqlab run: {result.summary['scenario']}"))
    if "rollups" in result.summary:
        out.print(_rows_table(result.summary["rollups"], "rollups"))
    if "seqmarket" in result.summary:
        out.print(_rows_table(result.summary["seqmarket"]["services"], "sequencing services"))
        out.print(_rows_table(result.summary["seqmarket"]["protocols"],
                              "what the service failures reached (against no failure)"))
    if "report" in result.summary:
        out.print(f"report: {result.summary['report']}")


def _run_folder(name: str, design: str | None, seed: int) -> Path:
    """``runs/<scenario>-seed<seed>``, with the design when ``--design`` chose one."""
    tag = f"-{design.replace('@', '-').replace('=', '-')}" if design else ""
    return Path("runs") / f"{name}{tag}-seed{seed}"


@app.command()
def validate(scenario: str = typer.Argument(..., help="Built-in name or TOML file."),
             as_json: bool = typer.Option(False, "--json")):
    """Check a scenario file; exit status 2 with the offending field if it is invalid."""
    from seqlab.scenario.loader import load_scenario

    try:
        loaded = load_scenario(scenario)
    except SeqlabError as exc:
        _fail(exc)
    if as_json:
        _print_json({"valid": True, "scenario": loaded.scenario.name, "source": loaded.source})
    else:
        out.print(f"{loaded.source}: valid ({loaded.scenario.name})")


scenarios_app = typer.Typer(add_completion=False)
app.add_typer(scenarios_app, name="scenarios")


@scenarios_app.callback(invoke_without_command=True)
def scenarios(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")):
    """List the built-in scenarios; `seqlab scenarios show NAME` prints one."""
    from seqlab.scenario.loader import builtin_scenarios

    if ctx.invoked_subcommand is None:
        _listing("scenarios", builtin_scenarios(), as_json)


@scenarios_app.command("show")
def scenarios_show(name: str = typer.Argument(..., help="A built-in scenario.")):
    """Print a built-in scenario's TOML (copy it to edit with `seqlab init`)."""
    from seqlab.scenario.loader import builtin_path

    try:
        text = builtin_path(name, "no built-in scenario").read_text(encoding="utf-8")
    except SeqlabError as exc:
        _fail(exc)
    sys.stdout.write(text)


@app.command()
def init(name: str = typer.Argument(..., help="The built-in scenario to start from."),
         file: Path = typer.Argument(..., help="The TOML file to write."),
         force: bool = typer.Option(False, "--force", help="Overwrite FILE if it exists.")):
    """Copy a built-in scenario to FILE, to edit and run (`seqlab run FILE`)."""
    from seqlab.scenario.loader import builtin_path

    try:
        source = builtin_path(name, "no built-in scenario")
        if file.exists() and not force:
            raise SeqlabError("already exists", file=str(file),
                              allowed="another file, or --force to overwrite it")
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
        except OSError as exc:
            raise SeqlabError(f"cannot write ({exc.strerror or exc})", file=str(file)) from None
    except SeqlabError as exc:
        _fail(exc)
    out.print(f"{escape(str(file))}: copied from the built-in '{name}' scenario; "
              f"run it with: seqlab run {escape(str(file))}", soft_wrap=True)


def _listing(key: str, items: dict[str, str], as_json: bool) -> None:
    """Print name → description pairs as a table, or as ``{key: {...}}`` JSON."""
    if as_json:
        _print_json({key: items})
        return
    table = Table("name", "description")
    for name, text in items.items():
        table.add_row(name, escape(text))
    out.print(table)


def _compare_table(summary: dict[str, Any]) -> Table:
    """One row per design: the quantitative form of 'centralized vs fair ordering'."""
    table = Table(title=f"seqlab compare: {summary['scenario']} "
                        f"(baseline {summary['baseline']}, seeds {summary['seeds']})")
    for col in ("design", "extracted USD", "ordering cost USD", "cost bps",
                "final-value diff. USD", "forced liq.", "op. bonus share", "same-block liq.",
                "liq. ≤1 s", "p50 ms", "p99 ms", "max censor ms"):
        table.add_column(col, justify="left" if col == "design" else "right")
    for name, d in summary["designs"].items():
        def cell(key: str, fmt: str = "{:,.0f}") -> str:
            return _ci_cell(d, key, fmt)

        table.add_row(name, cell("operator_profit_usd"), cell("ordering_cost_usd"),
                      cell("ordering_cost_bps", "{:,.2f}"),
                      cell("final_value_difference_usd"), cell("forced_liquidations", "{:,.1f}"),
                      cell("operator_bonus_share", "{:.2f}"),
                      cell("same_block_liquidation_share", "{:.2f}"),
                      cell("liquidation_within_1s_share", "{:.2f}"),
                      f"{d['latency_ms']['p50']:,.0f}", f"{d['latency_ms']['p99']:,.0f}",
                      cell("max_censorship_delay_ms"))
    return table


KEY_COLUMNS = (("extracted USD", "operator_profit_usd", "{:,.0f}"),
               ("ordering cost USD", "ordering_cost_usd", "{:,.0f}"),
               ("value diff. USD", "final_value_difference_usd", "{:,.0f}"),
               ("forced liq.", "forced_liquidations", "{:,.1f}"),
               ("op. bonus share", "operator_bonus_share", "{:.2f}"),
               ("max censor ms", "max_censorship_delay_ms", "{:,.0f}"))


def _compare_key_table(summary: dict[str, Any]) -> Table:
    """The key figures per design, each 95 % interval's ``±`` half-width under its mean:
    fits 100 columns (``--wide`` prints ``_compare_table``, every figure)."""
    table = Table(title=f"seqlab compare: {summary['scenario']} "
                        f"(baseline {summary['baseline']}, seeds {summary['seeds']})",
                  box=box.SIMPLE_HEAD, caption=COMPARE_CAPTION)
    table.add_column("design", overflow="fold")
    for col, *_ in KEY_COLUMNS:
        table.add_column(col, justify="right", overflow="fold")
    table.add_column("p99 ms", justify="right", overflow="fold")
    for name, d in summary["designs"].items():
        table.add_row(name, *(_ci_cell(d, key, fmt).replace(" ± ", "\n± ")
                              for _, key, fmt in KEY_COLUMNS),
                      f"{d['latency_ms']['p99']:,.0f}")
    return table


COMPARE_CAPTION = ("ordering cost: direct, to users, pool and insurance fund; value diff.: "
                   "final values; † 95 % interval contains 0 (~n seeds needed); all figures: "
                   "--wide, --json; yearly premium: seqlab price")


def _ci_cell(entry: dict[str, Any], key: str, fmt: str = "{:,.0f}") -> str:
    """A design's mean, with ``± half-width`` of its 95 % interval when there is one, and
    ``†`` (with the seeds it would need) where the interval contains zero."""
    text = fmt.format(entry[key])
    ci = entry.get("ci95", {})
    if key in ci and ci[key][1] != ci[key][0]:
        text += " ± " + fmt.format((ci[key][1] - ci[key][0]) / 2)
        if entry[key] != 0 and ci[key][0] <= 0 <= ci[key][1]:
            needed = entry.get("significance", {}).get(key, {}).get("seeds_needed")
            text += " †" + (f"~{needed}" if needed else "")
    return text


def _usd_cell(figure: dict[str, Any]) -> str:
    """A ``who_pays`` figure: mean, ``± half-width`` and ``†~n`` as :func:`_ci_cell`."""
    ci = figure["ci95_usd"]
    return _ci_cell({"v": figure["mean_usd"], "ci95": {"v": ci} if ci else {},
                     "significance": {"v": figure}}, "v")


def _payers_table(summary: dict[str, Any]) -> Table | None:
    """The direct ordering cost by who pays, one row per design (the baseline is zero
    against itself and left out)."""
    rows = {k: d["who_pays"] for k, d in summary["designs"].items()
            if k != summary["baseline"] and d.get("who_pays")}
    if not rows:
        return None
    payers = list(next(iter(rows.values())))
    table = Table(title="ordering cost by who pays, USD (value diff. too: --wide)",
                  box=box.SIMPLE_HEAD)
    table.add_column("design", overflow="fold")
    for payer in payers:
        table.add_column(payer, justify="right", overflow="fold")
    for name, who in rows.items():
        table.add_row(name, *(_usd_cell(who[p]["direct"]).replace(" ± ", "\n± ")
                              for p in payers))
    return table


CONTAGION_COLUMNS = (("rollups halted", "rollups_halted", "{:,.1f}"),
                     ("liq. after restart", "liquidations_after_restart", "{:,.1f}"),
                     ("bad debt after restart USD", "bad_debt_after_restart_usd", "{:,.0f}"),
                     ("gap at restart bps", "gap_at_restart_bps", "{:,.1f}"),
                     ("failed legs", "failed_legs", "{:,.1f}"),
                     ("bundles dropped", "reverted_bundles", "{:,.1f}"),
                     ("unwind cost USD", "unwind_cost_usd", "{:,.0f}"),
                     ("arb profit USD", "arbitrage_profit_usd", "{:,.0f}"))


def _contagion_table(summary: dict[str, Any]) -> Table | None:
    """Several rollups: what an outage spread to, per design and sequencing."""
    designs = summary["designs"]
    if not all("rollups_halted" in d for d in designs.values()):
        return None
    table = Table("design", *(c[0] for c in CONTAGION_COLUMNS), title="contagion")
    for name, d in designs.items():
        table.add_row(name, *(_ci_cell(d, key, fmt) for _, key, fmt in CONTAGION_COLUMNS))
    return table


@app.command()
def compare(scenario: Optional[str] = typer.Argument(None, help="Built-in name or TOML file."),
            designs: str = typer.Option("honest,extractive", help="Comma-separated designs."),
            baseline: Optional[str] = typer.Option(None, help="Design to measure against "
                                                   "(default: the first of --designs)."),
            seeds: int = typer.Option(1, help="Seeds per design (scenario seed, +1, …)."),
            out_dir: Optional[Path] = typer.Option(None, "--out", help="Folder for "
                                                   "compare.duckdb, compare.json, compare.html."),
            no_report: bool = typer.Option(False, "--no-report"),
            backend: str = typer.Option("inline", help=BACKEND_HELP),
            workers: Optional[int] = typer.Option(None, help=WORKERS_HELP),
            address: Optional[str] = typer.Option(None, help=ADDRESS_HELP),
            as_json: bool = typer.Option(False, "--json"),
            wide: bool = typer.Option(False, "--wide", help=WIDE_HELP)):
    """Run one world under several designs with the same random numbers; measure each
    against the baseline."""
    from seqlab.experiments.compare import compare as run_compare
    from seqlab.scenario.loader import load_scenario

    _fit_console(wide)
    try:
        names = _design_list(designs)
        loaded = load_scenario(scenario)
        folder = out_dir or Path("runs") / f"{loaded.scenario.name}-compare"
        with _runs_progress(not as_json, "comparing") as progress:
            result = run_compare(loaded, names, baseline, seeds, folder,
                                 report=not no_report, progress=progress, backend=backend,
                                 workers=workers, address=address)
    except SeqlabError as exc:
        _fail(exc)
    if as_json:
        _print_json(result.summary)
        return
    out.print(_compare_table(result.summary) if wide else _compare_key_table(result.summary))
    if wide:
        for name, d in result.summary["designs"].items():
            if name != result.summary["baseline"] and d.get("who_pays"):
                out.print(_who_pays_table(name, d["who_pays"]))
    else:
        payers = _payers_table(result.summary)
        if payers is not None:
            out.print(payers)
    contagion = _contagion_table(result.summary)
    if contagion is not None:
        out.print(contagion)
    if "report" in result.summary:
        out.print(f"report: {result.summary['report']}")


@contextmanager
def _runs_progress(enabled: bool, label: str) -> Iterator[Any]:
    """A runs-done progress bar on stderr (terminal only)."""
    if not enabled or not err.is_terminal:
        yield None
        return
    with Progress(TextColumn(label), BarColumn(), TextColumn("{task.completed}/{task.total} "
                  "runs {task.fields[what]}"), TimeRemainingColumn(), console=err,
                  transient=True) as bar:
        task = bar.add_task(label, total=1, what="")

        def update(done: int, total: int, what: str) -> None:
            bar.update(task, completed=done, total=total, what=what)

        yield update


@app.command()
def sweep(scenario: Optional[str] = typer.Argument(None, help="Built-in name or TOML file."),
          designs: Optional[str] = typer.Option(None, help="Comma-separated designs "
                                                "(default: the scenario's [sweep] or honest)."),
          seeds: Optional[int] = typer.Option(None, help="Seeds per design and point."),
          param: list[str] = typer.Option([], "--param", help="key=v1,v2 | key=lo:hi:n | "
                                          "key=~lo:hi:n (repeatable): a grid."),
          point: list[str] = typer.Option([], "--point", help="key=v,key2=w (repeatable): "
                                          "explicit points instead of a grid."),
          backend: str = typer.Option("process", help="inline | process | ray"),
          workers: Optional[int] = typer.Option(None, help="Parallel runs (default: cores)."),
          address: Optional[str] = typer.Option(None, help="Ray cluster address."),
          store: Optional[Path] = typer.Option(None, help="DuckDB store (default "
                                               "runs/<scenario>-sweep/sweep.duckdb)."),
          resume: bool = typer.Option(False, "--resume", help="Continue a stored sweep."),
          no_report: bool = typer.Option(False, "--no-report"),
          as_json: bool = typer.Option(False, "--json"),
          wide: bool = typer.Option(False, "--wide", help=WIDE_HELP)):
    """Run a scenario over parameters × designs × seeds; every run is stored as it ends."""
    from seqlab.experiments.sweep import sweep as run_sweep

    _fit_console(wide)
    try:
        names = _design_list(designs) if designs is not None else None
        with _runs_progress(not as_json, "sweeping") as progress:
            result = run_sweep(scenario, names, seeds, list(param), backend, workers, store,
                               resume, address, report=not no_report,
                               progress=_sweep_progress(progress), points=list(point))
    except SeqlabError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        err.print("interrupted: finished runs are stored; continue with --resume")
        raise typer.Exit(130)
    s = result.summary
    figures = {"runs": s["runs"], "failed": s["failed"], "planned": s["planned"],
               "wall_s": s["wall_s"], "store": s["store"], "backend": s["backend"]}
    if "report" in s:
        figures["report"] = s["report"]
    all_failed = s["runs"] > 0 and s["failed"] == s["runs"]
    if as_json:
        _print_json({**figures, "failures": s["failures"]})
    else:
        out.print(_summary_table(figures, f"seqlab sweep: {s['scenario']}"))
        _print_failures(s["failures"])
    if all_failed:
        raise typer.Exit(1)


FAILURES_SHOWN = 20


def _print_failures(failures: list[dict[str, Any]]) -> None:
    """One line per failed run: design, seed, point and the reason."""
    for f in failures[:FAILURES_SHOWN]:
        point = ",".join(f"{k}={v}" for k, v in f["params"].items()) or "-"
        out.print(f"failed: {f['design']} seed {f['seed']} {point}: {f['error']}",
                  markup=False, highlight=False, soft_wrap=True)
    if len(failures) > FAILURES_SHOWN:
        out.print(f"… {len(failures) - FAILURES_SHOWN} more failed runs (seqlab.load(store) "
                  "lists them all)")


def _sweep_progress(update):
    """Adapt the runs progress bar to (done, total, failed)."""
    if update is None:
        return None
    return lambda done, total, failed: update(done, total, f"{failed} failed")


def _price_grid(strikes: str, expiries: str) -> tuple[list[float], list[int]]:
    """``--strikes`` (moneyness) and ``--expiries`` (durations) as lists."""
    from seqlab.units import parse_duration

    try:
        ms = [float(x) for x in strikes.split(",") if x.strip()]
    except ValueError:
        raise SeqlabError(f"'{strikes}' is not a list of numbers", field="--strikes",
                          allowed="comma-separated moneyness, e.g. 0.8,0.9,1,1.1,1.2") from None
    try:
        es = [parse_duration(x.strip()) for x in expiries.split(",") if x.strip()]
    except ValueError as exc:
        raise SeqlabError(f"{exc}; give comma-separated durations, e.g. 1d,7d,30d,90d",
                          field="--expiries") from None
    return ms, es


@app.command()
def price(scenario: Optional[str] = typer.Argument(None, help="Built-in name or TOML file."),
          design: Optional[str] = typer.Option(None, help="Design(s) to price, "
                                               "comma-separated (one term sheet each)."),
          baseline: str = typer.Option("honest", help="Design the premium is measured "
                                       "against."),
          seeds: int = typer.Option(5, help="Seeds (scenario seed, +1, …)."),
          position: str = typer.Option("option writers", help="Position type whose premium "
                                       "is priced."),
          strikes: str = typer.Option("0.8,0.9,1,1.1,1.2", help="Moneyness (strike / spot)."),
          expiries: str = typer.Option("1d,7d,30d,90d", help="Times to expiry."),
          calendar: str = typer.Option("historical", help="Stress events per year: "
                                       "'historical' (the shipped crash days over the five "
                                       "years they come from: a floor), "
                                       "'historical-ceiling' (as if every day were one), "
                                       "or CLASS=N,… e.g. large=4,slide=10,moderate=40; "
                                       "either may add calm_vol=0.5 (calm volatility) and "
                                       "turnover=730 (volume ÷ open interest a year)."),
          out_dir: Optional[Path] = typer.Option(None, "--out", help="Folder for price.json "
                                                 "and price.html."),
          no_report: bool = typer.Option(False, "--no-report"),
          backend: str = typer.Option("inline", help=BACKEND_HELP),
          workers: Optional[int] = typer.Option(None, help=WORKERS_HELP),
          address: Optional[str] = typer.Option(None, help=ADDRESS_HELP),
          as_json: bool = typer.Option(False, "--json"),
          wide: bool = typer.Option(False, "--wide", help=WIDE_HELP)):
    """A term sheet per design: the event-based sequencer risk premium of every position
    type (with intervals and significance), who pays, and option prices that carry it,
    checked for no-arbitrage."""
    from seqlab.experiments.price import price as run_price
    from seqlab.experiments.price import surface_rows
    from seqlab.metrics.events import parse_calendar
    from seqlab.scenario.loader import load_scenario

    _fit_console(wide)

    try:
        ms, es = _price_grid(strikes, expiries)
        cal = parse_calendar(calendar)
        loaded = load_scenario(scenario)
        folder = out_dir or Path("runs") / f"{loaded.scenario.name}-price"
        with _runs_progress(not as_json, "pricing") as progress:
            result = run_price(loaded, design, baseline, seeds, position, ms, es, folder,
                               report=not no_report, progress=progress, backend=backend,
                               workers=workers, address=address, calendar=cal)
    except SeqlabError as exc:
        _fail(exc)
    s = result.summary
    rows = surface_rows(result)
    if as_json:
        keep = ("scenario", "designs", "baseline", "seeds", "position", "spot", "sigma",
                "sigma_source", "r", "calendar", "reading", "per_design", "units")
        _print_json({**{k: s[k] for k in keep}, "term_sheet": rows})
        return
    out.print(escape(s["reading"]), soft_wrap=False)
    out.print(f"calendar: {escape(s['calendar_text'])}")
    for name, d in s["per_design"].items():
        out.print(_premium_table(name, d["premium_table"], s["position"]))
        out.print(_who_pays_table(name, d["who_pays"]))
        table = Table(title=f"term sheet: {name} ({d['model']['name']} model, "
                            f"spot {s['spot']:,.2f}, sigma {s['sigma']:.4g})")
        for col in ("kind", "K/S", "expiry", "BS", "add-on [95 % CI]", "adjusted",
                    "IV shift bps", "flags"):
            table.add_column(col, justify="left" if col in ("kind", "flags") else "right",
                             overflow="fold")
        for row in (r for r in rows if r["design"] == name):
            flagged = bool(row["flags"])
            table.add_row(row["kind"], f"{row['moneyness']:g}", f"{row['expiry_days']:g}d",
                          f"{row['bs_price']:,.2f}",
                          "—" if flagged else f"{row['add_on']:,.2f} " + _interval_text(
                              None if row["add_on_lo"] is None
                              else [row["add_on_lo"], row["add_on_hi"]], "{:,.2f}"),
                          "no price" if flagged else f"{row['adjusted_price']:,.2f}",
                          "n/a" if row["iv_shift_bps"] is None else f"{row['iv_shift_bps']:,.1f}",
                          row["flags"] or "ok")
        out.print(table)
    if "report" in s:
        out.print(f"report: {s['report']}")


def _interval_text(ci: list[float] | None, fmt: str) -> str:
    """``[low, high]``, or ``[no interval]`` where it is unknown (seen in one seed)."""
    if ci is None:
        return "[no interval]"
    return "[" + fmt.format(ci[0]) + ", " + fmt.format(ci[1]) + "]"


def _mark(entry: dict[str, Any]) -> str:
    """``*`` where the interval excludes zero; otherwise how many seeds it would take."""
    from seqlab.report.compare_html import significance_verdict

    verdict, needed = significance_verdict(entry)
    if verdict == "significant":
        return "*"
    if verdict == "one seed":
        return "one seed: no interval"
    return f"0 in CI (~{needed} seeds)" if needed else "0 in CI"


def _premium_table(design: str, premium: dict[str, dict], position: str) -> Table:
    """Every position type's yearly premium with its 95 % interval, and its parts: the calm
    execution cost (per dollar traded × the calendar's turnover), the rest of the calm
    cost, and the stress events' cost, each with its interval (``*``: excludes 0)."""
    table = Table("position", "premium bps/yr [95 % CI]", "sig.", "calm execution bps/yr",
                  "calm other bps/yr", "stress bps/yr", title=f"sequencer risk premium: "
                  f"{design} (* interval excludes 0)")
    for name, v in premium.items():
        label = f"{escape(name)} (priced)" if name == position else escape(name)
        table.add_row(label, f"{v['mean_bps']:,.1f} {_interval_text(v['ci95_bps'], '{:,.1f}')}",
                      _mark(v), *(_part_cell(v[key]) for key in (
                          "calm_execution_bps_per_year", "calm_other_bps_per_year",
                          "stress_bps_per_year")))
    return table


def _part_cell(entry: dict[str, Any]) -> str:
    """A part of the premium: mean, interval, and ``*`` where the interval excludes 0."""
    star = " *" if entry.get("significant") else ""
    return f"{entry['mean_bps']:,.1f} {_interval_text(entry['ci95_bps'], '{:,.1f}')}{star}"


def _who_pays_table(design: str, who: dict[str, dict]) -> Table:
    """Direct ordering cost per payer, with the final-value difference beside it."""
    table = Table("who pays", "direct cost USD [95 % CI]", "sig.",
                  "final-value diff. USD [95 % CI]", "sig.", title=f"who pays: {design}")
    for name, v in who.items():
        d, t = v["direct"], v["final_value_difference"]
        table.add_row(name, f"{d['mean_usd']:,.0f} {_interval_text(d['ci95_usd'], '{:,.0f}')}",
                      _mark(d),
                      f"{t['mean_usd']:,.0f} {_interval_text(t['ci95_usd'], '{:,.0f}')}",
                      _mark(t))
    return table


@app.command()
def report(folder: Path = typer.Argument(..., help="A run, compare or sweep folder."),
           as_json: bool = typer.Option(False, "--json")):
    """Write a stored run's, compare's or sweep's HTML report again from its files."""
    from seqlab.experiments.rerender import rerender

    try:
        path = rerender(folder)
    except SeqlabError as exc:
        _fail(exc)
    if as_json:
        _print_json({"report": str(path)})
    else:
        out.print(f"report: {path}")


@app.command()
def designs(as_json: bool = typer.Option(False, "--json")):
    """List the sequencer designs (``[sequencer] design``) and the designs for several
    rollups (``[rollups] sequencing``)."""
    from seqlab.sequencing import DESCRIPTIONS, ROLLUP_DESCRIPTIONS

    if as_json:
        _print_json({"designs": DESCRIPTIONS, "rollups": ROLLUP_DESCRIPTIONS})
        return
    _listing("designs", DESCRIPTIONS, as_json)
    out.print("several rollups ([rollups] sequencing):")
    _listing("rollups", ROLLUP_DESCRIPTIONS, as_json)


BENCHMARKS = ("suite", "fcfs-reference", "committee-reference", "realistic", "compare")


@app.command()
def bench(workload: str = typer.Argument("suite", help="suite (all of them), "
                                          "fcfs-reference, committee-reference, realistic "
                                          "or compare."),
          txs: int = typer.Option(1_000_000, help="Transactions (fcfs-reference)."),
          nodes: int = typer.Option(128, help="Committee size (committee-reference)."),
          rounds: int = typer.Option(50, help="Consensus rounds (committee-reference)."),
          repeat: int = typer.Option(3, help="Timed runs of each side, the best kept "
                                     "(realistic)."),
          seed: int = typer.Option(0),
          as_json: bool = typer.Option(False, "--json")):
    """Run a fixed workload through seqlab and through its SimPy reference."""
    from seqlab.experiments.bench import (bench_committee_reference, bench_compare,
                                          bench_fcfs_reference, bench_realistic, bench_suite,
                                          peak_memory_mb)

    try:
        if workload not in BENCHMARKS:
            raise SeqlabError(f"unknown benchmark '{workload}'", field="workload",
                              allowed=", ".join(BENCHMARKS))
        if repeat < 1:
            raise SeqlabError("must be at least 1", field="--repeat", allowed="integers >= 1")
        if workload == "committee-reference":
            if not as_json:
                err.print(f"running {workload} with {nodes:,} nodes, {rounds:,} rounds "
                          "(seqlab, then SimPy)…")
            figures = bench_committee_reference(nodes, rounds, seed)
        elif workload == "suite":
            if not as_json:
                err.print("running the suite: fcfs-reference (1M txs), committee-reference "
                          "(128 nodes), a 1,000-run sweep (pool, then one process), "
                          "default under honest and extractive, a 9-design × 4-seed "
                          "compare on 2 workers…")
            figures = bench_suite()
        elif workload == "realistic":
            if not as_json:
                err.print("running default under honest and extractive, then the SimPy "
                          "fcfs-reference model…")
            figures = bench_realistic(repeat=repeat)
        elif workload == "compare":
            if not as_json:
                err.print("running compare default: 9 designs × 4 seeds on 2 workers…")
            figures = bench_compare()
        else:
            if not as_json:
                err.print(f"running {workload} with {txs:,} txs (seqlab, then SimPy)…")
            figures = bench_fcfs_reference(txs, seed)
        if workload != "suite":
            figures["peak_memory_mb"] = peak_memory_mb()
    except SeqlabError as exc:
        _fail(exc)
    if as_json:
        _print_json(figures)
        return
    if workload == "suite":
        for name, result in figures["results"].items():
            out.print(_summary_table(result, f"seqlab bench: {name}"))
        return
    out.print(_summary_table(figures, f"seqlab bench: {workload}"))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
