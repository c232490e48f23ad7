"""The rollup: block production and execution against a protocol (``chain``), its fee
market (``fees``), the delayed inbox, batch posting to L1 and proofs.

Nothing is imported here: designs and protocols import ``rollup.fees`` (what a design
declares, the sequencer side's accounts) while ``rollup.chain`` imports the designs'
base, so eager imports here would tie the packages in a loop.
"""
