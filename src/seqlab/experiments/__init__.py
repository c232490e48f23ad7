"""Running worlds and keeping their results: run, store, bench."""
