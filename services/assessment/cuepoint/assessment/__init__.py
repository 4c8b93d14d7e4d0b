"""Cuepoint assessment service: AI question generation and review, attempts and grading."""
