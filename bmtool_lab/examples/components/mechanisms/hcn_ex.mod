TITLE Hyperpolarisation-activated cation current (Ih), first-order kinetics

COMMENT
Written for bmtool_lab's example network: gives the excitatory cell a visible sag.
m_inf = 1 / (1 + exp((v - vhalf)/k)),  tau_m constant.
ENDCOMMENT

NEURON {
    SUFFIX hcn_ex
    NONSPECIFIC_CURRENT ih
    RANGE gbar, eh, ih
}

UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (S) = (siemens)
}

PARAMETER {
    gbar = 1e-4 (S/cm2)
    eh = -45 (mV)
    vhalf = -82 (mV)
    k = 7 (mV)
    tau = 40 (ms)
}

ASSIGNED {
    v (mV)
    ih (mA/cm2)
    minf (1)
}

STATE { m }

INITIAL {
    rates(v)
    m = minf
}

BREAKPOINT {
    SOLVE states METHOD cnexp
    ih = gbar*m*(v - eh)
}

DERIVATIVE states {
    rates(v)
    m' = (minf - m)/tau
}

PROCEDURE rates(v (mV)) {
    minf = 1/(1 + exp((v - vhalf)/k))
}
