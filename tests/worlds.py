"""Small worlds for the tests that compare a run's fast paths with its general path:
the ``tiny`` scenario under a design, optionally stressed, with the rollup's shortcut
and runner each on or off, and a snapshot of everything a block or its feed changes."""
from __future__ import annotations

import numpy as np

from seqlab.cluster import make_world
from seqlab.experiments.sweep import set_dotted
from seqlab.scenario.loader import load_scenario, parse_scenario

# a crash with high leverage and eager managers: loud blocks, losses beyond margin
STRESS = {"market.jump_intensity": 2000.0, "market.jump_mean": -0.05,
          "agents.traders.leverage": [20.0, 25.0],
          "agents.traders.leverage_weights": [0.5, 0.5],
          "agents.margin_managers.trigger": 1.6}
# the ways ``tiny`` is changed to meet every path: as it is, stressed, with managers who
# want more than a trade's initial margin (a block leaves one due), and busy enough
# that a block touches more accounts than a quiet refresh takes
VARIANTS = {"plain": {}, "stress": STRESS,
            "eager": {**STRESS, "agents.margin_managers.trigger": 3.0},
            "busy": {"agents.traders.rate_per_s": 120.0},
            "losing": {**STRESS, "agents.liquidators.*.max_loss_usd": 0.5,
                       "agents.liquidators.*.gas_usd": 20.0}}

# the ways ``tiny`` is changed to meet every path of an extractive operator's blocks the
# runner may take: top-ups censored, one sent through the delayed inbox and held there,
# trades worth wrapping (a small skew scale), censoring alone (updates keep their
# place), and updates held back (blocks holding one are the operator's)
INBOX = {"agents.margin_managers.recourse.patience": {"median": "3s", "sigma": 0.5},
         "agents.margin_managers.recourse.inbox": 1.0,
         "agents.margin_managers.recourse.retry": 0.0,
         "agents.margin_managers.recourse.raise_tip": 0.0,
         "agents.margin_managers.recourse.close": 0.0, "sequencer.inbox_delay": "20s"}
OPERATOR_VARIANTS = {"inbox": {**STRESS, **INBOX},
                     "wrap": {"protocol.perps.skew_scale": 2000.0},
                     "censor": {**STRESS, "sequencer.strategy.censor": True},
                     "delay": {**STRESS, "sequencer.strategy.stale_oracle": True,
                               "sequencer.strategy.oracle_delay": "2s"}}


def get_dotted(data: dict, key: str):
    """The value at dotted ``key`` in a scenario mapping."""
    for part in key.split("."):
        data = data[part]
    return data


def tiny_world(design: str, seed: int, changes: dict | str = "plain", shortcut: bool = True,
               runner: bool = True):
    """``tiny`` under ``design`` at ``seed`` with ``changes`` (settings, or the name
    of one of ``VARIANTS`` or ``OPERATOR_VARIANTS``); ``shortcut``/``runner``: whether the rollup keeps the fast
    paths its assembly installed."""
    loaded = load_scenario("tiny")
    data = loaded.scenario.model_dump(mode="python")
    if isinstance(changes, str):
        changes = {**VARIANTS, **OPERATOR_VARIANTS}[changes]
    for key, value in {**changes, "sequencer.design": design}.items():
        head, star, tail = key.partition(".*.")
        if star:  # every element of a list of tables
            for element in get_dotted(data, head):
                set_dotted(element, tail, value)
        else:
            set_dotted(data, key, value)
    world = make_world(parse_scenario(data, loaded.source, loaded.base_dir), seed)
    if not shortcut:
        world.rollup.use_shortcut(None)
    if not runner:
        world.rollup.use_runner(None)
    return world


def snapshot(world, summary: dict | None = None) -> dict:
    """Everything a block or its feed can change, as lists (floats by their bits)."""
    p, txs, agents = world.protocol, world.txs, world.assembly
    view, managers, sim = p.margin_view, agents.managers, world.sim
    n = txs.n
    state = {"generation": view.generation, "count": view.count, "n_due": managers.n_due,
             "balances": world.ledger.balances.tolist(),
             "journal": [c.tolist() for c in world.ledger.journal()],
             "order": world.rollup.executed_order().tolist(),
             "blocks": {k: v.tolist() for k, v in world.rollup.blocks_table().items()},
             "last_tick": world.rollup.last_tick, "now": sim.now, "seq": sim._seq,
             "heap": sorted((t, s, getattr(cb, "__name__", repr(cb)), repr(args[1:]))
                            for t, s, cb, args in sim._heap),
             "network": (world.network._bulk_pos, sorted(world.network._heap)),
             "stopped": agents.liquidators.stopped.tolist(),
             "clock": (p._begun, p._exposure_t, p._price_time, p.skew, dict(p._held)),
             "oracle": (p.price, view.price, p.oracle_block, p.oracle_t, list(p.log.oracle)),
             "enabled": (p.enabled_block.tolist(), p.enabled_t.tolist())}
    if summary is not None:
        state["digest"] = summary["digest"]
    for name in ("block", "included_us", "status", "fill", "kind", "sender", "a"):
        state[name] = getattr(txs, name)[:n].tolist()
    for name in ("equity", "notional"):
        state[name] = getattr(view, name).view(np.int64).tolist()
    state["below"] = view.below.tolist()
    for name in ("low", "due", "pending"):
        state[name] = getattr(managers, name).tolist()
    behind = view.since(agents._margin_seen)  # what the feed reads at its next block
    state["since"] = None if behind is None else behind.tolist()
    for name in ("size", "basis", "traded"):
        state[name] = getattr(p, name).tolist()
    for name in ("exposure", "_price_time_at"):
        state[name] = getattr(p, name).view(np.int64).tolist()
    return state
