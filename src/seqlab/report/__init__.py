"""Views of a Result meant for people: a self-contained HTML report."""
from seqlab.report.html import write_report

__all__ = ["write_report"]
