"""Offline analysis of Attune recordings: per-trial tables, summaries and plots."""
