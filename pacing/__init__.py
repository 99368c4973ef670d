"""Pacing: pure estimators and pacers that decide how many calls to place now."""
