"""Campaigns, records, statuses: the domain model, its storage and the status engine."""
