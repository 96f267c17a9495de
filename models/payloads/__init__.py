"""Temporal payload contracts: what workflows and activities pass each other, activity names."""
