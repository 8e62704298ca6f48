"""Stateful controllers (tuner, profiler, explorer), usable headless."""
