"""Committee consensus (Tendermint/HotStuff family) with quorum times computed over arrays.

One round: the leader sends its proposal to every node; a node that receives it sends a
prevote to every node; a node holding a quorum (ceil((n+f+1)/2), 2f+1 when n = 3f+1) of
prevotes sends a precommit to every node (once); a node holding a quorum of precommits
commits (once); the next round's leader starts as soon as it has committed. Message
delays are the base latency between the two nodes' regions times a lognormal jitter
factor; a node's message to itself arrives at once.

Instead of one event per vote, a round is three matrix steps: the time node j holds a
quorum of prevotes is the quorum-th smallest of ``proposal_arrival[i] + delay[i, j]``
over senders i (``np.partition``), and the same for precommits. That is exact for this
protocol, and it is what makes committees of hundreds of nodes cheap to simulate: the
same function serves the ``committee`` design and the ``committee-reference`` benchmark.
For committees of a few nodes those steps run compiled (``seqlab.quorum_kernel``, bit
for bit ``run_round_arrays``): a design runs a round per block, and at that size the
array calls themselves were most of the cost.

Crashed nodes send nothing; lost messages never arrive (infinite delay). A round
without a quorum, or whose next leader is crashed, ends in a timeout and a view change.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqlab.quorum_kernel import INF, SMALL, quorum_commits


# One-way latencies (ms) between five regions, about half the public inter-region
# round-trip times: us-east, us-west, eu-west, ap-northeast, sa-east.
REGIONS = ("us-east", "us-west", "eu-west", "ap-northeast", "sa-east")
REGION_LATENCY_MS = np.array([[1, 32, 38, 80, 58],
                              [32, 1, 70, 55, 90],
                              [38, 70, 1, 110, 95],
                              [80, 55, 110, 1, 130],
                              [58, 90, 95, 130, 1]], dtype=np.float64)


def quorum_size(n: int) -> int:
    """ceil((n+f+1)/2) with f = (n-1)//3, the most faults a committee of n tolerates.

    Any two quorums then share at least f+1 members, so at least one honest member, and
    an honest member votes once per height: two conflicting blocks cannot both be
    certified while at most f members are byzantine. For n = 3f+1 this is the familiar
    2f+1; for n = 3f+2 or 3f+3, 2f+1 would let two quorums meet in f members or fewer
    (n = 6, f = 1: two disjoint quorums of 3). The decentralized Timeboost specification
    uses the same Q = ceil((N+F+1)/2)."""
    f = (n - 1) // 3
    return (n + f + 2) // 2


def equivocation_votes(honest: int, byzantine: int) -> tuple[int, int]:
    """Votes for each of two conflicting blocks an equivocating leader proposes at one
    height: it sends block A to the first half of the honest members (rounded up) and B
    to the rest; honest members vote for the one they got, byzantine members for both."""
    a = (honest + 1) // 2
    return a + byzantine, honest - a + byzantine


def forks(n: int, honest: int, byzantine: int) -> bool:
    """Whether an equivocating leader gets both of its conflicting blocks certified,
    ``honest`` and ``byzantine`` being the live members of a committee of ``n``."""
    q = quorum_size(n)
    return min(equivocation_votes(honest, byzantine)) >= q


@dataclass
class Committee:
    """Nodes, their regions and the network between them."""

    region: np.ndarray            # region index of each node
    base_ms: np.ndarray           # region-to-region one-way latency (ms)
    jitter_sigma: float = 0.2     # lognormal sigma of the per-message factor
    loss: float = 0.0             # probability a message is lost

    @property
    def n(self) -> int:
        return len(self.region)

    @classmethod
    def round_robin(cls, n: int, base_ms: np.ndarray = REGION_LATENCY_MS,
                    jitter_sigma: float = 0.2, loss: float = 0.0) -> "Committee":
        """``n`` nodes placed round-robin over the regions of ``base_ms``."""
        return cls(np.arange(n) % len(base_ms), np.asarray(base_ms, np.float64),
                   jitter_sigma, loss)

    def base_us(self) -> np.ndarray:
        """Node-to-node base latency in µs (zero on the diagonal)."""
        b = self.base_ms[self.region[:, None], self.region[None, :]] * 1000.0
        np.fill_diagonal(b, 0.0)
        return b


def proposal_serialization_us(n: int, block_bytes: float, bandwidth_mbps: float) -> np.ndarray:
    """When each node has the leader's block, after the network delay: the leader uploads
    a full copy to node 0, then node 1, ... at ``bandwidth_mbps``, so node i waits
    (i+1) × bytes / bandwidth. This data-availability cost is what makes big blocks slow
    in big committees (the HotShot benchmarks: ``seqlab.experiments.hotshot``)."""
    return (np.arange(n) + 1) * (block_bytes * 8.0) / (bandwidth_mbps * 1e6) * 1e6


def kth_smallest(x: np.ndarray, k: int, axis: int = 0) -> np.ndarray:
    """The k-th smallest value along ``axis`` (1-based k)."""
    return np.partition(x, k - 1, axis=axis).take(k - 1, axis=axis)


@dataclass
class RoundOutcome:
    """When each node committed (INF where it did not), and whether a quorum formed."""

    commit_us: np.ndarray
    committed: bool


def run_round(t0: int, leader: int, base_us: np.ndarray, factors: np.ndarray,
              alive: np.ndarray, quorum: int, lost: np.ndarray | None = None,
              proposal_extra_us: np.ndarray | float = 0.0,
              vote_extra_us: np.ndarray | float = 0.0,
              voters: np.ndarray | None = None) -> RoundOutcome:
    """One consensus round started by ``leader`` at ``t0`` (µs).

    ``factors`` has shape (3, n, n): jitter of the proposal, prevote and precommit
    messages from sender i to receiver j; ``lost`` the same shape, True where dropped.
    ``proposal_extra_us`` adds serialization time per receiver (bandwidth);
    ``vote_extra_us`` delays the votes of chosen senders (byzantine vote delay);
    ``voters``, where given, marks the nodes that vote for this proposal at all (the
    others got a conflicting one from an equivocating leader): they still commit it once
    they hold a quorum of precommits, but their votes count for nothing.

    Committees of up to ``SMALL`` nodes run the compiled ``quorum_commits`` (bit for bit
    ``run_round_arrays``): a simulation runs one round per block, and at that size the
    array form is mostly call overhead. Larger ones use the array form, whose
    vectorised selection is then the faster.
    """
    n = len(alive)
    if n > SMALL:
        return run_round_arrays(t0, leader, base_us, factors, alive, quorum, lost,
                                proposal_extra_us, vote_extra_us, voters)
    out, committed = quorum_commits(
        int(t0), int(leader), _plain(base_us, np.float64), _plain(factors, np.float64),
        _plain(alive, np.bool_), int(quorum),
        _NO_LOSS if lost is None else _plain(lost, np.bool_), lost is not None,
        _per_node(proposal_extra_us, n), _per_node(vote_extra_us, n),
        _NO_VOTERS if voters is None else _plain(voters, np.bool_), voters is not None)
    return RoundOutcome(out, committed)


_NO_LOSS = np.zeros((1, 1, 1), dtype=bool)
_NO_VOTERS = np.zeros(1, dtype=bool)


def _plain(x: np.ndarray, dtype: type) -> np.ndarray:
    """``x`` as a C-contiguous, writable array of ``dtype`` (copied only where it is not
    one already: a broadcast view of a partition's cut is neither), so the kernel
    compiles once and a round converts nothing."""
    if type(x) is np.ndarray and x.dtype == dtype and x.flags.c_contiguous \
            and x.flags.writeable:
        return x
    return np.array(x, dtype=dtype, order="C")


def _per_node(x: np.ndarray | float, n: int) -> np.ndarray:
    """A per-node extra delay as a float array (a scalar applies to every node)."""
    if np.ndim(x):
        return _plain(x, np.float64)
    return np.full(n, float(x))


def run_round_arrays(t0: int, leader: int, base_us: np.ndarray, factors: np.ndarray,
                     alive: np.ndarray, quorum: int, lost: np.ndarray | None = None,
                     proposal_extra_us: np.ndarray | float = 0.0,
                     vote_extra_us: np.ndarray | float = 0.0,
                     voters: np.ndarray | None = None) -> RoundOutcome:
    """``run_round`` (same arguments) over numpy arrays: the plain form of the protocol,
    three matrix steps, kept as the reference the compiled kernel
    (``seqlab.quorum_kernel``) is tested against."""
    delay = base_us[None, :, :] * factors
    if lost is not None:
        delay = np.where(lost, np.inf, delay)
    dead = ~alive
    delay[:, dead, :] = np.inf  # crashed nodes send nothing
    idx = np.arange(len(alive))
    delay[:, idx, idx] = np.where(alive, 0.0, np.inf)
    proposal = t0 + delay[0, leader, :] + proposal_extra_us
    prevote_sent = proposal + vote_extra_us
    if voters is not None:
        prevote_sent = np.where(voters, prevote_sent, np.inf)
    prevote_quorum = kth_smallest(prevote_sent[:, None] + delay[1], quorum, axis=0)
    precommit_sent = prevote_quorum + vote_extra_us
    if voters is not None:
        precommit_sent = np.where(voters, precommit_sent, np.inf)
    commit = kth_smallest(precommit_sent[:, None] + delay[2], quorum, axis=0)
    commit = np.where(alive & np.isfinite(commit), commit, np.inf)
    finite = np.isfinite(commit)
    out = np.full(len(alive), INF, dtype=np.int64)
    out[finite] = np.ceil(commit[finite]).astype(np.int64)
    return RoundOutcome(out, bool(finite.any()))


def median_us(times_us: np.ndarray) -> int:
    """The median of the finite (below ``INF``) times, as ``int(np.median(...))`` gives
    it: the middle one, or the mean of the two middle ones as floats, truncated.
    Computed on Python ints: a round takes one, and for a committee of a few members
    ``np.median``'s call overhead was a sixth of the committee's run time."""
    finite = sorted(t for t in times_us.tolist() if t < INF)
    mid = len(finite) // 2
    if len(finite) % 2:
        return int(float(finite[mid]))
    return int((float(finite[mid - 1]) + float(finite[mid])) / 2.0)


def decryption_times(commit_us: np.ndarray, delay_us: np.ndarray, threshold: int) -> np.ndarray:
    """When each member can decrypt a committed block's ciphertexts: every member that
    committed multicasts its decryption share at once, and member j decrypts on the
    ``threshold``-th share to reach it (its own at once; ``delay_us[i, j]`` from i), and
    not before it has committed the block itself.
    INF where a member never gets enough shares, or did not commit."""
    sent = np.where(commit_us < INF, commit_us, np.inf).astype(np.float64)
    arrive = sent[:, None] + delay_us
    np.fill_diagonal(arrive, sent)
    at = np.maximum(kth_smallest(arrive, threshold, axis=0), sent)  # executes once committed
    ok = np.isfinite(at) & (commit_us < INF)
    out = np.full(len(commit_us), INF, dtype=np.int64)
    out[ok] = np.ceil(at[ok]).astype(np.int64)
    return out


def reference_rounds(committee: Committee, rounds: int, seed: int, block_bytes: float = 0.0,
                     bandwidth_mbps: float = 1000.0) -> np.ndarray:
    """Start time (µs) of each of ``rounds`` rounds plus the end of the last: the
    ``committee-reference`` workload (no faults), through ``run_round``; blocks of
    ``block_bytes`` add the leader's upload (``proposal_serialization_us``)."""
    rng = np.random.Generator(np.random.PCG64(seed))
    n = committee.n
    base, alive, q = committee.base_us(), np.ones(n, dtype=bool), quorum_size(n)
    serialize = proposal_serialization_us(n, block_bytes, bandwidth_mbps) if block_bytes else 0.0
    starts = np.zeros(rounds + 1, dtype=np.int64)
    t = 0
    for r in range(rounds):
        factors = rng.lognormal(0.0, committee.jitter_sigma, size=(3, n, n))
        out = run_round(t, r % n, base, factors, alive, q, None, serialize)
        t = int(out.commit_us[(r + 1) % n])
        starts[r + 1] = t
    return starts
