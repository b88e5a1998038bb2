#!/usr/bin/python3
"""Cross-checks the engine's Case A and Case B forward+backward against PyTorch on identical
weights and data (bench only). Usage: torch_crosscheck.py DUMP_TOOL WORK_DIR

DUMP_TOOL is build/<preset>/bin/stratus-ml-crosscheck-dump: it writes the model, one minibatch,
and the engine's loss and gradients. PyTorch (float32 and float64) recomputes them; printed as
JSON: per case the loss difference and, per tensor, the max |engine - torch| over max |torch|.
"""

import json
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)


def load(d):
    names, shapes = [], []
    with open(d + "/shapes.txt") as f:
        for line in f:
            p = line.split()
            names.append(p[0])
            shapes.append(tuple(int(x) for x in p[1:]))
    params = [np.fromfile("%s/param%d.f32" % (d, i), dtype="<f4").reshape(s) for i, s in enumerate(shapes)]
    grads = [np.fromfile("%s/grad%d.f32" % (d, i), dtype="<f4").reshape(s) for i, s in enumerate(shapes)]
    loss = float.fromhex(open(d + "/loss.txt").read().strip())
    return names, params, grads, loss


def case_a(d, dtype):
    names, params, grads, loss = load(d)
    x = torch.from_numpy(np.fromfile(d + "/features.f32", dtype="<f4").reshape(50, 20)).to(dtype)
    y = torch.from_numpy(np.fromfile(d + "/labels.i32", dtype="<i4")).to(dtype)
    p = [torch.tensor(a, dtype=dtype, requires_grad=True) for a in params]
    a = x
    for i in range(6):
        a = torch.tanh(a @ p[2 * i] + p[2 * i + 1])
    t_loss = 0.5 * ((y - a[:, 0]) ** 2).sum()
    t_grads = torch.autograd.grad(t_loss, p)
    return names, grads, loss, [g.detach().double().numpy() for g in t_grads], float(t_loss)


def case_b(d, dtype):
    names, params, grads, loss = load(d)
    x = torch.from_numpy(np.fromfile(d + "/features.u8", dtype=np.uint8).reshape(25, 3, 32, 32).astype(np.float32) / np.float32(255)).to(dtype)
    y = torch.from_numpy(np.fromfile(d + "/labels.i32", dtype="<i4").astype(np.int64))
    p = [torch.tensor(a, dtype=dtype, requires_grad=True) for a in params]
    conv1 = p[0].permute(3, 2, 0, 1)  # HWIO -> OIHW
    conv2 = p[2].permute(3, 2, 0, 1)

    def pool(t):
        return F.max_pool2d(F.pad(t, (0, 1, 0, 1), value=float("-inf")), 3, 2)

    def lrn(t):
        return F.local_response_norm(t, size=9, alpha=0.001 / 9 * 9, beta=0.75, k=1.0)

    a = lrn(pool(F.relu(F.conv2d(x, conv1, p[1], padding=2))))
    a = pool(lrn(F.relu(F.conv2d(a, conv2, p[3], padding=2))))
    a = a.permute(0, 2, 3, 1).reshape(25, -1)
    a = F.relu(a @ p[4] + p[5])
    a = F.relu(a @ p[6] + p[7])
    t_loss = F.cross_entropy(a @ p[8] + p[9], y, reduction="sum")
    t_grads = torch.autograd.grad(t_loss, p)
    return names, grads, loss, [g.detach().double().numpy() for g in t_grads], float(t_loss)


def compare(result):
    names, grads, loss, t_grads, t_loss = result
    per = {}
    for n, g, t in zip(names, grads, t_grads):
        scale = float(np.abs(t).max())
        diff = float(np.abs(g.astype(np.float64) - t).max())
        per[n] = {"max_abs_diff": diff, "max_abs_torch": scale, "rel_to_max": diff / scale if scale else 0.0}
    return {"engine_loss": loss, "torch_loss": t_loss, "loss_rel_diff": abs(loss - t_loss) / abs(t_loss),
            "worst_grad_rel_to_max": max(v["rel_to_max"] for v in per.values()), "grads": per}


def main():
    tool, work = sys.argv[1], sys.argv[2]
    out = {}
    for case, fn in (("casea", case_a), ("caseb", case_b)):
        d = os.path.join(work, case)
        os.makedirs(d, exist_ok=True)
        subprocess.run([tool, case, d], check=True)
        out[case] = {"torch_float32": compare(fn(d, torch.float32)), "torch_float64": compare(fn(d, torch.float64))}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
