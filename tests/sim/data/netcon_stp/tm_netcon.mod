TITLE Exp2Syn kinetics with Tsodyks-Markram STP kept per NetCon (test mechanism)

COMMENT
Written for bmtool_lab's tests. Like the example's Exp2SynSTP, but the plasticity state
(u, R, time of the last event) lives in the NetCon's weight vector, as in many BBP-derived
synapse models: every NetCon onto the synapse has its own history. Delivering recovery
pulses through a second NetCon (bmtool) therefore restarts from rest (recovery = 0).
ENDCOMMENT

NEURON {
    POINT_PROCESS TMNetCon
    RANGE tau1, tau2, e, i, g, Use, Dep, Fac
    NONSPECIFIC_CURRENT i
}

UNITS {
    (nA) = (nanoamp)
    (mV) = (millivolt)
    (uS) = (microsiemens)
}

PARAMETER {
    tau1 = 0.5 (ms) <1e-9, 1e9>
    tau2 = 5.0 (ms) <1e-9, 1e9>
    e = 0 (mV)
    Use = 0.5 (1) <0, 1>
    Dep = 100 (ms) <0, 1e9>
    Fac = 0 (ms) <0, 1e9>
}

ASSIGNED {
    v (mV)
    i (nA)
    g (uS)
    factor
}

STATE {
    A (uS)
    B (uS)
}

INITIAL {
    LOCAL tp
    A = 0
    B = 0
    tp = (tau1*tau2)/(tau2 - tau1) * log(tau2/tau1)
    factor = 1/(-exp(-tp/tau1) + exp(-tp/tau2))
}

BREAKPOINT {
    SOLVE state METHOD cnexp
    g = B - A
    i = g*(v - e)
}

DERIVATIVE state {
    A' = -A/tau1
    B' = -B/tau2
}

NET_RECEIVE(weight (uS), u, R, tlast (ms), nev) {
    LOCAL interval, P
    INITIAL {
        u = 0
        R = 1
        tlast = 0
        nev = 0
    }
    if (nev > 0) {
        interval = t - tlast
        if (Fac > 0) {
            u = u*exp(-interval/Fac)
        } else {
            u = 0
        }
        if (Dep > 0) {
            R = 1 - (1 - R)*exp(-interval/Dep)
        } else {
            R = 1
        }
    }
    u = u + Use*(1 - u)
    P = u*R
    R = R - u*R
    tlast = t
    nev = nev + 1
    A = A + weight*P*factor
    B = B + weight*P*factor
}
