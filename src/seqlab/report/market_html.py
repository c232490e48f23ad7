"""The sequencing market's part of a run's report: who bought from whom, and what a
service failure spread to.

A run whose rollups buy sequencing opens with it. With several rollups: each service's
share of the protocols, of the time and of the blocks, the market's concentration (HHI),
downtime two or more protocols suffered at once, and per protocol what the failure did
against the same world in which no service failed. With one rollup: the time and blocks
each service had, and the policy's switches.
"""
from __future__ import annotations

from typing import Any, Mapping

import plotly.graph_objects as go

from seqlab.report.cluster_html import columns_table
from seqlab.report.page import Card, count, figure, section, usd

SERVICE_COLUMNS = (("service", "service"), ("design", "design"), ("protocols", "protocols"),
                   ("share of protocols", "protocol_share"), ("share of time", "time_share"),
                   ("share of blocks", "block_share"), ("service down (s)", "down_s"))
PROTOCOL_COLUMNS = (("rollup", "rollup"), ("service", "service"), ("down (s)", "down_s"),
                    ("liquidations during", "liquidations_during"),
                    ("baseline", "baseline_liquidations_during"),
                    ("liquidations after", "liquidations_after"),
                    ("baseline", "baseline_liquidations_after"),
                    ("bad debt (USD)", "bad_debt_usd"),
                    ("baseline", "baseline_bad_debt_usd"),
                    ("user value (USD)", "user_value_usd"),
                    ("baseline", "baseline_user_value_usd"))
SHARES = (("protocols", "protocol_share"), ("time", "time_share"), ("blocks", "block_share"))
RIGHTS_COLUMNS = (("service", "service"), ("epochs won", "won"), ("epochs bid", "bid"),
                  ("paid (USD)", "paid_usd"), ("realised (USD)", "realised_usd"),
                  ("realised less paid (USD)", "net_usd"))
BUILDER_COLUMNS = (("builder", "builder"), ("kind", "kind"), ("blocks won", "wins"),
                   ("blocks with something held", "held_blocks"), ("fees (USD)", "fees_usd"),
                   ("made (USD)", "extracted_usd"), ("paid the proposer (USD)", "paid_usd"),
                   ("profit (USD)", "net_usd"))


def shares_figure(services: list[Mapping[str, Any]]) -> go.Figure:
    """Each service's share of the protocols, of the time in use and of the blocks."""
    names = [s["service"] for s in services]
    fig = go.Figure([go.Bar(x=names, y=[s[key] for s in services], name=label)
                     for label, key in SHARES])
    fig.update_layout(barmode="group")
    fig.update_yaxes(title_text="share", range=[0, 1.05])
    return fig


def contagion_figure(protocols: list[Mapping[str, Any]]) -> go.Figure:
    """Per protocol, liquidations during the outages and after the restarts, in the run
    and in the baseline in which no service failed."""
    names = [f"{p['rollup']} ({p['service']})" for p in protocols]
    bars = []
    for label, key in (("during, run", "liquidations_during"),
                       ("during, baseline", "baseline_liquidations_during"),
                       ("after, run", "liquidations_after"),
                       ("after, baseline", "baseline_liquidations_after")):
        bars.append(go.Bar(x=names, y=[p[key] for p in protocols], name=label))
    fig = go.Figure(bars)
    fig.update_layout(barmode="group")
    fig.update_yaxes(title_text="liquidations")
    return fig


def service_time_figure(market: Mapping[str, Any]) -> go.Figure:
    """One rollup: seconds each service was in use, and the blocks it produced."""
    time_by = market.get("service_time_s") or {}
    blocks = market.get("service_blocks") or {}
    names = list(time_by)
    fig = go.Figure([go.Bar(x=names, y=[time_by[n] for n in names], name="time in use (s)"),
                     go.Bar(x=names, y=[blocks.get(n, 0) for n in names], name="blocks",
                            yaxis="y2")])
    fig.update_layout(barmode="group", yaxis=dict(title="seconds in use"),
                      yaxis2=dict(title="blocks", overlaying="y", side="right"))
    return fig


def market_cards(summary: Mapping[str, Any]) -> list[Card]:
    """The market's headline card (several rollups): concentration, downtime at once, and
    how far the failure reached."""
    m = summary.get("seqmarket")
    if not m:
        return []
    c = m["contagion"]
    return [Card([figure("HHI (0–10,000)", m["hhi"], fmt=count),
                  figure("protocols down at once (s)", m["simultaneous_down_s"], fmt=count),
                  figure("liquidations displaced", c["displaced_liquidations"], fmt=count),
                  figure("value moved", c["value_moved_usd"], fmt=usd)],
                 title="sequencing market")]


