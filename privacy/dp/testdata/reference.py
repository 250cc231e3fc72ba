#!/usr/bin/env python3
"""Independent reference values for the privacy/dp accountant tests.

Run: python3 privacy/dp/testdata/reference.py  (Python 3 with mpmath 1.3)

Everything continuous is computed with mpmath at 60 significant digits:
Phi via mpmath.ncdf, optima via mpmath.findroot on the derivative, inverses
via mpmath.findroot / bisection. The discrete Renyi order grids are evaluated
with Google's dp_accounting rules (KL shortcut, alpha > 1.01) in mpmath too.
The output is Go source text pasted into accountant_test.go.
"""
from mpmath import mp, mpf, sqrt, log, log1p, exp, expm1, ncdf, findroot, floor

mp.dps = 60


def eps_simple(rho, delta):
    return rho + 2 * sqrt(rho * log(1 / delta))


def rdp_eps(a, r, delta):
    return r + log1p(-1 / a) - (log(delta) + log(a)) / (a - 1)


def eps_grid(rho, delta, orders):
    best, ba = mp.inf, None
    for a in orders:
        r = a * rho
        if delta ** 2 + expm1(-r) > 0:
            e = mpf(0)
        elif a > mpf("1.01"):
            e = rdp_eps(a, r, delta)
        else:
            e = mp.inf
        if e < best:
            best, ba = e, a
    return max(mpf(0), best), ba


def eps_cont(rho, delta):
    # minimize over alpha: derivative root; objective convex enough near optimum.
    f = lambda a: rdp_eps(a, a * rho, delta)
    df = lambda a: mp.diff(f, a)
    # coarse scan for a start
    best = min((f(mpf(1) + mpf(10) ** (k / mpf(20))), mpf(1) + mpf(10) ** (k / mpf(20))) for k in range(-60, 141))
    a0 = best[1]
    try:
        a = findroot(df, a0)
    except Exception:
        a = a0
    if a < mpf("1.001"):
        a = mpf("1.001")
    if a > mpf(10) ** 7:
        a = mpf(10) ** 7
    return max(mpf(0), f(a)), a


def delta_gauss(mu, eps):
    return ncdf(mu / 2 - eps / mu) - exp(eps) * ncdf(-mu / 2 - eps / mu)


def eps_gauss(mu, delta):
    if delta_gauss(mu, 0) <= delta:
        return mpf(0)
    lo, hi = mpf(0), mpf(1)
    while delta_gauss(mu, hi) > delta:
        lo, hi = hi, 2 * hi
    for _ in range(200):
        mid = (lo + hi) / 2
        if delta_gauss(mu, mid) > delta:
            lo = mid
        else:
            hi = mid
    return hi


def bisect_increasing(g, target, lo, hi, iters=200):
    """largest x in [lo,hi] with g(x) <= target for increasing g."""
    while g(hi) <= target:
        lo, hi = hi, 2 * hi
    for _ in range(iters):
        mid = (lo + hi) / 2
        if g(mid) <= target:
            lo = mid
        else:
            hi = mid
    return lo


def rho_rdp(eps, delta):
    return bisect_increasing(lambda r: eps_cont(r, delta)[0], eps, mpf(0), mpf(1), 120)


def rho_simple(eps, delta):
    L = log(1 / delta)
    return (sqrt(L + eps) - sqrt(L)) ** 2


def rho_gauss(eps, delta):
    # delta_gauss increasing in mu
    mu = bisect_increasing(lambda m: delta_gauss(m, eps), delta, mpf(0), mpf(1), 200)
    return mu * mu / 2, mu


def sigma_tight(eps, delta):
    # smallest sigma with delta_gauss(1/sigma, eps) <= delta
    mu, = [bisect_increasing(lambda m: delta_gauss(m, eps), delta, mpf(0), mpf(1), 200)]
    return 1 / mu


def g(x, n=12):
    return mp.nstr(x, n, min_fixed=-30, max_fixed=30)


dpam = [mpf(1) + mpf(i) / 10 for i in range(1, 100)] + [mpf(i) for i in range(11, 64)]
fine = [mpf(1) + mpf(i) / 1000 for i in range(1, 100000)] + [mpf(100) + mpf(i) / 10 for i in range(1, 9001)]

