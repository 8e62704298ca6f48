TITLE Exp2Syn kinetics with Tsodyks-Markram short-term plasticity (state in the point process)

COMMENT
Written for bmtool_lab's example network.

Conductance g = B - A with rise tau1 and decay tau2, normalised like NEURON's Exp2Syn so an
increment of w gives a peak of w (uS).

Release fraction of event n, with interval dT since the previous event received by this
point process (Use = U, Dep = D, Fac = F in ms), starting from u = 0, R = 1:
    u <- u exp(-dT/F)          (F = 0: u <- 0)
    u <- u + U (1 - u)
    R <- 1 - (1 - R) exp(-dT/D) (D = 0: R <- 1)
    P  = u R,   then  R <- R - u R
The event increments the conductance by weight * initW * P. The plasticity state (u, R,
tlast) lives in the point process, so every NetCon onto it shares one history.
ENDCOMMENT

NEURON {
    POINT_PROCESS Exp2SynSTP
    RANGE tau1, tau2, e, i, g, Use, Dep, Fac, initW, u, R, P
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
    initW = 1 (1)
}

ASSIGNED {
    v (mV)
    i (nA)
    g (uS)
    factor
    u (1)
    R (1)
    P (1)
    tlast (ms)
    nevents
}

STATE {
    A (uS)
    B (uS)
}

INITIAL {
    LOCAL tp
    if (tau1/tau2 > 0.9999) {
        tau1 = 0.9999*tau2
    }
    if (tau1/tau2 < 1e-9) {
        tau1 = tau2*1e-9
    }
    A = 0
    B = 0
    tp = (tau1*tau2)/(tau2 - tau1) * log(tau2/tau1)
    factor = 1/(-exp(-tp/tau1) + exp(-tp/tau2))
    u = 0
    R = 1
    P = 0
    tlast = 0
    nevents = 0
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

NET_RECEIVE(weight (uS)) {
    LOCAL interval
    if (nevents > 0) {
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
    nevents = nevents + 1
    A = A + weight*initW*P*factor
    B = B + weight*initW*P*factor
}
