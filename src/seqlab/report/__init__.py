"""Views of a Result meant for people: self-contained HTML reports."""
from seqlab.report.compare_html import write_compare_report
from seqlab.report.html import write_report
from seqlab.report.price_html import write_price_report
from seqlab.report.sweep_html import render_sweep_html, write_sweep_report

__all__ = ["render_sweep_html", "write_compare_report", "write_price_report", "write_report",
           "write_sweep_report"]