print("// C5.1")
for delta in ("1e-5", "1e-6"):
    d = mpf(delta)
    for z in ("0.5", "1", "2", "5", "10"):
        for T in (1, 10, 20):
            rho = T / (2 * mpf(z) ** 2)
            mu = sqrt(T) / mpf(z)
            ed, ad = eps_grid(rho, d, dpam)
            # fine grid: restrict to a window around the continuous optimum for speed
            ec, ac = eps_cont(rho, d)
            window = [a for a in fine if abs(a - ac) < ac * mpf("0.05") + mpf("0.01")]
            ef, af = eps_grid(rho, d, window)
            print("{%s, %s, %d, %s, %s, %s, %s, %s, %s, %s, %s}," % (
                delta, z, T, g(eps_simple(rho, d)), g(ed), g(ad, 6), g(ef), g(af, 8), g(ec), g(ac, 8), g(eps_gauss(mu, d))))

print("// C5.2")
for delta in ("1e-5", "1e-6"):
    d = mpf(delta)
    for e in ("0.5", "1", "2", "5"):
        eps = mpf(e)
        st = sigma_tight(eps, d)
        sr = 1 / sqrt(2 * rho_rdp(eps, d))
        ss = 1 / sqrt(2 * rho_simple(eps, d))
        sc = sqrt(2 * log(mpf("1.25") / d)) / eps
        print("{%s, %s, %s, %s, %s, %s}," % (delta, e, g(st), g(sr), g(ss), g(sc)))

print("// C5.3")
for delta in ("1e-5", "8e-6", "1e-6"):
    d = mpf(delta)
    row = []
    for e in ("0.5", "1", "2", "5", "10", "20"):
        eps = mpf(e)
        rg, mu = rho_gauss(eps, d)
        row.append("{%s, %s, %s, %s, %s}" % (e, g(rho_rdp(eps, d)), g(rho_simple(eps, d)), g(rg), g(mu)))
    print(delta, ", ".join(row))

print("// C5.4")
for sigma, sens, eps in (("10", "1", "0.1"), ("10", "5", "ln3"), ("0.5", "1", "0"), ("1", "1", "ln3"), ("1", "sqrt2", "ln3")):
    s = mpf(sigma)
    dd = sqrt(2) if sens == "sqrt2" else mpf(sens)
    e = log(3) if eps == "ln3" else mpf(eps)
    print(sigma, sens, eps, g(delta_gauss(dd / s, e), 20))
print("tight sigma ln3 1e-5:", g(sigma_tight(log(3), mpf("1e-5")), 15), g(sigma_tight(log(3), mpf("1e-5")) ** 2, 15))
z = mpf("4.530877117")
orders = [mpf(1) + mpf(i) / 1000 for i in range(0, 99000)]
rho = 1 / (2 * z * z)
ec, ac = eps_cont(rho, mpf("1e-6"))
window = [a for a in orders if abs(a - ac) < 1]
print("dp_accounting gaussian:", g(eps_grid(rho, mpf("1e-6"), window)[0], 15), g(eps_grid(rho, mpf("1e-6"), window)[1], 8))
print("rdp sigma (1,1e-6):", g(1 / sqrt(2 * rho_rdp(mpf(1), mpf("1e-6"))), 15))
o = [mpf(a) for a in range(2, 33)]
best = min((rdp_eps(a, mpf("1.1"), mpf("1e-5")), a) for a in o)
print("pure dp:", g(best[0], 15), best[1])

print("// B10")


def rho_grid(eps, delta, orders):
    return bisect_increasing(lambda r: eps_grid(r, delta, orders)[0], eps, mpf(0), mpf(1), 120)


def calib(eps, delta, T, beta, zc=None, share=None, conv="rdp"):
    e, d = mpf(eps), mpf(delta)
    if conv == "rdp":
        rt = rho_rdp(e, d)
    elif conv == "dpam":
        rt = rho_grid(e, d, dpam)
    else:
        rt = rho_gauss(e, d)[0]
    if zc is not None:
        rc = 1 / (2 * mpf(zc) ** 2)
    else:
        rc = mpf(share) * rt
        zc = 1 / sqrt(2 * rc)
    rs = (rt - rc) / T
    phiG = mpf(1) / (1 + 2 * beta)
    phiS = mpf(beta) / (1 + 2 * beta)
    return rt, mpf(zc), 1 / sqrt(2 * phiG * rs), 1 / sqrt(2 * phiS * rs)


for conv in ("rdp", "dpam", "gauss"):
    for eps, T, zc in (("1", 3, 20), ("5", 4, 4), ("20", 5, 1)):
        rt, zc_, zg, zs = calib(eps, "8e-6", T, 100, zc=zc, conv=conv)
        print(conv, "ml20m", eps, g(rt), g(zc_), g(zg), g(zs))
for eps in ("1", "5", "10", "20"):
    rt, zc_, zg, zs = calib(eps, "1e-5", 5, 100, share="0.05")
    print("ml1m", eps, g(rt), g(zc_), g(zg), g(zs))
