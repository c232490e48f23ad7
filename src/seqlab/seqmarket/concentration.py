"""A sequencing market's concentration and what a service failure spreads to.

When several protocols (rollups) buy from one market, each service's outage process is
shared by all its customers: one failure halts every protocol on it at the same time.
The figures here say how concentrated the market is and what that costs:

- **shares**: of the protocols (by the service each started on), of the time in use and
  of the blocks produced; **HHI**, the Herfindahl–Hirschman index of the protocol shares
  (0 to 10,000, as competition authorities quote it: one service alone is 10,000);
- **simultaneous downtime**: protocol-seconds during which two or more protocols were
  down at once (realised), and its expectation per day from the offers' outage rates
  (each service down a share ``rate × mean real outage / day`` of the time, services
  independent, each protocol on the service it started on);
- **contagion**: liquidations and bad debt across every protocol from the start of each
  outage to ``restart_window`` after its end, against the same world (same seed) in
  which no service fails: the excess is what the failure did.
"""
from __future__ import annotations

from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from seqlab.metrics.contagion import event_windows
from seqlab.outages import REAL_OUTAGES_US
from seqlab.protocols.perps import PPM
from seqlab.scenario.schema import Service
from seqlab.units import DAY, S

HHI_SCALE = 10_000  # shares in percent, squared: the scale antitrust guidelines use


def hhi(shares: Iterable[float]) -> float:
    """Herfindahl–Hirschman index of shares that sum to 1, on the 0..10,000 scale."""
    return float(sum(s * s for s in shares) * HHI_SCALE)


def down_share(svc: Service) -> float:
    """The share of the time the offer expects to be down: its outage rate times the mean
    real sequencer halt (``seqlab.outages``), per day, at most 1."""
    return min(1.0, svc.outage_rate_per_day * float(REAL_OUTAGES_US.mean()) / DAY)


def expected_simultaneous_s_per_day(homes: Sequence[str], p_down: Mapping[str, float]
                                    ) -> tuple[float, float]:
    """Expected protocol-seconds a day with two or more protocols down at once, and
    expected protocol-seconds down in all, for protocols on ``homes`` (one service name
    each) whose services fail independently, each down a share ``p_down`` of the time.
    The number down is a sum of independent service draws, each worth its customers; its
    distribution is built one service at a time."""
    customers: dict[str, int] = {}
    for name in homes:
        customers[name] = customers.get(name, 0) + 1
    dist = np.zeros(len(homes) + 1)
    dist[0] = 1.0
    for name, n in customers.items():
        p = p_down[name]
        dist = dist * (1 - p) + np.r_[np.zeros(n), dist[:-n]] * p
    k = np.arange(len(dist))
    day_s = DAY / S
    return (float((k[2:] * dist[2:]).sum() * day_s), float((k * dist).sum() * day_s))


def simultaneous_down_s(windows: Sequence[np.ndarray], horizon: int) -> tuple[float, int]:
    """Protocol-seconds during which two or more protocols were down at once (each
    protocol's down windows, µs, within ``horizon``), and the most down at once."""
    edges: list[tuple[int, int]] = []
    for w in windows:
        for lo, hi in np.clip(w.reshape(-1, 2), 0, horizon).tolist():
            if hi > lo:
                edges += [(lo, 1), (hi, -1)]
    edges.sort()
    down, most, total, last = 0, 0, 0, 0
    for t, step in edges:
        if down >= 2:
            total += down * (t - last)
        down += step
        most = max(most, down)
        last = t
    return total / S, most


