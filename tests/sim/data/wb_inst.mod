TITLE Spike-generating sodium and delayed-rectifier potassium currents (Wang-Buzsaki kinetics)

: the example's Wang-Buzsaki channel before the fix: m at its steady state m_inf(v)

NEURON {
    SUFFIX wb_inst
    USEION na READ ena WRITE ina
    USEION k READ ek WRITE ik
    RANGE gnabar, gkbar, phi
}

UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (S) = (siemens)
}

PARAMETER {
    gnabar = 0.035 (S/cm2)
    gkbar = 0.009 (S/cm2)
    phi = 5
}

ASSIGNED {
    v (mV)
    ena (mV)
    ek (mV)
    ina (mA/cm2)
    ik (mA/cm2)
}

STATE { h n }

INITIAL {
    h = ah(v)/(ah(v) + bh(v))
    n = an(v)/(an(v) + bn(v))
}

BREAKPOINT {
    LOCAL minf
    SOLVE states METHOD cnexp
    minf = am(v)/(am(v) + bm(v))
    ina = gnabar*minf*minf*minf*h*(v - ena)
    ik = gkbar*n*n*n*n*(v - ek)
}

DERIVATIVE states {
    h' = phi*(ah(v)*(1 - h) - bh(v)*h)
    n' = phi*(an(v)*(1 - n) - bn(v)*n)
}

: x/(exp(x/y) - 1), finite at x = 0
FUNCTION vtrap(x, y) {
    if (fabs(x/y) < 1e-6) {
        vtrap = y*(1 - x/y/2)
    } else {
        vtrap = x/(exp(x/y) - 1)
    }
}

FUNCTION am(v (mV)) { am = 0.1*vtrap(-(v + 35), 10) }
FUNCTION bm(v (mV)) { bm = 4*exp(-(v + 60)/18) }
FUNCTION ah(v (mV)) { ah = 0.07*exp(-(v + 58)/20) }
FUNCTION bh(v (mV)) { bh = 1/(exp(-0.1*(v + 28)) + 1) }
FUNCTION an(v (mV)) { an = 0.01*vtrap(-(v + 34), 10) }
FUNCTION bn(v (mV)) { bn = 0.125*exp(-(v + 44)/80) }
