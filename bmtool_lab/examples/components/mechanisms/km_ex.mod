TITLE Slow non-inactivating potassium current (M-like), first-order kinetics

COMMENT
Written for bmtool_lab's example network: gives the SST interneuron spike-frequency adaptation.
n_inf = 1 / (1 + exp(-(v - vhalf)/k)),  tau_n constant.
ENDCOMMENT

NEURON {
    SUFFIX km_ex
    USEION k READ ek WRITE ik
    RANGE gbar, ik
}

UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (S) = (siemens)
}

PARAMETER {
    gbar = 1e-3 (S/cm2)
    vhalf = -35 (mV)
    k = 10 (mV)
    tau = 100 (ms)
}

ASSIGNED {
    v (mV)
    ek (mV)
    ik (mA/cm2)
    ninf (1)
}

STATE { n }

INITIAL {
    rates(v)
    n = ninf
}

BREAKPOINT {
    SOLVE states METHOD cnexp
    ik = gbar*n*(v - ek)
}

DERIVATIVE states {
    rates(v)
    n' = (ninf - n)/tau
}

PROCEDURE rates(v (mV)) {
    ninf = 1/(1 + exp(-(v - vhalf)/k))
}
