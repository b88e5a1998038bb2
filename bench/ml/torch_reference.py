#!/usr/bin/python3
"""PyTorch CPU reference for the engine's worker-round benchmarks (bench only, never tests).

Runs the CLOUD 2018 worker rounds with the same shapes as bench/ml/ml_bench.cpp, on one thread:
  Case A: 20-100-100-100-100-100-1 tanh MLP, 20 minibatches of 50, loss 0.5*sum((y-o)^2), SGD 0.1
  Case B: the CIFAR-10 network (conv5x5 64, ReLU, maxpool 3x3/2 SAME, LRN, conv5x5 64, ReLU, LRN,
          maxpool, FC 384, FC 192, FC 10), 20 minibatches of 25, summed softmax cross entropy,
          SGD 0.1
and prints one JSON object of per-round wall times (seconds, every repetition).

PyTorch comes from Debian's python3-torch; if it is missing this script installs it with apt-get
(the only thing it ever installs).
"""

import json
import os
import subprocess
import sys
import time


def ensure_torch():
    if subprocess.run(["dpkg", "-s", "python3-torch"], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL).returncode != 0:
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        subprocess.run(sudo + ["apt-get", "install", "-y", "python3-torch"], check=True)


ensure_torch()
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(1)
torch.manual_seed(1)


def case_a_model():
    widths = [20, 100, 100, 100, 100, 100, 1]
    return [(torch.randn(widths[i], widths[i + 1], requires_grad=True),
             torch.randn(widths[i + 1], requires_grad=True)) for i in range(6)]


def case_a_forward(params, x):
    a = x
    for w, b in params:
        a = torch.tanh(a @ w + b)
    return a[:, 0]


def case_a_round(params, x, y, lr=0.1):
    for b in range(20):
        xb, yb = x[b * 50:(b + 1) * 50], y[b * 50:(b + 1) * 50]
        loss = 0.5 * ((yb - case_a_forward(params, xb)) ** 2).sum()
        grads = torch.autograd.grad(loss, [t for p in params for t in p])
        with torch.no_grad():
            for t, g in zip([t for p in params for t in p], grads):
                t -= lr * g


def tf_same_pool(x):
    # TF SAME for 3x3 stride 2 on even sizes pads one row/column after, with -inf.
    return F.max_pool2d(F.pad(x, (0, 1, 0, 1), value=float("-inf")), 3, 2)


def lrn(x):
    # TF lrn(depth_radius=4, bias=1, alpha=0.001/9, beta=0.75) == torch LRN(size 9, alpha*9).
    return F.local_response_norm(x, size=9, alpha=0.001 / 9 * 9, beta=0.75, k=1.0)


def case_b_model(tutorial=True):
    def tn(shape, std):
        t = torch.empty(shape)
        torch.nn.init.trunc_normal_(t, std=std, a=-2 * std, b=2 * std)
        return t.requires_grad_()

    def const(n, v):
        return torch.full((n,), v).requires_grad_()

    # Weights in PyTorch's layouts: conv [out, in, kh, kw], linear as [in, out] for x @ w.
    return [tn((64, 3, 5, 5), 5e-2), const(64, 0.0), tn((64, 64, 5, 5), 5e-2), const(64, 0.1),
            tn((4096, 384), 0.04), const(384, 0.1), tn((384, 192), 0.04), const(192, 0.1),
            tn((192, 10), 1 / 192), const(10, 0.0)]


def case_b_logits(p, x):
    """x: NCHW float in [0,1]. Flattening follows TF's NHWC order so weights match the engine."""
    a = F.relu(F.conv2d(x, p[0], p[1], padding=2))
    a = lrn(tf_same_pool(a))
    a = F.relu(F.conv2d(a, p[2], p[3], padding=2))
    a = tf_same_pool(lrn(a))
    a = a.permute(0, 2, 3, 1).reshape(a.shape[0], -1)
    a = F.relu(a @ p[4] + p[5])
    a = F.relu(a @ p[6] + p[7])
    return a @ p[8] + p[9]


def case_b_round(p, x, y, lr=0.1):
    for b in range(20):
        xb, yb = x[b * 25:(b + 1) * 25], y[b * 25:(b + 1) * 25]
        loss = F.cross_entropy(case_b_logits(p, xb), yb, reduction="sum")
        grads = torch.autograd.grad(loss, p)
        with torch.no_grad():
            for t, g in zip(p, grads):
                t -= lr * g


def timed(make_model, run, reps):
    """Wall and CPU (process) time of `run(model)`, a fresh model each repetition (creation not
    timed). CPU time shows the work when the shared machine is busy."""
    wall, cpu = [], []
    for _ in range(reps):
        model = make_model()
        t0, c0 = time.perf_counter(), time.process_time()
        run(model)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return wall, cpu


def main():
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    xa = torch.where(torch.rand(1000, 20) > 0.5, 1.0, -1.0)
    ya = torch.where(xa[:, 19] > 0, 1.0, -1.0)
    pa = case_a_model()
    case_a_round(pa, xa, ya)  # warm-up
    a_times, a_cpu = timed(case_a_model, lambda p: case_a_round(p, xa, ya), reps)
    xb = torch.randint(0, 256, (500, 3, 32, 32), dtype=torch.uint8).float() / 255
    yb = torch.randint(0, 10, (500,))
    case_b_round(case_b_model(), xb, yb, lr=0.002)  # warm-up
    b_times, b_cpu = timed(case_b_model, lambda p: case_b_round(p, xb, yb, lr=0.002), reps)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                      "case_a_round_s": a_times, "case_b_round_s": b_times,
                      "case_a_round_cpu_s": a_cpu, "case_b_round_cpu_s": b_cpu}))


if __name__ == "__main__":
    main()
