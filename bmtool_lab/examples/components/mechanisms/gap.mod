TITLE Ohmic gap junction (half of a symmetric pair), the interface BMTK's BioNet expects

COMMENT
Written for bmtool_lab's example network. BioNet creates one Gap on each side of an
electrical synapse and links the partner's membrane potential into vgap with
ParallelContext.target_var. Current into this cell: i = g (v - vgap); g is a conductance
in microsiemens (not a resistance).
ENDCOMMENT

NEURON {
    POINT_PROCESS Gap
    NONSPECIFIC_CURRENT i
    RANGE g, i, vgap
}

UNITS {
    (nA) = (nanoamp)
    (mV) = (millivolt)
    (uS) = (microsiemens)
}

PARAMETER {
    g = 0.001 (uS)
}

ASSIGNED {
    v (mV)
    vgap (mV)
    i (nA)
}

BREAKPOINT {
    i = g*(v - vgap)
}
