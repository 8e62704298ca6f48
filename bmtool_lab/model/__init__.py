"""BMTK/SONATA model access: configs, nodes/edges, connection and cell types, dynamics JSON."""
