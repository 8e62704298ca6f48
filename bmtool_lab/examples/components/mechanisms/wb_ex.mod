TITLE Spike-generating sodium and delayed-rectifier potassium currents (Wang-Buzsaki kinetics)

COMMENT
Written for bmtool_lab's example network. Kinetics after Wang & Buzsaki (1996), which fire
repetitively at physiological temperature (no q10 here, unlike NEURON's hh, which fires only
once near 34 degC).
  ina = gnabar m^3 h (v - ena),  ik = gkbar n^4 (v - ek)
  m' = phi (am (1 - m) - bm m),  h' = phi (ah (1 - h) - bh h),  n' = phi (an (1 - n) - bn n)
Wang & Buzsaki take m at its steady state m_inf(v). With m_inf instantaneous, the fixed step
of 0.025 ms overshot on small strongly driven somata (the example PV cell reached -2,700 mV at
200 pA); m as a state (time constant phi-scaled, ~0.03 ms at the spike peak) is integrated
stably by cnexp at that step.
ENDCOMMENT

NEURON {
    SUFFIX wb_ex
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

STATE { m h n }

INITIAL {
    m = am(v)/(am(v) + bm(v))
    h = ah(v)/(ah(v) + bh(v))
    n = an(v)/(an(v) + bn(v))
}

BREAKPOINT {
    SOLVE states METHOD cnexp
    ina = gnabar*m*m*m*h*(v - ena)
    ik = gkbar*n*n*n*n*(v - ek)
}

DERIVATIVE states {
    m' = phi*(am(v)*(1 - m) - bm(v)*m)
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
