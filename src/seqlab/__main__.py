"""``python -m seqlab``: the same command line as the ``seqlab`` script, for environments
where the script is not on PATH."""
from seqlab.cli import main

main()
