"""Fault suite: a real engine process on PostgreSQL driven through faults."""
