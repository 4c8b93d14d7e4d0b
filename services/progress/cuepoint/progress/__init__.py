"""Cuepoint progress service: Cross-device sessions, resume and lesson progress (projections of events)."""
