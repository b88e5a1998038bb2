#!/usr/bin/python3
"""Independent numpy (float64) reference for the ML engine's layers, losses and the CLOUD 2018
networks: forward and backward written from the definitions, without any of the engine's code.

Usage: make_reference.py OUTPUT_FILE

Every input is drawn in float32 (so the C++ side sees exactly the same values) and every expected
output is computed in float64. The output is a flat list of named arrays:
  b"STMLREF1"  then per array: u32 name length, name (utf-8), u32 rank, rank x u64 dims,
  product(dims) x f64 values (row-major), all little-endian.
"""

import struct
import sys

import numpy as np

rng = np.random.default_rng(20181204)
arrays = []


def put(name, value):
    arrays.append((name, np.asarray(value, dtype=np.float64)))


def f32(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32).astype(np.float64)


# ---------------------------------------------------------------- layers

def dense(x, w, b):
    return x @ w + b


def dense_backward(x, w, dy):
    return dy @ w.T, x.T @ dy, dy.sum(axis=0)


def conv2d_same(x, w, b):
    """NHWC x HWIO, stride 1, TF SAME padding: (k-1)//2 before, the rest after."""
    n, h, wd, cin = x.shape
    kh, kw, _, cout = w.shape
    pt, pl = (kh - 1) // 2, (kw - 1) // 2
    xp = np.zeros((n, h + kh - 1, wd + kw - 1, cin))
    xp[:, pt:pt + h, pl:pl + wd, :] = x
    y = np.zeros((n, h, wd, cout))
    for i in range(kh):
        for j in range(kw):
            y += np.einsum("nhwc,co->nhwo", xp[:, i:i + h, j:j + wd, :], w[i, j])
    return y + b


def conv2d_same_backward(x, w, dy):
    n, h, wd, cin = x.shape
    kh, kw, _, cout = w.shape
    pt, pl = (kh - 1) // 2, (kw - 1) // 2
    xp = np.zeros((n, h + kh - 1, wd + kw - 1, cin))
    xp[:, pt:pt + h, pl:pl + wd, :] = x
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for i in range(kh):
        for j in range(kw):
            dw[i, j] = np.einsum("nhwc,nhwo->co", xp[:, i:i + h, j:j + wd, :], dy)
            dxp[:, i:i + h, j:j + wd, :] += np.einsum("nhwo,co->nhwc", dy, w[i, j])
    return dxp[:, pt:pt + h, pl:pl + wd, :], dw, dy.sum(axis=(0, 1, 2))


