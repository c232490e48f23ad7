"""Views of a Result meant for people: self-contained HTML reports."""
from seqlab.report.compare_html import write_compare_report
from seqlab.report.html import write_report

__all__ = ["write_compare_report", "write_report"]
