"""Pure numpy/scipy analysis: event, STP, passive, F–I, impedance and connectivity metrics.

Imports nothing else of bmtool_lab, so a test of a metric never starts NEURON.
"""