def market_reading(summary: Mapping[str, Any]) -> str:
    """A sentence on the market's concentration and what its failures reached."""
    m = summary.get("seqmarket")
    if not m:
        market = summary.get("market") or {}
        if not market:
            return ""
        return (f"The rollup bought sequencing under the {market.get('policy', '?')} policy "
                f"and switched services {count(market.get('switches', 0))} times.")
    c = m["contagion"]
    busiest = max(m["services"], key=lambda s: s["protocol_share"])
    return (f"{busiest['protocols']} of {len(m['protocols'])} protocols bought from "
            f"{busiest['service']} (HHI {m['hhi']:,.0f}); {c['protocols_halted']} were halted, "
            f"{count(m['simultaneous_down_s'])} protocol-seconds down together, and the "
            f"failures moved {count(c['displaced_liquidations'])} liquidations and "
            f"{usd(c['value_moved_usd'])} of users' value against a run in which no "
            "service failed.")


def market_sections(summary: Mapping[str, Any], fmt) -> list[str]:
    """The market's sections, given the page's number formatter (none without a market)."""
    m = summary.get("seqmarket")
    if m:
        c = m["contagion"]
        return [
            "<h2>Sequencing market</h2>",
            '<p class="explain">Who bought sequencing from whom. A service\'s outage halts '
            "every protocol on it at once. HHI: the sum of squared shares of the protocols "
            f"(10,000: one service alone) is {m['hhi']:,.0f}; over time in use "
            f"{m['hhi_time']:,.0f}. Protocol-seconds down together (two or more at once): "
            f"{count(m['simultaneous_down_s'])} in this run, "
            f"{m['expected_simultaneous_down_s_per_day']:,.3f} a day expected from the "
            "offers' outage rates (of "
            f"{m['expected_down_s_per_day']:,.3f} protocol-seconds down a day in all).</p>",
            columns_table(m["services"], SERVICE_COLUMNS, fmt),
            section("Shares of the market", shares_figure(m["services"]),
                    "Each service's share of the protocols (the service each started on), "
                    "of the protocols' time in use and of the blocks produced."),
            "<h2>What the failure reached</h2>",
            '<p class="explain">Per protocol, during the outages and within '
            f"{count(c['window_after_s'] / 60)} min after each restart, against the same "
            "world (same seed) in which no service failed: a halted chain liquidates nobody, "
            "so the failure moves liquidations as well as adding them.</p>",
            columns_table(m["protocols"], PROTOCOL_COLUMNS, fmt),
            section("Liquidations around the outages, run and baseline",
                    contagion_figure(m["protocols"]),
                    "Liquidations per protocol during the outages and after the restarts, in "
                    "this run and in the baseline in which no service failed.")]
    market = summary.get("market")
    if market and market.get("service_time_s"):
        return ["<h2>Sequencing market</h2>",
                f'<p class="explain">Policy {market.get("policy", "?")}: '
                f"{count(market.get('switches', 0))} switches, "
                f"{count(market.get('stranded', 0))} transactions stranded, "
                f"{usd(market.get('sequencing_cost_usd', 0.0))} paid to the services.</p>",
                section("Time and blocks by service", service_time_figure(market),
                        "How long each service sequenced the rollup, and the blocks it "
                        "produced."),
                *rights_sections(market.get("auction"), fmt),
                *builder_sections(market.get("builders"), fmt)]
    return []


def rights_rows(auction: Mapping[str, Any]) -> list[dict]:
    """One row per service that won or bid: epochs won and bid in, paid, realised."""
    names = list(dict.fromkeys([*auction["won"], *auction.get("bid_epochs", {})]))
    return [{"service": n, "won": auction["won"].get(n, 0),
             "bid": auction.get("bid_epochs", {}).get(n, 0),
             "paid_usd": auction["paid_usd"].get(n, 0.0),
             "realised_usd": auction["realised_usd"].get(n, 0.0),
             "net_usd": auction.get("net_usd", {}).get(n, 0.0)} for n in names]


def rights_sections(auction: Mapping[str, Any] | None, fmt) -> list[str]:
    """The rights auction: who bid, who won, what each paid against what its epochs
    realised (a bidder that keeps paying more than it realises has a forecast to fix)."""
    if not auction:
        return []
    by_bids = ", ".join(f"{count(n)} with {k} bid{'s' if k != '1' else ''}"
                        for k, n in (auction.get("epochs_by_bids") or {}).items())
    return ["<h3>Sequencing rights sold</h3>",
            f'<p class="explain">{count(auction["epochs"])} epochs, {count(auction["sold"])} '
            f"sold for {usd(auction['proceeds_usd'])} to the rollup; epochs by the bids they "
            f"drew: {by_bids or 'none'}. The fallback wins an epoch no bid meets the reserve "
            "for, and pays nothing.</p>",
            columns_table(rights_rows(auction), RIGHTS_COLUMNS, fmt)]


def builder_sections(builders: Mapping[str, Any] | None, fmt) -> list[str]:
    """A builders service's builders over every stretch the rollup bought from it."""
    if not builders:
        return []
    return ["<h3>Builders</h3>",
            f'<p class="explain">{count(builders["blocks"])} block auctions while the '
            f"rollup bought from a builders service, {count(builders['local_blocks'])} "
            "built by the proposer for want of a bid; the proposer was paid "
            f"{usd(builders['proposer_paid_usd'])}. Made: what each builder's strategies "
            "made from its own accounts; profit: made plus fees less paid.</p>",
            columns_table(builders["per_builder"], BUILDER_COLUMNS, fmt)]