def max_pool_same(x, k, s):
    """TF SAME max-pool; returns y and, for the backward pass, the arg-max mask per output."""
    n, h, wd, c = x.shape
    oh, ow = -(-h // s), -(-wd // s)
    pad_h = max((oh - 1) * s + k - h, 0)
    pad_w = max((ow - 1) * s + k - wd, 0)
    pt, pl = pad_h // 2, pad_w // 2
    y = np.zeros((n, oh, ow, c))
    where = {}
    for a in range(oh):
        for b in range(ow):
            h0, w0 = a * s - pt, b * s - pl
            hs = range(max(h0, 0), min(h0 + k, h))
            ws = range(max(w0, 0), min(w0 + k, wd))
            cells = [(hh, ww) for hh in hs for ww in ws]
            window = np.stack([x[:, hh, ww, :] for hh, ww in cells], axis=0)  # [cells, n, c]
            best = window.argmax(axis=0)  # first maximum in row-major window order
            y[:, a, b, :] = window.max(axis=0)
            where[(a, b)] = (cells, best)
    return y, where


def max_pool_backward(x, where, dy):
    dx = np.zeros_like(x)
    n, _, _, c = x.shape
    for (a, b), (cells, best) in where.items():
        for ni in range(n):
            for ci in range(c):
                hh, ww = cells[best[ni, ci]]
                dx[ni, hh, ww, ci] += dy[ni, a, b, ci]
    return dx


def lrn(x, r, bias, alpha, beta):
    c = x.shape[-1]
    sq = x * x
    s = np.zeros_like(x)
    for ch in range(c):
        s[..., ch] = sq[..., max(0, ch - r):min(c, ch + r + 1)].sum(axis=-1)
    scale = bias + alpha * s
    return x * scale ** -beta, scale


def lrn_backward(x, r, bias, alpha, beta, dy):
    """By the chain rule on y_j = x_j * scale_j^-beta, scale_j = bias + alpha*sum_{|i-j|<=r} x_i^2."""
    c = x.shape[-1]
    _, scale = lrn(x, r, bias, alpha, beta)
    dx = dy * scale ** -beta
    coeff = dy * x * (-beta) * scale ** (-beta - 1) * alpha * 2  # d y_j / d scale_j * dy_j * 2alpha
    for i in range(c):
        js = range(max(0, i - r), min(c, i + r + 1))
        dx[..., i] += x[..., i] * sum(coeff[..., j] for j in js)
    return dx


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------- cases

def dense_case():
    x, w, b, dy = f32(4, 5), f32(5, 3), f32(3), f32(4, 3)
    dx, dw, db = dense_backward(x, w, dy)
    for k, v in dict(x=x, w=w, b=b, dy=dy, y=dense(x, w, b), dx=dx, dw=dw, db=db).items():
        put("dense." + k, v)


def conv_case(tag, n, h, wd, cin, cout, kh, kw):
    x, w, b = f32(n, h, wd, cin), f32(kh, kw, cin, cout, scale=0.3), f32(cout)
    dy = f32(n, h, wd, cout)
    dx, dw, db = conv2d_same_backward(x, w, dy)
    for k, v in dict(x=x, w=w, b=b, dy=dy, y=conv2d_same(x, w, b), dx=dx, dw=dw, db=db).items():
        put(tag + "." + k, v)


def pool_case(tag, n, h, wd, c, k, s):
    x = f32(n, h, wd, c)
    y, where = max_pool_same(x, k, s)
    dy = f32(*y.shape)
    for name, v in dict(x=x, y=y, dy=dy, dx=max_pool_backward(x, where, dy)).items():
        put(tag + "." + name, v)


def lrn_case(tag, shape, r, bias, alpha, beta):
    x = f32(*shape)
    y, scale = lrn(x, r, bias, alpha, beta)
    dy = f32(*shape)
    put(tag + ".params", [r, bias, alpha, beta])
    for k, v in dict(x=x, y=y, dy=dy, dx=lrn_backward(x, r, bias, alpha, beta, dy)).items():
        put(tag + "." + k, v)


def activation_cases():
    x, dy = f32(37, scale=2.0), f32(37)
    t = np.tanh(x)
    s = sigmoid(x)
    put("act.x", x)
    put("act.dy", dy)
    put("tanh.y", t)
    put("tanh.dx", dy * (1 - t * t))
    put("relu.y", np.maximum(x, 0))
    put("relu.dx", np.where(x > 0, dy, 0))
    put("sigmoid.y", s)
    put("sigmoid.dx", dy * s * (1 - s))
    z, dz = f32(4, 7, scale=3.0), f32(4, 7)
    sm = softmax(z)
    put("softmax.x", z)
    put("softmax.dy", dz)
    put("softmax.y", sm)
    # Jacobian-vector product written out: dx_i = sum_j dy_j * (delta_ij - y_i) * y_j ... transposed
    jac = np.einsum("ri,ij->rij", sm, np.eye(7)) - np.einsum("ri,rj->rij", sm, sm)
    put("softmax.dx", np.einsum("rij,rj->ri", jac, dz))


def loss_cases():
    o, t = f32(9), f32(9)
    put("sqerr.o", o)
    put("sqerr.t", t)
    put("sqerr.loss", [0.5 * ((t - o) ** 2).sum()])
    put("sqerr.do", o - t)
    z = f32(5, 10, scale=4.0)
    labels = rng.integers(0, 10, 5)
    p = softmax(z)
    put("xent.z", z)
    put("xent.labels", labels)
    put("xent.loss", [-np.log(p[np.arange(5), labels]).sum()])
    put("xent.dz", p - np.eye(10)[labels])
    zl = f32(11, scale=5.0)
    tl = rng.integers(0, 2, 11).astype(np.float64)
    sl = sigmoid(zl)
    put("logistic.z", zl)
    put("logistic.t", tl)
    put("logistic.loss", [-(tl * np.log(sl) + (1 - tl) * np.log(1 - sl)).sum()])
    put("logistic.dz", sl - tl)


def case_a():
    widths = [20, 100, 100, 100, 100, 100, 1]
    params = []
    for i in range(6):
        # Scaled so the tanh layers are not all saturated: the gradients stay informative.
        params += [f32(widths[i], widths[i + 1], scale=1 / np.sqrt(widths[i])), f32(widths[i + 1], scale=0.1)]
    x = np.where(rng.integers(0, 2, (8, 20)) > 0, 1.0, -1.0)
    y = np.where(rng.integers(0, 2, 8) > 0, 1.0, -1.0)
    acts = [x]
    for i in range(6):
        acts.append(np.tanh(acts[-1] @ params[2 * i] + params[2 * i + 1]))
    o = acts[-1][:, 0]
    loss = 0.5 * ((y - o) ** 2).sum()
    d = (o - y)[:, None]
    grads = [None] * 12
    for i in reversed(range(6)):
        dz = d * (1 - acts[i + 1] ** 2)
        grads[2 * i] = acts[i].T @ dz
        grads[2 * i + 1] = dz.sum(axis=0)
        d = dz @ params[2 * i].T
    put("casea.x", x)
    put("casea.y", y)
    for i in range(12):
        put("casea.param%d" % i, params[i])
        put("casea.grad%d" % i, grads[i])
    put("casea.loss", [loss])


def case_b():
    lr = (4, 1.0, 0.001 / 9, 0.75)
    n = 2
    shapes = [(5, 5, 3, 64), (64,), (5, 5, 64, 64), (64,), (4096, 384), (384,), (384, 192), (192,),
              (192, 10), (10,)]
    stds = [5e-2, 0.1, 5e-2, 0.1, 0.04, 0.1, 0.04, 0.1, 1 / 192, 0.1]
    params = [f32(*s, scale=sd) for s, sd in zip(shapes, stds)]
    # CHW uint8 images, as shards hold them; the network sees NHWC pixels / 255.
    images = rng.integers(0, 256, (n, 3, 32, 32))
    labels = rng.integers(0, 10, n)
    x = (images.astype(np.float32) / np.float32(255)).astype(np.float64).transpose(0, 2, 3, 1)
    z1 = conv2d_same(x, params[0], params[1])
    a1 = np.maximum(z1, 0)
    p1, w1 = max_pool_same(a1, 3, 2)
    n1, _ = lrn(p1, *lr)
    z2 = conv2d_same(n1, params[2], params[3])
    a2 = np.maximum(z2, 0)
    n2, _ = lrn(a2, *lr)
    p2, w2 = max_pool_same(n2, 3, 2)
    flat = p2.reshape(n, -1)
    f1 = np.maximum(flat @ params[4] + params[5], 0)
    f2 = np.maximum(f1 @ params[6] + params[7], 0)
    logits = f2 @ params[8] + params[9]
    p = softmax(logits)
    loss = -np.log(p[np.arange(n), labels]).sum()
    g = [None] * 10
    dlog = p - np.eye(10)[labels]
    g[8], g[9] = f2.T @ dlog, dlog.sum(0)
    df2 = (dlog @ params[8].T) * (f2 > 0)
    g[6], g[7] = f1.T @ df2, df2.sum(0)
    df1 = (df2 @ params[6].T) * (f1 > 0)
    g[4], g[5] = flat.T @ df1, df1.sum(0)
    dp2 = (df1 @ params[4].T).reshape(p2.shape)
    dn2 = max_pool_backward(n2, w2, dp2)
    da2 = lrn_backward(a2, *lr, dn2) * (z2 > 0)
    dn1, g[2], g[3] = conv2d_same_backward(n1, params[2], da2)
    dp1 = lrn_backward(p1, *lr, dn1)
    da1 = max_pool_backward(a1, w1, dp1) * (z1 > 0)
    _, g[0], g[1] = conv2d_same_backward(x, params[0], da1)
    put("caseb.images", images)
    put("caseb.labels", labels)
    for i in range(10):
        put("caseb.param%d" % i, params[i])
        put("caseb.grad%d" % i, g[i])
    put("caseb.logits", logits)
    put("caseb.loss", [loss])


def main():
    dense_case()
    conv_case("conv5", 2, 6, 5, 3, 4, 5, 5)
    conv_case("conv3", 1, 4, 7, 2, 3, 3, 3)
    pool_case("pool_even", 2, 8, 6, 3, 3, 2)
    pool_case("pool_odd", 1, 7, 5, 2, 3, 2)
    lrn_case("lrn4", (2, 3, 3, 12), 4, 1.0, 0.1, 0.75)
    lrn_case("lrn1", (1, 2, 2, 5), 1, 2.0, 0.3, 0.5)
    activation_cases()
    loss_cases()
    case_a()
    case_b()
    out = bytearray(b"STMLREF1")
    for name, a in arrays:
        raw = name.encode()
        out += struct.pack("<I", len(raw)) + raw + struct.pack("<I", a.ndim)
        out += struct.pack("<%dQ" % a.ndim, *a.shape)
        out += np.ascontiguousarray(a, dtype="<f8").tobytes()
    with open(sys.argv[1] + ".tmp", "wb") as f:
        f.write(out)
    import os
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])


if __name__ == "__main__":
    main()