def window_hits(t_us: np.ndarray, windows: np.ndarray, after_us: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """Which times fall during some outage window, and which within ``after_us`` after
    its end (the restart's aftermath)."""
    during = np.zeros(len(t_us), dtype=bool)
    after = np.zeros(len(t_us), dtype=bool)
    for start, end in windows.reshape(-1, 2).tolist():
        during |= (t_us >= start) & (t_us < end)
        after |= (t_us >= end) & (t_us < end + after_us)
    return during, after & ~during


def contagion(liq_t_us: np.ndarray, bad_debt: list[tuple[int, int]], values: Mapping,
              windows: np.ndarray, after_us: int) -> dict:
    """One protocol's liquidations during the outages and within ``after_us`` after each
    restart, its bad debt (USD) over both, and its users' and LPs' final value
    (``values``: its summary row)."""
    during, after = window_hits(liq_t_us, windows, after_us)
    d = np.array(bad_debt, dtype=np.int64).reshape(-1, 2)
    hit = np.logical_or(*window_hits(d[:, 0], windows, after_us))
    return {"liquidations_during": int(during.sum()), "liquidations_after": int(after.sum()),
            "bad_debt_usd": round(int(d[hit, 1].sum()) / PPM, 2),
            "user_value_usd": values["user_value_usd"], "lp_value_usd": values["lp_value_usd"]}


def service_rows(services: Sequence[Service], firsts: Sequence[str],
                 markets: Sequence[Mapping], windows: Mapping[str, np.ndarray],
                 horizon: int) -> list[dict]:
    """One row per service: its customers and shares, and its own downtime."""
    time_by = {s.name: sum(m["service_time_s"].get(s.name, 0.0) for m in markets)
               for s in services}
    blocks_by = {s.name: sum(m["service_blocks"].get(s.name, 0) for m in markets)
                 for s in services}
    total_time, total_blocks = sum(time_by.values()) or 1.0, sum(blocks_by.values()) or 1
    rows = []
    for s in services:
        w = np.clip(windows[s.name].reshape(-1, 2), 0, horizon)
        rows.append({"service": s.name, "design": s.design,
                     "protocols": sum(f == s.name for f in firsts),
                     "protocol_share": round(sum(f == s.name for f in firsts) / len(firsts), 4),
                     "time_share": round(time_by[s.name] / total_time, 4),
                     "block_share": round(blocks_by[s.name] / total_blocks, 4),
                     "down_s": round(float(np.diff(w).sum()) / S, 3)})
    return rows


def _contagion_rows(cluster, result, windows: np.ndarray, after_us: int) -> list[dict]:
    """``contagion`` for each rollup of a several-rollup run."""
    liq = result.tables["liquidations"]
    t = np.round(liq["t_s"] * 1e6).astype(np.int64)
    return [contagion(t[liq["rollup"] == k], c.protocol.log.bad_debt_events,
                      row, windows, after_us)
            for k, (c, row) in enumerate(zip(cluster.chains, result.summary["rollups"]))]


def market_summary(cluster, result, quiet_run: Callable[[], tuple], names: str) -> dict:
    """The market's figures for a several-rollup run (``cluster``, its ``result``, its
    rollups' ``names``): services and shares, HHI, simultaneous downtime, and contagion
    against ``quiet_run()`` → (cluster, result) of the same world with no service
    failing, run only when some protocol was down (else the run is its own baseline)."""
    chains, horizon = cluster.chains, cluster.horizon
    designs = [c.design for c in chains]
    services = list(designs[0].services.values())
    firsts = [d.schedule.services[0] for d in designs]
    markets = [d.metrics(horizon)["market"] for d in designs]
    rows = service_rows(services, firsts, markets, designs[0].windows, horizon)
    together, most = simultaneous_down_s([c.outages for c in chains], horizon)
    expected, expected_all = expected_simultaneous_s_per_day(
        firsts, {s.name: down_share(s) for s in services})
    windows = event_windows([c.outages for c in chains])
    after = cluster.sc.rollups.restart_window
    run = _contagion_rows(cluster, result, windows, after)
    base = run
    if len(windows) and cluster.service_outages:
        quiet, quiet_result = quiet_run()
        base = _contagion_rows(quiet, quiet_result, windows, after)
    protocols = [{"rollup": names[k], "service": firsts[k],
                  "down_s": round(float(np.diff(np.clip(c.outages, 0, horizon)).sum()) / S, 3),
                  **r, **{f"baseline_{key}": v for key, v in b.items()}}
                 for k, (c, r, b) in enumerate(zip(chains, run, base))]
    total = {key: round(sum(r[key] for r in run), 2) for key in run[0]}
    base_total = {key: round(sum(b[key] for b in base), 2) for key in base[0]}
    return {"services": rows, "protocols": protocols,
            "hhi": round(hhi(r["protocol_share"] for r in rows), 1),
            "hhi_time": round(hhi(r["time_share"] for r in rows), 1),
            "simultaneous_down_s": round(together, 3), "most_down_at_once": most,
            "expected_simultaneous_down_s_per_day": round(expected, 4),
            "expected_down_s_per_day": round(expected_all, 4),
            "contagion": {"window_after_s": after / S,
                          "protocols_halted": sum(p["down_s"] > 0 for p in protocols),
                          **spread_of_failure(run, base),
                          **total, **{f"baseline_{k}": v for k, v in base_total.items()},
                          **{f"excess_{k}": round(total[k] - base_total[k], 2)
                             for k in total}}}


def spread_of_failure(run: Sequence[Mapping], base: Sequence[Mapping]) -> dict:
    """How far a failure reached, whatever its sign, protocol by protocol against the
    baseline: liquidations it moved (suppressed during a halt, or added or held back after
    the restart: a halted chain liquidates nobody, and a grace period after it protects
    accounts the falling price would have closed), and the value it moved between users
    and the protocol's LPs (each protocol's users' final value, changed either way)."""
    moved = sum(abs(r[k] - b[k]) for r, b in zip(run, base)
                for k in ("liquidations_during", "liquidations_after"))
    value = sum(abs(r["user_value_usd"] - b["user_value_usd"]) for r, b in zip(run, base))
    return {"displaced_liquidations": int(moved), "value_moved_usd": round(value, 2)}


def market_metrics(summary: Mapping) -> dict[str, float]:
    """The market figures ``compare`` tabulates ({} unless several rollups bought from a
    sequencing market)."""
    m = summary.get("seqmarket")
    if not m:
        return {}
    c = m["contagion"]
    return {"market_hhi": m["hhi"], "simultaneous_down_s": m["simultaneous_down_s"],
            "expected_simultaneous_down_s_per_day": m["expected_simultaneous_down_s_per_day"],
            "protocols_halted": c["protocols_halted"],
            "displaced_liquidations": c["displaced_liquidations"],
            "value_moved_usd": c["value_moved_usd"],
            "excess_liquidations": (c["excess_liquidations_during"]
                                    + c["excess_liquidations_after"]),
            "excess_bad_debt_usd": c["excess_bad_debt_usd"],
            "excess_lp_value_usd": c["excess_lp_value_usd"]}
