"""NEURON side: mechanisms, cells, protocols, worker processes and executors."""
