"""The rollup: block production, execution against a protocol, and the block feed."""
from seqlab.rollup.chain import Rollup

__all__ = ["Rollup"]
