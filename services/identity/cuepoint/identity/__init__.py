"""Cuepoint identity service: Tenants, users, roles, sessions, preferences and system configuration."""
