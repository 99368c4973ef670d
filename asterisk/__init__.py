"""Asterisk edge: the AMI adapter and a PBX simulator that speaks AMI over TCP."""
