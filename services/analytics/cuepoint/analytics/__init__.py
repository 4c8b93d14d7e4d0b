"""Cuepoint analytics service: Client event ingest, analytics and audit projections, dashboards."""
