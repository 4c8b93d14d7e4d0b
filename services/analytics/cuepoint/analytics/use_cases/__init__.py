"""What a client can make analytics do: record its telemetry (ingest.py). Everything else analytics
writes is a projection of events (projections.py)."""
